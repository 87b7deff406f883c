// Background intake: the spool is polled into the buffer by the intake's own thread, the simulator stream runs on
// another, and Stop() ends both promptly (the destructor too).
#include "edge/intake/sample_intake.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/base/file_util.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

TEST(SampleIntake, PollsTheSpoolAndRunsTheStreamUntilStopped) {
  TestDir dir;
  SampleBufferOptions buffer_options;
  buffer_options.path = dir.Path("samples.buf");
  auto buffer = SampleBuffer::Open(buffer_options);
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  SpoolOptions spool_options;
  spool_options.dir = dir.Path("spool");
  auto spool = Spool::Create(spool_options, buffer->get());
  ASSERT_TRUE(spool.ok()) << spool.status();
  // A 28×28 binary PGM the spool accepts.
  std::string pgm = "P5\n28 28\n255\n" + std::string(28 * 28, '\x80');
  ASSERT_TRUE(WriteFileAtomically(dir.Path("spool/a.pgm"), pgm).ok());

  std::atomic<bool> streaming{false}, stream_stopped{false};
  SampleIntake::Stream stream = [&](const CancelToken* cancel) {
    streaming = true;
    while (!cancel->cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stream_stopped = true;
    return absl::CancelledError("stopped");
  };
  auto intake = std::make_unique<SampleIntake>(stream, std::move(*spool), std::chrono::milliseconds(20), buffer->get());
  intake->Start();
  for (int i = 0; i < 200 && ((*buffer)->size() < 1 || !streaming); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*buffer)->size(), 1u);
  EXPECT_TRUE(streaming);
  const auto start = std::chrono::steady_clock::now();
  intake.reset();  // stops and joins both threads
  EXPECT_TRUE(stream_stopped);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace bt
