#include "common/wire/wire.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/plan/block_form.h"

namespace bt {

namespace v1 = blocktrainer::v1;

void ProbeReportToProto(const ProbeReport& r, v1::ProbeReportMsg* out) {
  out->set_acc0(r.acc0);
  out->set_labeled_samples(r.labeled_samples);
  out->set_unlabeled_samples(r.unlabeled_samples);
  out->set_feature_mean_shift(r.drift.mean_shift);
  out->set_feature_covariance_shift(r.drift.covariance_shift);
  out->set_mean_confidence(r.drift.mean_confidence);
  out->set_estimated_accuracy(r.drift.estimated_accuracy);
  for (const ProbePoint& p : r.points) {
    v1::ProbePointMsg* m = out->add_points();
    for (double s : p.shares) m->add_shares(s);
    m->set_iterations(p.iterations);
    m->set_accuracy(p.accuracy);
  }
  for (const BlockProfile& b : r.costs) {
    v1::BlockCost* c = out->add_costs();
    c->set_name(b.name);
    c->set_parameters(b.parameters);
    c->set_prefix_bytes(b.prefix_bytes);
    c->set_prefix_seconds(b.prefix_seconds);
    c->set_prefix_transient_bytes(b.prefix_transient_bytes);
    for (const BlockOption& o : b.options) {
      v1::BlockOptionCost* oc = c->add_options();
      oc->set_name(o.name());
      oc->set_trainable(o.trainable);
      oc->set_share(o.share);
      oc->set_memory_bytes(o.memory_bytes);
      oc->set_seconds(o.seconds);
      oc->set_transient_bytes(o.transient_bytes);
      oc->set_activation_bytes(o.activation_bytes);
    }
  }
  out->set_fixed_bytes(r.fixed_bytes);
  out->set_output_bytes(r.output_bytes);
  out->set_batch(r.batch);
  out->set_curve_runs(r.curve_runs);
  out->set_budget_exhausted(r.budget_exhausted);
  out->set_seconds(r.seconds);
  out->set_drift_samples(r.drift.samples);
}

absl::StatusOr<ProbeReport> ProbeReportFromProto(const v1::ProbeReportMsg& m) {
  auto too_many = [](const std::string& what, int n, int most) {
    return absl::InvalidArgumentError(absl::StrCat("probe report: ", what, ": ", n, " entries, at most ", most));
  };
  if (m.points_size() > kMaxProbePoints) return too_many("points", m.points_size(), kMaxProbePoints);
  if (m.costs_size() > kMaxReportBlocks) return too_many("costs", m.costs_size(), kMaxReportBlocks);
  for (int k = 0; k < m.costs_size(); ++k) {
    if (m.costs(k).options_size() > kMaxBlockOptions) {
      return too_many(absl::StrCat("costs[", k, "].options"), m.costs(k).options_size(), kMaxBlockOptions);
    }
  }
  for (int k = 0; k < m.points_size(); ++k) {
    if (m.points(k).shares_size() > m.costs_size()) {
      return too_many(absl::StrCat("points[", k, "].shares"), m.points(k).shares_size(), m.costs_size());
    }
  }
  // Through the JSON form, so both wire forms share one validation.
  ProbeReport r;
  r.acc0 = m.acc0();
  r.labeled_samples = m.labeled_samples();
  r.unlabeled_samples = m.unlabeled_samples();
  r.drift = {m.feature_mean_shift(), m.feature_covariance_shift(), m.mean_confidence(), m.estimated_accuracy(),
             m.drift_samples()};
  for (const v1::ProbePointMsg& p : m.points()) {
    r.points.push_back({std::vector<double>(p.shares().begin(), p.shares().end()), p.iterations(), p.accuracy()});
  }
  for (const v1::BlockCost& c : m.costs()) {
    BlockProfile b;
    b.name = c.name();
    b.parameters = c.parameters();
    b.prefix_bytes = c.prefix_bytes();
    b.prefix_seconds = c.prefix_seconds();
    b.prefix_transient_bytes = c.prefix_transient_bytes();
    for (const v1::BlockOptionCost& o : c.options()) {
      auto form = ChoiceFromName(o.name());
      if (!form.ok()) return Annotate(form.status(), absl::StrCat("probe report: block '", c.name(), "'"));
      b.options.push_back({*form, o.trainable(), o.share(), o.memory_bytes(), o.seconds(), o.transient_bytes(),
                           o.activation_bytes()});
    }
    r.costs.push_back(std::move(b));
  }
  r.fixed_bytes = m.fixed_bytes();
  if (m.output_bytes() > m.fixed_bytes()) {
    return absl::InvalidArgumentError("probe report: output_bytes exceeds fixed_bytes, of which it is a part");
  }
  r.output_bytes = m.output_bytes();
  r.batch = m.batch();
  r.curve_runs = m.curve_runs();
  r.budget_exhausted = m.budget_exhausted();
  r.seconds = m.seconds();
  return ProbeReport::FromJson(r.ToJson(), "probe report");
}

void PlanToProto(const Plan& plan, v1::PlanResponse* out) {
  out->set_iterations(plan.iterations);
  out->set_max_iterations(plan.max_iterations);
  out->set_predicted_accuracy(plan.predicted_accuracy);
  out->set_predicted_memory_bytes(plan.memory_bytes);
  out->set_predicted_train_seconds(plan.train_seconds);
  out->set_feasible(plan.feasible);
  out->set_micro_batch(plan.micro_batch);
  out->set_note(plan.note);
  for (const BlockDecision& d : plan.blocks) {
    v1::PlannedBlock* b = out->add_blocks();
    b->set_name(d.block);
    b->set_option(d.option());
    b->set_in_backward_path(d.in_backward_path);
    b->set_predicted_gain(d.gain);
    b->set_memory_bytes(d.memory_bytes);
    b->set_seconds(d.seconds);
  }
}

absl::StatusOr<Plan> PlanFromProto(const v1::PlanResponse& m, const std::vector<std::string>& block_names,
                                   int64_t batch) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(absl::StrCat("plan: ", what)); };
  if (static_cast<size_t>(m.blocks_size()) != block_names.size()) {
    return bad(absl::StrCat("blocks: ", m.blocks_size(), " entries, the model has ", block_names.size()));
  }
  // An infeasible plan (nothing fits the memory or the time left) trains nothing and may say 0 iterations.
  const int64_t min_iterations = m.feasible() ? 1 : 0;
  if (m.iterations() < min_iterations || m.iterations() > 1'000'000) {
    return bad(absl::StrCat("iterations: ", m.iterations(), " is outside [", min_iterations, ", 1000000]"));
  }
  if (m.max_iterations() < 0 || m.max_iterations() > 1'000'000) {
    return bad(absl::StrCat("max_iterations: ", m.max_iterations(), " is outside [0, 1000000]"));
  }
  if (m.micro_batch() < 0 || m.micro_batch() > batch) {
    return bad(absl::StrCat("micro_batch: ", m.micro_batch(), " is outside [0, ", batch, "]"));
  }
  if (!std::isfinite(m.predicted_accuracy()) || !std::isfinite(m.predicted_train_seconds())) {
    return bad("predicted_accuracy / predicted_train_seconds: not finite");
  }
  Plan plan;
  plan.feasible = m.feasible();
  plan.iterations = m.iterations();
  plan.max_iterations = std::max(m.iterations(), m.max_iterations());
  plan.predicted_accuracy = m.predicted_accuracy();
  plan.memory_bytes = m.predicted_memory_bytes();
  plan.train_seconds = m.predicted_train_seconds();
  plan.micro_batch = m.micro_batch();
  plan.note = m.note();
  for (int k = 0; k < m.blocks_size(); ++k) {
    const v1::PlannedBlock& b = m.blocks(k);
    if (b.name() != block_names[static_cast<size_t>(k)]) {
      return bad(absl::StrCat("blocks[", k, "].name: '", b.name(), "', the model's block is '",
                              block_names[static_cast<size_t>(k)], "'"));
    }
    auto form = ChoiceFromName(b.option());
    if (!form.ok()) return bad(absl::StrCat("blocks[", k, "].option: unknown '", b.option(), "'"));
    BlockDecision d;
    d.block = b.name();
    d.form = *form;
    d.in_backward_path = b.in_backward_path();
    d.gain = std::isfinite(b.predicted_gain()) ? b.predicted_gain() : 0;
    d.memory_bytes = b.memory_bytes();
    d.seconds = std::isfinite(b.seconds()) ? b.seconds() : 0;
    if (d.form.trains() && plan.first_trainable < 0) plan.first_trainable = k;
    plan.blocks.push_back(std::move(d));
  }
  if (plan.iterations > 0 && plan.train_seconds > 0) {
    plan.seconds_per_iteration = plan.train_seconds / static_cast<double>(plan.iterations);
  }
  return plan;
}

void AlternativesToProto(const std::vector<Plan>& alternatives, v1::PlanResponse* out) {
  for (const Plan& plan : alternatives) PlanToProto(plan, out->add_alternatives());
}

absl::StatusOr<std::vector<Plan>> AlternativesFromProto(const v1::PlanResponse& m,
                                                        const std::vector<std::string>& block_names, int64_t batch) {
  if (m.alternatives_size() > kMaxAlternatives) {
    return absl::InvalidArgumentError(absl::StrCat("plan: alternatives: ", m.alternatives_size(), " entries, at most ",
                                                   kMaxAlternatives));
  }
  std::vector<Plan> out;
  for (int k = 0; k < m.alternatives_size(); ++k) {
    const v1::PlanResponse& a = m.alternatives(k);
    auto where = [k](const absl::Status& s) { return Annotate(s, absl::StrCat("alternatives[", k, "]")); };
    if (a.alternatives_size() > 0) return where(absl::InvalidArgumentError("plan: alternatives: nested"));
    auto plan = PlanFromProto(a, block_names, batch);
    if (!plan.ok()) return where(plan.status());
    if (!plan->feasible || plan->first_trainable < 0) {
      return where(absl::InvalidArgumentError("plan: an alternative must be feasible and train a block"));
    }
    out.push_back(std::move(*plan));
  }
  return out;
}

namespace {

absl::Status Finite(const char* field, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", value, " is not a number in [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

absl::Status Id(const char* field, const std::string& value) {
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", value.size(), " bytes, at most ", kMaxIdBytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateHeartbeat(const v1::HeartbeatRequest& m) {
  RETURN_IF_ERROR(Id("heartbeat: state", m.state()));
  RETURN_IF_ERROR(Id("heartbeat: window_id", m.window_id()));
  return Finite("heartbeat: progress", m.progress(), 0, 1);
}

absl::Status ValidatePushHeader(const v1::PushHeader& m) {
  RETURN_IF_ERROR(Id("push: plan_id", m.plan_id()));
  RETURN_IF_ERROR(Finite("push: accuracy_before", m.accuracy_before(), 0, 1));
  RETURN_IF_ERROR(Finite("push: accuracy_after", m.accuracy_after(), 0, 1));
  RETURN_IF_ERROR(Finite("push: train_seconds", m.train_seconds(), 0, 1e7));
  if (m.iterations() < 0 || m.iterations() > 100'000'000) {
    return absl::InvalidArgumentError(absl::StrCat("push: iterations: ", m.iterations(), " is out of range"));
  }
  if (m.peak_memory_bytes() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("push: peak_memory_bytes: ", m.peak_memory_bytes(), " is negative"));
  }
  return absl::OkStatus();
}

}  // namespace bt
