#include "bench/report.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "bench/ranking.h"
#include "common/base/file_util.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {

double MeanAccuracyAfter(const MethodResult& m) {
  double sum = 0;
  for (const WindowRecord& w : m.windows) sum += w.accuracy_after;
  return m.windows.empty() ? 0 : sum / static_cast<double>(m.windows.size());
}

absl::Status RenderPng(const std::string& dir, const std::string& stem, const std::string& plot) {
  const std::string script = absl::StrCat("set terminal pngcairo size 1000,520 noenhanced\nset output '", dir, "/",
                                          stem, ".png.tmp'\n", plot);
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/", stem, ".gp"), script));
  const std::string command = absl::StrCat("gnuplot '", dir, "/", stem, ".gp' 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("gnuplot failed or is missing (install gnuplot-nox); ran: ", command));
  }
  std::error_code error;
  std::filesystem::rename(absl::StrCat(dir, "/", stem, ".png.tmp"), absl::StrCat(dir, "/", stem, ".png"), error);
  if (error) return absl::InternalError(absl::StrCat("cannot write ", dir, "/", stem, ".png: ", error.message()));
  return absl::OkStatus();
}

namespace {

// Renders accuracy per window per method with gnuplot (gnuplot-nox); the data and script stay next to the PNG.
absl::Status Plot(const std::string& dir, const std::vector<MethodResult>& methods, const std::string& title) {
  std::string data = "window";
  for (const MethodResult& m : methods) absl::StrAppend(&data, " \"", m.name, "\"");
  data += "\n";
  for (size_t w = 0; w < methods.front().windows.size(); ++w) {
    absl::StrAppend(&data, "\"", w + 1, ":", methods.front().windows[w].domain, "\"");
    for (const MethodResult& m : methods) absl::StrAppendFormat(&data, " %.2f", 100 * m.windows[w].accuracy_after);
    data += "\n";
  }
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/accuracy.dat", data));
  const std::string script = absl::StrFormat(
      "set title 'Accuracy after each window: %s'\nset ylabel 'held-out accuracy (%%)'\nset yrange [0:100]\n"
      "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
      "set boxwidth 0.9\nset grid ytics\nset key outside right\nset xtics rotate by -20\n"
      "plot for [i=2:%d] '%s/accuracy.dat' using i:xtic(1) title columnheader(i)\n",
      title, static_cast<int>(methods.size()) + 1, dir);
  return RenderPng(dir, "accuracy", script);
}


// Per-window comparison of blocktrainer in-process and through the daemons, with the tolerance the two must meet:
// the same plan, and accuracy after each window within kWindowTolerance (the mean within kMeanTolerance). Both see
// the same 8-bit samples and seeds, but need not be identical: probe timings differ from run to run (and with them
// measured costs, curve counts and iteration counts), and the daemon's window is wall-clock bound.
constexpr double kWindowTolerance = 0.03, kMeanTolerance = 0.02;

std::string DaemonComparison(const std::vector<MethodResult>& methods) {
  const MethodResult* in_process = nullptr;
  const MethodResult* daemons = nullptr;
  for (const MethodResult& m : methods) {
    if (m.name == "blocktrainer") in_process = &m;
    if (m.name == "blocktrainer-daemons") daemons = &m;
  }
  if (in_process == nullptr || daemons == nullptr) return "";
  std::string md = absl::StrFormat(
      "\n## blocktrainer in-process vs through the daemons\n\nTolerance: the same plan, accuracy after each window "
      "within %.0f points, the mean within %.0f points. Daemons: the cloud's version after the window, exported and "
      "evaluated on the same held-out set; bytes are what went over gRPC; wall: from asking for the window to its "
      "result.\n\n| window | domain | after in-process | after daemons | difference | same plan | iterations | "
      "down | up | train s | wall s in-process / daemons |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
      "| --- |\n",
      100 * kWindowTolerance, 100 * kMeanTolerance);
  bool within = true;
  int same_plans = 0;
  const size_t n = std::min(in_process->windows.size(), daemons->windows.size());
  for (size_t w = 0; w < n; ++w) {
    const WindowRecord& a = in_process->windows[w];
    const WindowRecord& b = daemons->windows[w];
    const double diff = b.accuracy_after - a.accuracy_after;
    const bool same_plan = a.plan == b.plan;
    same_plans += same_plan;
    within &= std::abs(diff) <= kWindowTolerance && same_plan;
    md += absl::StrFormat("| %d | %s | %.1f%% | %.1f%% | %+.1f pt | %s | %d / %d | %s | %s | %.1f / %.1f | %.1f / %.1f |\n",
                          w + 1, b.domain, 100 * a.accuracy_after, 100 * b.accuracy_after, 100 * diff,
                          same_plan ? "yes" : "no: " + b.plan, a.iterations, b.iterations, FormatBytes(b.bytes_down),
                          FormatBytes(b.bytes_up), a.train_seconds, b.train_seconds, a.wall_seconds, b.wall_seconds);
  }
  const double mean_diff = MeanAccuracyAfter(*daemons) - MeanAccuracyAfter(*in_process);
  within &= std::abs(mean_diff) <= kMeanTolerance;
  md += absl::StrFormat("\nMean accuracy: in-process %.2f%%, daemons %.2f%% (%+.2f pt); %d of %zu plans the same; %s.\n",
                        100 * MeanAccuracyAfter(*in_process), 100 * MeanAccuracyAfter(*daemons), 100 * mean_diff, same_plans, n,
                        within ? "within tolerance" : "NOT within tolerance");
  return md;
}

}  // namespace

absl::Status WriteReport(const ReportInfo& info, const std::vector<MethodResult>& methods, const std::string& out_dir) {
  nlohmann::ordered_json out;
  out["scenario"] = info.scenario;
  out["model"] = info.model_path;
  out["budget"] = {{"memory_bytes", info.budget_bytes},
                   {"window_seconds", std::chrono::duration<double>(info.window).count()}};
  out["seed"] = info.seed;
  out["probe_runs"] = info.probe_runs;
  out["race_iterations"] = info.race_iterations;
  if (info.labeled_fraction >= 0) out["labeled_fraction"] = info.labeled_fraction;
  out["methods"] = nlohmann::ordered_json::array();
  std::string md = absl::StrFormat("# bt-bench: %s\n\nModel `%s`, memory budget %s (%s), window %s, seed %llu.\n\n",
                                   info.scenario, info.model_path, FormatBytes(info.budget_bytes), info.budget_text,
                                   FormatDuration(info.window), static_cast<unsigned long long>(info.seed));
  md += info.probe_runs > 0
            ? absl::StrFormat("Probe work pinned: %d retraining-curve runs per window (blocktrainer).\n\n", info.probe_runs)
            : std::string("Probe work: as many retraining-curve runs as fit in 10% of the window (timing-dependent).\n\n");
  md += info.race_iterations > 0
            ? absl::StrFormat("Race pinned: %d first-round iterations per entrant (blocktrainer).\n\n", info.race_iterations)
            : std::string("Race: first-round iterations as fit in half the training time (timing-dependent).\n\n");
  if (info.labeled_fraction >= 0) md += absl::StrFormat("Labeled fraction of every domain: %.2f.\n\n", info.labeled_fraction);
  md += "| method | mean accuracy | gain over none |\n| --- | --- | --- |\n";
  double none_mean = -1;
  for (const MethodResult& m : methods) {
    if (m.name == "none") none_mean = MeanAccuracyAfter(m);
  }
  for (const MethodResult& m : methods) {
    nlohmann::ordered_json jm = {{"name", m.name}, {"mean_accuracy", MeanAccuracyAfter(m)}};
    jm["windows"] = nlohmann::ordered_json::array();
    for (const WindowRecord& r : m.windows) {
      jm["windows"].push_back({{"domain", r.domain},
                               {"accuracy_before", r.accuracy_before},
                               {"accuracy_after", r.accuracy_after},
                               {"predicted_accuracy", r.predicted_accuracy},
                               {"peak_memory_bytes", r.peak_memory_bytes},
                               {"predicted_memory_bytes", r.predicted_memory_bytes},
                               {"train_seconds", r.train_seconds},
                               {"predicted_train_seconds", r.predicted_train_seconds},
                               {"probe_seconds", r.probe_seconds},
                               {"iterations", r.iterations},
                               {"planned_iterations", r.planned_iterations > 0 ? r.planned_iterations : r.iterations},
                               {"bytes_down", r.bytes_down},
                               {"bytes_up", r.bytes_up},
                               {"plan", r.plan},
                               {"race", r.race},
                               {"start", r.start},
                               {"label_free", r.label_free},
                               {"wall_seconds", r.wall_seconds},
                               {"note", r.note}});
      if (r.slice_accuracy_after >= 0) jm["windows"].back()["slice_accuracy_after"] = r.slice_accuracy_after;
      if (r.slice_outputs > 0) jm["windows"].back()["slice_outputs"] = r.slice_outputs;
      if (r.start_accuracy >= 0) jm["windows"].back()["start_accuracy"] = r.start_accuracy;
      for (const WindowRecord::Evaluation& e : r.curve) {
        jm["windows"].back()["curve"].push_back({{"iteration", e.iteration},
                                                 {"slice_accuracy", e.slice_accuracy},
                                                 {"slice_loss", e.slice_loss},
                                                 {"slice_hits", e.slice_hits},
                                                 {"set_accuracy", e.set_accuracy}});
      }
      if (r.version > 0) jm["windows"].back()["version"] = r.version;
    }
    out["methods"].push_back(jm);
    md += absl::StrFormat("| %s | %.2f%% | %s |\n", m.name, 100 * MeanAccuracyAfter(m),
                          none_mean < 0 ? "-" : absl::StrFormat("%+.2f pt", 100 * (MeanAccuracyAfter(m) - none_mean)));
  }
  md += "\n| method | window | domain | before | after | predicted | peak memory | predicted memory | train s | "
        "predicted s | iterations | up | plan |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
        "--- | --- |\n";
  for (const MethodResult& m : methods) {
    for (size_t w = 0; w < m.windows.size(); ++w) {
      const WindowRecord& r = m.windows[w];
      const std::string iterations =
          r.planned_iterations > 0 ? absl::StrFormat("%d (%d planned)", r.iterations, r.planned_iterations)
                                   : absl::StrCat(r.iterations);
      md += absl::StrFormat("| %s | %d | %s | %.1f%% | %.1f%% | %.1f%% | %s | %s | %.1f | %.1f | %s | %s | %s |\n",
                            m.name, w + 1, r.domain, 100 * r.accuracy_before, 100 * r.accuracy_after,
                            100 * r.predicted_accuracy, FormatBytes(static_cast<uint64_t>(r.peak_memory_bytes)),
                            FormatBytes(r.predicted_memory_bytes), r.train_seconds, r.predicted_train_seconds,
                            iterations, FormatBytes(r.bytes_up), r.plan);
    }
  }
  // How well the law and the time model predicted what blocktrainer then trained.
  for (const MethodResult& m : methods) {
    if (m.name.rfind("blocktrainer", 0) != 0) continue;
    double abs_error = 0, signed_error = 0, time_error = 0, slice_abs = 0, slice_signed = 0, slice_gap = 0;
    double floor = 0;  // the slice's expected sampling error, summed over the windows whose slice size is known
    int n = 0, timed = 0, on_slice = 0, sized = 0;
    for (const WindowRecord& r : m.windows) {
      if (r.iterations == 0) continue;
      const double e = r.predicted_accuracy - r.accuracy_after;
      abs_error += std::abs(e);
      signed_error += e;
      ++n;
      if (r.slice_accuracy_after >= 0) {  // split the error: the law against its own scale, the slice against the set
        slice_abs += std::abs(r.predicted_accuracy - r.slice_accuracy_after);
        slice_signed += r.predicted_accuracy - r.slice_accuracy_after;
        slice_gap += r.slice_accuracy_after - r.accuracy_after;
        ++on_slice;
      }
      if (r.slice_outputs > 0) {
        // A prediction made from the slice inherits its sampling error at the accuracy the model reached.
        floor += MeanAbsoluteSamplingError(r.accuracy_after, r.slice_outputs);
        ++sized;
      }
      if (r.train_seconds > 0 && r.predicted_train_seconds > 0) {
        time_error += std::abs(r.predicted_train_seconds - r.train_seconds) / r.train_seconds;
        ++timed;
      }
    }
    if (n == 0) continue;
    md += absl::StrFormat("\n%s: the law's prediction for the plan it trained vs the held-out accuracy reached: mean "
                          "|error| %.2f points, mean error %+.2f (prediction on the probe slice's scale); predicted "
                          "training time off by %.0f%% on average.\n",
                          m.name, 100 * abs_error / n, 100 * signed_error / n,
                          timed > 0 ? 100 * time_error / timed : 0.0);
    out["prediction_error"][m.name] = {{"mean_abs_points", 100 * abs_error / n},
                                       {"mean_points", 100 * signed_error / n},
                                       {"mean_train_seconds_relative_error", timed > 0 ? time_error / timed : 0.0}};
    if (on_slice > 0) {
      md += absl::StrFormat("%s, split: against the held-out slice the prediction is made for (what the trained model "
                            "scored there) mean |error| %.2f points, mean error %+.2f; the slice read the trained model "
                            "%+.2f points above the domain's held-out set on average (%d windows).\n",
                            m.name, 100 * slice_abs / on_slice, 100 * slice_signed / on_slice,
                            100 * slice_gap / on_slice, on_slice);
      out["prediction_error"][m.name]["slice"] = {{"mean_abs_points", 100 * slice_abs / on_slice},
                                                  {"mean_points", 100 * slice_signed / on_slice},
                                                  {"slice_over_held_out_points", 100 * slice_gap / on_slice}};
    }
    if (sized > 0) {
      md += absl::StrFormat("%s: sampling alone (binomial, at the accuracy reached, on the slice's images or tokens) "
                            "puts a reading of the slice %.2f points from the truth on average (%d windows): the "
                            "error against the held-out set to expect of a law that predicted the slice exactly.\n",
                            m.name, 100 * floor / sized, sized);
      out["prediction_error"][m.name]["slice_sampling_floor_points"] = 100 * floor / sized;
    }
  }
  if (info.via_daemons) md += DaemonComparison(methods);
  md += "\nbefore/after: accuracy on the domain's held-out samples (before: of the deployed model; a plan \"from "
        "vN (x%)\" started from version N, which scored x% there); predicted: the law's prediction on the probe "
        "slice, for the plan's iterations; iterations \"N (M planned)\": the run went on past the plan's M while "
        "its measured speed said more fit the window (predicted s: the plan's time per iteration over all N); peak "
        "memory: measured by the counting allocator during retraining; up: bytes of retrained blocks.\n";
  std::printf("%s", md.c_str());
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return absl::InternalError(absl::StrCat(out_dir, ": ", ec.message()));
    RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/results.json", out.dump(2) + "\n"));
    RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/results.md", md));
    RETURN_IF_ERROR(Plot(out_dir, methods, info.scenario));
    spdlog::info("wrote {}/results.json, results.md, accuracy.png", out_dir);
  }
  return absl::OkStatus();
}

}  // namespace bt
