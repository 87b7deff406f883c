#include "edge/cli/drift_report.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/str_format.h"
#include "common/model/block_model.h"
#include "common/data/dataset.h"
#include "common/base/file_util.h"
#include "common/config/scenario.h"
#include "common/data/scenario_data.h"
#include "common/data/text_data.h"
#include "common/text/tokenizer.h"
#include "common/train/trainer.h"
#include "common/train/feature_stats.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

std::string ChainText(const std::vector<CorruptionSpec>& chain) {
  std::string out;
  for (const CorruptionSpec& c : chain) {
    absl::StrAppend(&out, out.empty() ? "" : " + ", c.type, c.direction.empty() ? "" : "-" + c.direction, "@",
                    c.severity);
  }
  return out.empty() ? "clean" : out;
}

// Renders the chart with gnuplot (Debian's gnuplot-nox). The data and script are kept next to the PNG.
absl::Status Plot(const std::string& dir, const nlohmann::ordered_json& report) {
  std::string data;
  for (const auto& d : report["domains"]) {
    absl::StrAppendFormat(&data, "\"%s\" %.4f %.4f\n", d["domain"].get<std::string>(),
                          d["clean_accuracy"].get<double>() * 100, d["accuracy"].get<double>() * 100);
  }
  const std::string data_path = dir + "/drift_report.dat";
  const std::string script_path = dir + "/drift_report.gp";
  const std::string png_path = dir + "/drift_report.png";
  RETURN_IF_ERROR(WriteFileAtomically(data_path, data));
  std::string script = absl::StrFormat(
      "set terminal pngcairo size 900,500 noenhanced\n"
      "set output '%s.tmp'\n"
      "set title 'Deployed model under drift: %s'\n"
      "set ylabel 'accuracy on held-out samples (%%)'\n"
      "set yrange [0:100]\nset style data histograms\nset style histogram clustered gap 1\n"
      "set style fill solid 0.8 border -1\nset boxwidth 0.9\nset grid ytics\nset key top right\n"
      "set xtics rotate by -20\n"
      "plot '%s' using 2:xtic(1) title 'clean' lc rgb '#4477aa', '' using 3 title 'drifted' lc rgb '#cc6677'\n",
      png_path, report["scenario"].get<std::string>(), data_path);
  RETURN_IF_ERROR(WriteFileAtomically(script_path, script));
  std::string command = absl::StrCat("gnuplot '", script_path, "' 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("gnuplot failed or is missing (install gnuplot-nox); ran: ", command));
  }
  std::filesystem::rename(png_path + ".tmp", png_path);
  return absl::OkStatus();
}

}  // namespace

// A text scenario: next-token accuracy and perplexity per domain against the held-out prose the model was
// pretrained beside (its directory's report.json).
absl::Status TextDriftReport(const DriftReportOptions& options, const Scenario& scenario) {
  ASSIGN_OR_RETURN(auto model, LoadModel(options.model_path));
  if (model->arch().llama() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(options.scenario_path, " is a text scenario; ", options.model_path,
                                                   " is not a decoder"));
  }
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::Open(options.model_path + "/tokenizer.model"));
  ASSIGN_OR_RETURN(ScenarioData data, MaterializeTextScenario(scenario, *tokenizer, /*include_stream=*/false));
  model->SetTrainingMode(false);
  double prose = -1, prose_perplexity = -1;
  if (auto text = ReadFileToString(options.model_path + "/report.json"); text.ok()) {
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_object() && json.contains("heldout_prose_next_token_accuracy")) {
      prose = json["heldout_prose_next_token_accuracy"].get<double>();
      prose_perplexity = json.value("heldout_prose_perplexity", -1.0);
    }
  }
  nlohmann::ordered_json report;
  report["scenario"] = scenario.name;
  report["model"] = options.model_path;
  report["eval_tokens"] = scenario.eval_samples * scenario.sequence;
  report["prose_accuracy"] = prose;
  report["prose_perplexity"] = prose_perplexity;
  report["domains"] = nlohmann::ordered_json::array();
  for (size_t d = 0; d < data.eval_domains.size(); ++d) {
    ASSIGN_OR_RETURN(EvalResult r, Evaluate(model.get(), data.eval[d], 50));
    report["domains"].push_back({{"domain", data.eval_domains[d]},
                                 {"accuracy", r.accuracy()},
                                 {"perplexity", r.perplexity()},
                                 {"drop_points", prose >= 0 ? 100 * (prose - r.accuracy()) : 0.0}});
  }
  if (!options.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);
    RETURN_IF_ERROR(WriteFileAtomically(options.out_dir + "/drift_report.json", report.dump(2) + "\n"));
  }
  if (options.json) {
    std::printf("%s\n", report.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("scenario %s, model %s, %lld held-out tokens per domain\n\n", scenario.name.c_str(),
              options.model_path.c_str(), static_cast<long long>(scenario.eval_samples * scenario.sequence));
  std::printf("%-16s %10s %11s %7s\n", "domain", "next-token", "perplexity", "drop");
  if (prose >= 0) {
    std::printf("%-16s %9.1f%% %11s %7s\n", "prose (held out)", 100 * prose,
                prose_perplexity > 0 ? absl::StrFormat("%.1f", prose_perplexity).c_str() : "-", "-");
  }
  for (const auto& d : report["domains"]) {
    std::printf("%-16s %9.1f%% %11.1f %7.1f\n", d["domain"].get<std::string>().c_str(),
                100 * d["accuracy"].get<double>(), d["perplexity"].get<double>(), d["drop_points"].get<double>());
  }
  std::printf("\nnext-token: top-1 accuracy on the domain's held-out files; drop: points below held-out prose "
              "(measured when the model was pretrained)\n");
  return absl::OkStatus();
}

absl::Status RunDriftReport(const DriftReportOptions& options) {
  ASSIGN_OR_RETURN(Scenario scenario, LoadScenario(options.scenario_path));
  if (scenario.text()) return TextDriftReport(options, scenario);
  ASSIGN_OR_RETURN(auto model, LoadModel(options.model_path));
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  ASSIGN_OR_RETURN(ImageDataset test, LoadFashionMnist(options.dataset_dir, "test"));
  ASSIGN_OR_RETURN(ScenarioData data, MaterializeScenario(scenario, test, /*include_stream=*/false));
  model->SetTrainingMode(false);
  ASSIGN_OR_RETURN(SourceStats source, LoadOrComputeSourceStats(options.model_path, *model, options.dataset_dir));

  nlohmann::ordered_json report;
  report["scenario"] = scenario.name;
  report["model"] = options.model_path;
  report["eval_samples"] = scenario.eval_samples;
  report["domains"] = nlohmann::ordered_json::array();
  for (size_t d = 0; d < data.eval_domains.size(); ++d) {
    ASSIGN_OR_RETURN(EvalResult clean, Evaluate(model.get(), data.eval_clean[d]));
    ASSIGN_OR_RETURN(EvalResult drifted, Evaluate(model.get(), data.eval[d]));
    ASSIGN_OR_RETURN(DriftStats clean_stats, ComputeDriftStats(*model, data.eval_clean[d].images, source));
    ASSIGN_OR_RETURN(DriftStats stats, ComputeDriftStats(*model, data.eval[d].images, source));
    report["domains"].push_back({{"domain", data.eval_domains[d]},
                                 {"corruptions", ChainText(*DomainCorruptions(scenario, data.eval_domains[d]))},
                                 {"clean_accuracy", clean.accuracy()},
                                 {"accuracy", drifted.accuracy()},
                                 {"drop_points", 100 * (clean.accuracy() - drifted.accuracy())},
                                 {"clean_confidence", clean_stats.mean_confidence},
                                 {"confidence", stats.mean_confidence},
                                 {"estimated_accuracy", stats.estimated_accuracy},
                                 {"feature_mean_shift", stats.mean_shift},
                                 {"feature_covariance_shift", stats.covariance_shift}});
  }

  if (!options.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);
    RETURN_IF_ERROR(WriteFileAtomically(options.out_dir + "/drift_report.json", report.dump(2) + "\n"));
    RETURN_IF_ERROR(Plot(options.out_dir, report));
    spdlog::info("wrote {}/drift_report.json and drift_report.png", options.out_dir);
  }
  if (options.json) {
    std::printf("%s\n", report.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("scenario %s, model %s, %lld held-out samples per domain\n\n", scenario.name.c_str(),
              options.model_path.c_str(), static_cast<long long>(scenario.eval_samples));
  std::printf("%-16s %-40s %7s %8s %6s %12s %9s %6s %6s\n", "domain", "corruptions", "clean", "drifted", "drop",
              "confidence", "ATC est.", "μ-sh.", "Σ-sh.");
  double atc_error = 0;
  for (const auto& d : report["domains"]) {
    std::printf("%-16s %-40s %6.1f%% %7.1f%% %6.1f %5.1f→%4.1f%% %8.1f%% %6.2f %6.2f\n",
                d["domain"].get<std::string>().c_str(), d["corruptions"].get<std::string>().c_str(),
                100 * d["clean_accuracy"].get<double>(), 100 * d["accuracy"].get<double>(),
                d["drop_points"].get<double>(), 100 * d["clean_confidence"].get<double>(),
                100 * d["confidence"].get<double>(), 100 * d["estimated_accuracy"].get<double>(),
                d["feature_mean_shift"].get<double>(), d["feature_covariance_shift"].get<double>());
    atc_error += std::abs(d["estimated_accuracy"].get<double>() - d["accuracy"].get<double>());
  }
  std::printf("\nconfidence: mean top softmax probability, clean → drifted (label-free)\n"
              "ATC est.:   label-free accuracy estimate (share of drifted samples whose confidence clears the\n"
              "            threshold at which clean confidence matches clean accuracy, %.3f on %lld clean test\n"
              "            images); mean |ATC − drifted accuracy| = %.1f points\n"
              "μ-sh., Σ-sh.: penultimate-feature mean and covariance shift from the clean statistics\n",
              source.confidence_threshold, static_cast<long long>(source.samples),
              100 * atc_error / std::max<size_t>(1, report["domains"].size()));
  return absl::OkStatus();
}

}  // namespace bt
