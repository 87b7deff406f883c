// Statistics the reports use (torch-free): ranks with ties averaged, Spearman's correlation, where one value ranks
// among others (the oracle), and a held-out slice's sampling error (the scoreboard).
#pragma once

#include <cstddef>
#include <vector>

namespace bt {

// 1-based ranks of `values`, largest first; tied values share the mean of their ranks.
std::vector<double> AverageRanks(const std::vector<double>& values);

// Spearman's rank correlation of two equally long series (Pearson's over their average ranks); 0 when either
// has fewer than two distinct values.
double SpearmanCorrelation(const std::vector<double>& a, const std::vector<double>& b);

// 1 + how many of `values` exceed `value` by more than `tolerance`: its competition rank, best = 1.
size_t RankOf(double value, const std::vector<double>& values, double tolerance = 1e-12);

// The mean absolute error of an accuracy read on `n` outputs when the true accuracy is `p` (binomial, normal
// approximation: sqrt(2/π)·sqrt(p(1−p)/n)); what any prediction made from that reading inherits. 0 when n < 1.
double MeanAbsoluteSamplingError(double p, long long n);

}  // namespace bt
