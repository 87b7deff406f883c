// The retraining scaling law: predicted accuracy on an edge's current data after retraining with per-block
// options B for q iterations,
//
//   Acc(B, q) = acc0 + G · (1 − exp(−X(B)^ρ)) · S(q),   X(B) = Σ_k w_k · f_k^γ,   S(q) = 1 − (1 + q/τ)^(−α)
//
// where f_k is the trainable share of block k's parameters under its option (0 frozen, 1 full) and G the most
// retraining can recover on this data. Gains of single blocks overlap rather than add — on a fogged camera
// retraining the stem alone recovers most of what full fine-tuning does (DESIGN.md §3) — so block terms combine
// through X^ρ (ρ < 1 brings a sum of terms toward their maximum) and saturate through 1 − exp(−·). For a fixed
// q, Acc is increasing in X, which is additive over blocks — that is what keeps the selection a knapsack. Fitted by Levenberg–Marquardt from probe points, with the edge's
// previous fit as a prior. Torch-free; plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct LawParams {
  double acc0 = 0.0;                 // accuracy before retraining (measured)
  double max_gain = 0.3;             // G: accuracy retraining can add at most (acc0 + G ≤ 1)
  std::vector<double> weights;       // w_k ≥ 0, one per block
  double gamma = 0.5;                // how the gain of a block grows with its trainable share
  double tau = 50.0;                 // iterations scale of saturation
  double alpha = 1.0;                // saturation exponent
  double rho = 1.0;                  // how block terms combine: 1 = they add, → 0 = only the largest counts

  double Saturation(double iterations) const;
  // Block k's term of X at trainable share f.
  double BlockGain(size_t block, double share) const;
  // Accuracy gain for a total X after q iterations: G · (1 − exp(−X^ρ)) · S(q).
  double Gain(double x, double iterations) const;
  // The same for a precomputed S(q), for callers that evaluate many X at one q (the planner).
  double GainAtSaturation(double x, double saturation) const;
  // Predicted accuracy, capped at 1.
  double Predict(const std::vector<double>& shares, double iterations) const;
  std::string ToJson() const;
  static absl::StatusOr<LawParams> FromJson(const std::string& json);
};

// One measurement: trainable share per block, iterations run, accuracy measured on held-out data.
struct ProbePoint {
  std::vector<double> shares;
  double iterations = 0;
  double accuracy = 0;
};

struct LawFitOptions {
  double prior_strength = 0.05;  // weight of pulling each parameter toward the prior (0 = ignore the prior)
  int max_iterations = 400;
};

struct LawFit {
  LawParams params;
  double rmse = 0;         // on the fitting points
  int iterations = 0;
};

// Fits weights, γ, τ, α (acc0 is taken from `prior.acc0`, which the caller sets from the measured accuracy of
// the deployed model). `prior` also gives the starting point and the values the fit is pulled toward.
absl::StatusOr<LawFit> FitLaw(const std::vector<ProbePoint>& points, const LawParams& prior,
                              const LawFitOptions& options = {});

// Mean absolute error of the law's predictions on `points`, in accuracy units.
double MeanAbsoluteError(const LawParams& law, const std::vector<ProbePoint>& points);

}  // namespace bt
