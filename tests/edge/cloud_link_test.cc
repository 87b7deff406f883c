// The cloud link against fakes: backoff while the cloud is away, heartbeats once registered, registering again
// when a heartbeat fails or the caller asks; Stop() ends the thread promptly.
#include "edge/cloud_link.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace bt {
namespace {

CloudLink::Timing Fast() {
  CloudLink::Timing t;
  t.heartbeat_interval = std::chrono::milliseconds(20);
  t.first_backoff = std::chrono::milliseconds(5);
  t.max_backoff = std::chrono::milliseconds(20);
  return t;
}

bool Eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(CloudLink, RetriesUntilTheCloudIsBackThenHeartbeats) {
  std::atomic<int> attempts{0}, beats{0}, downs{0};
  CloudLink::Calls calls;
  calls.on_register = [&] { return ++attempts < 3 ? absl::UnavailableError("refused") : absl::OkStatus(); };
  calls.heartbeat = [&] {
    ++beats;
    return absl::OkStatus();
  };
  calls.on_disconnected = [&] { ++downs; };
  CloudLink link(calls, Fast());
  EXPECT_FALSE(link.connected());
  link.Start();
  EXPECT_TRUE(link.WaitConnected(std::chrono::seconds(5)));
  EXPECT_EQ(attempts.load(), 3);
  EXPECT_EQ(downs.load(), 2);
  EXPECT_TRUE(Eventually([&] { return beats.load() >= 3; }));
  EXPECT_EQ(link.registrations(), 1);
  link.Stop();
  const int after_stop = beats.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(beats.load(), after_stop);  // no thread left beating
}

TEST(CloudLink, AFailedHeartbeatOrAReconnectRegistersAgain) {
  std::atomic<int> beats{0};
  std::atomic<bool> fail_next{false};
  CloudLink::Calls calls;
  calls.on_register = [] { return absl::OkStatus(); };
  calls.heartbeat = [&] {
    ++beats;
    return fail_next.exchange(false) ? absl::UnavailableError("gone") : absl::OkStatus();
  };
  CloudLink link(calls, Fast());
  link.Start();
  ASSERT_TRUE(Eventually([&] { return link.registrations() == 1; }));
  fail_next = true;
  EXPECT_TRUE(Eventually([&] { return link.registrations() == 2; }));
  link.Reconnect();
  EXPECT_TRUE(Eventually([&] { return link.registrations() == 3; }));
}

TEST(CloudLink, StopReturnsPromptlyDuringALongBackoff) {
  CloudLink::Calls calls;
  calls.on_register = [] { return absl::UnavailableError("refused"); };
  calls.heartbeat = [] { return absl::OkStatus(); };
  CloudLink::Timing slow;
  slow.first_backoff = std::chrono::seconds(60);
  auto link = std::make_unique<CloudLink>(calls, slow);
  link->Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto start = std::chrono::steady_clock::now();
  link.reset();  // the destructor stops and joins
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace bt
