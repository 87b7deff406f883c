// Typed configuration of both daemons, loaded from YAML.
//
// Every field has a default (so an empty file, or no file, is a valid configuration: the embedded defaults).
// The YAML is parsed once and validated once; no YAML node leaves config.cc. Unknown keys, wrong types and
// out-of-range values are errors that name the file and the key path ("cloud.yaml: pretrain.epochs: ...").
// Sizes are written like `512MiB` / `1.5GB`, durations like `90s` / `30m`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/format/model_arch.h"
#include "common/format/model_config.h"
#include "common/base/status.h"

namespace bt {

// How the default foundation model is pretrained on the cloud.
struct PretrainOptions {
  std::string dataset = "fashion-mnist";                            // fashion-mnist, or text (a decoder)
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";    // IDX files (optionally .gz)
  int64_t epochs = 8;                 // passes over the training split
  int64_t batch_size = 128;           // images per optimiser step
  double learning_rate = 2e-3;        // AdamW peak learning rate
  double weight_decay = 0.05;         // AdamW decoupled weight decay
  double warmup_fraction = 0.05;      // share of steps with linear warm-up, then cosine decay to zero
  double label_smoothing = 0.0;       // cross-entropy label smoothing
  int64_t seed = 1;                   // initialisation and shuffling; same seed, same weights
  int64_t threads = 0;                // intra-op threads; 0 = all cores
  std::chrono::milliseconds progress_interval{10'000};  // how often a progress line is logged
  // dataset: text — the prose corpus (globs), split by file; the tokenizer is trained on its training files.
  std::vector<std::string> corpus;
  double heldout_share = 0.1;          // of the corpus files, for the held-out prose accuracy
  int64_t vocab_size = 2048;           // SentencePiece vocabulary (the decoder's vocab_size follows it)
  int64_t sequence = 64;               // tokens per training sequence
  int64_t max_tokens = 0;              // cap on training tokens read from the corpus; 0 = all of it
};

struct CloudOptions {
  std::string data_dir = "var/cloud";       // state: models, block store, database
  std::string listen = "127.0.0.1:50051";   // gRPC address edges and the CLI dial
  std::string admin_listen = "127.0.0.1:50052";  // CloudAdmin for the local CLI (loopback only; empty = off)
  std::string log_level = "info";           // trace|debug|info|warn|error
};

struct CloudTls {
  std::string cert;       // PEM server certificate; empty = plaintext (loopback only)
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA; set = mutual TLS (edges must present a certificate it signed)
};

struct ModelOptions {
  std::string name = "vit-fmnist";   // free text, shown in status
  std::string path;                  // checkpoint (.safetensors, .index.json or an HF model directory); empty =
                                     // <data_dir>/models/foundation.safetensors (foundation-text/ for a decoder)
  std::string family = "vit";        // what `pretrain` builds: vit (architecture) or llama (decoder)
  VitConfig architecture;            // used when pretraining a new model, and for num_heads of a foreign ViT
  LlamaConfig decoder = DefaultDecoder();  // family llama; vocab_size comes from the trained tokenizer
  static LlamaConfig DefaultDecoder();
  // model.preprocess: overrides the checkpoint's preprocessing (empty: keep it)
  std::vector<double> image_mean, image_std;
  ArchitectureHints Hints() const { return {architecture, image_mean, image_std}; }
};

struct CloudConfig {
  CloudOptions cloud;
  CloudTls tls;
  ModelOptions model;
  PretrainOptions pretrain;

  // The checkpoint path after applying the default.
  std::string ModelPath() const;
  absl::Status Validate() const;
};

struct EdgeOptions {
  std::string id = "edge-1";                // unique name of this edge at the cloud
  std::string cloud = "127.0.0.1:50051";    // address of bt-cloud
  std::string data_dir = "var/edge";        // state: sample buffer, models, unsent updates
  uint64_t memory_budget = 64ull << 20;     // bytes the retraining may use (e.g. 64MiB)
  std::string log_level = "info";           // trace|debug|info|warn|error
  std::string token_file;                   // file holding this edge's bearer token; empty = <data_dir>/token
  std::string admin_listen = "127.0.0.1:50061";  // EdgeAdmin for the local CLI (loopback only)
  std::chrono::milliseconds heartbeat_interval{5000};
};

struct EdgeTls {
  std::string ca;           // PEM CA that signed the cloud's certificate; empty = plaintext (loopback only)
  std::string cert;         // PEM client certificate (mutual TLS)
  std::string key;          // PEM client key (mutual TLS)
  std::string server_name;  // override of the name checked in the cloud's certificate
};

// When and how the edge retrains.
struct RetrainConfig {
  std::chrono::milliseconds window{120'000};  // length of a window opened by `retrain --now` (scheduled windows: their span)
  double probe_share = 0.10;                  // share of the window for probes
  int64_t probe_runs = 0;                     // 0: curve runs fit into probe_share; N: exactly N (reproducible)
  int64_t race_iterations = 0;                // 0: the race's first round fits its share of the window; N: exactly N
  int64_t start_candidates = 2;               // stored versions nearest the window's drift scored as its start (0: none)
  int64_t batch = 64;
  int64_t samples = 1400;                     // most recent buffered samples a window trains on
  int64_t seed = 1;                           // probes and training batches: window n of a run uses seed + n
  std::string time_zone = "UTC";              // for schedule times: UTC, local, or a fixed offset like +02:00
  std::vector<std::string> schedule;          // e.g. "daily 02:00-02:30", "mon,wed,fri 13:00-13:10"
};

// The on-disk sample buffer (see edge/intake/sample_buffer.h).
struct BufferOptions {
  int64_t max_samples = 20000;          // most recent samples kept
  uint64_t max_bytes = 64ull << 20;     // bytes of samples kept
  int64_t sync_every = 64;              // fdatasync after this many appends
};

// The spool directory a camera drops images into (see edge/intake/spool.h).
struct SpoolConfig {
  std::string dir;                                  // empty = no spool
  std::chrono::milliseconds poll_interval{2000};    // how often the spool is scanned
  int64_t sequence = 64;                            // text models: tokens per sample cut from a dropped file
};

// The drift-scenario simulator that stands in for a camera.
struct SimulatorOptions {
  std::string scenario;                                            // scenario YAML; empty = no simulator
  double rate = 50;                                                // samples per second; 0 = as fast as possible
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";   // where the stream images come from
  // "stream": feed continuously at `rate`; "per_window": at each window, first feed the next domain's samples
  // (as if the camera had seen them since the last window) — deterministic demos and tests.
  std::string advance = "stream";
};

// One scheduled window: days of the week (bit 0 = Sunday) and a start/end time of day in minutes.
struct WindowSpec {
  uint8_t days = 0x7f;
  int start_minute = 0;
  int end_minute = 0;  // may be < start (the window crosses midnight)
};
// Parses "daily 02:00-02:30" or "mon,tue 13:00-13:10".
absl::StatusOr<WindowSpec> ParseWindowSpec(const std::string& text);
// Parses "UTC", "local" or "+HH:MM" / "-HH:MM" into an offset from UTC in minutes (`local`: the host's offset now).
absl::StatusOr<int> ParseTimeZoneOffset(const std::string& zone);

// The one rule for edge ids (config, wire, file names): 1-64 of letters, digits, '-', '_' and '.', not "." or "..".
bool IsValidEdgeId(const std::string& id);
inline constexpr const char* kEdgeIdRule = "1-64 letters, digits, '-', '_' or '.' (not '.' or '..')";

struct EdgeConfig {
  EdgeOptions edge;
  EdgeTls tls;
  RetrainConfig retrain;
  BufferOptions buffer;
  SpoolConfig spool;
  SimulatorOptions simulator;

  // <data_dir>/samples.buf
  std::string BufferPath() const;
  std::string TokenPath() const;
  absl::Status Validate() const;
};

// Loads a config file; `path` empty means the embedded defaults.
absl::StatusOr<CloudConfig> LoadCloudConfig(const std::string& path);
absl::StatusOr<EdgeConfig> LoadEdgeConfig(const std::string& path);
// Parses YAML text; `source` names it in errors.
absl::StatusOr<CloudConfig> ParseCloudConfig(const std::string& yaml, const std::string& source);
absl::StatusOr<EdgeConfig> ParseEdgeConfig(const std::string& yaml, const std::string& source);

}  // namespace bt
