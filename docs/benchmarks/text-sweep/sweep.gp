set terminal pngcairo size 1000,520 noenhanced
set output 'docs/benchmarks/text-sweep/sweep.png.tmp'
set title 'Gain over none vs memory budget: configs/scenarios/text-default.yaml'
set xlabel 'memory budget (% of full fine-tuning)'
set ylabel 'mean gain (points)'
set grid
set key outside right
plot for [i=2:7] 'docs/benchmarks/text-sweep/sweep.dat' using 1:i with linespoints lw 2 title columnheader(i)
