#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/report.py - the summary of a bench/run: reads the machine-readable
lines that the benchmark programs print (format in bench/bench.h) and writes
one Markdown table per step, corio on io_uring and on epoll beside every
peer, with corio's advantage over each.  With --echo-data, also writes the
echo grid's server CPU per round trip for bench/echo.gp to draw.

  bench/report.py [--echo-data FILE] OUTPUT...

Each OUTPUT is the standard output of one step (bench-core, bench/file.sh,
...).  Lines that are not figure lines are passed over.
"""
import argparse
import re
import sys

CORIO = ("corio_uring", "corio_epoll")

# Short names for the figures; a key not listed is shown as it is.
LABELS = {
    "core.yield_rt_ns": "yield round trip",
    "core.yield_uc_rt_ns": "yield round trip (short run)",
    "core.spawn_join_ns": "spawn+join empty task",
    "core.live_ns": "10 000 live tasks, per task",
    "core.nop_mops": "NOPs, 1000 tasks",
    "core.timers_wall_ms": "timers: wall",
    "core.timers_cpu_ms": "timers: CPU",
    "core.timers_rss_mb": "timers: peak RSS growth",
    "core.timers_sched_ns": "timers: schedule one",
    "core.timers_wakeups": "timers: loop sleeps",
    "core.sleepers_wall_ms": "sleeping tasks: wall",
    "core.sleepers_cpu_ms": "sleeping tasks: CPU",
    "core.sleepers_rss_mb": "sleeping tasks: peak RSS growth",
    "core.sleepers_spawn_ns": "sleeping tasks: spawn one",
    "core.sleepers_wakeups": "sleeping tasks: loop sleeps",
    "sync.chan_pingpong_msgs_per_s": "channel ping-pong",
    "sync.mutex_contended_ops_per_s": "contended mutex",
    "echo.rt_per_s": "round trips",
    "echo.server_cpu_us_per_rt": "server CPU per round trip",
    "echo.mb_per_s": "echoed MB/s",
    "echo.syscalls_per_rt": "corio syscalls per round trip",
    "echo.switches_per_rt": "corio task switches per round trip",
    "echo.sends_per_rt": "corio send ops per round trip",
    "idle.rss_mib": "idle connections: server RSS",
    "idle.kib_per_conn": "idle connections: RSS per connection",
    "idle.rss_mib_projected": "idle connections: server RSS, projected",
    "file.rand4k_direct_iops": "random 4 KiB reads, O_DIRECT",
    "file.seq128k_direct_mibps": "sequential 128 KiB reads, O_DIRECT",
    "file.rand4k_buffered_iops": "random 4 KiB reads, cached",
    "dns.getaddrinfo_per_s": "getaddrinfo",
}

# Readable names for the contenders; a name not listed is shown as it is.
NAMES = {
    "corio_uring": "corio io_uring",
    "corio_epoll": "corio epoll",
    "swapcontext": "swapcontext",
    "boost_context": "Boost.Context jump_fcontext",
    "pthread": "pthread_create+join",
    "pthreads": "as many pthreads",
    "raw_uring": "raw liburing",
    "raw_epoll": "raw epoll",
    "libuv": "libuv",
    "pipe_2threads": "pipe, 2 threads",
    "pthread_mutex": "pthread mutex",
    "fio_uring": "fio io_uring",
    "fio_psync": "fio psync",
    "cp": "GNU cp",
    "gai_sequential": "getaddrinfo, sequential",
}

# In the echo step's own section only: the summary keeps to throughput
# and cost.
DETAIL_ONLY = {"echo.p50_us", "echo.p99_us"}

NAME = re.compile(r"^[a-z0-9_]+$")
# After the contenders, optional spreads over the rounds: min:NAME=V max:NAME=V
SPREAD = re.compile(r"^(min|max):([a-z0-9_]+)=(-?[0-9.]+)$")
KEY = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


class Figure:
    """One figure line: key, parameters, unit, direction, contenders."""

    def __init__(self, key, params, unit, better, values, spread=None):
        self.key, self.params, self.unit = key, params, unit
        self.spread = spread or {}  # (min|max, name) -> value
        self.higher = better == "higher"
        self.values = values  # name -> median, in the order printed
        self.step = key.split(".")[0]
        self.peers = [n for n in values if n not in CORIO]

    def label(self):
        name = LABELS.get(self.key, self.key.split(".", 1)[1])
        m = re.match(r"^file\.copy_(\d+)m_seconds$", self.key)
        if m:
            name = f"copy of {m.group(1)} MiB"
        return f"{name} ({' '.join(self.params)})" if self.params else name

    def advantage(self, a, b):
        """a's advantage over b, above 1 when a is better; None if unknown."""
        x, y = self.values.get(a), self.values.get(b)
        if x is None or y is None:
            return None
        num, den = (x, y) if self.higher else (y, x)
        return num / den if den > 0 else None


def number(tok):
    try:
        return float(tok)
    except ValueError:
        return None


def contenders(tokens):
    """The run of NAME=NUMBER fields at the start of tokens."""
    values = {}
    for tok in tokens:
        name, _, val = tok.partition("=")
        if not NAME.match(name) or number(val) is None:
            break
        values[name] = number(val)
    return values


def parse_line(line):
    """A Figure, or None for a line that is not a figure line."""
    toks = line.split()
    if len(toks) < 4 or not KEY.match(toks[0]):
        return None
    try:
        u = next(i for i, t in enumerate(toks) if t.startswith("unit="))
    except StopIteration:
        return None
    if u + 1 >= len(toks) or toks[u + 1] not in ("better=higher", "better=lower"):
        return None
    values = contenders(toks[u + 2:])
    if not all(c in values for c in CORIO):
        return None
    spread = {}
    for tok in toks[u + 2 + len(values):]:
        m = SPREAD.match(tok)
        if m:
            spread[(m.group(1), m.group(2))] = float(m.group(3))
    return Figure(toks[0], toks[1:u], toks[u][5:], toks[u + 1][7:], values, spread)


def read_figures(paths):
    figs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            figs += [g for g in map(parse_line, f) if g]
    return figs


def fmt(v):
    """4 significant digits, whole numbers from 10 000 up, never an exponent."""
    if v is None:
        return "-"
    if abs(v) >= 1e4:
        return f"{v:.0f}"
    s = f"{v:.4g}"
    return f"{v:.6f}" if "e" in s else s


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:.0f}"


def display(name):
    m = re.match(r"^gai_pool(\d+)$", name)
    return f"getaddrinfo, {m.group(1)} threads" if m else NAMES.get(name, name)


def table(rows, text=(0, 1)):
    """Markdown: the first row is the header; the columns numbered in text
    are left-aligned, the others (numbers) right-aligned."""
    head = rows[0]
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i in text else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def value(f, name):
    """The median, with its min-max when the line gave them."""
    lo, hi = f.spread.get(("min", name)), f.spread.get(("max", name))
    v = fmt(f.values.get(name))
    return f"{v} ({fmt(lo)}–{fmt(hi)})" if lo is not None and hi is not None else v


def corio_cells(f):
    unit = "µs" if f.unit == "us" else f.unit
    return [f.label(), unit, value(f, "corio_uring"), value(f, "corio_epoll"),
            fmt_ratio(f.advantage("corio_uring", "corio_epoll"))]


HEAD = ["figure", "unit", "corio io_uring", "corio epoll", "io_uring vs epoll"]


def wide_table(figs):
    """Every figure has the same peers: a column for each."""
    peers = figs[0].peers
    head = HEAD + [display(p) for p in peers]
    for p in peers:
        head += [f"io_uring vs {display(p)}", f"epoll vs {display(p)}"]
    rows = [head]
    for f in figs:
        row = corio_cells(f) + [value(f, p) for p in peers]
        for p in peers:
            row += [fmt_ratio(f.advantage(c, p)) for c in CORIO]
        rows.append(row)
    return table(rows)


def long_table(figs):
    """Peers differ between figures: a row for each figure and peer."""
    rows = [HEAD + ["peer", "peer value", "io_uring vs peer", "epoll vs peer"]]
    peer_col = len(HEAD)
    for f in figs:
        for i, p in enumerate(f.peers or [None]):
            cells = corio_cells(f) if i == 0 else ["〃", "", "", "", ""]
            if p is None:
                rows.append(cells + ["-", "-", "-", "-"])
                continue
            rows.append(cells + [display(p), value(f, p)] +
                        [fmt_ratio(f.advantage(c, p)) for c in CORIO])
    return table(rows, text=(0, 1, peer_col))


def summary(figs):
    out = ["## Summary", "",
           "Medians over each step's rounds; every round runs corio on io_uring, corio "
           "on epoll and the peers in a rotating order, same work, same pinning.  "
           '"A vs B" is A\'s advantage over B: A/B for rates, B/A for times, sizes and '
           "counts, so **above 1 means A (corio) is better**.  Per-step details, "
           "rounds and latency percentiles follow below."]
    steps = []
    for f in figs:
        if f.step not in steps:
            steps.append(f.step)
    for step in steps:
        mine = [f for f in figs if f.step == step and f.key not in DETAIL_ONLY]
        keys = list(dict.fromkeys(f.key for f in mine))
        mine.sort(key=lambda f: keys.index(f.key))  # a figure's grid together
        if not mine:
            continue
        same = all(f.peers == mine[0].peers for f in mine) and mine[0].peers
        out += ["", f"### {step}", "", wide_table(mine) if same else long_table(mine)]
    return "\n".join(out) + "\n"


def echo_data(figs):
    """The echo grid's server CPU per round trip (streaming left out: its
    figure is per message): a row per (generator, conns, size), a column
    per contender, headers quoted for gnuplot's columnheader()."""
    grid = [f for f in figs if f.key == "echo.server_cpu_us_per_rt" and
            not any(p.startswith("gen=stream") for p in f.params)]
    if not grid:
        return None
    names = list(grid[0].values)
    lines = ['"grid" ' + " ".join(f'"{display(n)}"' for n in names)]
    for f in grid:
        p = dict(t.split("=", 1) for t in f.params if "=" in t)
        conns = p.get("conns", "?")
        label = f"{conns} conn{'' if conns == '1' else 's'}, {p.get('size', '?')} B"
        if "gen" in p:
            label = f"{p['gen']}: {label}"
        lines.append(f'"{label}" ' + " ".join(fmt(f.values.get(n)) for n in names))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Summary table of bench/run outputs.")
    ap.add_argument("--echo-data", metavar="FILE",
                    help="write the echo grid (server CPU per round trip) for bench/echo.gp")
    ap.add_argument("outputs", nargs="+", metavar="OUTPUT")
    args = ap.parse_args()
    figs = read_figures(args.outputs)
    if not figs:
        print("bench/report.py: no figure lines found", file=sys.stderr)
        return 1
    sys.stdout.write(summary(figs))
    if args.echo_data:
        data = echo_data(figs)
        if data:
            with open(args.echo_data, "w", encoding="utf-8") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
