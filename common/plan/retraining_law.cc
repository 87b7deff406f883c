#include "common/plan/retraining_law.h"

#include <Eigen/Core>
#include <unsupported/Eigen/NonLinearOptimization>
#include <unsupported/Eigen/NumericalDiff>

#include <algorithm>
#include <cmath>

#include "nlohmann/json.hpp"

namespace bt {

double LawParams::Saturation(double q) const {
  if (q <= 0) return 0.0;
  return 1.0 - std::pow(1.0 + q / tau, -alpha);
}

double LawParams::BlockGain(size_t block, double share) const {
  if (share <= 0 || block >= weights.size()) return 0.0;
  return weights[block] * std::pow(std::min(share, 1.0), gamma);
}

double LawParams::GainAtSaturation(double x, double saturation) const {
  return max_gain * (1.0 - std::exp(-std::pow(std::max(0.0, x), rho))) * saturation;
}

double LawParams::Gain(double x, double iterations) const { return GainAtSaturation(x, Saturation(iterations)); }

double LawParams::Predict(const std::vector<double>& shares, double iterations) const {
  double x = 0;
  for (size_t k = 0; k < shares.size(); ++k) x += BlockGain(k, shares[k]);
  return std::min(1.0, acc0 + Gain(x, iterations));
}

std::string LawParams::ToJson() const {
  nlohmann::ordered_json j = {{"acc0", acc0}, {"max_gain", max_gain}, {"weights", weights}, {"gamma", gamma},
                              {"tau", tau},   {"alpha", alpha},       {"rho", rho}};
  return j.dump();
}

absl::StatusOr<LawParams> LawParams::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("law parameters are not a JSON object");
  LawParams p;
  try {
    p.acc0 = j.at("acc0").get<double>();
    p.max_gain = j.at("max_gain").get<double>();
    p.weights = j.at("weights").get<std::vector<double>>();
    p.gamma = j.at("gamma").get<double>();
    p.tau = j.at("tau").get<double>();
    p.alpha = j.at("alpha").get<double>();
    p.rho = j.value("rho", 1.0);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("law parameters: ", e.what()));
  }
  return p;
}

namespace {

// Parameter vector: [log w_1 .. log w_K, log γ, log τ, log α, logit(G / (1 − acc0)), log ρ]; logs keep
// everything positive and the logit keeps acc0 + G within (acc0, 1).
struct Residuals {
  using Scalar = double;
  enum { InputsAtCompileTime = Eigen::Dynamic, ValuesAtCompileTime = Eigen::Dynamic };
  using InputType = Eigen::VectorXd;
  using ValueType = Eigen::VectorXd;
  using JacobianType = Eigen::MatrixXd;

  const std::vector<ProbePoint>* points;
  Eigen::VectorXd prior;
  double prior_strength;
  double acc0;
  int n_inputs;

  int inputs() const { return n_inputs; }
  int values() const { return static_cast<int>(points->size()) + n_inputs; }

  LawParams Decode(const Eigen::VectorXd& x) const {
    LawParams p;
    p.acc0 = acc0;
    const int k = n_inputs - 5;
    for (int i = 0; i < k; ++i) p.weights.push_back(std::exp(x[i]));
    p.gamma = std::exp(x[k]);
    p.tau = std::exp(x[k + 1]);
    p.alpha = std::exp(x[k + 2]);
    p.max_gain = (1.0 - acc0) / (1.0 + std::exp(-x[k + 3]));
    p.rho = std::exp(x[k + 4]);
    return p;
  }

  int operator()(const Eigen::VectorXd& x, Eigen::VectorXd& fvec) const {
    LawParams p = Decode(x);
    for (size_t i = 0; i < points->size(); ++i) {
      const ProbePoint& pt = (*points)[i];
      double x_sum = 0;
      for (size_t b = 0; b < pt.shares.size(); ++b) x_sum += p.BlockGain(b, pt.shares[b]);
      fvec[static_cast<int>(i)] = p.acc0 + p.Gain(x_sum, pt.iterations) - pt.accuracy;
    }
    for (int j = 0; j < n_inputs; ++j) {
      fvec[static_cast<int>(points->size()) + j] = prior_strength * (x[j] - prior[j]);
    }
    return 0;
  }
};

Eigen::VectorXd Encode(const LawParams& p, size_t blocks) {
  Eigen::VectorXd x(static_cast<int>(blocks) + 5);
  for (size_t i = 0; i < blocks; ++i) {
    double w = i < p.weights.size() ? p.weights[i] : 0.05;
    x[static_cast<int>(i)] = std::log(std::max(w, 1e-4));
  }
  x[static_cast<int>(blocks)] = std::log(std::max(p.gamma, 1e-3));
  x[static_cast<int>(blocks) + 1] = std::log(std::max(p.tau, 1e-3));
  x[static_cast<int>(blocks) + 2] = std::log(std::max(p.alpha, 1e-3));
  const double room = std::max(1e-6, 1.0 - p.acc0);
  const double fraction = std::min(1.0 - 1e-6, std::max(1e-6, p.max_gain / room));
  x[static_cast<int>(blocks) + 3] = std::log(fraction / (1.0 - fraction));
  x[static_cast<int>(blocks) + 4] = std::log(std::max(p.rho, 1e-3));
  return x;
}

}  // namespace

absl::StatusOr<LawFit> FitLaw(const std::vector<ProbePoint>& points, const LawParams& prior,
                              const LawFitOptions& options) {
  if (points.empty()) return absl::InvalidArgumentError("no probe points to fit the law to");
  const size_t blocks = points.front().shares.size();
  if (blocks == 0) return absl::InvalidArgumentError("probe points have no blocks");
  for (const ProbePoint& p : points) {
    if (p.shares.size() != blocks) return absl::InvalidArgumentError("probe points disagree on the block count");
    if (!std::isfinite(p.accuracy) || !std::isfinite(p.iterations) || p.iterations < 0) {
      return absl::InvalidArgumentError("probe point with a non-finite accuracy or negative iterations");
    }
  }
  Residuals functor;
  functor.points = &points;
  functor.prior = Encode(prior, blocks);
  functor.prior_strength = options.prior_strength;
  functor.acc0 = prior.acc0;
  functor.n_inputs = static_cast<int>(blocks) + 5;

  Eigen::NumericalDiff<Residuals> numeric(functor);
  Eigen::LevenbergMarquardt<Eigen::NumericalDiff<Residuals>> solver(numeric);
  solver.parameters.maxfev = options.max_iterations * (functor.n_inputs + 1);
  Eigen::VectorXd x = functor.prior;
  solver.minimize(x);

  LawFit fit;
  fit.params = functor.Decode(x);
  fit.iterations = static_cast<int>(solver.iter);
  double sse = 0;
  for (const ProbePoint& p : points) {
    double e = fit.params.Predict(p.shares, p.iterations) - p.accuracy;
    sse += e * e;
  }
  fit.rmse = std::sqrt(sse / points.size());
  if (!std::isfinite(fit.rmse)) return absl::InternalError("law fit diverged");
  return fit;
}

double MeanAbsoluteError(const LawParams& law, const std::vector<ProbePoint>& points) {
  if (points.empty()) return 0;
  double total = 0;
  for (const ProbePoint& p : points) total += std::abs(law.Predict(p.shares, p.iterations) - p.accuracy);
  return total / points.size();
}

}  // namespace bt
