# bench/compare.d/latency.gp: the latency percentiles (p50, p90, p99, p99.9) of each arm, one
# panel per workload, from bench/compare's open-loop cells. Run after the parameter file that
# bench/compare writes (datafile, outfile, arms, panels, heading, title0..title3):
#   gnuplot STEM.plot.gp bench/compare.d/latency.gp
set terminal pngcairo size 1400,1000 font ",11"
set output outfile
set datafile missing "?"
set logscale y
set grid ytics mytics xtics
set ylabel "milliseconds (log)"
set key top left
set xrange [-0.3:3.3]
cols = ceil(panels / 2.0) > 1 ? 2 : panels
rows = ceil(panels / (cols * 1.0))
set multiplot layout rows, cols title heading font ",14"
do for [p = 0:panels - 1] {
  set title value(sprintf("title%d", p))
  plot for [a = 1:words(arms)] datafile index p using 1:(column(a + 2)):xtic(2) \
    with linespoints lw 2 pt 7 title word(arms, a)
}
unset multiplot
