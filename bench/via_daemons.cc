#include "bench/via_daemons.h"

#include "edge/admin_service.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_join.h"
#include "common/config/config.h"
#include "common/base/file_util.h"
#include "common/base/units.h"
#include "edge/daemon.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace bt {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The last lines of a log, for error messages.
std::string Tail(const std::string& path, size_t lines = 8) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  const size_t from = all.size() > lines ? all.size() - lines : 0;
  std::string out;
  for (size_t i = from; i < all.size(); ++i) absl::StrAppend(&out, "\n  | ", all[i]);
  return out;
}

// A child process with stdout and stderr appended to a log file. The destructor stops it (SIGTERM, then SIGKILL).
class Child {
 public:
  static absl::StatusOr<std::unique_ptr<Child>> Spawn(const std::vector<std::string>& args, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", args[0], ": ", std::strerror(rc)));
    return std::unique_ptr<Child>(new Child(pid, args[0], log));
  }
  ~Child() { Stop(std::chrono::seconds(10)).IgnoreError(); }

  // False once the process has exited (its exit status is then kept).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      Reap(status);
      return false;
    }
    return true;
  }
  // Waits for the process to exit by itself; error unless it exits with status 0.
  absl::Status Wait() {
    if (pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, 0) == pid_) Reap(status);
    }
    return Result();
  }
  // SIGTERM, up to `grace` for a clean exit, then SIGKILL; error unless the exit was clean.
  absl::Status Stop(std::chrono::seconds grace) {
    if (pid_ <= 0) return Result();
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (Running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Running()) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      Reap(status);
      return absl::DeadlineExceededError(absl::StrCat(name_, " did not stop within ", grace.count(), " s (killed)"));
    }
    return Result();
  }
  const std::string& log() const { return log_; }

 private:
  Child(pid_t pid, std::string name, std::string log) : pid_(pid), name_(std::move(name)), log_(std::move(log)) {}
  void Reap(int status) {
    pid_ = 0;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  absl::Status Result() const {
    if (exit_code_ == 0) return absl::OkStatus();
    return absl::InternalError(absl::StrCat(fs::path(name_).filename().string(), " exited with status ", exit_code_,
                                            "; ", log_, ":", Tail(log_)));
  }
  pid_t pid_;
  int exit_code_ = 0;
  std::string name_, log_;
};

// A TCP port on the loopback interface that is free now (the kernel's choice).
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) return absl::InternalError("cannot find a free loopback port");
  return static_cast<int>(ntohs(addr.sin_port));
}

std::vector<nlohmann::json> ReadResults(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// YAML scalars are written double-quoted with JSON escaping (a subset of YAML's double-quoted style).
std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

absl::StatusOr<std::vector<DaemonWindowResult>> RunThroughDaemons(const DaemonRunOptions& o,
                                                                  const WindowEvaluator& evaluate,
                                                                  const CancelToken* cancel) {
  std::error_code ec;
  const std::string bin = o.bin_dir.empty() ? fs::read_symlink("/proc/self/exe", ec).parent_path().string() : o.bin_dir;
  const std::string cloud_bin = bin + "/bt-cloud", edge_bin = bin + "/bt-edge";
  for (const std::string& b : {cloud_bin, edge_bin}) {
    if (access(b.c_str(), X_OK) != 0) return absl::NotFoundError(absl::StrCat(b, " not found (build it first)"));
  }
  const std::string work = fs::absolute(o.work_dir).string();
  fs::remove_all(work + "/cloud", ec);
  fs::remove_all(work + "/edge", ec);
  fs::create_directories(work + "/edge", ec);
  if (ec) return absl::InternalError(absl::StrCat(work, ": ", ec.message()));
  for (const auto& entry : fs::directory_iterator(work, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".log" || entry.path().extension() == ".safetensors" ||
        name.rfind("version-", 0) == 0) {
      fs::remove_all(entry.path(), ec);
    }
  }

  ASSIGN_OR_RETURN(int cloud_port, FreePort());
  ASSIGN_OR_RETURN(int admin_port, FreePort());
  ASSIGN_OR_RETURN(int edge_port, FreePort());
  const std::string cloud_address = absl::StrCat("127.0.0.1:", cloud_port);
  const std::string cloud_yaml = work + "/cloud.yaml", edge_yaml = work + "/edge.yaml";
  RETURN_IF_ERROR(WriteFileAtomically(
      cloud_yaml, absl::StrCat("# written by bt-bench --via-daemons\ncloud:\n  data_dir: ", Quote(work + "/cloud"),
                               "\n  listen: ", Quote(cloud_address), "\n  admin_listen: ",
                               Quote(absl::StrCat("127.0.0.1:", admin_port)), "\nmodel:\n  path: ",
                               Quote(fs::absolute(o.model_path).string()), "\npretrain:\n  dataset_dir: ",
                               Quote(o.dataset_dir), "\n")));
  RETURN_IF_ERROR(WriteFileAtomically(
      edge_yaml,
      absl::StrCat("# written by bt-bench --via-daemons\nedge:\n  id: bench-edge\n  cloud: ", Quote(cloud_address),
                   "\n  data_dir: ", Quote(work + "/edge"), "\n  memory_budget: ", o.memory_budget,
                   "\n  admin_listen: ", Quote(absl::StrCat("127.0.0.1:", edge_port)),
                   "\n  heartbeat_interval: 2s\nretrain:\n  window: ",
                   Quote(absl::StrCat(std::chrono::duration_cast<std::chrono::seconds>(o.window).count(), "s")),
                   "\n  seed: ", o.seed, "\n  samples: ", o.samples, "\n  probe_runs: ", o.probe_runs,
                   "\n  race_iterations: ", o.race_iterations, "\nsimulator:\n  scenario: ", Quote(fs::absolute(o.scenario_path).string()),
                   "\n  rate: 0\n  dataset_dir: ", Quote(o.dataset_dir), "\n  advance: per_window\n")));
  ASSIGN_OR_RETURN(EdgeConfig edge_config, LoadEdgeConfig(edge_yaml));

  const std::string cloud_log = work + "/bt-cloud.log", edge_log = work + "/bt-edge.log";
  {
    ASSIGN_OR_RETURN(auto add, Child::Spawn({cloud_bin, "--config", cloud_yaml, "add-edge", "--edge", "bench-edge",
                                            "--token-out", work + "/edge/token"},
                                           cloud_log));
    RETURN_IF_ERROR(Annotate(add->Wait(), "bt-cloud add-edge"));
  }
  ASSIGN_OR_RETURN(auto cloud, Child::Spawn({cloud_bin, "--config", cloud_yaml, "serve"}, cloud_log));
  ASSIGN_OR_RETURN(auto edge, Child::Spawn({edge_bin, "--config", edge_yaml, "serve"}, edge_log));
  spdlog::info("via daemons: bt-cloud on {}, bt-edge admin on 127.0.0.1:{} (state and logs in {})", cloud_address,
               edge_port, work);

  auto alive = [&]() -> absl::Status {
    if (!cloud->Running()) return Annotate(cloud->Wait(), "bt-cloud stopped unexpectedly");
    if (!edge->Running()) return Annotate(edge->Wait(), "bt-edge stopped unexpectedly");
    if (cancel && cancel->cancelled()) return absl::CancelledError("interrupted");
    return absl::OkStatus();
  };
  // Connected: registered with the cloud and serving the foundation (version 0).
  for (auto deadline = Clock::now() + std::chrono::seconds(60);;) {
    RETURN_IF_ERROR(alive());
    auto status = QueryEdgeStatus(edge_config.edge.admin_listen);
    if (status.ok() && status->cloud_connected()) break;
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("bt-edge did not connect to bt-cloud within 60 s; ", edge_log,
                                                      ":", Tail(edge_log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  ASSIGN_OR_RETURN(std::unique_ptr<BlockModel> current, LoadModel(o.model_path));
  current->SetTrainingMode(false);
  std::vector<DaemonWindowResult> out;
  const std::string results_path = work + "/edge/results.jsonl";
  for (size_t w = 0; w < o.windows; ++w) {
    DaemonWindowResult r;
    ASSIGN_OR_RETURN(r.accuracy_before, evaluate(w, *current));
    const auto start = Clock::now();
    ASSIGN_OR_RETURN(std::string message, StartWindowNow(edge_config.edge.admin_listen));
    spdlog::info("via daemons: window {}/{}: {}", w + 1, o.windows, message);
    std::vector<nlohmann::json> results;
    const auto deadline = start + o.window + std::chrono::minutes(3);
    while ((results = ReadResults(results_path)).size() <= w) {
      RETURN_IF_ERROR(alive());
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("window ", w + 1, " did not finish; ", edge_log, ":",
                                                        Tail(edge_log)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    r.window_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const nlohmann::json& j = results[w];
    r.domain = j.value("domain", "");
    r.outcome = j.value("outcome", "");
    r.plan = j.value("plan", "-");
    r.edge_accuracy_before = j.value("accuracy_before", 0.0);
    r.edge_accuracy_after = j.value("accuracy_after", 0.0);
    r.predicted_accuracy = j.value("predicted_accuracy", 0.0);
    r.peak_memory_bytes = j.value("peak_memory_bytes", int64_t{0});
    r.predicted_memory_bytes = j.value("predicted_memory_bytes", uint64_t{0});
    r.train_seconds = j.value("train_seconds", 0.0);
    r.iterations = j.value("iterations", int64_t{0});
    r.bytes_down = j.value("bytes_down", uint64_t{0});
    r.bytes_up = j.value("bytes_up", uint64_t{0});
    r.version = j.value("version", uint64_t{0});
    r.accuracy_after = r.accuracy_before;
    if (r.outcome == "deployed" && r.version == 0) {
      return absl::InternalError(absl::StrCat("window ", w + 1, " deployed but the cloud did not take the update; ",
                                              edge_log, ":", Tail(edge_log)));
    }
    if (r.version > 0) {
      // Score what the cloud holds: its version of this edge, exported as one checkpoint (a decoder: an HF-style
      // directory).
      const std::string exported = absl::StrCat(work, "/version-", r.version,
                                                current->arch().llama() != nullptr ? "" : ".safetensors");
      ASSIGN_OR_RETURN(auto export_run, Child::Spawn({cloud_bin, "--config", cloud_yaml, "export", "--edge",
                                                      "bench-edge", "--version", std::to_string(r.version), "--out",
                                                      exported},
                                                     work + "/bt-cloud-export.log"));
      RETURN_IF_ERROR(Annotate(export_run->Wait(), "bt-cloud export"));
      ASSIGN_OR_RETURN(current, LoadModel(exported));
      current->SetTrainingMode(false);
      ASSIGN_OR_RETURN(r.accuracy_after, evaluate(w, *current));
    }
    spdlog::info("via daemons: window {} {}: {:.1f}% -> {:.1f}% (cloud version {}), {}, {} it, peak {} (pred. {}), "
                 "down {} up {}, {:.1f} s",
                 w + 1, r.domain, 100 * r.accuracy_before, 100 * r.accuracy_after, r.version, r.plan, r.iterations,
                 FormatBytes(static_cast<uint64_t>(r.peak_memory_bytes)), FormatBytes(r.predicted_memory_bytes),
                 FormatBytes(r.bytes_down), FormatBytes(r.bytes_up), r.window_seconds);
    out.push_back(r);
  }
  // Clean shutdown is part of the run: a daemon that does not stop cleanly fails it.
  RETURN_IF_ERROR(Annotate(edge->Stop(std::chrono::seconds(30)), "stopping bt-edge"));
  RETURN_IF_ERROR(Annotate(cloud->Stop(std::chrono::seconds(30)), "stopping bt-cloud"));
  return out;
}

}  // namespace bt
