set terminal pngcairo size 1000,520 noenhanced
set output 'docs/benchmarks/text-35-measured-peaks/accuracy.png.tmp'
set title 'Accuracy after each window: text-default'
set ylabel 'held-out accuracy (%)'
set yrange [0:100]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right
set xtics rotate by -20
plot for [i=2:4] 'docs/benchmarks/text-35-measured-peaks/accuracy.dat' using i:xtic(1) title columnheader(i)
