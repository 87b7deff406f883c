// bt-fault-puller: the pulling side of the network-fault test (tests/integration/netem_test.sh).
//
//   bt-fault-puller --write-model PATH [--hidden H --mlp M --layers L]
//       writes a ViT checkpoint with random weights (big enough that a pull takes seconds over a shaped link)
//   bt-fault-puller --cloud ADDR --edge E --token-file F --store DIR [--attempts N]
//       registers as E and pulls every block of its branch head into DIR, retrying (and so resuming the partial
//       files) up to N times; prints one JSON line {"edge", "seconds", "attempts", "bytes": [per attempt],
//       "blocks", "ok"}.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/base/file_util.h"
#include "common/format/block_store.h"
#include "common/format/model_config.h"
#include "common/format/safetensors.h"
#include "edge/cloud_client.h"
#include "tests/testing/test_models.h"

namespace v1 = blocktrainer::v1;

int main(int argc, char** argv) {
  CLI::App app{"Writes a large random ViT checkpoint, or pulls an edge's head over whatever link it is given"};
  std::string model_path, cloud, edge, token_file, store_dir;
  int64_t hidden = 256, mlp = 1024, layers = 2;
  int attempts = 20;
  app.add_option("--write-model", model_path, "write a random-weight checkpoint here and exit");
  app.add_option("--hidden", hidden, "hidden size of the written model")->check(CLI::Range(8, 4096));
  app.add_option("--mlp", mlp, "MLP size of the written model")->check(CLI::Range(8, 16384));
  app.add_option("--layers", layers, "encoder layers of the written model")->check(CLI::Range(1, 48));
  app.add_option("--cloud", cloud, "host:port of bt-cloud");
  app.add_option("--edge", edge, "edge id");
  app.add_option("--token-file", token_file, "the edge's token");
  app.add_option("--store", store_dir, "block store to pull into");
  app.add_option("--attempts", attempts, "pull attempts before giving up")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  if (!model_path.empty()) {
    bt::VitConfig config = bt::fixtures::TinyVit(hidden, /*heads=*/4, layers, mlp, 10);
    bt::fixtures::FakeWeights weights(config, 7);
    absl::Status s = bt::WriteSafetensors(model_path, weights.views, config.ToMetadata());
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
    return 0;
  }
  if (cloud.empty() || edge.empty() || token_file.empty() || store_dir.empty()) {
    std::fprintf(stderr, "--cloud, --edge, --token-file and --store are required to pull\n");
    return 2;
  }
  auto token = bt::ReadFileToString(token_file);
  if (!token.ok()) return 2;
  std::string t = *token;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  auto channel = bt::MakeCloudChannel(cloud, {});
  if (!channel.ok()) return 2;
  bt::CloudClient client(*channel, edge, t);
  client.set_deadline(std::chrono::milliseconds(60'000));
  const bt::BlockStore store(store_dir);
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint64_t> bytes;
  int blocks = 0;
  bool ok = false;
  std::vector<std::string> digests;
  for (int a = 0; a < attempts && !ok; ++a) {
    if (digests.empty()) {
      v1::RegisterRequest r;
      r.set_edge_id(edge);
      r.set_hardware("netem-test");
      r.set_memory_budget_bytes(1ull << 30);
      auto reg = client.Register(r);
      if (!reg.ok()) {
        std::fprintf(stderr, "attempt %d: register: %s\n", a + 1, std::string(reg.status().message()).c_str());
        bytes.push_back(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      for (const auto& b : reg->manifest().blocks()) digests.push_back(b.digest());
    }
    uint64_t received = 0;
    auto pulled = client.PullBlocks(digests, store, [&](uint64_t done, uint64_t) { received = done; });
    bytes.push_back(pulled.ok() ? pulled->bytes : received);
    if (pulled.ok()) {
      ok = true;
      blocks = static_cast<int>(digests.size());
    } else {
      std::fprintf(stderr, "attempt %d: pull: %s\n", a + 1, std::string(pulled.status().message()).c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string list;
  for (uint64_t b : bytes) list += (list.empty() ? "" : ", ") + std::to_string(b);
  std::printf("{\"edge\": \"%s\", \"seconds\": %.3f, \"attempts\": %zu, \"bytes\": [%s], \"blocks\": %d, \"ok\": %s}\n",
              edge.c_str(), seconds, bytes.size(), list.c_str(), blocks, ok ? "true" : "false");
  return ok ? 0 : 1;
}
