// ~450 lines: the wiring of the edge's parts (each in its own file, see daemon.h) and the glue they need from each
// other — the cloud link's register/heartbeat calls and a window's feed → RunWindow → deploy → push sequence.
#include "edge/daemon.h"

#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include <filesystem>
#include <limits>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/model/block_model.h"
#include "common/train/feature_stats.h"
#include "common/base/file_util.h"
#include "common/format/model_arch.h"
#include "common/format/safetensors.h"
#include "common/text/tokenizer.h"
#include "common/config/scenario.h"
#include "common/model/tensor_convert.h"
#include "common/base/units.h"
#include "common/plan/window_plan.h"
#include "edge/admin_service.h"
#include "edge/cloud_client.h"
#include "edge/cloud_link.h"
#include "edge/model_input.h"
#include "edge/outbox.h"
#include "edge/window/plan_source.h"
#include "edge/intake/sample_buffer.h"
#include "edge/intake/sample_intake.h"
#include "edge/intake/scenario_feeder.h"
#include "edge/serving_state.h"
#include "edge/status_board.h"
#include "edge/window/start_choice.h"
#include "edge/window/version_zoo.h"
#include "edge/window/window_runner.h"
#include "edge/window_schedule.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace v1 = blocktrainer::v1;

namespace {

std::string Hardware() {
  utsname u{};
  uname(&u);
  return absl::StrFormat("%s %s, %u cores", u.sysname, u.machine, std::thread::hardware_concurrency());
}

}  // namespace

// The daemon's parts (each thread-safe on its own) and the window loop that wires them together. Threads: the
// caller's (Run: windows, one at a time), the cloud link's, the sample intake's, gRPC's (admin calls).
struct EdgeDaemon::Impl {
  EdgeConfig config;
  std::unique_ptr<CloudClient> client;
  std::unique_ptr<SampleBuffer> buffer;
  // The simulated camera, if configured: an image scenario's from the start, a text scenario's once the model's
  // tokenizer is known (Feeder()). Used by one thread only: the intake's (advance: stream) or the window's.
  std::optional<Scenario> scenario;
  std::unique_ptr<ScenarioFeeder> feeder;
  BlockStore store;
  ServingState serving;
  Outbox outbox;
  StatusBoard board;
  std::unique_ptr<WindowSchedule> schedule;
  std::unique_ptr<SampleIntake> intake;
  std::unique_ptr<CloudLink> link;
  std::unique_ptr<EdgeAdminServer> admin;

  // Written by the link thread on registration, read by windows.
  Mutex mu;
  std::shared_ptr<const SourceStats> source ABSL_GUARDED_BY(mu);
  ModelInput input;  // what the served model reads (images, or text and its tokenizer)

  // The versions a window may start from (<data_dir>/zoo.json): the link thread records adopted versions and
  // delivered updates, the window thread reads it and records deployed ones.
  Mutex zoo_mu;
  VersionZoo zoo ABSL_GUARDED_BY(zoo_mu);

  // Window thread only.
  size_t next_domain = 0;        // simulator.advance: per_window — the next domain the camera delivers
  uint64_t windows_started = 0;  // since the daemon started: window n uses retrain.seed + n

  explicit Impl(const EdgeConfig& c)
      : config(c),
        store(c.edge.data_dir + "/blocks"),
        serving(c.edge.data_dir + "/serving.json", &store),
        outbox(c.edge.data_dir + "/outbox", &store),
        board(c.edge.data_dir + "/results.jsonl"),
        input(c.edge.data_dir + "/tokenizer.model") {}

  std::string SimulatorPath() const { return config.edge.data_dir + "/simulator.json"; }

  // The simulated camera (see `feeder`); FAILED_PRECONDITION while a text scenario waits for the tokenizer.
  absl::StatusOr<ScenarioFeeder*> Feeder() {
    if (feeder) return feeder.get();
    if (!scenario) return absl::FailedPreconditionError("no simulator configured");
    std::shared_ptr<const Tokenizer> t = input.tokenizer();
    if (t == nullptr) {
      return absl::FailedPreconditionError("the text simulator waits for the model's tokenizer (from bt-cloud)");
    }
    ASSIGN_OR_RETURN(feeder, ScenarioFeeder::CreateText(*scenario, *t, buffer.get(), config.simulator.rate));
    return feeder.get();
  }

  // ---- the cloud link's calls ----------------------------------------------------------------------------------
  absl::Status Register() {
    v1::RegisterRequest request;
    request.set_edge_id(config.edge.id);
    request.set_hardware(Hardware());
    request.set_memory_budget_bytes(config.edge.memory_budget);
    for (const std::string& w : config.retrain.schedule) request.add_windows(w + " " + config.retrain.time_zone);
    request.set_client_version(BT_VERSION);
    ASSIGN_OR_RETURN(v1::RegisterResponse response, client->Register(request));
    const Metadata architecture(response.architecture().begin(), response.architecture().end());
    // A model whose input the edge cannot take (a decoder served without its tokenizer) still registers and
    // serves; only the intake of new samples waits.
    if (absl::Status learned = input.Learn(architecture, response.tokenizer(), /*keep_copy=*/true); !learned.ok()) {
      spdlog::error("the model bt-cloud serves: {}; new samples wait until it serves one this edge can read",
                    std::string(learned.message()));
      input.Forget();
    }
    serving.SetArchitecture(architecture);
    if (!response.source_stats().empty()) {
      auto stats = SourceStats::FromJson(response.source_stats(), "source statistics from bt-cloud");
      if (stats.ok()) {
        MutexLock lock(&mu);
        source = std::make_shared<const SourceStats>(std::move(*stats));
      }
    }
    const uint64_t before_flush = serving.version();
    RETURN_IF_ERROR(FlushOutbox());
    // What we just delivered is the branch head now.
    const uint64_t head_version = serving.version() != before_flush ? serving.version() : response.version();
    // Adopt the branch head (a rollback, or a first start) unless a local update still waits to be accepted.
    if (!serving.has_model() || (serving.version() != head_version && outbox.size() == 0)) {
      BlockDigests head;
      std::vector<std::string> digests;
      for (const auto& b : response.manifest().blocks()) {
        head.emplace_back(b.name(), b.digest());
        digests.push_back(b.digest());
      }
      if (board.running_window().empty()) board.SetState(EdgeState::kPulling);
      ASSIGN_OR_RETURN(TransferStats pulled, client->PullBlocks(digests, store));
      RETURN_IF_ERROR(serving.Adopt(head, response.version()));
      RecordAdopted(head, response.version());
      spdlog::info("serving version {} of the branch ({} blocks pulled, {})", response.version(), pulled.blocks,
                   FormatBytes(pulled.bytes));
    }
    if (board.running_window().empty()) board.SetState(EdgeState::kIdle);
    spdlog::info("registered with bt-cloud at {} as '{}' (branch version {}, serving {})", config.edge.cloud,
                 config.edge.id, head_version, serving.version());
    return absl::OkStatus();
  }

  absl::Status Heartbeat() {
    v1::HeartbeatRequest h;
    v1::EdgeStatus s;
    board.Fill(&s);
    h.set_edge_id(config.edge.id);
    h.set_state(s.state());
    h.set_window_id(s.window_id());
    h.set_progress(s.progress());
    h.set_unsent_updates(static_cast<uint32_t>(outbox.size()));
    h.set_serving_version(serving.version());
    ASSIGN_OR_RETURN(v1::HeartbeatResponse response, client->Heartbeat(h));
    // The branch moved without us (a rollback): register again, which adopts the head, unless a window or an
    // unsent update is in flight (their push decides).
    if (response.branch_version() != serving.version() && board.running_window().empty() && outbox.size() == 0) {
      spdlog::info("the branch head is version {} (serving {}): adopting it", response.branch_version(),
                   serving.version());
      link->Reconnect();
    }
    return absl::OkStatus();
  }

  // An adopted version enters the zoo once (without a drift signature: only the foundation is a start by itself).
  void RecordAdopted(const BlockDigests& blocks, uint64_t version) {
    MutexLock lock(&zoo_mu);
    for (const ZooVersion& v : zoo.versions()) {
      if (v.confirmed && v.version == version && v.blocks == blocks) return;
    }
    ZooVersion v;
    v.version = version;
    v.parent = version;
    v.window_id = "adopted";
    v.blocks = blocks;
    absl::Status saved = zoo.Add(std::move(v));
    if (!saved.ok()) spdlog::warn("version zoo: {}", std::string(saved.message()));
  }

  // Delivers the outbox; each accepted update moves the serving version.
  absl::Status FlushOutbox() {
    auto push = [this](const v1::PushHeader& header, const std::vector<CloudClient::OutgoingBlock>& blocks,
                       TransferStats* stats) { return client->PushUpdate(header, blocks, stats); };
    return outbox.Flush(push, [this](const Delivered& d) {
      absl::Status saved = serving.SetVersion(d.version);
      if (!saved.ok()) spdlog::error("serving state: {}", std::string(saved.message()));
      {
        MutexLock lock(&zoo_mu);
        absl::Status confirmed = zoo.Confirm(d.entry.window_id, d.version);
        if (!confirmed.ok() && !absl::IsNotFound(confirmed)) {
          spdlog::warn("version zoo: {}", std::string(confirmed.message()));
        }
      }
      board.UpdateResult(d.entry.window_id, [&](v1::WindowResult* r) {
        r->set_version(d.version);
        r->set_bytes_up(d.up.bytes);
      });
      spdlog::info("update of window '{}' accepted: branch version {} ({} up in {:.2f} s)", d.entry.window_id,
                   d.version, FormatBytes(d.up.bytes), d.up.seconds);
    });
  }

  // ---- a window --------------------------------------------------------------------------------------------------
  // One window, end to end. Failures end the window with the reason recorded; the serving model is untouched.
  absl::Status RunWindow(const WindowSchedule::Opening& opening, const CancelToken* cancel) {
    const std::string& id = opening.id;
    const auto start = std::chrono::steady_clock::now();
    board.BeginWindow(id, opening.length);
    // The simulated camera's per-window mode: the next domain arrives now.
    if (scenario && config.simulator.advance == "per_window") {
      ASSIGN_OR_RETURN(ScenarioFeeder* feeder, Feeder());
      if (next_domain < feeder->num_domains()) {
        const std::string domain = feeder->domain_name(next_domain);
        ASSIGN_OR_RETURN(FeedResult fed, feeder->FeedDomain(next_domain, cancel));
        ++next_domain;
        RETURN_IF_ERROR(WriteFileAtomically(SimulatorPath(), nlohmann::json({{"next_domain", next_domain}}).dump()));
        board.UpdateResult(id, [&](v1::WindowResult* r) { r->set_domain_hint(domain); });
        spdlog::info("window {}: the simulated camera delivered {} samples of domain '{}' ({} labeled)", id,
                     fed.samples, domain, fed.labeled);
      } else {
        spdlog::info("window {}: the scenario has no more domains; retraining on the buffer as it is", id);
      }
    }
    ASSIGN_OR_RETURN(ServingState::Snapshot base, serving.CopyForWindow());
    // The samples the model can read: of the newest one's kind and shape, token ids inside the vocabulary.
    const ModelArch arch = base.model->arch();
    const LlamaConfig* decoder = arch.llama();
    size_t dropped = 0;
    const std::vector<Sample> recent_samples =
        WindowableSamples(buffer->Recent(static_cast<size_t>(config.retrain.samples)),
                          decoder != nullptr ? decoder->vocab_size : std::numeric_limits<int64_t>::max(), &dropped);
    if (dropped > 0) {
      spdlog::warn("window {}: {} buffered samples left out (another kind or shape than the newest, or token ids "
                   "outside the vocabulary)", id, dropped);
    }
    if (recent_samples.size() < kMinWindowSamples) {
      return absl::FailedPreconditionError(absl::StrCat("only ", recent_samples.size(), " usable samples in the buffer"));
    }
    if (recent_samples.back().text() != (decoder != nullptr)) {
      return absl::FailedPreconditionError(absl::StrCat("the buffered samples are ",
                                                        decoder != nullptr ? "images" : "text",
                                                        " but the served model reads ",
                                                        decoder != nullptr ? "text" : "images"));
    }
    const ImageDataset stream = FromSamples(recent_samples);
    const WindowSamples samples = SplitWindowSamples(stream, LabeledMask(recent_samples));

    std::shared_ptr<const SourceStats> source_stats;
    {
      MutexLock lock(&mu);
      source_stats = source;
    }
    WindowInput input;
    input.id = id;
    input.model = std::move(base.model);
    input.samples = &samples;
    input.source = source_stats.get();
    input.budget.memory_budget = config.edge.memory_budget;
    input.budget.window = opening.length;
    input.budget.probe_share = config.retrain.probe_share;
    input.budget.batch = config.retrain.batch;
    input.budget.probe_runs = static_cast<int>(config.retrain.probe_runs);
    input.budget.race_iterations = config.retrain.race_iterations;
    input.seed = static_cast<uint64_t>(config.retrain.seed) + windows_started++;
    input.base_version = base.version;
    input.opened = start;
    // Where the window may start besides the deployed version: the foundation and the stored versions whose drift
    // signature is nearest this window's (built from the local block store when scored).
    const std::vector<double> signature = DriftSignature(samples.all.images);
    std::map<uint64_t, BlockDigests> start_blocks = {{base.version, base.blocks}};
    if (config.retrain.start_candidates > 0) {
      std::vector<ZooVersion> versions;
      {
        MutexLock lock(&zoo_mu);
        versions = zoo.versions();
      }
      input.starts = StartCandidates(
          versions, base.version, signature, [this](const ZooVersion& v) { return serving.BuildModel(v.blocks); },
          static_cast<int>(config.retrain.start_candidates));
      for (const ZooVersion& v : versions) {
        if (v.confirmed && v.version != base.version) start_blocks.emplace(v.version, v.blocks);
      }
    }

    // The cloud plans (it fits this edge's law and solves the selection) and serves the blocks.
    RemotePlanSource::Transport transport;
    transport.report_probes = [this](const v1::ReportProbesRequest& request) {
      auto planned = client->ReportProbes(request);
      if (absl::IsFailedPrecondition(planned.status())) link->Reconnect();  // the branch moved (a rollback)
      if (absl::IsInvalidArgument(planned.status()) && request.base_version() != request.serving_version()) {
        // The start the window chose is no longer on the cloud (pruned): never offer it again.
        MutexLock lock(&zoo_mu);
        absl::Status forgotten = zoo.Forget(request.base_version());
        if (!forgotten.ok()) spdlog::warn("version zoo: {}", std::string(forgotten.message()));
        spdlog::warn("version {} is gone from the cloud; the zoo forgets it", request.base_version());
      }
      return planned;
    };
    transport.pull_blocks = [this](const std::vector<std::string>& digests) -> absl::StatusOr<uint64_t> {
      ASSIGN_OR_RETURN(TransferStats down, client->PullBlocks(digests, store));
      return down.bytes;
    };
    RemotePlanSource cloud(config.edge.id, config.retrain.batch, std::move(transport));
    WindowHooks hooks;
    hooks.on_state = [this](WindowStage stage, double p) {
      switch (stage) {
        case WindowStage::kProbing: return board.SetState(EdgeState::kProbing, p);
        case WindowStage::kPlanning: return board.SetState(EdgeState::kPlanning, p);
        case WindowStage::kPulling: return board.SetState(EdgeState::kPulling, p);
        case WindowStage::kRacing: return board.SetState(EdgeState::kRacing, p);
        case WindowStage::kTraining: return board.SetState(EdgeState::kTraining, p);
      }
    };
    hooks.on_planned = [&](const WindowOutcome& o) {
      const Plan& plan = o.planned.plan;
      board.UpdateResult(id, [&](v1::WindowResult* r) {
        r->set_plan(o.plan_text);
        r->set_predicted_accuracy(plan.predicted_accuracy);
        r->set_predicted_memory_bytes(plan.memory_bytes);
      });
      spdlog::info("window {}: plan {} — {} for {} iterations, predicted {:.1f}%, {} ({})", id, o.planned.plan_id,
                   o.plan_text, plan.iterations, 100 * plan.predicted_accuracy, FormatBytes(plan.memory_bytes),
                   plan.note);
    };
    ASSIGN_OR_RETURN(WindowOutcome result, bt::RunWindow(std::move(input), cloud, cancel, hooks));
    board.NotePeak(result.peak_bytes);
    if (!result.start_text.empty()) spdlog::info("window {}: {}", id, result.start_text);
    if (result.start_version != base.version) {
      result.plan_text = absl::StrCat("from v", result.start_version, ": ", result.plan_text);
    }
    if (!result.race_text.empty()) spdlog::info("window {}: {}", id, result.race_text);
    board.UpdateResult(id, [&](v1::WindowResult* r) {
      r->set_bytes_down(result.bytes_down);
      r->set_plan(result.plan_text);  // the race's winner when the window raced
      r->set_predicted_accuracy(result.planned.plan.predicted_accuracy);
      r->set_predicted_memory_bytes(result.planned.plan.memory_bytes);
      if (result.retrained) {
        r->set_accuracy_before(result.accuracy_before);
        r->set_accuracy_after(result.accuracy_after);
        r->set_peak_memory_bytes(result.peak_bytes);
        r->set_train_seconds(result.train_seconds);
        r->set_iterations(result.iterations);
      }
      if (!result.deployed) r->set_outcome(result.outcome);
    });
    if (!result.deployed) return absl::OkStatus();

    // Deploy locally, then queue and push the update.
    board.SetState(EdgeState::kPushing, 0.95);
    OutboxEntry entry;
    entry.window_id = id;
    entry.plan_id = result.planned.plan_id;
    entry.base_version = result.start_version;
    entry.accuracy_before = result.accuracy_before;
    entry.accuracy_after = result.accuracy_after;
    entry.iterations = result.iterations;
    entry.peak_memory_bytes = result.peak_bytes;
    entry.train_seconds = result.train_seconds;
    BlockDigests next = start_blocks.at(result.start_version);
    RETURN_IF_ERROR(StoreTrainedBlocks(result.trained, store, &next, &entry));
    RETURN_IF_ERROR(outbox.Add(entry));
    RETURN_IF_ERROR(serving.Deploy(std::move(result.model), next));
    {
      ZooVersion pending;
      pending.parent = result.start_version;
      pending.window_id = id;
      pending.confirmed = false;
      pending.signature = signature;
      pending.blocks = next;
      MutexLock lock(&zoo_mu);
      absl::Status saved = zoo.Add(std::move(pending));
      if (!saved.ok()) spdlog::warn("version zoo: {}", std::string(saved.message()));
    }
    board.UpdateResult(id, [&](v1::WindowResult* r) { r->set_outcome("deployed"); });
    absl::Status pushed = FlushOutbox();
    if (!pushed.ok()) {
      spdlog::warn("window {}: the update stays in the outbox until the cloud is back: {}", id,
                   std::string(pushed.message()));
    }
    return absl::OkStatus();
  }

  // Waits up to 60 s for the cloud link and a model to serve; false when cancelled or still not there.
  bool ReadyForWindow(const CancelToken* cancel) {
    for (int i = 0; i < 60 && !cancel->cancelled(); ++i) {
      if (link->WaitConnected(std::chrono::seconds(1)) && serving.has_model()) return true;
    }
    return false;
  }
};

EdgeDaemon::EdgeDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EdgeDaemon::~EdgeDaemon() { Shutdown(); }

void EdgeDaemon::Shutdown() {
  // In order: no new samples, no more cloud traffic, then the admin endpoint (status works until the end).
  if (impl_->intake) impl_->intake->Stop();
  if (impl_->link) impl_->link->Stop();
  if (impl_->admin) impl_->admin->Stop();
}

int EdgeDaemon::admin_port() const { return impl_->admin ? impl_->admin->port() : 0; }

absl::StatusOr<std::unique_ptr<EdgeDaemon>> EdgeDaemon::Create(const EdgeConfig& config) {
  auto impl = std::make_unique<Impl>(config);
  Impl& d = *impl;
  std::error_code ec;
  std::filesystem::create_directories(config.edge.data_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(config.edge.data_dir, ": ", std::string(ec.message())));
  auto token = ReadFileToString(config.TokenPath());
  if (!token.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no token at ", config.TokenPath(), " (edge.token_file): create one on the cloud with `bt-cloud add-edge --edge ",
        config.edge.id, " --token-out FILE` and copy it there"));
  }
  ClientSecurity security{config.tls.ca, config.tls.cert, config.tls.key, config.tls.server_name};
  ASSIGN_OR_RETURN(auto channel, MakeCloudChannel(config.edge.cloud, security));
  d.client = std::make_unique<CloudClient>(channel, config.edge.id, std::string(absl::StripAsciiWhitespace(*token)));
  SampleBufferOptions buffer_options;
  buffer_options.path = config.BufferPath();
  buffer_options.max_samples = config.buffer.max_samples;
  buffer_options.max_bytes = config.buffer.max_bytes;
  buffer_options.sync_every = config.buffer.sync_every;
  ASSIGN_OR_RETURN(d.buffer, SampleBuffer::Open(buffer_options));
  if (!config.simulator.scenario.empty()) {
    ASSIGN_OR_RETURN(d.scenario, LoadScenario(config.simulator.scenario));
    if (!d.scenario->text()) {
      ASSIGN_OR_RETURN(ImageDataset source, LoadFashionMnist(config.simulator.dataset_dir, "test"));
      ASSIGN_OR_RETURN(d.feeder, ScenarioFeeder::Create(*d.scenario, source, d.buffer.get(), config.simulator.rate));
    }
    if (auto text = ReadFileToString(d.SimulatorPath()); text.ok()) {
      const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_object() && j.contains("next_domain") && j["next_domain"].is_number_unsigned()) {
        d.next_domain = j["next_domain"].get<size_t>();
      }
    }
  }
  RETURN_IF_ERROR(Annotate(d.store.MigrateFlatLayout(), "edge block store"));
  RETURN_IF_ERROR(Annotate(d.serving.Load(), "serving state"));
  if (const Metadata architecture = d.serving.architecture(); !architecture.empty()) {
    // What the model served before the restart reads, until the cloud says again.
    absl::Status learned = d.input.LearnFromKeptCopy(architecture);
    if (!learned.ok()) spdlog::warn("the served model's input: {} (waiting for bt-cloud)", std::string(learned.message()));
  }
  {
    auto zoo = VersionZoo::Load(config.edge.data_dir + "/zoo.json");
    if (!zoo.ok()) return Annotate(zoo.status(), "version zoo");
    MutexLock lock(&d.zoo_mu);
    d.zoo = std::move(*zoo);
  }
  ASSIGN_OR_RETURN(d.schedule, WindowSchedule::Create(config.retrain.schedule, config.retrain.time_zone,
                                                      config.retrain.window));

  // Background sample sources.
  SampleIntake::Stream stream;
  if (d.scenario && config.simulator.advance == "stream") {
    stream = [&d](const CancelToken* cancel) -> absl::Status {
      while (!cancel->cancelled()) {
        auto feeder = d.Feeder();
        if (feeder.ok()) return (*feeder)->Run(cancel).status();
        if (!absl::IsFailedPrecondition(feeder.status())) return feeder.status();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a text scenario waits for the tokenizer
      }
      return absl::OkStatus();
    };
  }
  std::unique_ptr<Spool> spool;
  if (!config.spool.dir.empty()) {
    SpoolOptions options;
    options.dir = config.spool.dir;
    options.input = [&d] { return d.input.ForSpool(d.config.spool.sequence); };
    auto created = Spool::Create(options, d.buffer.get());
    if (!created.ok()) return Annotate(created.status(), "spool.dir");
    spool = std::move(*created);
  }
  d.intake = std::make_unique<SampleIntake>(std::move(stream), std::move(spool), config.spool.poll_interval,
                                            d.buffer.get());

  CloudLink::Calls calls;
  calls.on_register = [&d] { return d.Register(); };
  calls.heartbeat = [&d] { return d.Heartbeat(); };
  calls.on_disconnected = [&d] {
    if (d.board.running_window().empty()) d.board.SetState(EdgeState::kDisconnected);
  };
  CloudLink::Timing timing;
  timing.heartbeat_interval = config.edge.heartbeat_interval;
  d.link = std::make_unique<CloudLink>(std::move(calls), timing);

  std::unique_ptr<EdgeDaemon> daemon(new EdgeDaemon(std::move(impl)));
  if (!config.edge.admin_listen.empty()) {
    EdgeAdminServer::Calls admin;
    EdgeDaemon* self = daemon.get();
    admin.status = [self] { return self->Status(); };
    admin.retrain_now = [self](std::string* reason) { return self->RequestWindow(reason); };
    ASSIGN_OR_RETURN(daemon->impl_->admin, EdgeAdminServer::Start(config.edge.admin_listen, std::move(admin)));
  }
  return daemon;
}

absl::Status EdgeDaemon::Run(const CancelToken* cancel) {
  Impl& d = *impl_;
  spdlog::info("bt-edge {} '{}': cloud {} ({}), admin on port {}, state in {}, memory budget {}", BT_VERSION,
               d.config.edge.id, d.config.edge.cloud,
               d.config.tls.ca.empty() ? "PLAINTEXT (loopback only)" : "TLS", admin_port(), d.config.edge.data_dir,
               FormatBytes(d.config.edge.memory_budget));
  d.intake->Start();
  d.link->Start();
  // Windows, one at a time, until cancelled.
  while (!cancel->cancelled()) {
    std::optional<WindowSchedule::Opening> opening = d.schedule->Next(cancel);
    if (!opening) break;
    if (!d.ReadyForWindow(cancel)) {
      if (!cancel->cancelled()) spdlog::warn("window {} skipped: not connected to bt-cloud", opening->id);
      continue;
    }
    spdlog::info("window {} opens ({})", opening->id, FormatDuration(opening->length));
    absl::Status s;
    try {
      s = d.RunWindow(*opening, cancel);
    } catch (const std::exception& e) {
      s = absl::InternalError(e.what());
    }
    if (!s.ok()) {
      spdlog::error("window {} failed: {}", opening->id, std::string(s.message()));
      d.board.UpdateResult(opening->id,
                           [&](v1::WindowResult* r) { r->set_outcome(absl::StrCat("failed: ", s.message())); });
    }
    absl::Status logged = d.board.EndWindow(d.link->connected() ? EdgeState::kIdle : EdgeState::kDisconnected);
    if (!logged.ok()) spdlog::error("results.jsonl: {}", std::string(logged.message()));
    spdlog::info("window {} closed", opening->id);
    d.link->HeartbeatNow();  // tell the cloud at once, not at the next interval
  }
  spdlog::info("stopping");
  Shutdown();
  spdlog::info("stopped");
  return absl::OkStatus();
}

v1::EdgeStatus EdgeDaemon::Status() const {
  const Impl& d = *impl_;
  v1::EdgeStatus s;
  s.set_edge_id(d.config.edge.id);
  d.board.Fill(&s);
  s.set_memory_budget_bytes(d.config.edge.memory_budget);
  s.set_serving_version(d.serving.version());
  s.set_cloud_connected(d.link->connected());
  s.set_unsent_updates(static_cast<uint32_t>(d.outbox.size()));
  s.set_buffered_samples(static_cast<int64_t>(d.buffer->size()));
  s.set_next_window(d.schedule->Describe());
  return s;
}

bool EdgeDaemon::RequestWindow(std::string* reason) {
  const std::string running = impl_->board.running_window();
  if (!running.empty()) {
    *reason = "window " + running + " is running";
    return false;
  }
  return impl_->schedule->Request(reason);
}

}  // namespace bt
