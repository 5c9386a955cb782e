#!/bin/sh
# SPDX-License-Identifier: MIT
# Compiles each public header on its own as strict C99 and as C++, so that
# users on any toolchain setting can include them.
set -eu
root=$1
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cxx=$(command -v c++ || command -v g++ || command -v clang++ || true)
incs="-I$root/runtime/include -I$root/net/include -I$root/dns/include"
for h in $(cd "$root" && ls runtime/include/corio.h */include/corio/*.h 2>/dev/null); do
	name=$(basename "$h")
	case "$h" in */corio/*) inc="corio/$name" ;; *) inc="$name" ;; esac
	printf '#include <%s>\nint main(void) { return 0; }\n' "$inc" >"$tmp/t.c"
	$cc -std=c99 -pedantic -Wall -Wextra -Werror $incs -c "$tmp/t.c" -o "$tmp/t.o"
	if [ -n "$cxx" ]; then
		cp "$tmp/t.c" "$tmp/t.cc"
		$cxx -std=c++17 -pedantic -Wall -Wextra -Werror $incs -c "$tmp/t.cc" -o "$tmp/t.o"
	fi
	echo "ok: $inc"
done
