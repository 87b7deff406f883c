// bt-fault-pusher: the load side of the fault harness (tests/integration/fault_test.sh). N edges push updates to a
// bt-cloud concurrently for a while — register, report probes (analytic costs), pull the planned block, change one
// weight, push — retrying through whatever the harness does to the cloud (kill -9, restarts). Every push the cloud
// acknowledged is appended to --acked as one JSON line {"edge", "version", "block", "digest"}; the harness then
// checks that each of them survived. It pushes for --seconds or until SIGTERM/SIGINT, then prints its counts and the
// first error of each edge (so that a run that acknowledged nothing says why). Exit status 0 unless the arguments
// are bad.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/format/block_store.h"
#include "common/format/model_config.h"
#include "common/format/safetensors.h"
#include "common/plan/block_profile.h"
#include "common/plan/probe_report.h"
#include "common/wire/wire.h"
#include "edge/cloud_client.h"

namespace v1 = blocktrainer::v1;

namespace {

struct Counters {
  std::atomic<int> acked{0}, failed{0};
};

std::atomic<bool> g_stop{false};  // lock-free, so safe to set from a signal handler
void OnStop(int) { g_stop.store(true); }

// `bytes` (a block) with its first F32 value scaled by `factor`: a valid update of the same canonical size.
std::string Modified(const std::string& bytes, float factor) {
  auto file = bt::SafetensorsFile::FromBytes(bytes, "block");
  if (!file.ok()) return "";
  std::vector<std::vector<uint8_t>> storage;
  std::vector<bt::TensorView> views = (*file)->tensors();
  for (bt::TensorView& v : views) {
    storage.emplace_back(v.data, v.data + v.size_bytes);
    v.data = storage.back().data();
  }
  float value = 0;
  std::memcpy(&value, storage[0].data(), 4);
  value = value * factor + 0.001f;
  std::memcpy(storage[0].data(), &value, 4);
  auto out = bt::SerializeSafetensors(views, {});
  return out.ok() ? *out : "";
}

absl::Status OnePush(bt::CloudClient& client, const std::string& edge, const bt::BlockStore& store, std::mt19937& rng,
                     std::string* line) {
  v1::RegisterRequest registration;
  registration.set_edge_id(edge);
  registration.set_hardware("fault-harness");
  registration.set_memory_budget_bytes(1ull << 30);
  ASSIGN_OR_RETURN(v1::RegisterResponse reg, client.Register(registration));
  ASSIGN_OR_RETURN(bt::VitConfig config,
                   bt::VitConfig::FromMetadata({reg.architecture().begin(), reg.architecture().end()}));
  bt::ProbeReport report;
  report.costs = bt::AnalyticProfile(bt::VitLayerShapes(config), bt::ProfileOptions{});
  report.fixed_bytes = 1000;
  report.acc0 = 0.5;
  v1::ReportProbesRequest request;
  request.set_edge_id(edge);
  request.set_window_id("fault-" + std::to_string(rng()));
  request.set_base_version(reg.version());
  request.set_serving_version(reg.version());
  request.set_train_seconds(1e6);
  bt::ProbeReportToProto(report, request.mutable_probes());
  ASSIGN_OR_RETURN(v1::PlanResponse plan, client.ReportProbes(request));
  std::vector<const v1::PlannedBlock*> trained;
  for (const auto& b : plan.blocks()) {
    if (b.option() == "train") trained.push_back(&b);
  }
  if (trained.empty()) return absl::FailedPreconditionError("the plan trains no whole block");
  const v1::PlannedBlock& block = *trained[rng() % trained.size()];
  RETURN_IF_ERROR(client.PullBlocks({block.digest()}, store).status());
  ASSIGN_OR_RETURN(std::string bytes, store.Read(block.digest()));
  const std::string update = Modified(bytes, 0.5f + 0.5f * static_cast<float>(rng() % 1000) / 1000.0f);
  if (update.empty()) return absl::InternalError("could not modify the block");
  v1::PushHeader header;
  header.set_plan_id(plan.plan_id());
  header.set_base_version(plan.base_version());
  header.set_accuracy_before(0.5);
  header.set_accuracy_after(0.6);
  ASSIGN_OR_RETURN(uint64_t version, client.PushUpdate(header, {{block.name(), block.digest(), update}}));
  *line = absl::StrCat("{\"edge\": \"", edge, "\", \"version\": ", version, ", \"block\": \"", block.name(),
                       "\", \"digest\": \"", bt::Sha256Hex(update), "\"}\n");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Pushes updates from N edges to a bt-cloud concurrently, recording every acknowledged push"};
  std::string cloud, token_dir, acked_path, work;
  int edges = 4;
  double seconds = 10;
  app.add_option("--cloud", cloud, "host:port of bt-cloud")->required();
  app.add_option("--edges", edges, "edges pushing at once (edge ids e0..eN-1)")->check(CLI::Range(1, 64));
  app.add_option("--token-dir", token_dir, "directory with <edge>.token files (bt-cloud add-edge)")->required();
  app.add_option("--seconds", seconds, "how long to push")->check(CLI::Range(0.1, 86400.0));
  app.add_option("--acked", acked_path, "JSON lines file the acknowledged pushes are appended to")->required();
  app.add_option("--work", work, "directory for the edges' block stores")->required();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  std::signal(SIGTERM, OnStop);
  std::signal(SIGINT, OnStop);

  std::mutex out_mu;
  Counters counters;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  std::vector<std::string> first_error(static_cast<size_t>(edges));
  for (int i = 0; i < edges; ++i) {
    threads.emplace_back([&, i] {
      const std::string edge = "e" + std::to_string(i);
      auto token = bt::ReadFileToString(token_dir + "/" + edge + ".token");
      if (!token.ok()) {
        std::fprintf(stderr, "%s: %s\n", edge.c_str(), std::string(token.status().message()).c_str());
        return;
      }
      std::string t = *token;
      while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
      auto channel = bt::MakeCloudChannel(cloud, {});
      if (!channel.ok()) return;
      bt::CloudClient client(*channel, edge, t);
      client.set_deadline(std::chrono::milliseconds(5000));
      const bt::BlockStore store(work + "/" + edge);
      std::mt19937 rng(static_cast<uint32_t>(1000 + i));
      while (!g_stop.load() && std::chrono::steady_clock::now() < deadline) {
        std::string line;
        absl::Status s = OnePush(client, edge, store, rng, &line);
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(out_mu);
          if (!bt::AppendToFileDurably(acked_path, line).ok()) std::fprintf(stderr, "cannot append to %s\n", acked_path.c_str());
          ++counters.acked;
        } else {
          ++counters.failed;
          if (first_error[static_cast<size_t>(i)].empty()) first_error[static_cast<size_t>(i)] = s.ToString();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("acknowledged %d pushes, %d attempts failed\n", counters.acked.load(), counters.failed.load());
  for (int i = 0; i < edges; ++i) {
    if (!first_error[static_cast<size_t>(i)].empty()) {
      std::printf("e%d's first failure: %s\n", i, first_error[static_cast<size_t>(i)].c_str());
    }
  }
  return 0;
}
