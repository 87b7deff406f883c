// Counts the bytes of every tensor LibTorch allocates on the CPU, current and peak, by installing itself as
// LibTorch's CPU allocator (wrapping the default one). This is how the edge measures what its retraining really
// uses, and how the planner's memory predictions are checked.
//
// LibTorch's allocator registry is process-wide, so the meter is too: Install() once, early (tensors allocated
// before it are not counted, but are freed correctly). Thread-safe (atomic counters).
#pragma once

#include <cstdint>

namespace bt {

class MemoryMeter {
 public:
  // Installs the meter (idempotent) and returns it.
  static MemoryMeter& Install();

  int64_t current_bytes() const;
  int64_t peak_bytes() const;
  // Sets the peak to the current value, to measure the peak of what follows.
  void ResetPeak();

 private:
  MemoryMeter() = default;
};

}  // namespace bt
