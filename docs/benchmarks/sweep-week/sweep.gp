set terminal pngcairo size 1000,520 noenhanced
set output 'docs/benchmarks/sweep-week/sweep.png.tmp'
set title 'Gain over none vs memory budget: configs/scenarios/week-recurring.yaml'
set xlabel 'memory budget (% of full fine-tuning)'
set ylabel 'mean gain (points)'
set grid
set key outside right
plot for [i=2:6] 'docs/benchmarks/sweep-week/sweep.dat' using 1:i with linespoints lw 2 title columnheader(i)
