// One file on purpose (~460 lines): every key of both daemons' configs, with its default, range and error wording,
// read by one small typed YAML reader, so that the two configs cannot drift apart in how they report mistakes.
#include "common/config/config.h"

#include <yaml-cpp/yaml.h>

#include <ctime>
#include <filesystem>
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/units.h"

namespace bt {
namespace {

// Reads the keys of one YAML mapping into typed fields, remembering which keys were read so that leftovers
// can be reported as unknown. Errors carry "<source>: <key.path>: ...".
class Fields {
 public:
  Fields(YAML::Node node, std::string path, const std::string& source)
      : node_(std::move(node)), path_(std::move(path)), source_(source) {}

  // Validates that the node is a mapping (or absent / null, which means "all defaults").
  absl::Status CheckIsMap() const {
    if (!node_.IsDefined() || node_.IsNull() || node_.IsMap()) return absl::OkStatus();
    return Error(path_.empty() ? "<top level>" : path_, "must be a mapping of keys to values");
  }

  absl::Status String(const char* key, std::string* out) {
    YAML::Node value;
    bool present = false;
    RETURN_IF_ERROR(Scalar(key, &value, &present));
    if (present) *out = value.Scalar();
    return absl::OkStatus();
  }

  absl::Status Int(const char* key, int64_t* out, int64_t min, int64_t max) {
    YAML::Node value;
    bool present = false;
    RETURN_IF_ERROR(Scalar(key, &value, &present));
    if (!present) return absl::OkStatus();
    int64_t parsed = 0;
    if (!absl::SimpleAtoi(value.Scalar(), &parsed)) {
      return Error(Key(key), absl::StrCat("expected an integer, got '", value.Scalar(), "'"), value);
    }
    if (parsed < min || parsed > max) {
      return Error(Key(key), absl::StrCat("must be between ", min, " and ", max, ", got ", parsed), value);
    }
    *out = parsed;
    return absl::OkStatus();
  }

  absl::Status Double(const char* key, double* out, double min, double max) {
    YAML::Node value;
    bool present = false;
    RETURN_IF_ERROR(Scalar(key, &value, &present));
    if (!present) return absl::OkStatus();
    double parsed = 0;
    if (!absl::SimpleAtod(value.Scalar(), &parsed)) {
      return Error(Key(key), absl::StrCat("expected a number, got '", value.Scalar(), "'"), value);
    }
    if (!(parsed >= min && parsed <= max)) {
      return Error(Key(key), absl::StrCat("must be between ", min, " and ", max, ", got ", value.Scalar()), value);
    }
    *out = parsed;
    return absl::OkStatus();
  }

  absl::Status Size(const char* key, uint64_t* out, uint64_t min, uint64_t max) {
    YAML::Node value;
    bool present = false;
    RETURN_IF_ERROR(Scalar(key, &value, &present));
    if (!present) return absl::OkStatus();
    auto parsed = ParseSize(value.Scalar());
    if (!parsed.ok()) return Error(Key(key), std::string(parsed.status().message()), value);
    if (*parsed < min || *parsed > max) {
      return Error(Key(key), absl::StrCat("must be between ", FormatBytes(min), " and ", FormatBytes(max), ", got ",
                                          value.Scalar()),
                   value);
    }
    *out = *parsed;
    return absl::OkStatus();
  }

  absl::Status Duration(const char* key, std::chrono::milliseconds* out, std::chrono::milliseconds min,
                        std::chrono::milliseconds max) {
    YAML::Node value;
    bool present = false;
    RETURN_IF_ERROR(Scalar(key, &value, &present));
    if (!present) return absl::OkStatus();
    auto parsed = ParseDuration(value.Scalar());
    if (!parsed.ok()) return Error(Key(key), std::string(parsed.status().message()), value);
    if (*parsed < min || *parsed > max) {
      return Error(Key(key), absl::StrCat("must be between ", FormatDuration(min), " and ", FormatDuration(max),
                                          ", got ", value.Scalar()),
                   value);
    }
    *out = *parsed;
    return absl::OkStatus();
  }

  // A list of scalars (a single scalar counts as a one-element list); each element checked by `check`.
  absl::Status StringList(const char* key, std::vector<std::string>* out,
                          const std::function<absl::Status(const std::string&)>& check = nullptr) {
    seen_.insert(key);
    YAML::Node value = Lookup(key);
    if (!value.IsDefined() || value.IsNull()) return absl::OkStatus();
    std::vector<std::string> items;
    if (value.IsScalar()) {
      items.push_back(value.Scalar());
    } else if (value.IsSequence()) {
      for (size_t i = 0; i < value.size(); ++i) {
        if (!value[i].IsScalar()) return Error(absl::StrCat(Key(key), "[", i, "]"), "expected a string", value[i]);
        items.push_back(value[i].Scalar());
      }
    } else {
      return Error(Key(key), "expected a list of strings", value);
    }
    for (size_t i = 0; i < items.size() && check; ++i) {
      absl::Status st = check(items[i]);
      if (!st.ok()) return Error(absl::StrCat(Key(key), "[", i, "]"), std::string(st.message()), value);
    }
    *out = std::move(items);
    return absl::OkStatus();
  }

  // A list of numbers (a single number counts as a one-element list), each in [min, max].
  absl::Status NumberList(const char* key, std::vector<double>* out, double min, double max) {
    std::vector<std::string> items;
    RETURN_IF_ERROR(StringList(key, &items, [&](const std::string& item) -> absl::Status {
      double v = 0;
      if (!absl::SimpleAtod(item, &v)) return absl::InvalidArgumentError(absl::StrCat("expected a number, got '", item, "'"));
      if (!(v >= min && v <= max)) return absl::InvalidArgumentError(absl::StrCat("must be between ", min, " and ", max, ", got ", item));
      return absl::OkStatus();
    }));
    out->clear();
    for (const std::string& item : items) {
      double v = 0;
      (void)absl::SimpleAtod(item, &v);
      out->push_back(v);
    }
    return absl::OkStatus();
  }

  // A nested mapping; absent keys give an empty Fields so every default stays.
  absl::StatusOr<Fields> Child(const char* key) {
    seen_.insert(key);
    YAML::Node child = Lookup(key);
    Fields fields(child, Key(key), source_);
    RETURN_IF_ERROR(fields.CheckIsMap());
    return fields;
  }

  // Fails on the first key of this mapping that no accessor asked for.
  // An error about `key` of this mapping, with the file (and line) in front.
  absl::Status Invalid(const char* key, const std::string& message) const {
    return Error(Key(key), message, Lookup(key));
  }

  absl::Status CheckNoUnknownKeys() const {
    if (!node_.IsDefined() || !node_.IsMap()) return absl::OkStatus();
    for (const auto& entry : node_) {
      std::string key = entry.first.Scalar();
      if (seen_.count(key) == 0) {
        std::string known;
        for (const std::string& k : seen_) absl::StrAppend(&known, known.empty() ? "" : ", ", k);
        return Error(Key(key.c_str()), absl::StrCat("unknown key (known keys here: ", known, ")"), entry.first);
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string Key(const char* key) const { return path_.empty() ? key : absl::StrCat(path_, ".", key); }

  YAML::Node Lookup(const char* key) const {
    if (!node_.IsDefined() || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (const auto& entry : node_) {
      if (entry.first.Scalar() == key) return entry.second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  // Sets *present to whether the key has a non-null value; a default-constructed YAML::Node is "defined" in
  // yaml-cpp, so presence cannot be read off the node itself.
  absl::Status Scalar(const char* key, YAML::Node* out, bool* present) {
    seen_.insert(key);
    YAML::Node value = Lookup(key);
    *present = value.IsDefined() && !value.IsNull();
    if (!*present) return absl::OkStatus();
    if (!value.IsScalar()) return Error(Key(key), "expected a single value, got a list or mapping", value);
    *out = value;
    return absl::OkStatus();
  }

  absl::Status Error(const std::string& key, const std::string& message, const YAML::Node& at = {}) const {
    std::string where = source_;
    if (at.IsDefined() && at.Mark().line >= 0) absl::StrAppend(&where, ":", at.Mark().line + 1);
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": ", message));
  }

  YAML::Node node_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> seen_;
};

constexpr int64_t kMaxInt = int64_t{1} << 40;
const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

absl::Status CheckLogLevel(const std::string& level, const std::string& key) {
  if (kLogLevels.count(level) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": unknown log level '", level, "' (trace, debug, info, warn, error, critical, off)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<YAML::Node> ParseYaml(const std::string& yaml, const std::string& source) {
  try {
    return YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
}

// Runs `parse` with yaml-cpp exceptions (which its accessors may still throw on odd input) turned into errors.
template <typename Config>
absl::StatusOr<Config> Guarded(const std::string& source, const std::function<absl::Status(Config*)>& parse) {
  Config config;
  try {
    RETURN_IF_ERROR(parse(&config));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ": ", e.msg));
  }
  RETURN_IF_ERROR(Annotate(config.Validate(), source));
  return config;
}

absl::Status ParseArchitecture(Fields& f, VitConfig* a) {
  RETURN_IF_ERROR(f.Int("image_size", &a->image_size, 1, 4096));
  RETURN_IF_ERROR(f.Int("channels", &a->channels, 1, 64));
  RETURN_IF_ERROR(f.Int("patch_size", &a->patch_size, 1, 4096));
  RETURN_IF_ERROR(f.Int("hidden_dim", &a->hidden_dim, 1, 65536));
  RETURN_IF_ERROR(f.Int("num_layers", &a->num_layers, 1, 1024));
  RETURN_IF_ERROR(f.Int("num_heads", &a->num_heads, 1, 1024));
  RETURN_IF_ERROR(f.Int("mlp_dim", &a->mlp_dim, 1, 1 << 20));
  RETURN_IF_ERROR(f.Int("num_classes", &a->num_classes, 1, 1 << 20));
  return f.CheckNoUnknownKeys();
}

absl::Status ParseDecoder(Fields& f, LlamaConfig* d) {
  RETURN_IF_ERROR(f.Int("hidden_size", &d->hidden_size, 8, 1 << 16));
  RETURN_IF_ERROR(f.Int("intermediate_size", &d->intermediate_size, 8, 1 << 20));
  RETURN_IF_ERROR(f.Int("num_hidden_layers", &d->num_hidden_layers, 1, 1024));
  RETURN_IF_ERROR(f.Int("num_attention_heads", &d->num_attention_heads, 1, 1024));
  RETURN_IF_ERROR(f.Int("num_key_value_heads", &d->num_key_value_heads, 1, 1024));
  RETURN_IF_ERROR(f.Int("max_position_embeddings", &d->max_position_embeddings, 2, 1 << 20));
  RETURN_IF_ERROR(f.Double("rms_norm_eps", &d->rms_norm_eps, 1e-12, 1.0));
  RETURN_IF_ERROR(f.Double("rope_theta", &d->rope_theta, 2.0, 1e9));
  RETURN_IF_ERROR(f.CheckNoUnknownKeys());
  if (d->hidden_size % d->num_attention_heads != 0) {
    return f.Invalid("num_attention_heads", absl::StrCat(d->num_attention_heads, " does not divide hidden_size ",
                                                         d->hidden_size));
  }
  if (d->num_attention_heads % d->num_key_value_heads != 0) {
    return f.Invalid("num_key_value_heads", absl::StrCat(d->num_key_value_heads, " does not divide num_attention_heads ",
                                                         d->num_attention_heads));
  }
  d->head_dim = d->hidden_size / d->num_attention_heads;
  if (d->head_dim % 2 != 0) return f.Invalid("num_attention_heads", "gives an odd head dimension (rotary embeddings need pairs)");
  return absl::OkStatus();
}

absl::Status ParseCloud(const YAML::Node& root, const std::string& source, CloudConfig* c) {
  Fields top(root, "", source);
  RETURN_IF_ERROR(top.CheckIsMap());

  ASSIGN_OR_RETURN(Fields cloud, top.Child("cloud"));
  RETURN_IF_ERROR(cloud.String("data_dir", &c->cloud.data_dir));
  RETURN_IF_ERROR(cloud.String("listen", &c->cloud.listen));
  RETURN_IF_ERROR(cloud.String("admin_listen", &c->cloud.admin_listen));
  RETURN_IF_ERROR(cloud.String("log_level", &c->cloud.log_level));
  RETURN_IF_ERROR(cloud.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields tls, top.Child("tls"));
  RETURN_IF_ERROR(tls.String("cert", &c->tls.cert));
  RETURN_IF_ERROR(tls.String("key", &c->tls.key));
  RETURN_IF_ERROR(tls.String("client_ca", &c->tls.client_ca));
  RETURN_IF_ERROR(tls.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields model, top.Child("model"));
  RETURN_IF_ERROR(model.String("name", &c->model.name));
  RETURN_IF_ERROR(model.String("path", &c->model.path));
  ASSIGN_OR_RETURN(Fields arch, model.Child("architecture"));
  RETURN_IF_ERROR(ParseArchitecture(arch, &c->model.architecture));
  RETURN_IF_ERROR(model.String("family", &c->model.family));
  if (c->model.family != "vit" && c->model.family != "llama") {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model.family: '", c->model.family, "' (vit or llama)"));
  }
  ASSIGN_OR_RETURN(Fields decoder, model.Child("decoder"));
  RETURN_IF_ERROR(ParseDecoder(decoder, &c->model.decoder));
  ASSIGN_OR_RETURN(Fields preprocess, model.Child("preprocess"));
  RETURN_IF_ERROR(preprocess.NumberList("image_mean", &c->model.image_mean, -1e6, 1e6));
  RETURN_IF_ERROR(preprocess.NumberList("image_std", &c->model.image_std, 1e-9, 1e6));
  RETURN_IF_ERROR(preprocess.CheckNoUnknownKeys());
  RETURN_IF_ERROR(model.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields pre, top.Child("pretrain"));
  PretrainOptions& p = c->pretrain;
  RETURN_IF_ERROR(pre.String("dataset", &p.dataset));
  RETURN_IF_ERROR(pre.String("dataset_dir", &p.dataset_dir));
  RETURN_IF_ERROR(pre.Int("epochs", &p.epochs, 1, 10'000));
  RETURN_IF_ERROR(pre.Int("batch_size", &p.batch_size, 1, 1 << 20));
  RETURN_IF_ERROR(pre.Double("learning_rate", &p.learning_rate, 1e-8, 10.0));
  RETURN_IF_ERROR(pre.Double("weight_decay", &p.weight_decay, 0.0, 10.0));
  RETURN_IF_ERROR(pre.Double("warmup_fraction", &p.warmup_fraction, 0.0, 1.0));
  RETURN_IF_ERROR(pre.Double("label_smoothing", &p.label_smoothing, 0.0, 0.99));
  RETURN_IF_ERROR(pre.Int("seed", &p.seed, 0, kMaxInt));
  RETURN_IF_ERROR(pre.Int("threads", &p.threads, 0, 1024));
  RETURN_IF_ERROR(pre.Duration("progress_interval", &p.progress_interval, std::chrono::milliseconds(100),
                               std::chrono::hours(24)));
  RETURN_IF_ERROR(pre.StringList("corpus", &p.corpus));
  RETURN_IF_ERROR(pre.Double("heldout_share", &p.heldout_share, 0.001, 0.999));
  RETURN_IF_ERROR(pre.Int("vocab_size", &p.vocab_size, 300, 1 << 20));
  RETURN_IF_ERROR(pre.Int("sequence", &p.sequence, 2, 1 << 16));
  RETURN_IF_ERROR(pre.Int("max_tokens", &p.max_tokens, 0, int64_t{1} << 40));
  RETURN_IF_ERROR(pre.CheckNoUnknownKeys());
  if (p.dataset != "fashion-mnist" && p.dataset != "text") {
    return absl::InvalidArgumentError(absl::StrCat(source, ": pretrain.dataset: '", p.dataset, "' (fashion-mnist or text)"));
  }
  if ((p.dataset == "text") != (c->model.family == "llama")) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": pretrain.dataset '", p.dataset, "' does not go with model.family '",
                                                   c->model.family, "' (text pretrains a llama decoder, fashion-mnist a vit)"));
  }
  if (p.dataset == "text" && p.corpus.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": pretrain.corpus: a text model needs its prose corpus (globs)"));
  }

  return top.CheckNoUnknownKeys();
}

absl::Status ParseEdge(const YAML::Node& root, const std::string& source, EdgeConfig* c) {
  Fields top(root, "", source);
  RETURN_IF_ERROR(top.CheckIsMap());
  ASSIGN_OR_RETURN(Fields edge, top.Child("edge"));
  RETURN_IF_ERROR(edge.String("id", &c->edge.id));
  RETURN_IF_ERROR(edge.String("cloud", &c->edge.cloud));
  RETURN_IF_ERROR(edge.String("data_dir", &c->edge.data_dir));
  RETURN_IF_ERROR(edge.Size("memory_budget", &c->edge.memory_budget, 1 << 20, uint64_t{1} << 50));
  RETURN_IF_ERROR(edge.String("log_level", &c->edge.log_level));
  RETURN_IF_ERROR(edge.String("token_file", &c->edge.token_file));
  RETURN_IF_ERROR(edge.String("admin_listen", &c->edge.admin_listen));
  RETURN_IF_ERROR(edge.Duration("heartbeat_interval", &c->edge.heartbeat_interval, std::chrono::milliseconds(100),
                                std::chrono::hours(1)));
  RETURN_IF_ERROR(edge.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields tls, top.Child("tls"));
  RETURN_IF_ERROR(tls.String("ca", &c->tls.ca));
  RETURN_IF_ERROR(tls.String("cert", &c->tls.cert));
  RETURN_IF_ERROR(tls.String("key", &c->tls.key));
  RETURN_IF_ERROR(tls.String("server_name", &c->tls.server_name));
  RETURN_IF_ERROR(tls.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields retrain, top.Child("retrain"));
  RetrainConfig& r = c->retrain;
  RETURN_IF_ERROR(retrain.Duration("window", &r.window, std::chrono::seconds(5), std::chrono::hours(24)));
  RETURN_IF_ERROR(retrain.Double("probe_share", &r.probe_share, 0.01, 0.5));
  RETURN_IF_ERROR(retrain.Int("probe_runs", &r.probe_runs, 0, 1000));
  RETURN_IF_ERROR(retrain.Int("race_iterations", &r.race_iterations, 0, 10000));
  RETURN_IF_ERROR(retrain.Int("start_candidates", &r.start_candidates, 0, 16));
  RETURN_IF_ERROR(retrain.Int("batch", &r.batch, 1, 1 << 16));
  RETURN_IF_ERROR(retrain.Int("samples", &r.samples, 10, int64_t{1} << 32));
  RETURN_IF_ERROR(retrain.Int("seed", &r.seed, 0, int64_t{1} << 40));
  RETURN_IF_ERROR(retrain.String("time_zone", &r.time_zone));
  RETURN_IF_ERROR(retrain.StringList("schedule", &r.schedule,
                                     [](const std::string& v) { return ParseWindowSpec(v).status(); }));
  RETURN_IF_ERROR(retrain.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields buffer, top.Child("buffer"));
  RETURN_IF_ERROR(buffer.Int("max_samples", &c->buffer.max_samples, 1, int64_t{1} << 32));
  RETURN_IF_ERROR(buffer.Size("max_bytes", &c->buffer.max_bytes, 1 << 16, uint64_t{1} << 44));
  RETURN_IF_ERROR(buffer.Int("sync_every", &c->buffer.sync_every, 1, 1 << 20));
  RETURN_IF_ERROR(buffer.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields spool, top.Child("spool"));
  RETURN_IF_ERROR(spool.String("dir", &c->spool.dir));
  RETURN_IF_ERROR(spool.Duration("poll_interval", &c->spool.poll_interval, std::chrono::milliseconds(50),
                                 std::chrono::hours(1)));
  RETURN_IF_ERROR(spool.Int("sequence", &c->spool.sequence, 1, 65535));
  RETURN_IF_ERROR(spool.CheckNoUnknownKeys());

  ASSIGN_OR_RETURN(Fields sim, top.Child("simulator"));
  RETURN_IF_ERROR(sim.String("scenario", &c->simulator.scenario));
  RETURN_IF_ERROR(sim.Double("rate", &c->simulator.rate, 0.0, 1e6));
  RETURN_IF_ERROR(sim.String("dataset_dir", &c->simulator.dataset_dir));
  RETURN_IF_ERROR(sim.String("advance", &c->simulator.advance));
  RETURN_IF_ERROR(sim.CheckNoUnknownKeys());
  return top.CheckNoUnknownKeys();
}

absl::StatusOr<std::string> ReadConfigText(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), "cannot read config");
  return text;
}

}  // namespace

absl::StatusOr<WindowSpec> ParseWindowSpec(const std::string& text) {
  static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  const size_t space = text.find(' ');
  if (space == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': expected '<days> HH:MM-HH:MM', e.g. 'daily 02:00-02:30'"));
  }
  WindowSpec spec;
  const std::string days = text.substr(0, space);
  if (days != "daily") {
    spec.days = 0;
    for (const std::string& day : std::vector<std::string>(absl::StrSplit(days, ','))) {
      int found = -1;
      for (int d = 0; d < 7; ++d) {
        if (day == kDays[d]) found = d;
      }
      if (found < 0) {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "': unknown day '", day,
                                                       "' (daily, or a list of sun,mon,tue,wed,thu,fri,sat)"));
      }
      spec.days |= static_cast<uint8_t>(1 << found);
    }
  }
  int h1, m1, h2, m2;
  char tail;
  if (std::sscanf(text.c_str() + space + 1, "%d:%d-%d:%d%c", &h1, &m1, &h2, &m2, &tail) != 4 || h1 < 0 || h1 > 23 ||
      h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 || (h2 == 24 && m2 != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': times must be HH:MM-HH:MM (00:00 to 24:00)"));
  }
  spec.start_minute = h1 * 60 + m1;
  spec.end_minute = h2 * 60 + m2;
  if (spec.start_minute == spec.end_minute) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': the window is empty"));
  }
  return spec;
}

absl::StatusOr<int> ParseTimeZoneOffset(const std::string& zone) {
  if (zone == "UTC" || zone == "utc" || zone == "Z") return 0;
  if (zone == "local") {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    return static_cast<int>(local.tm_gmtoff / 60);
  }
  int h, m;
  char sign, tail;
  if (std::sscanf(zone.c_str(), "%c%d:%d%c", &sign, &h, &m, &tail) == 3 && (sign == '+' || sign == '-') && h >= 0 &&
      h <= 14 && m >= 0 && m < 60) {
    return (sign == '-' ? -1 : 1) * (h * 60 + m);
  }
  return absl::InvalidArgumentError(absl::StrCat("time zone '", zone, "': use UTC, local, or an offset like +02:00"));
}

std::string CloudConfig::ModelPath() const {
  if (!model.path.empty()) return model.path;
  return (std::filesystem::path(cloud.data_dir) / "models" /
          (model.family == "llama" ? "foundation-text" : "foundation.safetensors"))
      .string();
}

LlamaConfig ModelOptions::DefaultDecoder() {
  LlamaConfig d;
  d.hidden_size = 128;
  d.intermediate_size = 352;
  d.num_hidden_layers = 4;
  d.num_attention_heads = 4;
  d.num_key_value_heads = 2;
  d.head_dim = 32;
  d.max_position_embeddings = 256;
  d.rms_norm_eps = 1e-5;
  d.vocab_size = 2048;
  return d;
}

absl::Status CloudConfig::Validate() const {
  if (cloud.data_dir.empty()) return absl::InvalidArgumentError("cloud.data_dir: must not be empty");
  if (cloud.listen.empty()) return absl::InvalidArgumentError("cloud.listen: must not be empty");
  RETURN_IF_ERROR(CheckLogLevel(cloud.log_level, "cloud.log_level"));
  RETURN_IF_ERROR(model.architecture.Validate("model.architecture"));
  if (pretrain.dataset != "fashion-mnist" && pretrain.dataset != "text") {
    return absl::InvalidArgumentError(
        absl::StrCat("pretrain.dataset: unknown dataset '", pretrain.dataset, "' (supported: fashion-mnist, text)"));
  }
  return absl::OkStatus();
}

std::string EdgeConfig::TokenPath() const {
  if (!edge.token_file.empty()) return edge.token_file;
  return (std::filesystem::path(edge.data_dir) / "token").string();
}

std::string EdgeConfig::BufferPath() const {
  return (std::filesystem::path(edge.data_dir) / "samples.buf").string();
}

bool IsValidEdgeId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id == "." || id == "..") return false;
  for (char ch : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') return false;
  }
  return true;
}

absl::Status EdgeConfig::Validate() const {
  if (edge.id.empty()) return absl::InvalidArgumentError("edge.id: must not be empty");
  if (!IsValidEdgeId(edge.id)) {
    return absl::InvalidArgumentError(absl::StrCat("edge.id: '", edge.id, "' must be ", kEdgeIdRule));
  }
  if (edge.cloud.empty()) return absl::InvalidArgumentError("edge.cloud: must not be empty");
  if (edge.data_dir.empty()) return absl::InvalidArgumentError("edge.data_dir: must not be empty");
  if (auto z = ParseTimeZoneOffset(retrain.time_zone); !z.ok()) return Annotate(z.status(), "retrain.time_zone");
  if (simulator.advance != "stream" && simulator.advance != "per_window") {
    return absl::InvalidArgumentError(
        absl::StrCat("simulator.advance: '", simulator.advance, "' is not one of stream, per_window"));
  }
  return CheckLogLevel(edge.log_level, "edge.log_level");
}

absl::StatusOr<CloudConfig> ParseCloudConfig(const std::string& yaml, const std::string& source) {
  ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(yaml, source));
  return Guarded<CloudConfig>(source, [&](CloudConfig* c) { return ParseCloud(root, source, c); });
}

absl::StatusOr<EdgeConfig> ParseEdgeConfig(const std::string& yaml, const std::string& source) {
  ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(yaml, source));
  return Guarded<EdgeConfig>(source, [&](EdgeConfig* c) { return ParseEdge(root, source, c); });
}

absl::StatusOr<CloudConfig> LoadCloudConfig(const std::string& path) {
  if (path.empty()) return ParseCloudConfig("", "<embedded defaults>");
  ASSIGN_OR_RETURN(std::string text, ReadConfigText(path));
  return ParseCloudConfig(text, path);
}

absl::StatusOr<EdgeConfig> LoadEdgeConfig(const std::string& path) {
  if (path.empty()) return ParseEdgeConfig("", "<embedded defaults>");
  ASSIGN_OR_RETURN(std::string text, ReadConfigText(path));
  return ParseEdgeConfig(text, path);
}

}  // namespace bt
