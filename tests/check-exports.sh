#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails if the shared library exports anything but corio_* functions/data.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRVW]/ {print $3}' | grep -v '^corio_' || true)
if [ -n "$bad" ]; then
	echo "symbols exported that are not corio_*:"
	echo "$bad"
	exit 1
fi
echo "exports ok: $(nm -D --defined-only "$lib" | grep -c ' corio_') corio_* symbols"
