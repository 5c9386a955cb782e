#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/http.py - corio's HTTP server (examples/http_server, on io_uring
and on epoll) beside nginx (1 worker, access_log off, sendfile on), under
wrk -t1 -c50: "Hello, World!\\n" with keep-alive, the same 16-deep
pipelined (bench/http_pipeline.lua), and static files of 4 KiB (and
1 MiB with --full).  Servers are pinned to CPU 0, wrk to CPU 1; the
contenders alternate within each round (the order rotates) and the
medians over the rounds are reported with their min-max, as requests per
second and as server CPU microseconds per request (utime+stime deltas
of /proc/PID/stat over the run): one machine-readable line per figure
(bench/bench.h), then a Markdown table.

  bench/http.py [--quick|--full] [--rounds N] [--seconds S] [--build DIR]
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = b"Hello, World!\n"
CONTENDERS = ["corio_uring", "corio_epoll", "nginx"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(port, proc, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"bench/http.py: server exited ({proc.args[0]})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit("bench/http.py: server did not start")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def start_corio(build, backend, root, cpu):
    port = free_port()
    exe = os.path.join(build, "examples", "http_server")
    env = dict(os.environ, CORIO_BACKEND=backend)
    p = subprocess.Popen(["taskset", "-c", str(cpu), exe, "--port", str(port),
                          "--root", root, "--server-name", "corio"],
                         env=env, stdout=subprocess.DEVNULL)
    wait_ready(port, p)
    return p, port


def start_nginx(work, root, cpu):
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    user = "user root;\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"""{user}daemon off; master_process off; worker_processes 1;
pid {work}/nginx.pid; error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; sendfile on; tcp_nopush on;
  keepalive_timeout 65; keepalive_requests 10000000;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location = /hello {{ default_type text/plain; return 200 "Hello, World!\\n"; }}
  }}
}}
""")
    p = subprocess.Popen(["taskset", "-c", str(cpu), shutil.which("nginx") or "/usr/sbin/nginx",
                          "-p", work, "-e", f"{work}/error.log", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, p)
    return p, port


def run_wrk(port, path, seconds, cpu, pipeline):
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", "-c50", f"-d{seconds:g}s"]
    if pipeline:
        cmd += ["-s", os.path.join(HERE, "http_pipeline.lua")]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    if pipeline:
        cmd += ["--", "16"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    reqs = None
    errors = 0
    for line in out.splitlines():
        parts = line.split()
        if "requests in" in line:
            reqs = int(parts[0])
        if line.startswith("  Non-2xx") or line.startswith("  Socket errors"):
            errors += 1
    if reqs is None or errors:
        sys.exit(f"bench/http.py: wrk failed or saw errors:\n{out}")
    return reqs


CELLS = [
    # key, path, pipelined, full only
    ("hello_keepalive", "/hello", False, False),
    ("hello_pipeline16", "/hello", True, False),
    ("static_4k", "/f4k", False, False),
    ("static_1m", "/f1m", False, True),
]


def fmt(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}"


def parse_args(quick_rounds, full_rounds):
    """The options bench/http.py and bench/tls.py share: (args, rounds,
    seconds per run)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-release"))
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    a = ap.parse_args()
    rounds = a.rounds or (full_rounds if a.full else quick_rounds)
    return a, rounds, a.seconds or (5 if a.full else 2)


def main():
    a, rounds, seconds = parse_args(3, 5)
    if not shutil.which("wrk") or not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        print("bench/http.py: needs wrk and nginx (apt-get install wrk nginx-light)",
              file=sys.stderr)
        sys.exit(77)
    cells = [c for c in CELLS if a.full or not c[3]]
    work = tempfile.mkdtemp(prefix="corio-bench-http.")
    root = os.path.join(work, "www")
    os.mkdir(root)
    with open(os.path.join(root, "f4k"), "wb") as f:
        f.write(os.urandom(4096))
    with open(os.path.join(root, "f1m"), "wb") as f:
        f.write(os.urandom(1 << 20))
    procs = {}
    try:
        procs["corio_uring"] = start_corio(a.build, "uring", root, a.server_cpu)
        procs["corio_epoll"] = start_corio(a.build, "epoll", root, a.server_cpu)
        procs["nginx"] = start_nginx(work, root, a.server_cpu)
        print(f"# bench-http: wrk -t1 -c50, {seconds} s per run, {rounds} rounds; servers on "
              f"CPU {a.server_cpu}, wrk on CPU {a.load_cpu}", flush=True)
        rps = {(c[0], n): [] for c in cells for n in CONTENDERS}
        cpu = {(c[0], n): [] for c in cells for n in CONTENDERS}
        hz = os.sysconf("SC_CLK_TCK")
        for r in range(rounds):
            order = CONTENDERS[r % 3:] + CONTENDERS[:r % 3]
            for key, path, pipe, _ in cells:
                for n in order:
                    p, port = procs[n]
                    t0 = cpu_ticks(p.pid)
                    reqs = run_wrk(port, path, seconds, a.load_cpu, pipe)
                    t1 = cpu_ticks(p.pid)
                    rps[(key, n)].append(reqs / seconds)
                    cpu[(key, n)].append((t1 - t0) / hz * 1e6 / reqs)
            print(f"# round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
        report(cells, rps, cpu)
    finally:
        for p, _ in procs.values():
            p.send_signal(signal.SIGTERM)
        for p, _ in procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def report(cells, rps, cpu):
    rows = []
    for key, _, _, _ in cells:
        for unit, data, better, name in (("req/s", rps, "higher", "req_per_s"),
                                         ("us/req", cpu, "lower", "server_cpu_us_per_req")):
            med = {n: statistics.median(data[(key, n)]) for n in CONTENDERS}
            rng = {n: (min(data[(key, n)]), max(data[(key, n)])) for n in CONTENDERS}
            fields = " ".join(f"{n}={fmt(med[n])}" for n in CONTENDERS)
            ratios = " ".join(f"{n}/nginx={med[n] / med['nginx']:.2f}"
                              for n in CONTENDERS[:2] if med["nginx"])
            spread = " ".join(f"{n}_range={fmt(rng[n][0])}-{fmt(rng[n][1])}" for n in CONTENDERS)
            print(f"http.{key}_{name} unit={unit} better={better} {fields} {ratios} {spread}")
            rows.append((key, unit, med, rng))
    print()
    print("| figure | unit | corio io_uring | corio epoll | nginx | uring/nginx | epoll/nginx |")
    print("|---|---|---|---|---|---|---|")
    for key, unit, med, rng in rows:
        cellv = [f"{fmt(med[n])} ({fmt(rng[n][0])}–{fmt(rng[n][1])})" for n in CONTENDERS]
        ratio = [f"{med[n] / med['nginx']:.2f}" if med["nginx"] else "-" for n in CONTENDERS[:2]]
        print(f"| {key} | {unit} | " + " | ".join(cellv + ratio) + " |")


if __name__ == "__main__":
    main()
