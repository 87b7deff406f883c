#include "common/text/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/text/sentencepiece_shim.h"

namespace bt {
namespace {

// libbt_sentencepiece.so's functions (see sentencepiece_shim.h for why it is loaded this way).
struct SpApi {
  decltype(&bt_sp_load) load = nullptr;
  decltype(&bt_sp_release) release = nullptr;
  decltype(&bt_sp_encode) encode = nullptr;
  decltype(&bt_sp_decode) decode = nullptr;
  decltype(&bt_sp_piece_size) piece_size = nullptr;
  decltype(&bt_sp_eos_id) eos_id = nullptr;
  decltype(&bt_sp_train) train = nullptr;
  decltype(&bt_sp_free) free = nullptr;
};

constexpr const char* kShim = "libbt_sentencepiece.so";

// Where the shim may be: $BT_SENTENCEPIECE_SHIM, beside the executable or one level up (build/ and build/tests/),
// where the build put it, and the install location.
std::vector<std::string> ShimCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("BT_SENTENCEPIECE_SHIM"); env != nullptr && *env) out.push_back(env);
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / kShim).string());
    out.push_back((exe.parent_path().parent_path() / kShim).string());
  }
#ifdef BT_SENTENCEPIECE_SHIM_BUILD_PATH
  out.push_back(BT_SENTENCEPIECE_SHIM_BUILD_PATH);
#endif
  out.push_back(absl::StrCat("/usr/local/lib/blocktrainer/", kShim));
  return out;
}

absl::StatusOr<const SpApi*> Api() {
  static SpApi api;
  static absl::Status status;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = nullptr;
    std::string tried;
    for (const std::string& path : ShimCandidates()) {
      if (!std::filesystem::exists(path)) {
        absl::StrAppend(&tried, tried.empty() ? "" : ", ", path);
        continue;
      }
      lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (lib != nullptr) break;
      absl::StrAppend(&tried, tried.empty() ? "" : ", ", path, " (", dlerror(), ")");
    }
    if (lib == nullptr) {
      status = absl::FailedPreconditionError(absl::StrCat("the SentencePiece library ", kShim,
                                                          " was not found (tried ", tried, ")"));
      return;
    }
    auto get = [&](auto* slot, const char* name) {
      *slot = reinterpret_cast<std::remove_pointer_t<decltype(slot)>>(dlsym(lib, name));
      if (*slot == nullptr && status.ok()) status = absl::InternalError(absl::StrCat(kShim, " lacks ", name));
    };
    get(&api.load, "bt_sp_load");
    get(&api.release, "bt_sp_release");
    get(&api.encode, "bt_sp_encode");
    get(&api.decode, "bt_sp_decode");
    get(&api.piece_size, "bt_sp_piece_size");
    get(&api.eos_id, "bt_sp_eos_id");
    get(&api.train, "bt_sp_train");
    get(&api.free, "bt_sp_free");
  });
  if (!status.ok()) return status;
  return &api;
}

absl::Status Check(const SpApi& api, char* error, const std::string& what) {
  if (error == nullptr) return absl::OkStatus();
  absl::Status st = absl::InvalidArgumentError(absl::StrCat(what, ": ", error));
  api.free(error);
  return st;
}

}  // namespace

struct Tokenizer::Impl {
  const SpApi* api = nullptr;
  void* handle = nullptr;
  ~Impl() {
    if (handle != nullptr) api->release(handle);
  }
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return FromBytes(std::move(bytes), path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromBytes(std::string serialized, const std::string& source) {
  ASSIGN_OR_RETURN(const SpApi* api, Api());
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->impl_->api = api;
  RETURN_IF_ERROR(Check(*api, api->load(serialized.data(), serialized.size(), &t->impl_->handle),
                        absl::StrCat(source, ": not a SentencePiece model")));
  t->serialized_ = std::move(serialized);
  return t;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  const SpApi& api = *impl_->api;
  int* ids = nullptr;
  size_t count = 0;
  if (char* error = api.encode(impl_->handle, text.data(), text.size(), &ids, &count)) {
    api.free(error);
    return {};
  }
  std::vector<int32_t> out(ids, ids + count);
  api.free(ids);
  return out;
}

absl::StatusOr<std::string> Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  const SpApi& api = *impl_->api;
  const int size = api.piece_size(impl_->handle);
  for (int32_t id : ids) {
    if (id < 0 || id >= size) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is outside the vocabulary of ", size));
    }
  }
  std::vector<int> in(ids.begin(), ids.end());
  char* text = nullptr;
  size_t length = 0;
  RETURN_IF_ERROR(Check(api, api.decode(impl_->handle, in.data(), in.size(), &text, &length), "decoding"));
  std::string out(text, length);
  api.free(text);
  return out;
}

int64_t Tokenizer::vocab_size() const { return impl_->api->piece_size(impl_->handle); }
int32_t Tokenizer::eos_id() const { return impl_->api->eos_id(impl_->handle); }

absl::StatusOr<std::string> TrainTokenizer(const std::vector<std::string>& sentences, const TokenizerTraining& o) {
  if (o.vocab_size < 16) return absl::InvalidArgumentError("tokenizer vocab_size must be at least 16");
  if (o.model_type != "unigram" && o.model_type != "bpe") {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer model_type '", o.model_type, "': unigram or bpe"));
  }
  ASSIGN_OR_RETURN(const SpApi* api, Api());
  const int64_t max_length = std::max<int64_t>(16, o.max_sentence_length);
  const std::string args = absl::StrCat(
      "--model_type=", o.model_type, " --vocab_size=", o.vocab_size, " --num_threads=1",
      " --input_sentence_size=0 --shuffle_input_sentence=false --max_sentence_length=", max_length,
      " --character_coverage=1.0 --byte_fallback=true --normalization_rule_name=identity",
      " --remove_extra_whitespaces=false --add_dummy_prefix=false --split_digits=true",
      " --allow_whitespace_only_pieces=true --hard_vocab_limit=false --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1",
      " --minloglevel=2");
  std::vector<const char*> data;
  std::vector<size_t> lengths;
  for (const std::string& s : sentences) {
    data.push_back(s.data());
    lengths.push_back(s.size());
  }
  char* model = nullptr;
  size_t size = 0;
  RETURN_IF_ERROR(Check(*api, api->train(args.c_str(), data.data(), lengths.data(), data.size(),
                                         static_cast<size_t>(max_length), &model, &size),
                        "training the tokenizer"));
  std::string out(model, size);
  api->free(model);
  return out;
}

}  // namespace bt
