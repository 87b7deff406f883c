#include "common/text/sentencepiece_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

char* Copy(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

char* Error(const sentencepiece::util::Status& s) { return s.ok() ? nullptr : Copy(s.ToString()); }

// Hands SentencePiece the sentences in order (no file, no sampling).
class Sentences : public sentencepiece::SentenceIterator {
 public:
  Sentences(const char* const* sentences, const size_t* lengths, size_t count, size_t max_length)
      : sentences_(sentences), lengths_(lengths), count_(count), max_length_(std::max<size_t>(1, max_length)) {
    Fill();
  }
  bool done() const override { return piece_.empty(); }
  void Next() override {
    piece_.clear();
    Fill();
  }
  const std::string& value() const override { return piece_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  // The next non-empty piece: a sentence, or the next max_length bytes of a long one.
  void Fill() {
    while (piece_.empty()) {
      if (rest_.empty()) {
        if (index_ >= count_) return;
        rest_ = std::string_view(sentences_[index_], lengths_[index_]);
        ++index_;
        continue;
      }
      size_t n = std::min(rest_.size(), max_length_);
      while (n < rest_.size() && n > 0 && (static_cast<unsigned char>(rest_[n]) & 0xC0) == 0x80) --n;
      if (n == 0) n = std::min(rest_.size(), max_length_);
      piece_ = std::string(rest_.substr(0, n));
      rest_ = rest_.substr(n);
    }
  }
  const char* const* sentences_;
  const size_t* lengths_;
  size_t count_;
  size_t max_length_;
  size_t index_ = 0;
  std::string_view rest_;
  std::string piece_;
};

sentencepiece::SentencePieceProcessor* Processor(void* handle) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

}  // namespace

extern "C" {

char* bt_sp_load(const char* data, size_t size, void** handle) {
  auto* p = new sentencepiece::SentencePieceProcessor();
  char* error = Error(p->LoadFromSerializedProto(std::string_view(data, size)));
  if (error != nullptr) {
    delete p;
    return error;
  }
  *handle = p;
  return nullptr;
}

void bt_sp_release(void* handle) { delete Processor(handle); }

char* bt_sp_encode(void* handle, const char* text, size_t size, int** ids, size_t* count) {
  std::vector<int> out;
  if (char* error = Error(Processor(handle)->Encode(std::string_view(text, size), &out))) return error;
  *ids = static_cast<int*>(std::malloc(std::max<size_t>(1, out.size()) * sizeof(int)));
  if (*ids == nullptr) return Copy("out of memory");
  if (!out.empty()) std::memcpy(*ids, out.data(), out.size() * sizeof(int));
  *count = out.size();
  return nullptr;
}

char* bt_sp_decode(void* handle, const int* ids, size_t count, char** text, size_t* size) {
  std::string out;
  if (char* error = Error(Processor(handle)->Decode(std::vector<int>(ids, ids + count), &out))) return error;
  *text = static_cast<char*>(std::malloc(std::max<size_t>(1, out.size())));
  if (*text == nullptr) return Copy("out of memory");
  if (!out.empty()) std::memcpy(*text, out.data(), out.size());
  *size = out.size();
  return nullptr;
}

int bt_sp_piece_size(void* handle) { return Processor(handle)->GetPieceSize(); }
int bt_sp_eos_id(void* handle) { return Processor(handle)->eos_id(); }

char* bt_sp_train(const char* args, const char* const* sentences, const size_t* lengths, size_t count,
                  size_t max_length, char** model, size_t* model_size) {
  Sentences input(sentences, lengths, count, max_length);
  std::string out;
  if (char* error = Error(sentencepiece::SentencePieceTrainer::Train(args, &input, &out))) return error;
  *model = static_cast<char*>(std::malloc(std::max<size_t>(1, out.size())));
  if (*model == nullptr) return Copy("out of memory");
  std::memcpy(*model, out.data(), out.size());
  *model_size = out.size();
  return nullptr;
}

void bt_sp_free(void* buffer) { std::free(buffer); }

}  // extern "C"
