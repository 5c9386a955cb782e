#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (ASan + UBSan) from
# tests/fuzz/*.c into $1 (default build-fuzz/).  The HTTP parser's targets
# link net/http_parse.c alone (it needs only libc); the others link a
# static libcorio built by meson in $1/lib with the same sanitizers and
# the fuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link) in
# net/ and dns/ only (coverage.txt).  Not
# part of the meson build, so the normal gcc build is unaffected.
#
#   bash tests/fuzz/build.sh [outdir]
#   build-fuzz/fuzz_request tests/fuzz/corpus/fuzz_request -max_total_time=20
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-fuzz}
cc=${FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || cc=clang
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=c17 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE"
# targets that need nothing but net/http_parse.c
standalone="fuzz_request fuzz_response fuzz_body"
mkdir -p "$out"

lib="$out/lib"
libargs="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined"
libargs+=" -fsanitize-coverage-allowlist=$PWD/tests/fuzz/coverage.txt"
if [ ! -f "$lib/build.ninja" ]; then
	CC="$cc" meson setup "$lib" -Ddefault_library=static -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false "-Dc_args=$libargs" >/dev/null
else
	meson configure "$lib" "-Dc_args=$libargs" >/dev/null # a dir made by an older build.sh
fi
ninja -C "$lib" -j2 libcorio.a >/dev/null
libs=$(pkg-config --libs liburing libcares openssl)
inc="-I runtime/include -I dns/include -I net/include -I runtime/modapi -I runtime -I dns -I net"

for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	case " $standalone " in
	*" $name "*)
		"$cc" $cflags -fsanitize=fuzzer $san -I net "$src" net/http_parse.c \
			-o "$out/$name" ;;
	*)
		"$cc" $cflags -fsanitize=fuzzer $san $inc "$src" "$lib/libcorio.a" $libs \
			-lpthread -o "$out/$name" ;;
	esac
done
echo "fuzzers built in $out: $(cd "$out" && ls fuzz_* | tr '\n' ' ')"
