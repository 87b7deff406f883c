// The edge's admin endpoint: loopback only; status and retrain-now answered from the injected calls, and reachable
// through the CLI helpers until it stops.
#include "edge/admin_service.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

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
