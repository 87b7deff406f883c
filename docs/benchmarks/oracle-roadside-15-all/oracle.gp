set terminal pngcairo size 1000,520 noenhanced
set output 'docs/benchmarks/oracle-roadside-15-all/oracle.png.tmp'
set title 'Oracle, roadside at 15%: predicted vs measured gain per candidate (large marks: the chosen plans)'
set xlabel 'law-predicted gain (points)'
set ylabel 'measured gain on held-out set (points)'
set grid
set key outside right
set palette maxcolors 3
plot x title 'predicted = measured' with lines dashtype 2 lc rgb 'gray', 'docs/benchmarks/oracle-roadside-15-all/oracle.dat' using 2:3:1 with points pt 7 ps 0.8 palette title 'candidates (colour: window)', 'docs/benchmarks/oracle-roadside-15-all/oracle-chosen.dat' using 2:3:1 with points pt 9 ps 2.5 palette title 'chosen'
