# plot.gp - the two charts of BENCHMARKS.md from a gcmap-bench --csv file
# (the hist_ns_le and heap_ rows, bench/README.md "CSV"): W3's insert-latency
# histogram and W4's heap over fill / delete / re-insert, one line per table.
# gnuplot -e "csv='bench.csv'; outdir='doc/img'" bench/plot.gp  (make bench-plot)
if (!exists("csv")) csv = "bench.csv"
if (!exists("outdir")) outdir = "."

set datafile separator ","
set terminal pngcairo size 1000,640 noenhanced font "DejaVu Sans,11"
set grid xtics ytics mxtics lc rgb "#dddddd"
set key top right box opaque

tables = "gcmap rculfhash-auto rculfhash-sized rwlock"
colors = "#d62728 #1f77b4 #17becf #7f7f7f"
color(i) = word(colors, i)

# Row filters: the metric (column 4) is "NAME:X"; X is the x value.
is(pfx) = strstrt(strcol(4), pfx) == 1
xval = 0
xof(m) = m[strstrt(m, ":") + 1:*] + 0
row(w, t, pfx) = strcol(1) eq w && strcol(3) eq t && is(pfx)

# ---- W3: insert latency histogram ----
# The thread count of the plotted rows: the largest in the file.
stats csv using (is("hist_ns_le:") ? $2 : NaN) nooutput
thr = int(STATS_max)
w3(t) = strcol(1) eq "W3" && $2 == thr && strcol(3) eq t && is("hist_ns_le:")

array total[4]
array runs[4]
do for [i = 1:4] {
	stats csv using (w3(word(tables, i)) ? $5 : NaN) nooutput
	total[i] = STATS_records > 0 ? STATS_sum : 1
	stats csv using (w3(word(tables, i)) ? $8 : NaN) nooutput
	runs[i] = STATS_records > 0 ? int(STATS_max) : 0
}

set output outdir . "/w3-insert-latency.png"
set title sprintf("W3: insert latency while the table grows from empty (%d threads, all good runs merged)", thr)
set xlabel "insert latency (us, log scale; one clock read of ~20 ns included)"
set ylabel "fraction of inserts per bucket (16 buckets per power of two, log scale)"
set logscale xy
set format x "%g"
set format y "1e%L"
set xrange [0.03:*]
plot for [i = 1:4] csv \
	using (w3(word(tables, i)) ? xof(strcol(4)) / 1000.0 : NaN):($5 / total[i]) \
	with linespoints lw 1.5 pt 7 ps 0.35 lc rgb color(i) \
	title sprintf("%s (%d runs)", word(tables, i), runs[i])

# ---- W4: heap held over fill, delete 90%, re-insert ----
w4(t) = strcol(1) eq "W4" && strcol(3) eq t && is("heap_")
quiesced(t) = w4(t) && (is("heap_filled:") || is("heap_deleted:") || \
			is("heap_fitted:") || is("heap_reinserted:"))
mib = 1024.0 * 1024.0

stats csv using (is("heap_filled:") ? xof(strcol(4)) : NaN) nooutput
x_filled = STATS_max
stats csv using (is("heap_deleted:") ? xof(strcol(4)) : NaN) nooutput
x_deleted = STATS_max
stats csv using (is("heap_reinserted:") ? xof(strcol(4)) : NaN) nooutput
x_end = STATS_max

set output outdir . "/w4-heap-cycle.png"
keys(x) = x >= 1e6 ? sprintf("%gM", x / 1e6) : sprintf("%gk", x / 1e3)
set title sprintf("W4: heap held by each table over fill (%s keys), delete 90%%, re-insert (1 thread, one run)", keys(x_filled))
set xlabel "operations done (puts and deletes, thousands)"
set ylabel "heap held by the table (MiB; values excluded)"
unset logscale
set format x "%g"
set format y "%g"
set xrange [0:x_end / 1000.0 * 1.02]
set yrange [0:*]
set offsets 0, 0, graph 0.25, 0
set key at graph 0.99, graph 0.91 right top box opaque
set arrow 1 from x_filled / 1000.0, graph 0 to x_filled / 1000.0, graph 1 nohead dt 2 lc rgb "#555555"
set arrow 2 from x_deleted / 1000.0, graph 0 to x_deleted / 1000.0, graph 1 nohead dt 2 lc rgb "#555555"
set label 1 "fill" at x_filled / 2000.0, graph 0.97 center
set label 2 "delete 90%" at (x_filled + x_deleted) / 2000.0, graph 0.97 center
set label 3 "re-insert" at (x_deleted + x_end) / 2000.0, graph 0.97 center
plot for [i = 1:4] csv \
	using (w4(word(tables, i)) ? xof(strcol(4)) / 1000.0 : NaN):($5 / mib) \
	with lines lw 2 lc rgb color(i) title word(tables, i), \
     for [i = 1:4] csv \
	using (quiesced(word(tables, i)) ? xof(strcol(4)) / 1000.0 : NaN):($5 / mib) \
	with points pt 6 ps 1.2 lc rgb color(i) notitle, \
     NaN with points pt 6 ps 1.2 lc rgb "black" \
	title "quiesced (the W4 figures)"
