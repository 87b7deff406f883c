// The status board: a window's result shows while it runs and lands in results.jsonl when it ends (one JSON line
// each); an unwritable results file is an error, not a crash.
#include "edge/status_board.h"

#include <gtest/gtest.h>

#include "common/base/file_util.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

TEST(StatusBoard, ResultsShowWhileRunningAndAreAppendedWhenTheWindowEnds) {
  TestDir dir;
  StatusBoard board(dir.Path("results.jsonl"));
  board.SetState(EdgeState::kIdle);
  board.BeginWindow("w1", std::chrono::seconds(90));
  board.SetState(EdgeState::kTraining, 0.5);
  board.UpdateResult("w1", [](v1::WindowResult* r) { r->set_plan("head:train"); });
  board.NotePeak(1000);
  board.NotePeak(500);
  v1::EdgeStatus s;
  board.Fill(&s);
  EXPECT_EQ(s.state(), "training");
  EXPECT_EQ(s.window_id(), "w1");
  EXPECT_DOUBLE_EQ(s.progress(), 0.5);
  EXPECT_GT(s.eta_seconds(), 80);
  EXPECT_EQ(s.peak_memory_bytes(), 1000);
  ASSERT_EQ(s.recent_size(), 1);
  EXPECT_EQ(s.recent(0).outcome(), "running");
  EXPECT_EQ(board.running_window(), "w1");

  ASSERT_TRUE(board.EndWindow(EdgeState::kIdle).ok());
  EXPECT_EQ(board.running_window(), "");
  board.BeginWindow("w2", std::chrono::seconds(90));
  ASSERT_TRUE(board.EndWindow(EdgeState::kIdle).ok());
  const std::string lines = *ReadFileToString(dir.Path("results.jsonl"));
  const size_t newline = lines.find('\n');
  ASSERT_NE(newline, std::string::npos);
  const nlohmann::json first = nlohmann::json::parse(lines.substr(0, newline));
  EXPECT_EQ(first["window_id"], "w1");
  EXPECT_EQ(first["plan"], "head:train");
  EXPECT_EQ(nlohmann::json::parse(lines.substr(newline + 1))["window_id"], "w2");
}

TEST(StatusBoard, AnUnwritableResultsFileIsAnErrorNotACrash) {
  TestDir dir;
  StatusBoard board(dir.Path("missing-dir/results.jsonl"));
  board.BeginWindow("w1", std::chrono::seconds(1));
  EXPECT_FALSE(board.EndWindow(EdgeState::kIdle).ok());
  EXPECT_EQ(board.state(), EdgeState::kIdle);
}

}  // namespace
}  // namespace bt
