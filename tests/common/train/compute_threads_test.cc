#include "common/train/compute_threads.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

namespace bt {
namespace {

// Reads the threads' settings only: no timing, and no second core needed.
TEST(ComputeThreads, AHelperThreadRunsItsTensorWorkAloneAndTheOthersKeepTheirs) {
  const int saved = at::get_num_threads();
  torch::set_num_threads(2);  // as a window sets its intra-op threads
  int helper_at_start = 0, helper_after_work = 0;
  std::thread helper([&] {
    UseOneComputeThread();
    helper_at_start = at::get_num_threads();
    volatile float sum = torch::rand({1 << 16}).exp().sum().item<float>();  // ATen's own first use on this thread
    (void)sum;
    helper_after_work = at::get_num_threads();
  });
  helper.join();
  EXPECT_EQ(helper_at_start, 1);
  EXPECT_EQ(helper_after_work, 1) << "ATen's first use on the thread restored the process-wide count";
  EXPECT_EQ(at::get_num_threads(), 2) << "the calling thread's setting changed";
  int other = 0;
  std::thread plain([&] { other = at::get_num_threads(); });  // a thread that did not ask: the process-wide count
  plain.join();
  EXPECT_EQ(other, 2);
  torch::set_num_threads(saved);
}

}  // namespace
}  // namespace bt
