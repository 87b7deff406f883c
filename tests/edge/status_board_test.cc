// The status board and the admin endpoint: a window's result shows while it runs, lands in results.jsonl when it
// ends (one JSON line each), and `bt-edge status` reads it over the admin server.
#include "edge/status_board.h"

#include <gtest/gtest.h>

#include "common/base/file_util.h"
#include "edge/admin_service.h"
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

TEST(EdgeAdminServer, ServesStatusAndRetrainNowOnLoopbackOnly) {
  EXPECT_FALSE(EdgeAdminServer::Start("0.0.0.0:0", {}).ok());
  int requests = 0;
  EdgeAdminServer::Calls calls;
  calls.status = [] {
    v1::EdgeStatus s;
    s.set_edge_id("edge-7");
    s.set_state("idle");
    return s;
  };
  calls.retrain_now = [&](std::string* reason) {
    *reason = ++requests == 1 ? "window requested" : "a window is already queued";
    return requests == 1;
  };
  auto server = EdgeAdminServer::Start("127.0.0.1:0", calls);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  auto status = QueryEdgeStatus(address);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->edge_id(), "edge-7");
  auto first = StartWindowNow(address);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "window requested");
  auto second = StartWindowNow(address);
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  (*server)->Stop();
  EXPECT_FALSE(QueryEdgeStatus(address).ok());
}

}  // namespace
}  // namespace bt
