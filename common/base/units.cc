#include "common/base/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace bt {
namespace {

// Splits "1.5GiB" into the number 1.5 and the rest "GiB"; `pos` advances past both.
bool ReadNumber(const std::string& text, size_t* pos, double* value) {
  size_t start = *pos;
  bool seen_digit = false;
  bool seen_dot = false;
  while (*pos < text.size()) {
    char c = text[*pos];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      seen_digit = true;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
    ++*pos;
  }
  if (!seen_digit) return false;
  *value = std::strtod(text.substr(start, *pos - start).c_str(), nullptr);
  return true;
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  size_t pos = 0;
  double number = 0;
  if (!ReadNumber(text, &pos, &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", raw, "' is not a size (expected e.g. 512MiB, 1.5GB, 4096)"));
  }
  std::string unit = absl::AsciiStrToLower(std::string(absl::StripAsciiWhitespace(text.substr(pos))));
  double multiplier = 0;
  if (unit.empty() || unit == "b") multiplier = 1;
  else if (unit == "kb" || unit == "k") multiplier = 1e3;
  else if (unit == "mb" || unit == "m") multiplier = 1e6;
  else if (unit == "gb" || unit == "g") multiplier = 1e9;
  else if (unit == "tb" || unit == "t") multiplier = 1e12;
  else if (unit == "kib") multiplier = 1024.0;
  else if (unit == "mib") multiplier = 1024.0 * 1024;
  else if (unit == "gib") multiplier = 1024.0 * 1024 * 1024;
  else if (unit == "tib") multiplier = 1024.0 * 1024 * 1024 * 1024;
  else {
    return absl::InvalidArgumentError(absl::StrCat("'", raw, "' has an unknown size unit '", unit,
                                                   "' (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"));
  }
  double bytes = number * multiplier;
  if (!(bytes < static_cast<double>(std::numeric_limits<uint64_t>::max()))) {
    return absl::OutOfRangeError(absl::StrCat("size '", raw, "' is too large"));
  }
  return static_cast<uint64_t>(std::floor(bytes));
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  auto error = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", raw, "' is not a duration (expected e.g. 90s, 30m, 1h30m, 500ms)"));
  };
  if (text.empty()) return error();
  double total_ms = 0;
  size_t pos = 0;
  bool first_term = true;
  while (pos < text.size()) {
    double number = 0;
    if (!ReadNumber(text, &pos, &number)) return error();
    size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string unit = absl::AsciiStrToLower(text.substr(unit_start, pos - unit_start));
    if (unit.empty()) {
      // Only a lone number ("90") may omit its unit; "1h30" is ambiguous and rejected.
      if (!first_term || pos != text.size()) return error();
      unit = "s";
    }
    first_term = false;
    if (unit == "ms") total_ms += number;
    else if (unit == "s") total_ms += number * 1e3;
    else if (unit == "m" || unit == "min") total_ms += number * 60e3;
    else if (unit == "h") total_ms += number * 3600e3;
    else if (unit == "d") total_ms += number * 86400e3;
    else return error();
  }
  if (total_ms > 1e15) return absl::OutOfRangeError(absl::StrCat("duration '", raw, "' is too long"));
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return absl::StrFormat("%d B", bytes);
  return absl::StrFormat("%.2f %s", value, kUnits[unit]);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  int64_t ms = duration.count();
  if (ms < 0) ms = 0;
  if (ms < 1000) return absl::StrFormat("%dms", ms);
  if (ms < 60'000) return absl::StrFormat("%.1fs", ms / 1000.0);
  int64_t s = ms / 1000;
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

}  // namespace bt
