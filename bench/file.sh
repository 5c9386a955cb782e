#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/file.sh - corio's file I/O beside its peers, in one run: random
# 4 KiB reads over a 1 GiB file from 32 tasks (O_DIRECT, and buffered with
# the file in the page cache) beside fio's io_uring engine at iodepth 32
# and its psync engine; sequential 128 KiB O_DIRECT reads likewise; a
# 1 GiB copy with corio_copy_fd beside GNU cp.  Contenders alternate
# within each round (the order rotates), every one reads the same file
# pinned to the same CPU, and the medians over the rounds are reported:
# one machine-readable line per figure, then a Markdown table.
#
#   bench/file.sh [--quick] [--rounds N] [--seconds S] [--dir DIR]
#                 [--cpu N] [--build DIR] [--only direct|buffered|copy]
#
# --quick: a 256 MiB file, 0.4 s per run, 3 rounds (under a minute).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
dir=${TMPDIR:-/var/tmp}
rounds=5
ms=4000 # per run
size_mib=1024
cpu=""
only=""

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=3 ms=400 size_mib=256 ;;
	--rounds) rounds=$2; shift ;;
	--seconds) ms=$(awk -v s="$2" 'BEGIN { printf "%d", s * 1000 }'); shift ;;
	--dir) dir=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--build) build=$2; shift ;;
	--only) only=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--seconds S] [--dir DIR] [--cpu N] [--build DIR] [--only direct|buffered|copy]" >&2
	   exit 2 ;;
	esac
	shift
done

bench="$build/bench/bench-file"
[ -x "$bench" ] || { echo "build first: $bench is missing" >&2; exit 1; }
if ! command -v fio >/dev/null; then
	echo "installing fio..." >&2
	apt-get install -y fio >/dev/null || { echo "fio is needed" >&2; exit 1; }
fi
command -v python3 >/dev/null || { echo "python3 is needed to read fio's json" >&2; exit 1; }
# one CPU for every contender: the last one (the first often takes IRQs)
[ -n "$cpu" ] || cpu=$(( $(nproc) - 1 ))
pin="taskset -c $cpu"

work=$(mktemp -d "$dir/corio-bench-file.XXXXXX")
trap 'rm -rf "$work"' EXIT
file="$work/data"
echo "# creating a ${size_mib} MiB file in $work (pinned to CPU $cpu, $rounds rounds of ${ms} ms)" >&2
head -c $((size_mib << 20)) /dev/urandom >"$file"
sync "$file" # O_DIRECT reads would otherwise wait for its writeback

direct_ok=1
dd if="$file" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null || direct_ok=0

warm() { cat "$file" >/dev/null; }

# --- contenders: each prints one number --------------------------------

# fio RW BS ENGINE DIRECT FIELD(iops|mibps).  --invalidate=0: fio would
# otherwise drop the file from the page cache before every run.
fio_run() {
	local depth=32
	[ "$3" = psync ] && depth=1 # a sync engine runs at depth 1 anyway
	$pin fio --name=bench --filename="$file" --rw="$1" --bs="$2" --ioengine="$3" \
		--iodepth=$depth --direct="$4" --invalidate=0 --time_based --runtime="${ms}ms" \
		--output-format=json 2>/dev/null |
		python3 -c 'import json,sys
r = json.load(sys.stdin)["jobs"][0]["read"]
print("%.0f" % (r["iops"] if sys.argv[1] == "iops" else r["bw_bytes"] / 1048576.0))' "$5"
}

# corio MODE FIELD [--direct]
corio_run() {
	local mode=$1 field=$2
	shift 2
	$pin "$bench" "$mode" "$file" --seconds "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" "$@" |
		sed -n "s/.*$field=\([0-9.]*\).*/\1/p" | cut -d. -f1
}

# seconds for a copy of the whole file; the source is cached, the
# destination new, dirty pages of earlier runs flushed first (not timed)
copy_prepare() { rm -f "$work/copy"; sync; warm; }
cp_run() {
	copy_prepare
	local t0 t1
	t0=$(date +%s%N)
	$pin cp "$file" "$work/copy"
	t1=$(date +%s%N)
	awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}
corio_copy_run() {
	copy_prepare
	$pin "$bench" copy "$file" "$work/copy" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p'
}

# --- rounds and medians ------------------------------------------------

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# figure NAME PREP name=command ... : runs every contender once per round,
# rotating the order; leaves the medians in $med_<name>
figure() {
	local fig=$1 prep=$2
	shift 2
	local specs=("$@") n=$# r i k
	for spec in "${specs[@]}"; do : >"$work/${spec%%=*}.txt"; done
	for ((r = 0; r < rounds; r++)); do
		for ((i = 0; i < n; i++)); do
			k=$(((i + r) % n))
			local name=${specs[$k]%%=*} cmd=${specs[$k]#*=}
			$prep
			eval "$cmd" >>"$work/$name.txt"
		done
	done
	for spec in "${specs[@]}"; do
		local name=${spec%%=*}
		eval "med_$name=\$(median <\"\$work/$name.txt\")"
		echo "# $fig $name:" $(cat "$work/$name.txt") >&2
	done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
nothing() { :; }

lines=()
table=()

read_figure() { # NAME RW BS DIRECT FIELD CORIO_MODE [--direct]
	local name=$1 rw=$2 bs=$3 direct=$4 field=$5 mode=$6 flag=${7:-}
	local prep=nothing
	[ "$direct" = 1 ] || prep=warm
	figure "$name" "$prep" \
		"corio=corio_run $mode $field $flag" \
		"uring=fio_run $rw $bs io_uring $direct $field" \
		"psync=fio_run $rw $bs psync $direct $field"
	local ru rp
	ru=$(ratio "$med_corio" "$med_uring")
	rp=$(ratio "$med_corio" "$med_psync")
	lines+=("file.$name corio=$med_corio fio_uring=$med_uring fio_psync=$med_psync ratio=$ru ratio_psync=$rp")
	table+=("| $name | $med_corio | $med_uring | $med_psync | $ru | $rp |")
}

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

if ! want direct; then
	:
elif [ "$direct_ok" = 1 ]; then
	read_figure rand4k_direct_iops randread 4k 1 iops rand --direct
	read_figure seq128k_direct_mibps read 128k 1 mibps seq --direct
else
	echo "# O_DIRECT is not supported in $dir: skipping the direct figures" >&2
fi
if want buffered; then
	read_figure rand4k_buffered_iops randread 4k 0 iops rand
fi
if want copy; then
	figure copy nothing "corio=corio_copy_run" "cp=cp_run"
	copy_ratio=$(ratio "$med_cp" "$med_corio")
	lines+=("file.copy_${size_mib}m_seconds corio=$med_corio cp=$med_cp ratio=$copy_ratio")
fi

printf '%s\n' "${lines[@]}"
if [ ${#table[@]} -gt 0 ]; then
	echo
	echo "| figure (median of $rounds, ${size_mib} MiB file, CPU $cpu) | corio | fio io_uring QD32 | fio psync | corio/io_uring | corio/psync |"
	echo "|---|---:|---:|---:|---:|---:|"
	printf '%s\n' "${table[@]}"
fi
if want copy; then
	echo
	echo "| copy of ${size_mib} MiB (seconds, median of $rounds) | corio_copy_fd | GNU cp | cp/corio |"
	echo "|---|---:|---:|---:|"
	echo "| copy | $med_corio | $med_cp | $copy_ratio |"
fi
