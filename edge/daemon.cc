#include "edge/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/address.h"
#include "common/block_model.h"
#include "common/feature_stats.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/manifest.h"
#include "common/memory_meter.h"
#include "common/scenario.h"
#include "common/sha256.h"
#include "common/tensor_convert.h"
#include "common/units.h"
#include "common/wire.h"
#include "edge/cloud_client.h"
#include "edge/spool.h"
#include "edge/retrain_engine.h"
#include "edge/sample_buffer.h"
#include "edge/scenario_feeder.h"
#include "edge/window_probe.h"
#include "edge/window_runner.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace v1 = blocktrainer::v1;

namespace {

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Hardware() {
  utsname u{};
  uname(&u);
  return absl::StrFormat("%s %s, %u cores", u.sysname, u.machine, std::thread::hardware_concurrency());
}

using Blocks = std::vector<std::pair<std::string, std::string>>;  // name → digest, forward order

nlohmann::ordered_json BlocksJson(const Blocks& blocks) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& [name, digest] : blocks) j.push_back({name, digest});
  return j;
}

Blocks BlocksFromJson(const nlohmann::json& j) {
  Blocks out;
  if (!j.is_array()) return out;
  for (const auto& e : j) out.emplace_back(e.at(0).get<std::string>(), e.at(1).get<std::string>());
  return out;
}

class EdgeAdminService;

// One window's result as JSON: a line of results.jsonl and an entry of `bt-edge status --json`.
nlohmann::ordered_json WindowResultJson(const v1::WindowResult& r) {
  return {{"window_id", r.window_id()},
          {"domain", r.domain_hint()},
          {"outcome", r.outcome()},
          {"accuracy_before", r.accuracy_before()},
          {"accuracy_after", r.accuracy_after()},
          {"predicted_accuracy", r.predicted_accuracy()},
          {"peak_memory_bytes", r.peak_memory_bytes()},
          {"predicted_memory_bytes", r.predicted_memory_bytes()},
          {"train_seconds", r.train_seconds()},
          {"iterations", r.iterations()},
          {"bytes_down", r.bytes_down()},
          {"bytes_up", r.bytes_up()},
          {"plan", r.plan()},
          {"version", r.version()}};
}

}  // namespace

struct EdgeDaemon::Impl {
  EdgeConfig config;
  std::string token;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<CloudClient> client;
  std::unique_ptr<SampleBuffer> buffer;
  std::unique_ptr<ScenarioFeeder> feeder;
  EdgeBlockStore store;
  std::string state_dir;

  // The model being served (guarded by model_mu: windows replace it, status reads its version).
  mutable std::mutex model_mu;
  std::map<std::string, std::string> architecture;
  std::unique_ptr<BlockModel> model;
  VitConfig vit;
  Blocks serving;
  uint64_t serving_version = 0;
  bool have_model = false;
  std::unique_ptr<SourceStats> source;

  // Status (guarded by mu).
  mutable std::mutex mu;
  std::condition_variable cv;
  std::string state = "starting";
  std::string window_id;
  double progress = 0;
  std::chrono::steady_clock::time_point window_start, window_end;
  bool connected = false;
  bool window_requested = false;
  int64_t peak_bytes = 0;
  std::deque<v1::WindowResult> recent;
  std::string next_window;
  size_t next_domain = 0;
  uint64_t windows_started = 0;  // since the daemon started: window n uses retrain.seed + n
  std::map<std::string, int64_t> scheduled_done;  // window occurrence key → done

  std::unique_ptr<grpc::Server> admin_server;
  std::unique_ptr<EdgeAdminService> admin_service;
  int admin_port = 0;

  explicit Impl(const EdgeConfig& c) : config(c), store(c.edge.data_dir + "/blocks"), state_dir(c.edge.data_dir) {}

  void SetState(const std::string& s, double p = -1) {
    std::lock_guard<std::mutex> lock(mu);
    state = s;
    if (p >= 0) progress = p;
  }

  // ---- state files ----------------------------------------------------------------------------------------------
  std::string ServingPath() const { return state_dir + "/serving.json"; }
  std::string OutboxDir() const { return state_dir + "/outbox"; }

  absl::Status SaveServing() {
    nlohmann::ordered_json j = {{"version", serving_version}, {"blocks", BlocksJson(serving)},
                                {"architecture", architecture}};
    return WriteFileAtomically(ServingPath(), j.dump(2) + "\n");
  }

  absl::Status LoadServingFromDisk() {
    auto text = ReadFileToString(ServingPath());
    if (!text.ok()) return absl::OkStatus();  // first start
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) return absl::DataLossError(absl::StrCat(ServingPath(), ": not JSON"));
    architecture = j.value("architecture", std::map<std::string, std::string>{});
    Blocks blocks = BlocksFromJson(j["blocks"]);
    RETURN_IF_ERROR(BuildModel(blocks));
    serving_version = j.value("version", uint64_t{0});
    return absl::OkStatus();
  }

  // Builds the serving model from block files (all must be present and verified).
  absl::Status BuildModel(const Blocks& blocks) {
    ASSIGN_OR_RETURN(VitConfig cfg, VitConfig::FromMetadata(architecture));
    ASSIGN_OR_RETURN(auto m, CreateVitModel(cfg, 0));
    std::vector<std::unique_ptr<SafetensorsFile>> files;
    std::vector<TensorView> views;
    for (const auto& [name, digest] : blocks) {
      ASSIGN_OR_RETURN(std::string bytes, store.Read(digest));
      if (Sha256Hex(bytes) != digest) return absl::DataLossError(absl::StrCat("block file ", digest, " is corrupted"));
      ASSIGN_OR_RETURN(auto file, SafetensorsFile::FromBytes(std::move(bytes), "block " + name));
      for (const TensorView& v : file->tensors()) views.push_back(v);
      files.push_back(std::move(file));
    }
    RETURN_IF_ERROR(LoadWeightsInto(views, m.get()));
    m->SetTrainingMode(false);
    std::lock_guard<std::mutex> lock(model_mu);
    model = std::move(m);
    vit = cfg;
    serving = blocks;
    have_model = true;
    return absl::OkStatus();
  }

  // ---- cloud ----------------------------------------------------------------------------------------------------
  absl::Status Register() {
    v1::RegisterRequest request;
    request.set_edge_id(config.edge.id);
    request.set_hardware(Hardware());
    request.set_memory_budget_bytes(config.edge.memory_budget);
    for (const std::string& w : config.retrain.schedule) request.add_windows(w + " " + config.retrain.time_zone);
    request.set_client_version(BT_VERSION);
    ASSIGN_OR_RETURN(v1::RegisterResponse response, client->Register(request));
    {
      std::lock_guard<std::mutex> lock(model_mu);
      architecture.clear();
      for (const auto& [k, v] : response.architecture()) architecture[k] = v;
    }
    if (!response.source_stats().empty()) {
      auto stats = SourceStats::FromJson(response.source_stats(), "source statistics from bt-cloud");
      if (stats.ok()) source = std::make_unique<SourceStats>(*stats);
    }
    const uint64_t before_flush = serving_version;
    RETURN_IF_ERROR(FlushOutbox());
    // What we just delivered is the branch head now.
    const uint64_t head_version = serving_version != before_flush ? serving_version : response.version();
    // Adopt the branch head (a rollback, or a first start) unless a local update still waits to be accepted.
    if (!have_model || (serving_version != head_version && OutboxSize() == 0)) {
      Blocks head;
      std::vector<std::string> digests;
      for (const auto& b : response.manifest().blocks()) {
        head.emplace_back(b.name(), b.digest());
        digests.push_back(b.digest());
      }
      SetState("pulling");
      ASSIGN_OR_RETURN(TransferStats pulled, client->PullBlocks(digests, store));
      RETURN_IF_ERROR(BuildModel(head));
      serving_version = response.version();
      RETURN_IF_ERROR(SaveServing());
      spdlog::info("serving version {} of the branch ({} blocks pulled, {})", serving_version, pulled.blocks,
                   FormatBytes(pulled.bytes));
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      connected = true;
      state = "idle";
    }
    cv.notify_all();  // a window may be waiting for the connection
    spdlog::info("registered with bt-cloud at {} as '{}' (branch version {}, serving {})", config.edge.cloud,
                 config.edge.id, head_version, serving_version);
    return absl::OkStatus();
  }

  size_t OutboxSize() const {
    std::error_code ec;
    size_t n = 0;
    if (!std::filesystem::exists(OutboxDir(), ec)) return 0;
    for (const auto& e : std::filesystem::directory_iterator(OutboxDir(), ec)) n += e.path().extension() == ".json";
    return n;
  }

  // Sends every finished update the cloud has not accepted yet, oldest first. Permanent rejections are moved to
  // outbox/rejected/ (with the reason) so they never block the queue.
  absl::Status FlushOutbox() {
    std::error_code ec;
    if (!std::filesystem::exists(OutboxDir(), ec)) return absl::OkStatus();
    std::vector<std::filesystem::path> entries;
    for (const auto& e : std::filesystem::directory_iterator(OutboxDir(), ec)) {
      if (e.path().extension() == ".json") entries.push_back(e.path());
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& path : entries) {
      ASSIGN_OR_RETURN(std::string text, ReadFileToString(path.string()));
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      v1::PushHeader header;
      std::vector<CloudClient::OutgoingBlock> blocks;
      if (j.is_object()) {
        header.set_plan_id(j.value("plan_id", ""));
        header.set_base_version(j.value("base_version", uint64_t{0}));
        header.set_accuracy_before(j.value("accuracy_before", 0.0));
        header.set_accuracy_after(j.value("accuracy_after", 0.0));
        header.set_iterations(j.value("iterations", int64_t{0}));
        header.set_peak_memory_bytes(j.value("peak_memory_bytes", int64_t{0}));
        header.set_train_seconds(j.value("train_seconds", 0.0));
        for (const auto& b : j["blocks"]) {
          auto bytes = store.Read(b.at("digest").get<std::string>());
          if (!bytes.ok()) return Annotate(bytes.status(), path.string());
          blocks.push_back({b.at("name").get<std::string>(), b.at("replaces").get<std::string>(), std::move(*bytes)});
        }
      }
      TransferStats up;
      SetState("pushing");
      auto version = client->PushUpdate(header, blocks, &up);
      if (!version.ok()) {
        const auto code = version.status().code();
        const bool permanent = code == absl::StatusCode::kInvalidArgument ||
                               code == absl::StatusCode::kPermissionDenied ||
                               code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kAborted ||
                               code == absl::StatusCode::kDataLoss;
        if (!permanent) return version.status();  // the cloud is away: keep it for later
        std::filesystem::create_directories(OutboxDir() + "/rejected", ec);
        RETURN_IF_ERROR(WriteFileAtomically(OutboxDir() + "/rejected/" + path.filename().string() + ".reason.txt",
                                            std::string(version.status().message()) + "\n"));
        std::filesystem::rename(path, OutboxDir() + "/rejected/" + path.filename().string(), ec);
        spdlog::error("update {} rejected by the cloud: {} (kept in outbox/rejected)", path.filename().string(),
                      std::string(version.status().message()));
        continue;
      }
      std::filesystem::remove(path, ec);
      {
        std::lock_guard<std::mutex> lock(model_mu);
        serving_version = *version;
      }
      RETURN_IF_ERROR(SaveServing());
      UpdateResult(j.value("window_id", ""), [&](v1::WindowResult* r) {
        r->set_version(*version);
        r->set_bytes_up(up.bytes);
      });
      spdlog::info("update of window '{}' accepted: branch version {} ({} up in {:.2f} s)", j.value("window_id", ""),
                   *version, FormatBytes(up.bytes), up.seconds);
    }
    return absl::OkStatus();
  }

  void UpdateResult(const std::string& window, const std::function<void(v1::WindowResult*)>& f) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& r : recent) {
      if (r.window_id() == window) f(&r);
    }
  }

  void Heartbeat() {
    v1::HeartbeatRequest h;
    {
      std::lock_guard<std::mutex> lock(mu);
      h.set_edge_id(config.edge.id);
      h.set_state(state);
      h.set_window_id(window_id);
      h.set_progress(progress);
      h.set_unsent_updates(static_cast<uint32_t>(OutboxSize()));
      h.set_serving_version(serving_version);
    }
    auto response = client->Heartbeat(h);
    std::lock_guard<std::mutex> lock(mu);
    if (!response.ok() && connected) {
      spdlog::warn("heartbeat failed: {}; reconnecting with backoff", std::string(response.status().message()));
    }
    connected = response.ok();
    // The branch moved without us (a rollback): re-register, which adopts the head, unless a window or an unsent
    // update is in flight (their push decides).
    if (response.ok() && response->branch_version() != serving_version && window_id.empty() && OutboxSize() == 0) {
      spdlog::info("the branch head is version {} (serving {}): adopting it", response->branch_version(),
                   serving_version);
      connected = false;
    }
  }

  // ---- windows --------------------------------------------------------------------------------------------------
  // The schedule's window open now, if any: its occurrence key and end.
  bool ScheduledWindowNow(std::string* key, std::chrono::seconds* left) {
    if (config.retrain.schedule.empty()) return false;
    const int offset = ParseTimeZoneOffset(config.retrain.time_zone).value_or(0);
    const int64_t now = UnixNow() + offset * 60;
    const int64_t day = now / 86400;
    const int minute = static_cast<int>((now % 86400) / 60);
    const int weekday = static_cast<int>((day + 4) % 7);  // 1970-01-01 was a Thursday
    for (const std::string& text : config.retrain.schedule) {
      auto spec = ParseWindowSpec(text);
      if (!spec.ok()) continue;
      for (int back = 0; back <= 1; ++back) {  // a window that started yesterday and crosses midnight
        const int wd = (weekday - back + 7) % 7;
        if (!(spec->days & (1 << wd))) continue;
        const int start = spec->start_minute - back * 1440;
        int end = spec->end_minute - back * 1440;
        if (spec->end_minute <= spec->start_minute) end += 1440;
        if (minute >= start && minute < end) {
          *key = absl::StrCat(day - back, " ", text);
          *left = std::chrono::seconds((end - minute) * 60 - now % 60);
          return true;
        }
      }
    }
    return false;
  }

  // Waits until a window should open (schedule or request) or `cancel`; returns its length, or 0 when cancelled.
  std::chrono::milliseconds WaitForWindow(const CancelToken* cancel, std::string* id) {
    while (!cancel->cancelled()) {
      std::string key;
      std::chrono::seconds left{0};
      {
        std::unique_lock<std::mutex> lock(mu);
        if (window_requested) {
          window_requested = false;
          *id = absl::StrCat("now-", UnixNow());
          return config.retrain.window;
        }
      }
      if (ScheduledWindowNow(&key, &left)) {
        std::lock_guard<std::mutex> lock(mu);
        if (!scheduled_done.count(key) && left > std::chrono::seconds(10)) {
          scheduled_done[key] = UnixNow();
          *id = absl::StrCat("sched-", UnixNow());
          return std::chrono::duration_cast<std::chrono::milliseconds>(left);
        }
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::seconds(1));
    }
    return std::chrono::milliseconds(0);
  }

  // One window, end to end. Failures end the window with the reason recorded; the serving model is untouched.
  absl::Status RunWindow(const std::string& id, std::chrono::milliseconds length, const CancelToken* cancel) {
    const auto start = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(mu);
      window_id = id;
      window_start = start;
      window_end = start + length;
      progress = 0;
      v1::WindowResult r;
      r.set_window_id(id);
      r.set_outcome("running");
      recent.push_front(r);
      while (recent.size() > 20) recent.pop_back();
    }
    // The simulated camera's per-window mode: the next domain arrives now.
    if (feeder && config.simulator.advance == "per_window") {
      if (next_domain < feeder->num_domains()) {
        const std::string domain = feeder->domain_name(next_domain);
        ASSIGN_OR_RETURN(FeedResult fed, feeder->FeedDomain(next_domain, cancel));
        ++next_domain;
        RETURN_IF_ERROR(WriteFileAtomically(state_dir + "/simulator.json",
                                            nlohmann::json({{"next_domain", next_domain}}).dump()));
        UpdateResult(id, [&](v1::WindowResult* r) { r->set_domain_hint(domain); });
        spdlog::info("window {}: the simulated camera delivered {} samples of domain '{}' ({} labeled)", id,
                     fed.samples, domain, fed.labeled);
      } else {
        spdlog::info("window {}: the scenario has no more domains; retraining on the buffer as it is", id);
      }
    }
    const std::vector<Sample> recent_samples = buffer->Recent(static_cast<size_t>(config.retrain.samples));
    if (recent_samples.size() < kMinWindowSamples) {
      return absl::FailedPreconditionError(absl::StrCat("only ", recent_samples.size(), " samples in the buffer"));
    }
    ImageDataset stream = FromSamples(recent_samples);
    const WindowSamples samples = SplitWindowSamples(stream, stream.labels.ge(0));

    WindowInput input;
    input.id = id;
    input.samples = &samples;
    input.budget.memory_budget = config.edge.memory_budget;
    input.budget.window = length;
    input.budget.probe_share = config.retrain.probe_share;
    input.budget.batch = config.retrain.batch;
    input.seed = static_cast<uint64_t>(config.retrain.seed) + windows_started++;
    input.opened = start;
    {
      std::lock_guard<std::mutex> lock(model_mu);
      ASSIGN_OR_RETURN(input.model, CopyModel(*model));
    }
    input.source = source.get();
    const uint64_t base_version = serving_version;
    input.base_version = base_version;
    const Blocks base_blocks = serving;

    // The cloud plans (it fits this edge's law and solves the selection) and serves the blocks.
    RemotePlanSource::Transport transport;
    transport.report_probes = [this](const v1::ReportProbesRequest& request) {
      auto planned = client->ReportProbes(request);
      if (absl::IsFailedPrecondition(planned.status())) {
        std::lock_guard<std::mutex> lock(mu);
        connected = false;  // the branch moved (a rollback): re-register and adopt it before the next window
      }
      return planned;
    };
    transport.pull_blocks = [this](const std::vector<std::string>& digests) -> absl::StatusOr<uint64_t> {
      ASSIGN_OR_RETURN(TransferStats down, client->PullBlocks(digests, store));
      return down.bytes;
    };
    RemotePlanSource cloud(config.edge.id, config.retrain.batch, std::move(transport));
    WindowHooks hooks;
    hooks.on_state = [this](const std::string& s, double p) { SetState(s, p); };
    hooks.on_planned = [&](const WindowOutcome& o) {
      const Plan& plan = o.planned.plan;
      UpdateResult(id, [&](v1::WindowResult* r) {
        r->set_plan(o.plan_text);
        r->set_predicted_accuracy(plan.predicted_accuracy);
        r->set_predicted_memory_bytes(plan.memory_bytes);
      });
      spdlog::info("window {}: plan {} — {} for {} iterations, predicted {:.1f}%, {} ({})", id, o.planned.plan_id,
                   o.plan_text, plan.iterations, 100 * plan.predicted_accuracy, FormatBytes(plan.memory_bytes),
                   plan.note);
    };
    ASSIGN_OR_RETURN(WindowOutcome result, bt::RunWindow(std::move(input), cloud, cancel, hooks));
    UpdateResult(id, [&](v1::WindowResult* r) {
      r->set_bytes_down(result.bytes_down);
      if (!result.retrained) return;
      r->set_accuracy_before(result.accuracy_before);
      r->set_accuracy_after(result.accuracy_after);
      r->set_peak_memory_bytes(result.peak_bytes);
      r->set_train_seconds(result.train_seconds);
      r->set_iterations(result.iterations);
    });
    {
      std::lock_guard<std::mutex> lock(mu);
      peak_bytes = std::max(peak_bytes, result.peak_bytes);
    }
    if (!result.deployed) {
      UpdateResult(id, [&](v1::WindowResult* r) { r->set_outcome(result.outcome); });
      return absl::OkStatus();
    }
    // Deploy locally, then queue and push the update.
    SetState("pushing", 0.95);
    Blocks next = base_blocks;
    nlohmann::ordered_json entry = {{"window_id", id},
                                    {"plan_id", result.planned.plan_id},
                                    {"base_version", base_version},
                                    {"accuracy_before", result.accuracy_before},
                                    {"accuracy_after", result.accuracy_after},
                                    {"iterations", result.iterations},
                                    {"peak_memory_bytes", result.peak_bytes},
                                    {"train_seconds", result.train_seconds},
                                    {"blocks", nlohmann::ordered_json::array()}};
    for (auto& [name, digest] : next) {
      auto it = result.trained.find(name);
      if (it == result.trained.end()) continue;
      std::vector<TensorView> views;
      std::vector<torch::Tensor> keep;
      for (const auto& [param, t] : it->second) {
        keep.push_back(t.detach().contiguous());
        ASSIGN_OR_RETURN(TensorView v, ViewOf(param, keep.back()));
        views.push_back(v);
      }
      ASSIGN_OR_RETURN(std::string bytes, SerializeBlock(views));
      ASSIGN_OR_RETURN(std::string new_digest, store.Put(bytes));
      entry["blocks"].push_back({{"name", name}, {"digest", new_digest}, {"replaces", digest}});
      digest = new_digest;
    }
    std::error_code ec;
    std::filesystem::create_directories(OutboxDir(), ec);
    RETURN_IF_ERROR(WriteFileAtomically(absl::StrFormat("%s/%020d-%s.json", OutboxDir(), UnixNow(), id),
                                        entry.dump(2) + "\n"));
    {
      std::lock_guard<std::mutex> lock(model_mu);
      model = std::move(result.model);
      serving = next;
    }
    RETURN_IF_ERROR(SaveServing());
    UpdateResult(id, [&](v1::WindowResult* r) { r->set_outcome("deployed"); });
    absl::Status pushed = FlushOutbox();
    if (!pushed.ok()) spdlog::warn("window {}: the update stays in the outbox until the cloud is back: {}", id, std::string(pushed.message()));
    return absl::OkStatus();
  }
};

namespace {

class EdgeAdminService final : public v1::EdgeAdmin::CallbackService {
 public:
  explicit EdgeAdminService(EdgeDaemon* daemon) : daemon_(daemon) {}
  grpc::ServerUnaryReactor* GetEdgeStatus(grpc::CallbackServerContext* context, const v1::GetEdgeStatusRequest*,
                                          v1::EdgeStatus* response) override {
    *response = daemon_->Status();
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* RetrainNow(grpc::CallbackServerContext* context, const v1::RetrainNowRequest*,
                                       v1::RetrainNowResponse* response) override {
    std::string reason;
    response->set_started(daemon_->RequestWindow(&reason));
    response->set_message(reason);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  EdgeDaemon* daemon_;
};

}  // namespace

EdgeDaemon::EdgeDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EdgeDaemon::~EdgeDaemon() {
  if (impl_->admin_server) {
    impl_->admin_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->admin_server->Wait();
  }
}

int EdgeDaemon::admin_port() const { return impl_->admin_port; }

absl::StatusOr<std::unique_ptr<EdgeDaemon>> EdgeDaemon::Create(const EdgeConfig& config) {
  auto impl = std::make_unique<Impl>(config);
  std::error_code ec;
  std::filesystem::create_directories(config.edge.data_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(config.edge.data_dir, ": ", std::string(ec.message())));
  auto token = ReadFileToString(config.TokenPath());
  if (!token.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no token at ", config.TokenPath(), " (edge.token_file): create one on the cloud with `bt-cloud add-edge --edge ",
        config.edge.id, " --token-out FILE` and copy it there"));
  }
  impl->token = std::string(absl::StripAsciiWhitespace(*token));
  ClientSecurity security{config.tls.ca, config.tls.cert, config.tls.key, config.tls.server_name};
  ASSIGN_OR_RETURN(impl->channel, MakeCloudChannel(config.edge.cloud, security));
  impl->client = std::make_unique<CloudClient>(impl->channel, config.edge.id, impl->token);
  SampleBufferOptions buffer_options;
  buffer_options.path = config.BufferPath();
  buffer_options.max_samples = config.buffer.max_samples;
  buffer_options.max_bytes = config.buffer.max_bytes;
  buffer_options.sync_every = config.buffer.sync_every;
  ASSIGN_OR_RETURN(impl->buffer, SampleBuffer::Open(buffer_options));
  if (!config.simulator.scenario.empty()) {
    ASSIGN_OR_RETURN(Scenario scenario, LoadScenario(config.simulator.scenario));
    ASSIGN_OR_RETURN(ImageDataset source, LoadFashionMnist(config.simulator.dataset_dir, "test"));
    ASSIGN_OR_RETURN(impl->feeder, ScenarioFeeder::Create(scenario, source, impl->buffer.get(), config.simulator.rate));
    if (auto text = ReadFileToString(config.edge.data_dir + "/simulator.json"); text.ok()) {
      nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_object()) impl->next_domain = j.value("next_domain", size_t{0});
    }
  }
  RETURN_IF_ERROR(Annotate(impl->LoadServingFromDisk(), "serving state"));
  std::unique_ptr<EdgeDaemon> daemon(new EdgeDaemon(std::move(impl)));
  if (!config.edge.admin_listen.empty()) {
    if (!IsLoopbackAddress(config.edge.admin_listen)) {
      return absl::FailedPreconditionError(absl::StrCat("edge.admin_listen '", config.edge.admin_listen,
                                                        "' must be a loopback address"));
    }
    daemon->impl_->admin_service = std::make_unique<EdgeAdminService>(daemon.get());
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(config.edge.admin_listen, grpc::InsecureServerCredentials(), &daemon->impl_->admin_port);
    builder.RegisterService(daemon->impl_->admin_service.get());
    daemon->impl_->admin_server = builder.BuildAndStart();
    if (!daemon->impl_->admin_server || daemon->impl_->admin_port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on edge.admin_listen '", config.edge.admin_listen, "'"));
    }
  }
  return daemon;
}

absl::Status EdgeDaemon::Run(const CancelToken* cancel) {
  Impl& d = *impl_;
  spdlog::info("bt-edge {} '{}': cloud {} ({}), admin on port {}, state in {}, memory budget {}", BT_VERSION,
               d.config.edge.id, d.config.edge.cloud,
               d.config.tls.ca.empty() ? "PLAINTEXT (loopback only)" : "TLS", d.admin_port, d.config.edge.data_dir,
               FormatBytes(d.config.edge.memory_budget));
  // The simulated camera streaming continuously.
  std::thread feeder_thread;
  if (d.feeder && d.config.simulator.advance == "stream") {
    feeder_thread = std::thread([&] {
      auto fed = d.feeder->Run(cancel);
      if (!fed.ok()) spdlog::error("simulator: {}", std::string(fed.status().message()));
    });
  }
  // A camera's spool directory, polled into the buffer.
  std::thread spool_thread;
  if (!d.config.spool.dir.empty()) {
    SpoolOptions options;
    options.dir = d.config.spool.dir;
    auto spool = Spool::Create(options, d.buffer.get());
    if (!spool.ok()) return Annotate(spool.status(), "spool.dir");
    spool_thread = std::thread([&d, cancel, spool = std::move(*spool)] {
      while (!cancel->cancelled()) {
        auto scan = spool->ScanOnce();
        if (!scan.ok()) {
          spdlog::error("spool {}: {}", d.config.spool.dir, std::string(scan.status().message()));
        } else if (scan->accepted + scan->rejected > 0) {
          spdlog::info("spool: {} accepted, {} rejected (buffer: {} samples)", scan->accepted, scan->rejected,
                       d.buffer->size());
        }
        std::unique_lock<std::mutex> lock(d.mu);
        d.cv.wait_for(lock, d.config.spool.poll_interval, [&] { return cancel->cancelled(); });
      }
    });
  }
  // Connection and heartbeats, with backoff while the cloud is away.
  std::thread link([&] {
    std::chrono::milliseconds backoff(500);
    bool registered = false;
    while (!cancel->cancelled()) {
      if (!registered) {
        absl::Status s = d.Register();
        if (s.ok()) {
          registered = true;
          backoff = std::chrono::milliseconds(500);
        } else {
          spdlog::warn("cannot reach bt-cloud at {}: {} (retrying in {})", d.config.edge.cloud, std::string(s.message()),
                       FormatDuration(backoff));
          d.SetState("disconnected");
          std::unique_lock<std::mutex> lock(d.mu);
          d.cv.wait_for(lock, backoff, [&] { return cancel->cancelled(); });
          backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
          continue;
        }
      }
      d.Heartbeat();
      bool connected;
      {
        std::lock_guard<std::mutex> lock(d.mu);
        connected = d.connected;
      }
      if (!connected) {
        registered = false;
        continue;
      }
      std::unique_lock<std::mutex> lock(d.mu);
      d.cv.wait_for(lock, d.config.edge.heartbeat_interval, [&] { return cancel->cancelled(); });
    }
  });
  // Windows, one at a time.
  while (!cancel->cancelled()) {
    std::string id;
    const std::chrono::milliseconds length = d.WaitForWindow(cancel, &id);
    if (length.count() == 0) break;
    {
      std::unique_lock<std::mutex> lock(d.mu);
      d.cv.wait_for(lock, std::chrono::seconds(60), [&] { return (d.connected && d.have_model) || cancel->cancelled(); });
      if (!d.connected || !d.have_model) {
        spdlog::warn("window {} skipped: not connected to bt-cloud", id);
        continue;
      }
    }
    spdlog::info("window {} opens ({})", id, FormatDuration(length));
    absl::Status s;
    try {
      s = d.RunWindow(id, length, cancel);
    } catch (const std::exception& e) {
      s = absl::InternalError(e.what());
    }
    if (!s.ok()) {
      spdlog::error("window {} failed: {}", id, std::string(s.message()));
      d.UpdateResult(id, [&](v1::WindowResult* r) { r->set_outcome(absl::StrCat("failed: ", std::string(s.message()))); });
    }
    {
      std::lock_guard<std::mutex> lock(d.mu);
      d.state = d.connected ? "idle" : "disconnected";
      d.window_id.clear();
      d.progress = 0;
      if (!d.recent.empty()) {
        const nlohmann::ordered_json line = WindowResultJson(d.recent.front());
        std::ofstream(d.state_dir + "/results.jsonl", std::ios::app) << line.dump() << "\n";
      }
    }
    spdlog::info("window {} closed", id);
    d.Heartbeat();  // tell the cloud at once, not at the next interval
  }
  d.cv.notify_all();
  link.join();
  if (feeder_thread.joinable()) feeder_thread.join();
  if (spool_thread.joinable()) spool_thread.join();
  spdlog::info("stopped");
  return absl::OkStatus();
}

v1::EdgeStatus EdgeDaemon::Status() const {
  const Impl& d = *impl_;
  v1::EdgeStatus s;
  std::lock_guard<std::mutex> lock(d.mu);
  s.set_edge_id(d.config.edge.id);
  s.set_state(d.state);
  s.set_window_id(d.window_id);
  s.set_progress(d.progress);
  if (!d.window_id.empty()) {
    s.set_eta_seconds(std::max(0.0, std::chrono::duration<double>(d.window_end - std::chrono::steady_clock::now()).count()));
  }
  s.set_memory_budget_bytes(d.config.edge.memory_budget);
  s.set_peak_memory_bytes(d.peak_bytes);
  s.set_serving_version(d.serving_version);
  s.set_cloud_connected(d.connected);
  s.set_unsent_updates(static_cast<uint32_t>(d.OutboxSize()));
  s.set_buffered_samples(static_cast<int64_t>(d.buffer->size()));
  s.set_next_window(d.config.retrain.schedule.empty() ? "on request (bt-edge retrain --now)"
                                                      : absl::StrJoin(d.config.retrain.schedule, "; ") + " " +
                                                            d.config.retrain.time_zone);
  for (const auto& r : d.recent) *s.add_recent() = r;
  return s;
}

bool EdgeDaemon::RequestWindow(std::string* reason) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->window_id.empty()) {
    *reason = "window " + impl_->window_id + " is running";
    return false;
  }
  if (impl_->window_requested) {
    *reason = "a window is already queued";
    return false;
  }
  impl_->window_requested = true;
  impl_->cv.notify_all();
  *reason = "window requested";
  return true;
}

// ---- CLI helpers ----------------------------------------------------------------------------------------------------

namespace {
std::unique_ptr<v1::EdgeAdmin::Stub> AdminStub(const EdgeConfig& config, const std::string& address) {
  return v1::EdgeAdmin::NewStub(grpc::CreateChannel(address.empty() ? config.edge.admin_listen : address,
                                                    grpc::InsecureChannelCredentials()));
}
}  // namespace

absl::StatusOr<v1::EdgeStatus> QueryEdgeStatus(const EdgeConfig& config, const std::string& address) {
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::EdgeStatus s;
  RETURN_IF_ERROR(FromGrpcStatus(stub->GetEdgeStatus(&context, v1::GetEdgeStatusRequest(), &s),
                                 absl::StrCat("bt-edge admin at ", address.empty() ? config.edge.admin_listen : address)));
  return s;
}

absl::Status PrintEdgeStatus(const EdgeConfig& config, const std::string& address, bool json) {
  ASSIGN_OR_RETURN(const v1::EdgeStatus s, QueryEdgeStatus(config, address));
  if (json) {
    nlohmann::ordered_json out = {{"edge_id", s.edge_id()},
                                  {"state", s.state()},
                                  {"window_id", s.window_id()},
                                  {"progress", s.progress()},
                                  {"eta_seconds", s.eta_seconds()},
                                  {"memory_budget_bytes", s.memory_budget_bytes()},
                                  {"peak_memory_bytes", s.peak_memory_bytes()},
                                  {"serving_version", s.serving_version()},
                                  {"cloud_connected", s.cloud_connected()},
                                  {"unsent_updates", s.unsent_updates()},
                                  {"buffered_samples", s.buffered_samples()},
                                  {"next_window", s.next_window()},
                                  {"recent", nlohmann::ordered_json::array()}};
    for (const auto& r : s.recent()) {
      out["recent"].push_back(WindowResultJson(r));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("edge %s: %s%s, cloud %s, serving version %llu\n", s.edge_id().c_str(), s.state().c_str(),
              s.window_id().empty() ? ""
                                    : absl::StrFormat(" (window %s, %.0f%%, ETA %s)", s.window_id(), 100 * s.progress(),
                                                      FormatDuration(std::chrono::seconds(
                                                          static_cast<int64_t>(s.eta_seconds()))))
                                          .c_str(),
              s.cloud_connected() ? "connected" : "DISCONNECTED", static_cast<unsigned long long>(s.serving_version()));
  std::printf("memory budget %s (peak so far %s), %lld buffered samples, %u unsent update(s)\nwindows: %s\n\n",
              FormatBytes(s.memory_budget_bytes()).c_str(),
              FormatBytes(static_cast<uint64_t>(s.peak_memory_bytes())).c_str(),
              static_cast<long long>(s.buffered_samples()), s.unsent_updates(), s.next_window().c_str());
  if (s.recent_size() == 0) return absl::OkStatus();
  std::printf("%-16s %-12s %8s %8s %9s %10s %10s %8s  %s\n", "window", "domain", "before", "after", "predicted",
              "peak mem", "pred. mem", "version", "outcome / plan");
  for (const auto& r : s.recent()) {
    std::printf("%-16s %-12s %7.1f%% %7.1f%% %8.1f%% %10s %10s %8llu  %s: %s\n", r.window_id().c_str(),
                r.domain_hint().c_str(), 100 * r.accuracy_before(), 100 * r.accuracy_after(),
                100 * r.predicted_accuracy(), FormatBytes(static_cast<uint64_t>(r.peak_memory_bytes())).c_str(),
                FormatBytes(r.predicted_memory_bytes()).c_str(), static_cast<unsigned long long>(r.version()),
                r.outcome().c_str(), r.plan().c_str());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> StartWindowNow(const EdgeConfig& config, const std::string& address) {
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::RetrainNowResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub->RetrainNow(&context, v1::RetrainNowRequest(), &response), "bt-edge admin"));
  if (!response.started()) return absl::FailedPreconditionError(response.message());
  return response.message();
}

absl::Status RequestRetrainNow(const EdgeConfig& config, const std::string& address) {
  ASSIGN_OR_RETURN(std::string message, StartWindowNow(config, address));
  std::printf("%s\n", message.c_str());
  return absl::OkStatus();
}

}  // namespace bt
