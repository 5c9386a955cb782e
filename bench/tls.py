#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/tls.py - corio's TLS beside nginx and openssl, on one P-256
certificate made here (TLS 1.3 everywhere, so the same cipher suite:
OpenSSL's first choice on both ends, TLS_AES_256_GCM_SHA384):

  hello_keepalive   wrk -t1 -c50 https GET /hello, keep-alive: examples/
                    http_server --cert/--key (io_uring, epoll) vs nginx
                    (1 worker, ssl_protocols TLSv1.3)
  handshakes        the same with -H 'Connection: close': one full
                    handshake per request (wrk resumes no session)
  bulk_1g           one connection carrying 1 GiB, client and server
                    both corio (bench/tls_bulk.c reading the stream into
                    a buffer it drops; examples/http_server: pread,
                    encrypt, send) vs both OpenSSL (`openssl s_client
                    -quiet` to /dev/null; `openssl s_server -WWW`: BIO
                    read, SSL_write to the socket).  A 1 GiB sparse file
                    (in the page cache), GET over HTTP/1.0; MB/s, and the
                    CPU each end spent per MB
  bulk_1g_server    the same transfer with `openssl s_client` as the
                    client for every server, so only the sending servers
                    differ

Servers are pinned to CPU 0, the load (wrk, s_client) to CPU 1; the
contenders alternate within each round (the order rotates) and medians
over the rounds are reported with their min-max (as bench/http.py), as
requests or MB per second and server CPU microseconds per request (or
per MB).

  bench/tls.py [--quick|--full] [--rounds N] [--seconds S] [--build DIR]
"""
import importlib.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_http", os.path.join(HERE, "http.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

WEB = ["corio_uring", "corio_epoll", "nginx"]
BULK = ["corio_uring", "corio_epoll", "s_server"]
PAIR = ["corio_uring", "corio_epoll", "openssl"]   # client and server of a kind
GIB = 1 << 30


def make_cert(work):
    key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def start_corio(build, backend, root, cpu, cert, key):
    port = H.free_port()
    exe = os.path.join(build, "examples", "http_server")
    env = dict(os.environ, CORIO_BACKEND=backend)
    p = subprocess.Popen(["taskset", "-c", str(cpu), exe, "--port", str(port), "--root", root,
                          "--server-name", "corio", "--cert", cert, "--key", key],
                         env=env, stdout=subprocess.DEVNULL)
    H.wait_ready(port, p)
    return p, port


def start_nginx(work, root, cpu, cert, key):
    port = H.free_port()
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
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.3;
    root {root};
    location = /hello {{ default_type text/plain; return 200 "Hello, World!\\n"; }}
  }}
}}
""")
    p = subprocess.Popen(["taskset", "-c", str(cpu), shutil.which("nginx") or "/usr/sbin/nginx",
                          "-p", work, "-e", f"{work}/error.log", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    H.wait_ready(port, p)
    return p, port


def start_s_server(root, cpu, cert, key):
    port = H.free_port()
    p = subprocess.Popen(["taskset", "-c", str(cpu), "openssl", "s_server", "-accept", str(port),
                          "-cert", cert, "-key", key, "-tls1_3", "-WWW", "-quiet"],
                         cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    H.wait_ready(port, p)
    return p, port


def run_wrk(port, seconds, cpu, close):
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", "-c50", f"-d{seconds:g}s"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"https://127.0.0.1:{port}/hello")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    reqs, errors = None, []
    for line in out.splitlines():
        if "requests in" in line:
            reqs = int(line.split()[0])
        if line.startswith("  Non-2xx") or line.startswith("  Socket errors"):
            errors.append(line.strip())
    if reqs is None or (errors and not close):
        sys.exit(f"bench/tls.py: wrk failed or saw errors:\n{out}")
    return reqs


def run_bulk(port, cpu):
    """(seconds, client CPU seconds) for s_client to receive the 1 GiB
    file (and its head)."""
    # stdout to /dev/null: counting bytes through a pipe would cost the
    # client CPU
    with open(os.devnull, "wb") as null:
        t0 = time.monotonic()
        p = subprocess.Popen(["taskset", "-c", str(cpu), "openssl", "s_client", "-quiet",
                              "-connect", f"127.0.0.1:{port}"],
                             stdin=subprocess.PIPE, stdout=null, stderr=subprocess.DEVNULL)
        p.stdin.write(b"GET /big HTTP/1.0\r\n\r\n")
        p.stdin.flush()
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdin.close()
        return secs, ru.ru_utime + ru.ru_stime


def run_bulk_corio(build, backend, port, cpu, ca):
    """(seconds, client CPU seconds) for bench-tls-bulk to receive the
    file; its own clock runs from connect to close_notify."""
    exe = os.path.join(build, "bench", "bench-tls-bulk")
    env = dict(os.environ, CORIO_BACKEND=backend)
    p = subprocess.Popen(["taskset", "-c", str(cpu), exe, str(port), "/big", ca],
                         env=env, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or "bytes=" not in out:
        sys.exit(f"bench/tls.py: bench-tls-bulk failed: {out!r}")
    fields = dict(kv.split("=") for kv in out.split())
    if int(fields["bytes"]) < GIB:
        sys.exit(f"bench/tls.py: bench-tls-bulk got {fields['bytes']} bytes, not 1 GiB")
    return float(fields["seconds"]), ru.ru_utime + ru.ru_stime


def median_range(v):
    return statistics.median(v), min(v), max(v)


def report(rows):
    """rows: (key, unit, better, names, {name: [values]}, ref)."""
    table = []
    for key, unit, better, names, data, ref in rows:
        med = {n: median_range(data[n]) for n in names}
        fields = " ".join(f"{n}={H.fmt(med[n][0])}" for n in names)
        ratios = " ".join(f"{n}/{ref}={med[n][0] / med[ref][0]:.2f}" for n in names if n != ref)
        spread = " ".join(f"{n}_range={H.fmt(med[n][1])}-{H.fmt(med[n][2])}" for n in names)
        print(f"tls.{key} unit={unit} better={better} {fields} {ratios} {spread}")
        table.append((key, unit, names, med, ref))
    print()
    print("| figure | unit | corio io_uring | corio epoll | peer | peer's value | uring/peer | epoll/peer |")
    print("|---|---|---|---|---|---|---|---|")
    for key, unit, names, med, ref in table:
        cells = [f"{H.fmt(med[n][0])} ({H.fmt(med[n][1])}–{H.fmt(med[n][2])})" for n in names]
        print(f"| {key} | {unit} | {cells[0]} | {cells[1]} | {ref} | {cells[2]} | "
              f"{med[names[0]][0] / med[ref][0]:.2f} | {med[names[1]][0] / med[ref][0]:.2f} |")


def main():
    a, rounds, seconds = H.parse_args(5, 7)
    for tool in ("wrk", "openssl"):
        if not shutil.which(tool):
            print(f"bench/tls.py: needs {tool}", file=sys.stderr)
            sys.exit(77)
    work = tempfile.mkdtemp(prefix="corio-bench-tls.")
    root = os.path.join(work, "www")
    os.mkdir(root)
    with open(os.path.join(root, "big"), "wb") as f:
        f.truncate(GIB)
    cert, key = make_cert(work)
    procs = {}
    hz = os.sysconf("SC_CLK_TCK")
    try:
        procs["corio_uring"] = start_corio(a.build, "uring", root, a.server_cpu, cert, key)
        procs["corio_epoll"] = start_corio(a.build, "epoll", root, a.server_cpu, cert, key)
        procs["nginx"] = start_nginx(work, root, a.server_cpu, cert, key)
        procs["s_server"] = start_s_server(root, a.server_cpu, cert, key)
        print(f"# bench-tls: wrk -t1 -c50 {seconds} s per run, bulk 1 GiB, {rounds} rounds; "
              f"servers on CPU {a.server_cpu}, load on CPU {a.load_cpu}; TLS 1.3, P-256",
              flush=True)
        keys = [("hello_keepalive", False), ("handshakes", True)]
        rps = {(k, n): [] for k, _ in keys for n in WEB}
        cpu = {(k, n): [] for k, _ in keys for n in WEB}
        mbs = {n: [] for n in BULK}
        mcpu = {n: [] for n in BULK}
        pmbs, pscpu, pccpu = ({n: [] for n in PAIR} for _ in range(3))
        for r in range(rounds):
            for k, close in keys:
                for n in WEB[r % 3:] + WEB[:r % 3]:
                    p, port = procs[n]
                    t0 = H.cpu_ticks(p.pid)
                    reqs = run_wrk(port, seconds, a.load_cpu, close)
                    t1 = H.cpu_ticks(p.pid)
                    rps[(k, n)].append(reqs / seconds)
                    cpu[(k, n)].append((t1 - t0) / hz * 1e6 / reqs)
            for n in BULK[r % 3:] + BULK[:r % 3]:
                p, port = procs[n]
                t0 = H.cpu_ticks(p.pid)
                secs, _ = run_bulk(port, a.load_cpu)
                t1 = H.cpu_ticks(p.pid)
                mbs[n].append(GIB / 1e6 / secs)
                mcpu[n].append((t1 - t0) / hz * 1e6 / (GIB / 1e6))
            for n in PAIR[r % 3:] + PAIR[:r % 3]:
                server = "s_server" if n == "openssl" else n
                p, port = procs[server]
                t0 = H.cpu_ticks(p.pid)
                if n == "openssl":
                    secs, ccpu = run_bulk(port, a.load_cpu)
                else:
                    secs, ccpu = run_bulk_corio(a.build, n.split("_")[1], port, a.load_cpu, cert)
                t1 = H.cpu_ticks(p.pid)
                pmbs[n].append(GIB / 1e6 / secs)
                pscpu[n].append((t1 - t0) / hz * 1e6 / (GIB / 1e6))
                pccpu[n].append(ccpu * 1e6 / (GIB / 1e6))
            print(f"# round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
        rows = []
        for k, _ in keys:
            rows.append((f"{k}_req_per_s", "req/s", "higher", WEB,
                         {n: rps[(k, n)] for n in WEB}, "nginx"))
            rows.append((f"{k}_server_cpu_us_per_req", "us/req", "lower", WEB,
                         {n: cpu[(k, n)] for n in WEB}, "nginx"))
        rows.append(("bulk_1g_MB_per_s", "MB/s", "higher", PAIR, pmbs, "openssl"))
        rows.append(("bulk_1g_server_cpu_us_per_MB", "us/MB", "lower", PAIR, pscpu, "openssl"))
        rows.append(("bulk_1g_client_cpu_us_per_MB", "us/MB", "lower", PAIR, pccpu, "openssl"))
        rows.append(("bulk_1g_server_MB_per_s", "MB/s", "higher", BULK, mbs, "s_server"))
        rows.append(("bulk_1g_server_server_cpu_us_per_MB", "us/MB", "lower", BULK, mcpu,
                     "s_server"))
        report(rows)
    finally:
        for p, _ in procs.values():
            p.send_signal(signal.SIGTERM)
        for p, _ in procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
