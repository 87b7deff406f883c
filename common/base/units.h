// Parsing and printing of the human units used in configs and logs: sizes ("512MiB", "1.5GB") and
// durations ("90s", "30m", "1h30m"). Torch-free, thread-safe (pure functions).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace bt {

// Parses a byte size: a non-negative number with an optional unit B, KB, MB, GB, TB (powers of 1000) or
// KiB, MiB, GiB, TiB (powers of 1024); a bare number is bytes. Case of the unit is ignored except that
// "b" alone is bytes. Fractions are allowed ("1.5GB") and rounded down to whole bytes.
absl::StatusOr<uint64_t> ParseSize(const std::string& text);

// Parses a duration: one or more <number><unit> terms with units ms, s, m, h, d ("90s", "1h30m", "0.5h").
// A bare number is seconds.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);

// "1.50 MiB", "812 B".
std::string FormatBytes(uint64_t bytes);
// "1h02m", "3m05s", "12.3s", "450ms".
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace bt
