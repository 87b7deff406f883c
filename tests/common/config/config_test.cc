#include "common/config/config.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

TEST(CloudConfig, EmptyFileGivesEmbeddedDefaults) {
  auto config = ParseCloudConfig("", "cloud.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cloud.listen, "127.0.0.1:50051");
  EXPECT_EQ(config->model.architecture.hidden_dim, 64);
  EXPECT_EQ(config->ModelPath(), "var/cloud/models/foundation.safetensors");
  EXPECT_EQ(config->pretrain.progress_interval, std::chrono::seconds(10));
}

TEST(CloudConfig, ReadsNestedTypedValues) {
  auto config = ParseCloudConfig(R"(
cloud:
  data_dir: /srv/bt
  log_level: debug
model:
  architecture: {hidden_dim: 32, num_heads: 2, num_layers: 3}
pretrain:
  epochs: 2
  learning_rate: 3e-4
  progress_interval: 1m
)",
                                 "cloud.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cloud.data_dir, "/srv/bt");
  EXPECT_EQ(config->model.architecture.hidden_dim, 32);
  EXPECT_EQ(config->model.architecture.num_layers, 3);
  EXPECT_EQ(config->pretrain.epochs, 2);
  EXPECT_DOUBLE_EQ(config->pretrain.learning_rate, 3e-4);
  EXPECT_EQ(config->pretrain.progress_interval, std::chrono::minutes(1));
  EXPECT_EQ(config->ModelPath(), "/srv/bt/models/foundation.safetensors");
}

// Each bad input must fail with a message naming the file and the key path.
struct BadCase {
  const char* yaml;
  const char* expected;
};

class CloudConfigErrors : public testing::TestWithParam<BadCase> {};

TEST_P(CloudConfigErrors, NameFileAndKey) {
  auto config = ParseCloudConfig(GetParam().yaml, "my.yaml");
  ASSERT_FALSE(config.ok()) << GetParam().yaml;
  std::string message(config.status().message());
  EXPECT_NE(message.find("my.yaml"), std::string::npos) << message;
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    All, CloudConfigErrors,
    testing::Values(BadCase{"pretrain:\n  epoks: 3\n", "pretrain.epoks: unknown key"},
                    BadCase{"clod: {}\n", "clod: unknown key"},
                    BadCase{"pretrain:\n  epochs: many\n", "pretrain.epochs: expected an integer"},
                    BadCase{"pretrain:\n  epochs: 0\n", "pretrain.epochs: must be between 1"},
                    BadCase{"pretrain:\n  learning_rate: fast\n", "pretrain.learning_rate: expected a number"},
                    BadCase{"pretrain:\n  progress_interval: soon\n", "pretrain.progress_interval"},
                    BadCase{"pretrain:\n  epochs: [1, 2]\n", "pretrain.epochs: expected a single value"},
                    BadCase{"model:\n  architecture:\n    patch_size: 5\n", "model.architecture.patch_size"},
                    BadCase{"model:\n  architecture:\n    num_heads: 5\n", "model.architecture.num_heads"},
                    BadCase{"cloud:\n  log_level: chatty\n", "cloud.log_level"},
                    BadCase{"cloud: [1, 2]\n", "cloud: must be a mapping"},
                    BadCase{"pretrain: {dataset: cifar}\n", "pretrain.dataset"},
                    BadCase{"cloud: {listen: \"a\"\n", "invalid YAML"}));

TEST(CloudConfig, ErrorCarriesTheLineNumber) {
  auto config = ParseCloudConfig("cloud:\n  listen: x\npretrain:\n  epochs: -1\n", "c.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("c.yaml:4"), std::string::npos) << config.status();
}

TEST(EdgeConfig, ParsesSizesAndRejectsBadOnes) {
  auto config = ParseEdgeConfig("edge:\n  id: cam-7\n  memory_budget: 1.5GiB\n", "edge.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->edge.memory_budget, 1536ull << 20);
  EXPECT_EQ(config->edge.id, "cam-7");

  auto bad = ParseEdgeConfig("edge:\n  memory_budget: lots\n", "edge.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("edge.memory_budget"), std::string::npos) << bad.status();

  auto tiny = ParseEdgeConfig("edge:\n  memory_budget: 10KB\n", "edge.yaml");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("must be between"), std::string::npos) << tiny.status();

  auto bad_id = ParseEdgeConfig("edge:\n  id: \"cam 7/x\"\n", "edge.yaml");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.status().message().find("edge.id"), std::string::npos) << bad_id.status();

  // A plain byte count (what bt-bench --via-daemons writes) and the seed.
  auto bytes = ParseEdgeConfig("edge:\n  memory_budget: 9887436\nretrain:\n  seed: 7\n", "edge.yaml");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->edge.memory_budget, 9887436u);
  EXPECT_EQ(bytes->retrain.seed, 7);
  EXPECT_EQ(ParseEdgeConfig("", "edge.yaml")->retrain.seed, 1);
  auto bad_seed = ParseEdgeConfig("retrain:\n  seed: -3\n", "edge.yaml");
  ASSERT_FALSE(bad_seed.ok());
  EXPECT_NE(bad_seed.status().message().find("retrain.seed"), std::string::npos) << bad_seed.status();
}

TEST(EdgeConfig, ParsesTheScheduleAndNamesBadEntries) {
  auto ok = ParseEdgeConfig(
      "retrain:\n  schedule: [\"daily 02:00-02:30\", \"sat,sun 23:30-00:30\"]\n  time_zone: \"+02:00\"\n",
      "edge.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->retrain.schedule.size(), 2u);
  auto weekend = ParseWindowSpec(ok->retrain.schedule[1]);
  ASSERT_TRUE(weekend.ok());
  EXPECT_EQ(weekend->days, (1 << 0) | (1 << 6));
  EXPECT_EQ(weekend->start_minute, 23 * 60 + 30);
  EXPECT_EQ(weekend->end_minute, 30);
  EXPECT_EQ(*ParseTimeZoneOffset("+02:00"), 120);
  EXPECT_EQ(*ParseTimeZoneOffset("-05:30"), -330);
  EXPECT_EQ(*ParseTimeZoneOffset("UTC"), 0);

  auto bad = ParseEdgeConfig("retrain:\n  schedule:\n    - \"daily 02:00-02:30\"\n    - \"someday 01:00-02:00\"\n",
                             "edge.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("retrain.schedule[1]"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("someday"), std::string::npos) << bad.status();
  EXPECT_FALSE(ParseEdgeConfig("retrain:\n  schedule: [\"daily 25:00-26:00\"]\n", "e").ok());
  auto zone = ParseEdgeConfig("retrain:\n  time_zone: Mars/Olympus\n", "edge.yaml");
  ASSERT_FALSE(zone.ok());
  EXPECT_NE(zone.status().message().find("retrain.time_zone"), std::string::npos) << zone.status();
  EXPECT_FALSE(ParseEdgeConfig("simulator:\n  advance: sometimes\n", "e").ok());
}

TEST(Config, MissingFileIsAClearError) {
  auto config = LoadCloudConfig("/nonexistent/cloud.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("/nonexistent/cloud.yaml"), std::string::npos);
}

TEST(Config, ShippedExampleConfigsAreValid) {
  auto cloud = LoadCloudConfig(std::string(BT_SOURCE_DIR) + "/configs/cloud.yaml");
  EXPECT_TRUE(cloud.ok()) << cloud.status();
  auto edge = LoadEdgeConfig(std::string(BT_SOURCE_DIR) + "/configs/edge.yaml");
  EXPECT_TRUE(edge.ok()) << edge.status();
  // The shipped file documents the defaults; it must not silently diverge from them.
  auto defaults = ParseCloudConfig("", "defaults");
  EXPECT_TRUE(cloud->model.architecture == defaults->model.architecture);
  EXPECT_EQ(cloud->pretrain.epochs, defaults->pretrain.epochs);
  EXPECT_DOUBLE_EQ(cloud->pretrain.learning_rate, defaults->pretrain.learning_rate);
}

}  // namespace
}  // namespace bt
