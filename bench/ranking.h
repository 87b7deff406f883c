// Rank statistics the oracle reports (torch-free): ranks with ties averaged, Spearman's correlation, and where one
// value ranks among others.
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

}  // namespace bt
