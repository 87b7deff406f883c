#include "edge/window/held_out_score.h"

#include <algorithm>
#include <cmath>

namespace bt {

bool ScoresAbove(const HeldOutScore& a, const HeldOutScore& b) {
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return a.loss < b.loss;
}

double PairedStandardError(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                           int64_t outputs_per_sample) {
  const size_t n = a.size();
  if (n == 0 || b.size() != n) return 0;
  const size_t group = outputs_per_sample > 1 && n % static_cast<size_t>(outputs_per_sample) == 0
                           ? static_cast<size_t>(outputs_per_sample)
                           : 1;
  const size_t samples = n / group;
  if (samples < 2) return 0;
  double sum = 0, sum_sq = 0;
  for (size_t s = 0; s < samples; ++s) {
    double d = 0;  // the sample's mean difference
    for (size_t i = s * group; i < (s + 1) * group; ++i) {
      d += static_cast<double>(a[i] != 0) - static_cast<double>(b[i] != 0);
    }
    d /= static_cast<double>(group);
    sum += d;
    sum_sq += d * d;
  }
  const double count = static_cast<double>(samples);
  const double variance = std::max(0.0, (sum_sq - sum * sum / count) / (count - 1));
  return std::sqrt(variance / count);
}

namespace {

// The samples' size two scores share; 1 (outputs alone) when they disagree, which only scores built by hand do.
int64_t SharedGroup(const HeldOutScore& a, const HeldOutScore& b) {
  return a.outputs_per_sample == b.outputs_per_sample ? a.outputs_per_sample : 1;
}

}  // namespace

double PairedError(const HeldOutScore& a, const HeldOutScore& b) {
  return PairedStandardError(a.hits, b.hits, SharedGroup(a, b));
}

bool ClearlyAbove(const HeldOutScore& a, const HeldOutScore& b) {
  if (!ScoresAbove(a, b)) return false;
  const double error = PairedError(a, b);  // 0 without hits: ScoresAbove alone
  return error <= 0 || a.accuracy - b.accuracy > error;
}

bool AboveBy(const HeldOutScore& a, const HeldOutScore& b, double standard_errors) {
  const double error = PairedError(a, b);
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
