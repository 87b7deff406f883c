// A model's score on a window's held-out slice, and how keep-best chooses a checkpoint from a run's scores.
// Torch-free: the scores are numbers and per-output hits.
//
// The slice is a fifth of a window's labeled samples (23 images on a small window), so one checkpoint's accuracy
// there is noisy (±9 points at one standard error on 23 images), and a run evaluates 16 times in 400 iterations.
// Keeping the highest of those keeps the luckiest: the week-recurring benchmark read its kept checkpoints 12 points
// above what they scored on the domain's held-out set. And on that benchmark's curves (bt-bench --curves,
// docs/benchmarks/zoo-week-15-curves) the slice peaks at 25–125 of 400 iterations: a window's few samples are
// overfitted long before its plan ends, so a later checkpoint within the noise of an earlier one is more likely
// worse on new data, not better. CheckpointChoice therefore switches only on evidence (the one-standard-error
// rule of CART in its online form: keep the simpler model unless a more complex one is better by more than one
// standard error): a checkpoint replaces the kept one only when its accuracy is above it by more than one paired
// standard error. Replayed over those curves (scripts/keep_best_curves.py), the held-out-set accuracy of what
// would deploy for last-k: 48.58% against 48.08% for the highest (and 48.83 against 49.63% on a second run's
// curves: for one run a wash); keeping the latest within one error of the highest 47.28%; the final checkpoint
// 46.72%. The race, which ranks its entrants by what keep-best would deploy, gains most (DESIGN.md).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace bt {

struct HeldOutScore {
  HeldOutScore() = default;
  HeldOutScore(double accuracy_in, double loss_in, std::vector<uint8_t> hits_in = {}, int64_t outputs_per_sample_in = 1)
      : accuracy(accuracy_in), loss(loss_in), hits(std::move(hits_in)), outputs_per_sample(outputs_per_sample_in) {}

  double accuracy = 0;
  double loss = 0;  // mean cross-entropy per scored output (label-free windows: 0, unused)
  // Per scored output (an image, or a token of text), 1 when the top-1 prediction was right; empty when not
  // measured (label-free windows, or a score built from numbers alone).
  std::vector<uint8_t> hits;
  // How many consecutive hits one sample scores: 1 for an image, a sequence's tokens for text. A sample's outputs
  // are not independent (a text sequence's tokens share their context), so errors are taken over samples.
  int64_t outputs_per_sample = 1;
};

// The window's fixed split of `labeled` samples: the most recent `holdout_fraction` of them are the held-out slice
// (retraining's, the curve probes' and the race's judge), the rest train; the start choice scores the rest.
inline int64_t HeldOutCount(int64_t labeled, double holdout_fraction) {
  return static_cast<int64_t>(static_cast<double>(labeled) * holdout_fraction);
}

// Higher accuracy; at equal accuracy, the lower loss.
bool ScoresAbove(const HeldOutScore& a, const HeldOutScore& b);

// The standard error of the mean paired difference of `a` and `b` (the same outputs scored by two models): 0 when
// either is empty, their lengths differ, or fewer than two samples. With `outputs_per_sample` > 1 the outputs come
// in samples of that many consecutive ones (a text sequence's tokens), and the error is that of the mean of the
// per-sample mean differences (a cluster-robust error: tokens of one sequence are correlated, so an error taken
// over tokens as if independent understates it); a length that is not a whole number of samples falls back to
// outputs.
double PairedStandardError(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                           int64_t outputs_per_sample = 1);

// PairedStandardError of two scores' hits, over their samples when both score the same outputs per sample.
double PairedError(const HeldOutScore& a, const HeldOutScore& b);

// Whether `a` scores above `b` on evidence: ScoresAbove, and, when both carry hits over the same outputs, an accuracy
// above b's by more than one paired standard error of their difference (without hits: ScoresAbove alone). The rule
// every held-out decision that leaves a default uses: keep-best (the default: the checkpoint kept), the window's
// start (the deployed version) and the start trial (the accuracy choice).
bool ClearlyAbove(const HeldOutScore& a, const HeldOutScore& b);

// Whether `a`'s accuracy is above `b`'s by more than `standard_errors` paired standard errors of their difference:
// false unless both carry hits over the same outputs and differ on some (no error to measure the gap by). The race's
// cut of a clear loser (plan_race.h) asks for two: a cut is final for the window, where keep-best's switch is not.
bool AboveBy(const HeldOutScore& a, const HeldOutScore& b, double standard_errors);

// Keep-best's choice over a run's evaluations, in order; the first offered is the model before training, which is
// kept until a checkpoint beats it. Offer() says whether keep-best should take the offered checkpoint: it is
// ClearlyAbove the kept one (label-free windows carry no hits: ScoresAbove alone). So the kept score never falls.
// Copyable: a resumed run carries it on.
class CheckpointChoice {
 public:
  bool Offer(const HeldOutScore& score);

  const HeldOutScore& kept() const { return kept_; }      // the score of the checkpoint taken last
  const HeldOutScore& highest() const { return highest_; }  // the highest score offered (for logs)
  bool empty() const { return !offered_; }

 private:
  bool offered_ = false;
  HeldOutScore kept_, highest_;
};

}  // namespace bt
