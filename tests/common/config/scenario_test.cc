#include "common/config/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace bt {
namespace {

const char* kValid = R"(
scenario:
  name: test
  seed: 7
  eval_samples: 100
  domains:
    - name: fog
      samples: 300
      corruptions:
        - {type: fog, severity: 3}
    - name: night
      samples: 200
      labeled_fraction: 0.2
      corruptions:
        - {type: brightness, severity: 5, direction: down}
        - {type: gaussian_noise, severity: 2}
    - name: fog
      samples: 100
      corruptions:
        - {type: fog, severity: 3}
)";

TEST(Scenario, ParsesTheContractSchema) {
  auto s = ParseScenario(kValid, "s.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "test");
  EXPECT_EQ(s->seed, 7);
  ASSERT_EQ(s->domains.size(), 3u);
  EXPECT_DOUBLE_EQ(s->domains[0].labeled_fraction, 1.0);
  EXPECT_DOUBLE_EQ(s->domains[1].labeled_fraction, 0.2);
  EXPECT_EQ(s->domains[1].corruptions[0].direction, "down");
  EXPECT_EQ(s->StreamSamples(), 600);
  EXPECT_EQ(s->DistinctDomains(), (std::vector<std::string>{"fog", "night"}));
}

struct Bad {
  std::string yaml;
  std::string expected;
};

TEST(Scenario, ErrorsNameTheDomainAndKey) {
  auto with = [](const std::string& domain) {
    return "scenario:\n  name: x\n  eval_samples: 10\n  domains:\n" + domain;
  };
  std::vector<Bad> cases = {
      {with("    - name: fog\n      samples: 10\n      corruptions: [{type: lens_flare, severity: 3}]\n"),
       "domains[0] (fog).corruptions[0].type: unknown corruption 'lens_flare'"},
      {with("    - name: fog\n      samples: 10\n      corruptions: [{type: fog, severity: 6}]\n"),
       "domains[0] (fog).corruptions[0].severity: must be between 1 and 5"},
      {with("    - name: fog\n      samples: 0\n"), "domains[0] (fog).samples: must be between 1"},
      {with("    - name: fog\n      samples: 10\n      labeled_fraction: 1.5\n"), "labeled_fraction"},
      {with("    - name: fog\n      samples: 10\n      colour: red\n"), "domains[0] (fog).colour: unknown key"},
      {with("    - name: fog\n      samples: 10\n      corruptions: [{type: fog, severity: 2, direction: up}]\n"),
       "only brightness takes a direction"},
      {with("    - name: fog\n      samples: 9995\n"), "needs 9995 stream samples + 10 held-out"},
      {with("    - samples: 10\n"), "domains[0].name: is required"},
      {"scenario:\n  name: x\n  domains: []\n", "scenario.domains: must be a non-empty list"},
      {"scenario:\n  name: x\n  dataset: cifar\n  domains: [{name: a, samples: 1}]\n", "unknown dataset 'cifar'"},
      {"scenery: {}\n", "scenery: unknown key"},
  };
  for (const Bad& c : cases) {
    auto s = ParseScenario(c.yaml, "s.yaml");
    ASSERT_FALSE(s.ok()) << c.yaml;
    std::string message(s.status().message());
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_NE(message.find("s.yaml"), std::string::npos) << message;
  }
}

TEST(Scenario, ShippedScenariosAreValid) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(BT_SOURCE_DIR) + "/configs/scenarios")) {
    auto s = LoadScenario(entry.path().string());
    EXPECT_TRUE(s.ok()) << entry.path() << ": " << s.status();
    ++count;
  }
  EXPECT_GE(count, 3);
}

}  // namespace
}  // namespace bt
