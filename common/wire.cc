#include "common/wire.h"

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
      oc->set_name(o.name);
      oc->set_trainable(o.trainable);
      oc->set_share(o.share);
      oc->set_memory_bytes(o.memory_bytes);
      oc->set_seconds(o.seconds);
      oc->set_transient_bytes(o.transient_bytes);
      oc->set_activation_bytes(o.activation_bytes);
    }
  }
  out->set_fixed_bytes(r.fixed_bytes);
  out->set_batch(r.batch);
  out->set_curve_runs(r.curve_runs);
  out->set_budget_exhausted(r.budget_exhausted);
  out->set_seconds(r.seconds);
}

absl::StatusOr<ProbeReport> ProbeReportFromProto(const v1::ProbeReportMsg& m) {
  // Through the JSON form, so both wire forms share one validation.
  ProbeReport r;
  r.acc0 = m.acc0();
  r.labeled_samples = m.labeled_samples();
  r.unlabeled_samples = m.unlabeled_samples();
  r.drift = {m.feature_mean_shift(), m.feature_covariance_shift(), m.mean_confidence(), m.estimated_accuracy(), 0};
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
      b.options.push_back({o.name(), o.trainable(), o.share(), o.memory_bytes(), o.seconds(), o.transient_bytes(),
                           o.activation_bytes()});
    }
    r.costs.push_back(std::move(b));
  }
  r.fixed_bytes = m.fixed_bytes();
  r.batch = m.batch();
  r.curve_runs = m.curve_runs();
  r.budget_exhausted = m.budget_exhausted();
  r.seconds = m.seconds();
  return ProbeReport::FromJson(r.ToJson(), "probe report");
}

}  // namespace bt
