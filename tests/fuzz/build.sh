#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (ASan + UBSan) from
# tests/fuzz/*.c plus net/http_parse.c alone -- the parser needs only
# libc -- into $1 (default build-fuzz/).  Not part of the meson build, so
# the normal gcc build is unaffected.
#
#   bash tests/fuzz/build.sh [outdir]
#   build-fuzz/fuzz_request tests/fuzz/corpus/fuzz_request -max_total_time=20
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-fuzz}
cc=${FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || cc=clang
mkdir -p "$out"
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	"$cc" -std=c17 -g -O1 -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined \
		-I net "$src" net/http_parse.c -o "$out/$name"
done
echo "fuzzers built in $out: $(cd "$out" && ls fuzz_* | tr '\n' ' ')"
