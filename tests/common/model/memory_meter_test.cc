// The counting allocator: live tensor bytes and the peak.
#include "common/model/memory_meter.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace bt {
namespace {

TEST(MemoryMeter, CountsLiveTensorBytesAndPeak) {
  MemoryMeter& meter = MemoryMeter::Install();
  const int64_t before = meter.current_bytes();
  meter.ResetPeak();
  {
    torch::Tensor a = torch::empty({1000}, torch::kFloat32);
    EXPECT_EQ(meter.current_bytes() - before, 4000);
    torch::Tensor b = torch::empty({500}, torch::kFloat64);
    EXPECT_EQ(meter.current_bytes() - before, 8000);
  }
  EXPECT_EQ(meter.current_bytes(), before);
  EXPECT_EQ(meter.peak_bytes() - before, 8000);
}

}  // namespace
}  // namespace bt
