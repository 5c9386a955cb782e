# SPDX-License-Identifier: MIT
#
# bench/echo.gp - the echo grid as clustered bars: the server's CPU time
# per round trip (the figure a busy machine disturbs least) for each load
# generator and (connections, message size), one bar per contender (corio
# on io_uring, corio on epoll, then the peers), its value on top.  bench/run
# calls it on what bench/report.py --echo-data wrote:
#
#   gnuplot -e "datafile='echo.dat'; outfile='echo.png'; machine='...'; note='...'" bench/echo.gp

if (!exists("datafile")) datafile = "echo.dat"
if (!exists("outfile")) outfile = "echo.png"
if (!exists("machine")) machine = ""
if (!exists("note")) note = ""

# The first line names the contenders ("grid" first); a row per grid point.
header = system(sprintf("head -n 1 '%s'", datafile))
n = words(header) - 1
stats datafile using 2 skip 1 nooutput
rows = STATS_records
gap = 1

set terminal pngcairo size 1400,760 noenhanced font "DejaVu Sans,12"
set output outfile
set datafile missing "-"

set title sprintf("echo servers: server CPU time per round trip (lower is better)\n%s\n%s", \
	machine, note) font ",13"
set ylabel "µs of server CPU per round trip (median)"
set format y "%.1f"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set xrange [-0.6 : rows - 0.4]
set grid ytics lc rgb "#dddddd"
set border 3
set xtics nomirror scale 0 font ",12"
set ytics nomirror
set key top left horizontal reverse Left samplen 2 width 2 font ",12"

set style data histograms
eval sprintf("set style histogram clustered gap %d", gap)
set style fill solid 0.9 border rgb "#333333"
set boxwidth 0.95

# corio in blues, the peers in warm and grey tones
colors = "#1f5fa8 #8cb8e6 #d9822b #6aa84f #8c8c8c #b05fa8 #c9b037"

# Where bar j (0-based) of the cluster in row x stands.
barx(x, j) = x + (j - (n - 1) / 2.0) / (n + gap)
# 123456 -> "123k", 12345 -> "12.3k", 5.123 -> "5.12"
short(v) = v >= 1e5 ? sprintf("%.0fk", v / 1e3) : v >= 1e3 ? sprintf("%.1fk", v / 1e3) : \
	v >= 100 ? sprintf("%.0f", v) : sprintf("%.2f", v)

plot for [i = 2:n + 1] datafile using i:xtic(1) title columnheader(i) \
	lc rgb word(colors, i - 1), \
     for [i = 2:n + 1] datafile using (barx($0, i - 2)):(column(i)):(short(column(i))) \
	skip 1 with labels rotate by 90 left offset 0, 0.3 font ",10" notitle
