// Two loops timed against each other in one process: `rounds` rounds in which they alternate which goes first, so
// drift in machine load does not favour one. Each loop returns its rate (items per second); a row per round is
// printed under a header naming the two columns. Used by the throughput benchmarks.
#pragma once

#include <algorithm>
#include <cstdio>
#include <vector>

namespace bt::perf {

struct RoundsResult {
  double median_plain = 0, median_ours = 0;  // rates
  double min_ratio = 0, max_ratio = 0;       // ours / plain per round
};

template <typename Plain, typename Ours>
RoundsResult AlternatingRounds(int rounds, const char* plain_column, const char* ours_column, Plain&& plain,
                               Ours&& ours) {
  std::printf("%-6s %16s %16s %8s\n", "round", plain_column, ours_column, "ratio");
  std::vector<double> plain_rates, ours_rates, ratios;
  for (int r = 0; r < rounds; ++r) {
    double p = 0, o = 0;
    if (r % 2 == 0) {
      p = plain();
      o = ours();
    } else {
      o = ours();
      p = plain();
    }
    plain_rates.push_back(p);
    ours_rates.push_back(o);
    ratios.push_back(o / p);
    std::printf("%-6d %16.0f %16.0f %8.3f\n", r + 1, p, o, o / p);
  }
  std::sort(plain_rates.begin(), plain_rates.end());
  std::sort(ours_rates.begin(), ours_rates.end());
  std::sort(ratios.begin(), ratios.end());
  return {plain_rates[rounds / 2], ours_rates[rounds / 2], ratios.front(), ratios.back()};
}

}  // namespace bt::perf
