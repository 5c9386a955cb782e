#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/file.sh - corio's file I/O beside its peers, in one run: random
# 4 KiB reads over a 1 GiB file from 32 tasks (O_DIRECT, and buffered with
# the file in the page cache) beside fio's io_uring engine at iodepth 32
# and its psync engine; sequential 128 KiB O_DIRECT reads likewise; a
# 1 GiB copy with corio_copy_fd beside GNU cp.  corio runs on both of its
# backends: io_uring, and epoll, which hands file I/O to its thread pool.
# Contenders alternate within each round (the order rotates), every one
# reads the same file pinned to the same CPU (corio's pool threads too),
# and the medians over the rounds are reported: one machine-readable line
# per figure (bench/bench.h), then Markdown tables.
#
#   bench/file.sh [--quick] [--rounds N] [--seconds S] [--dir DIR]
#                 [--cpu N] [--build DIR] [--only direct|buffered|copy]
#
# --quick: a 256 MiB file, 5 rounds; the O_DIRECT figures run 2 s each
# (shorter windows of sequential reads swung by a third between runs),
# the cached ones 0.4 s (about two minutes in all).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
dir=${TMPDIR:-/var/tmp}
rounds=5
ms=4000 # per run
direct_ms="" # per O_DIRECT run (empty: $ms)
size_mib=1024
cpu=""
only=""

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=5 ms=400 direct_ms=2000 size_mib=256 ;;
	--rounds) rounds=$2; shift ;;
	--seconds) ms=$(awk -v s="$2" 'BEGIN { printf "%d", s * 1000 }') direct_ms=""; shift ;;
	--dir) dir=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--build) build=$2; shift ;;
	--only) only=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--seconds S] [--dir DIR] [--cpu N] [--build DIR] [--only direct|buffered|copy]" >&2
	   exit 2 ;;
	esac
	shift
done

[ -n "$direct_ms" ] || direct_ms=$ms
run_ms=$ms # the window of the figure being measured
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
echo "# creating a ${size_mib} MiB file in $work (pinned to CPU $cpu, $rounds rounds of ${direct_ms} ms O_DIRECT, ${ms} ms otherwise)" >&2
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
		--iodepth=$depth --direct="$4" --invalidate=0 --time_based --runtime="${run_ms}ms" \
		--output-format=json 2>/dev/null |
		python3 -c 'import json,sys
r = json.load(sys.stdin)["jobs"][0]["read"]
print("%.0f" % (r["iops"] if sys.argv[1] == "iops" else r["bw_bytes"] / 1048576.0))' "$5"
}

# corio_backend BACKEND ARG...: bench-file on BACKEND (uring|epoll,
# forced), its line on stdout; fails if another backend ran
corio_backend() {
	local backend=$1 want=$1 out
	shift
	[ "$want" = uring ] && want=io_uring
	out=$(CORIO_BACKEND=$backend $pin "$bench" "$@") || return 1
	case "$out" in
	*"backend=$want"*) echo "$out" ;;
	*) echo "bench-file ran on another backend than $want: $out" >&2; return 1 ;;
	esac
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
# corio BACKEND MODE FIELD [--direct]
corio_run() {
	local backend=$1 mode=$2 field=$3
	shift 3
	corio_backend "$backend" "$mode" "$file" \
		--seconds "$(awk -v m="$run_ms" 'BEGIN { print m / 1000 }')" "$@" |
		sed -n "s/.*$field=\([0-9.]*\).*/\1/p" | cut -d. -f1
}
# corio_copy_run BACKEND
corio_copy_run() {
	copy_prepare
	corio_backend "$1" copy "$file" "$work/copy" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p'
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

# the smallest and largest of a contender's rounds; "median (min–max)"
lo() { sort -g "$work/$1.txt" | head -1; }
hi() { sort -g "$work/$1.txt" | tail -1; }
spread() { local v=med_$1; echo "${!v} ($(lo "$1")–$(hi "$1"))"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
nothing() { :; }

# adv BETTER A B: A's advantage over B, above 1 when A is better
adv() { if [ "$1" = higher ]; then ratio "$2" "$3"; else ratio "$3" "$2"; fi; }

lines=()
table=()

# emit NAME UNIT BETTER PEER...: the figure's line (bench/bench.h) from the
# medians $med_corio_uring, $med_corio_epoll and $med_PEER; the advantages
# of each backend (io_uring / epoll) over each peer in $advs
emit() {
	local name=$1 unit=$2 better=$3 c p v u e
	shift 3
	local line="file.$name unit=$unit better=$better"
	for c in corio_uring corio_epoll "$@"; do
		v=med_$c
		line+=" $c=${!v}"
	done
	advs=""
	for p in "$@"; do
		v=med_$p
		u=$(adv "$better" "$med_corio_uring" "${!v}")
		e=$(adv "$better" "$med_corio_epoll" "${!v}")
		line+=" uring:$p=$u epoll:$p=$e"
		advs+=" | $u / $e"
	done
	u=$(adv "$better" "$med_corio_uring" "$med_corio_epoll")
	line+=" uring:epoll=$u"
	for c in corio_uring corio_epoll "$@"; do
		line+=" min:$c=$(lo "$c") max:$c=$(hi "$c")"
	done
	lines+=("$line")
	advs="$u$advs"
}

read_figure() { # NAME RW BS DIRECT FIELD CORIO_MODE [--direct]
	local name=$1 rw=$2 bs=$3 direct=$4 field=$5 mode=$6 flag=${7:-}
	local prep=nothing
	[ "$direct" = 1 ] || prep=warm
	run_ms=$ms
	[ "$direct" = 1 ] && run_ms=$direct_ms
	figure "$name" "$prep" \
		"corio_uring=corio_run uring $mode $field $flag" \
		"corio_epoll=corio_run epoll $mode $field $flag" \
		"fio_uring=fio_run $rw $bs io_uring $direct $field" \
		"fio_psync=fio_run $rw $bs psync $direct $field"
	local unit=IOPS
	[ "$field" = iops ] || unit=MiB/s
	emit "$name" "$unit" higher fio_uring fio_psync
	table+=("| $name | $(spread corio_uring) | $(spread corio_epoll) | $(spread fio_uring) | $(spread fio_psync) | $advs |")
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
	figure copy nothing "corio_uring=corio_copy_run uring" "corio_epoll=corio_copy_run epoll" \
		"cp=cp_run"
	emit "copy_${size_mib}m_seconds" s lower cp
	copy_advs=$advs
	copy_cells="$(spread corio_uring) | $(spread corio_epoll) | $(spread cp)"
fi

printf '%s\n' "${lines[@]}"
if [ ${#table[@]} -gt 0 ]; then
	echo
	echo "| figure (median (min–max) of $rounds, ${size_mib} MiB file, CPU $cpu, O_DIRECT runs ${direct_ms} ms, cached ${ms} ms) | corio io_uring | corio epoll | fio io_uring QD32 | fio psync | io_uring vs epoll | corio vs fio io_uring (io_uring / epoll) | corio vs fio psync (io_uring / epoll) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${table[@]}"
fi
if want copy; then
	echo
	echo "| copy of ${size_mib} MiB (seconds, median of $rounds) | corio_copy_fd io_uring | corio_copy_fd epoll | GNU cp | io_uring vs epoll | corio vs cp (io_uring / epoll) |"
	echo "|---|---:|---:|---:|---:|---:|"
	echo "| copy | $copy_cells | $copy_advs |"
fi
echo
echo "\"A vs B\" is A's advantage over B: A/B for rates, B/A for seconds; above 1, A is better."
