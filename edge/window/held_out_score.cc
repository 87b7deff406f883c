#include "edge/window/held_out_score.h"

#include <algorithm>
#include <cmath>

namespace bt {

bool ScoresAbove(const HeldOutScore& a, const HeldOutScore& b) {
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return a.loss < b.loss;
}

double PairedStandardError(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const size_t n = a.size();
  if (n < 2 || b.size() != n) return 0;
  double sum = 0, sum_sq = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i] != 0) - static_cast<double>(b[i] != 0);
    sum += d;
    sum_sq += d * d;
  }
  const double count = static_cast<double>(n);
  const double variance = std::max(0.0, (sum_sq - sum * sum / count) / (count - 1));
  return std::sqrt(variance / count);
}

bool ClearlyAbove(const HeldOutScore& a, const HeldOutScore& b) {
  if (!ScoresAbove(a, b)) return false;
  const double error = PairedStandardError(a.hits, b.hits);  // 0 without hits: ScoresAbove alone
  return error <= 0 || a.accuracy - b.accuracy > error;
}

bool AboveBy(const HeldOutScore& a, const HeldOutScore& b, double standard_errors) {
  const double error = PairedStandardError(a.hits, b.hits);
  return error > 0 && a.accuracy - b.accuracy > standard_errors * error;
}

bool CheckpointChoice::Offer(const HeldOutScore& score) {
  if (!offered_ || ScoresAbove(score, highest_)) highest_ = score;
  if (!offered_) {
    offered_ = true;
    kept_ = score;
    return true;
  }
  if (!ClearlyAbove(score, kept_)) return false;
  kept_ = score;
  return true;
}

}  // namespace bt
