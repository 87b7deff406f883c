// `bt-edge drift-report`: how much a deployed model suffers under each domain of a drift scenario, measured on
// the domains' held-out samples (the same samples clean and corrupted), as a table, JSON and a PNG chart.
#pragma once

#include <string>

#include "common/base/status.h"

namespace bt {

struct DriftReportOptions {
  std::string scenario_path;
  std::string model_path;
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";
  std::string out_dir;   // when set: writes drift_report.json and drift_report.png (gnuplot) there
  bool json = false;     // print JSON instead of the table
};

absl::Status RunDriftReport(const DriftReportOptions& options);

}  // namespace bt
