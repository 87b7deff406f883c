set terminal pngcairo size 1000,520 noenhanced
set output 'docs/benchmarks/sweep-roadside-5/sweep.png.tmp'
set title 'Gain over none vs memory budget: configs/scenarios/roadside.yaml'
set xlabel 'memory budget (% of full fine-tuning)'
set ylabel 'mean gain (points)'
set grid
set key outside right
plot for [i=2:6] 'docs/benchmarks/sweep-roadside-5/sweep.dat' using 1:i with linespoints lw 2 title columnheader(i)
