// A model's score on a window's held-out slice, and how keep-best chooses a checkpoint from a run's scores.
// Torch-free: the scores are numbers and per-output hits.
//
// The slice is a fifth of a window's labeled samples (23 images on a small window), so one checkpoint's accuracy
// there is noisy (±9 points at one standard error on 23 images). Keeping the checkpoint with the highest accuracy
// then keeps the luckiest evaluation of a run: the week-recurring benchmark read its kept checkpoints 12 points
// above what they scored on the domain's held-out set, and an early lucky checkpoint stops a run's later iterations
// from counting. CheckpointChoice applies the one-standard-error rule instead (Breiman et al., CART: among the
// candidates within one standard error of the best, take the one the prior favours): a run's accuracy is expected to
// rise with iterations (the law's curves), so the latest checkpoint whose accuracy is within one paired standard
// error of the best one seen is kept.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace bt {

struct HeldOutScore {
  HeldOutScore() = default;
  HeldOutScore(double accuracy_in, double loss_in, std::vector<uint8_t> hits_in = {})
      : accuracy(accuracy_in), loss(loss_in), hits(std::move(hits_in)) {}

  double accuracy = 0;
  double loss = 0;  // mean cross-entropy per scored output (label-free windows: 0, unused)
  // Per scored output (an image, or a token of text), 1 when the top-1 prediction was right; empty when not
  // measured (label-free windows, or a score built from numbers alone).
  std::vector<uint8_t> hits;
};

// Higher accuracy; at equal accuracy, the lower loss.
bool ScoresAbove(const HeldOutScore& a, const HeldOutScore& b);

// The standard error of the mean paired difference of `a` and `b` (the same outputs scored by two models): 0 when
// either is empty, their lengths differ, or fewer than two outputs. Tokens of one sequence are correlated, so on
// text it understates the error (the rule then keeps closer to the highest score).
double PairedStandardError(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

// Keep-best's choice over a run's evaluations, in order (the first is the model before training). Offer() says
// whether keep-best should take the offered checkpoint: it scores above every earlier one (ScoresAbove), or it
// scores above the model before training and its accuracy is within one paired standard error of the best seen
// (which needs hits; without them only a score above every earlier one is taken). So what keep-best keeps never
// scores below the model it started from. Copyable: a resumed run carries it on.
class CheckpointChoice {
 public:
  bool Offer(const HeldOutScore& score);

  const HeldOutScore& kept() const { return kept_; }      // the score of the checkpoint taken last
  const HeldOutScore& best_seen() const { return best_; }  // the highest score offered
  bool empty() const { return !offered_; }

 private:
  bool offered_ = false;
  HeldOutScore kept_, best_, start_;
};

}  // namespace bt
