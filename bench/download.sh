#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/download.sh - many small downloads from one local nginx: N files
# of 4 KiB (default 10 000) fetched 100 at a time by corio's
# examples/downloader (io_uring and epoll), by Python asyncio + aiohttp
# (bench/download.py, a semaphore of 100, files written with open/write)
# and by curl --parallel --parallel-max 100 (a -K config of url/output
# pairs).  nginx runs one worker, pinned to one CPU; every contender is
# pinned to another; the order rotates each round; medians (with min-max)
# of files/s are reported as one machine-readable line (bench/bench.h) and
# a Markdown table.
#
#   bench/download.sh [--quick] [--rounds N] [--files N] [--conc N]
#                     [--out DIR] [--build DIR]
#
# The files are written under --out (default /dev/shm when it is there:
# on a disk file system, creating 10 000 files right after deleting the
# last run's swings the figures of every contender 3-fold; dirty pages
# are flushed before each run either way, untimed).
# --quick: 2 000 files, 3 rounds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
rounds=5
files=10000
conc=100
outdir=""

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) rounds=3 files=2000 ;;
	--rounds) rounds=$2; shift ;;
	--files) files=$2; shift ;;
	--conc) conc=$2; shift ;;
	--build) build=$2; shift ;;
	--out) outdir=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds N] [--files N] [--conc N] [--out DIR] [--build DIR]" >&2
	   exit 2 ;;
	esac
	shift
done

downloader=$build/examples/downloader
[ -x "$downloader" ] || { echo "download.sh: $downloader not built" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "download.sh: nginx missing (apt-get install nginx-light)" >&2; exit 1; }
/usr/bin/python3 -c 'import aiohttp' 2>/dev/null || {
	echo "download.sh: aiohttp missing (apt-get install python3-aiohttp)" >&2; exit 1; }
command -v curl >/dev/null || { echo "download.sh: curl missing" >&2; exit 1; }

# CPUs: nginx on the last allowed one, the load on the first
cpus=($(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))'))
load_cpu=${cpus[0]}
srv_cpu=${cpus[${#cpus[@]} - 1]}
pin="taskset -c $load_cpu"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/corio-download.XXXXXX")
if [ -z "$outdir" ]; then
	[ -d /dev/shm ] && [ -w /dev/shm ] && outdir=/dev/shm || outdir=$work
fi
outdir=$(mktemp -d "$outdir/corio-download-out.XXXXXX")
nginx_pid=""
cleanup() {
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	rm -rf "$work" "$outdir"
}
trap cleanup EXIT

# the files: f0 .. f{N-1}, 4 KiB of random bytes each
mkdir -p "$work/www"
python3 - "$work/www" "$files" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{d}/f{i}", "wb") as f:
        f.write(os.urandom(4096))
PY

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$work/nginx.conf" <<CONF
$user
daemon off; master_process off; worker_processes 1;
pid $work/nginx.pid; error_log $work/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 65; keepalive_requests 1000000;
  open_file_cache max=20000 inactive=60s;
  default_type application/octet-stream;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  server { listen 127.0.0.1:$port backlog=4096; root $work/www; }
}
CONF
taskset -c "$srv_cpu" "$nginx" -p "$work" -e "$work/error.log" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/f0" && break
	sleep 0.05
done
base="http://127.0.0.1:$port"

# curl's config: a url/output pair per file
for ((i = 0; i < files; i++)); do
	printf 'url = "%s/f%d"\noutput = "%s/out/f%d"\n' "$base" "$i" "$outdir" "$i"
done >"$work/curl.cfg"

fresh_out() { rm -rf "$outdir/out"; mkdir "$outdir/out"; sync; }
# check_out: every file arrived, whole
check_out() {
	local n
	n=$(find "$outdir/out" -type f -size 4096c | wc -l)
	[ "$n" = "$files" ] || { echo "download.sh: $1 saved $n of $files files" >&2; exit 1; }
}

# run NAME: seconds for one run of contender NAME
run() {
	local t0 t1
	fresh_out
	t0=$(date +%s%N)
	case $1 in
	corio_uring | corio_epoll)
		CORIO_BACKEND=${1#corio_} $pin "$downloader" -q -c "$conc" -o "$outdir/out" \
			-n "$files" -p 'f%d' "$base" >/dev/null ;;
	aiohttp)
		$pin /usr/bin/python3 "$here/download.py" "$base" "$files" "$outdir/out" "$conc" >/dev/null ;;
	curl)
		$pin curl -s --no-progress-meter --parallel --parallel-max "$conc" -K "$work/curl.cfg" 2>/dev/null ;;
	esac
	t1=$(date +%s%N)
	check_out "$1"
	awk -v n="$files" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f\n", n / (ns / 1e9) }'
}

contenders=(corio_uring corio_epoll aiohttp curl)
for c in "${contenders[@]}"; do : >"$work/$c.txt"; done
for ((r = 0; r < rounds; r++)); do
	for ((i = 0; i < ${#contenders[@]}; i++)); do
		c=${contenders[$(((i + r) % ${#contenders[@]}))]}
		run "$c" >>"$work/$c.txt"
	done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
declare -A med rng
for c in "${contenders[@]}"; do
	med[$c]=$(median <"$work/$c.txt")
	rng[$c]=$(range <"$work/$c.txt")
	echo "# download $c files/s:" $(cat "$work/$c.txt") >&2
done

line="download.files4k files=$files conc=$conc unit=files/s better=higher"
for c in "${contenders[@]}"; do line+=" $c=${med[$c]}"; done
for p in aiohttp curl; do
	line+=" uring:$p=$(ratio "${med[corio_uring]}" "${med[$p]}")"
	line+=" epoll:$p=$(ratio "${med[corio_epoll]}" "${med[$p]}")"
done
echo "$line"
echo
echo "| $files files of 4 KiB, $conc at a time (median of $rounds, min-max; load on CPU $load_cpu, nginx on CPU $srv_cpu) | files/s |"
echo "|---|---|"
for c in "${contenders[@]}"; do echo "| $c | ${med[$c]} (${rng[$c]}) |"; done
echo
echo "corio io_uring / epoll vs aiohttp: $(ratio "${med[corio_uring]}" "${med[aiohttp]}") / $(ratio "${med[corio_epoll]}" "${med[aiohttp]}");" \
	"vs curl: $(ratio "${med[corio_uring]}" "${med[curl]}") / $(ratio "${med[corio_epoll]}" "${med[curl]}")"
