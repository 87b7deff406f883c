#include "common/format/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "common/base/file_util.h"

namespace bt {
namespace {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("bt_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::vector<float> Iota(size_t n, float start = 0.5f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

TensorView View(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data, size_t bytes) {
  TensorView v;
  v.name = name;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = static_cast<const uint8_t*>(data);
  v.size_bytes = bytes;
  return v;
}

std::string Header(const std::string& json) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);  // x86 is little-endian, as the format is
  return out + json;
}

TEST(Safetensors, RoundTripsEveryDtypeThroughAFile) {
  TempDir dir;
  std::vector<float> f32 = Iota(6);
  std::vector<uint16_t> f16 = {0x3c00, 0x4000};        // 1.0, 2.0 as IEEE half
  std::vector<uint16_t> bf16 = {0x3f80, 0x4000, 0x4040};  // 1, 2, 3 as bfloat16
  std::vector<int8_t> i8 = {-3, 0, 7};
  std::vector<uint8_t> u8 = {1, 2, 3, 250};
  std::vector<TensorView> tensors = {
      View("w", DType::kF32, {2, 3}, f32.data(), f32.size() * 4),
      View("h", DType::kF16, {2}, f16.data(), 4),
      View("b", DType::kBF16, {3}, bf16.data(), 6),
      View("q", DType::kI8, {3}, i8.data(), 3),
      View("u", DType::kU8, {2, 2}, u8.data(), 4),
      View("empty", DType::kF32, {0, 4}, nullptr, 0),
  };
  ASSERT_TRUE(WriteSafetensors(dir.File("t.safetensors"), tensors, {{"k", "v"}}).ok());
  auto file = SafetensorsFile::Open(dir.File("t.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  EXPECT_EQ((*file)->metadata().at("k"), "v");
  for (const TensorView& want : tensors) {
    const TensorView* got = (*file)->Find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->dtype, want.dtype);
    EXPECT_EQ(got->shape, want.shape);
    ASSERT_EQ(got->size_bytes, want.size_bytes);
    if (want.size_bytes) EXPECT_EQ(std::memcmp(got->data, want.data, want.size_bytes), 0) << want.name;
  }
  EXPECT_EQ((*file)->Find("missing"), nullptr);
}

TEST(Safetensors, SerialisationIsCanonical) {
  std::vector<float> a = Iota(4), b = Iota(2, 9.f);
  auto first = SerializeSafetensors({View("a", DType::kF32, {4}, a.data(), 16), View("b", DType::kF32, {2}, b.data(), 8)});
  auto second = SerializeSafetensors({View("b", DType::kF32, {2}, b.data(), 8), View("a", DType::kF32, {4}, a.data(), 16)});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second) << "input order must not change the bytes";
  EXPECT_EQ((first->size() - 8 - 24) % 8, 0u) << "header padded to 8 bytes";
}

TEST(Safetensors, WriterRejectsInconsistentTensors) {
  std::vector<float> a = Iota(4);
  EXPECT_FALSE(SerializeSafetensors({View("a", DType::kF32, {5}, a.data(), 16)}).ok());
  EXPECT_FALSE(SerializeSafetensors({View("a", DType::kF32, {4}, a.data(), 16), View("a", DType::kF32, {4}, a.data(), 16)}).ok());
  EXPECT_FALSE(SerializeSafetensors({View("", DType::kF32, {4}, a.data(), 16)}).ok());
}

struct Malformed {
  const char* what;
  std::string bytes;
  const char* expected;
};

TEST(Safetensors, RejectsMalformedFilesWithAClearError) {
  std::string data16(16, '\0');
  std::vector<Malformed> cases = {
      {"too short", "abc", "too short"},
      {"header past end", std::string("\xff\x00\x00\x00\x00\x00\x00\x00", 8) + "{}", "past the end"},
      {"huge header", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8), "exceeds"},
      {"bad json", Header("{not json"), "not valid JSON"},
      {"not object", Header("[1,2]"), "not a JSON object"},
      {"unknown dtype", Header(R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})") + data16,
       "unknown dtype"},
      {"offsets out of range", Header(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})") + data16,
       "past the data section"},
      {"reversed offsets", Header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})") + data16,
       "reversed"},
      {"size mismatch", Header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})") + data16,
       "needs 12 bytes"},
      {"overlap",
       Header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})") +
           data16,
       "overlap"},
      {"negative dim", Header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})") + data16,
       "non-negative"},
      {"missing offsets", Header(R"({"a":{"dtype":"F32","shape":[1]}})") + data16, "data_offsets"},
      {"metadata not strings", Header(R"({"__metadata__":{"a":1}})"), "not a string"},
      {"overflowing shape",
       Header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})") + data16,
       "overflows"},
  };
  for (const Malformed& c : cases) {
    auto file = SafetensorsFile::FromBytes(c.bytes, "case.safetensors");
    ASSERT_FALSE(file.ok()) << c.what;
    std::string message(file.status().message());
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": " << message;
    EXPECT_NE(message.find("case.safetensors"), std::string::npos) << c.what << ": " << message;
  }
}

TEST(Safetensors, FuzzedBytesNeverCrash) {
  std::vector<float> a = Iota(12), b = Iota(3);
  auto valid = SerializeSafetensors({View("alpha", DType::kF32, {3, 4}, a.data(), 48),
                                     View("beta", DType::kF32, {3}, b.data(), 12)},
                                    {{"bt.arch", "vit"}});
  ASSERT_TRUE(valid.ok());
  // Every truncation point.
  for (size_t n = 0; n < valid->size(); ++n) {
    auto file = SafetensorsFile::FromBytes(valid->substr(0, n), "truncated");
    EXPECT_FALSE(file.ok()) << "truncated to " << n << " bytes";
  }
  // Random byte flips and random garbage: any outcome but a crash is fine; an accepted file must be consistent.
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = *valid;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    if (round % 10 == 0) {
      bytes.resize(rng() % 200);
      for (char& ch : bytes) ch = static_cast<char>(rng() & 0xff);
    }
    auto file = SafetensorsFile::FromBytes(bytes, "fuzz");
    if (file.ok()) {
      for (const TensorView& t : (*file)->tensors()) {
        EXPECT_EQ(static_cast<size_t>(t.NumElements()) * DTypeSize(t.dtype), t.size_bytes);
        const uint8_t* begin = reinterpret_cast<const uint8_t*>(bytes.data());
        (void)begin;
      }
    }
  }
}

TEST(Checkpoint, ShardedRoundTripAndSingleFile) {
  TempDir dir;
  std::vector<std::vector<float>> storage;
  std::vector<TensorView> tensors;
  for (int i = 0; i < 10; ++i) storage.push_back(Iota(100 + i, static_cast<float>(i)));
  for (int i = 0; i < 10; ++i) {
    tensors.push_back(View("t" + std::to_string(i), DType::kF32, {static_cast<int64_t>(storage[i].size())},
                           storage[i].data(), storage[i].size() * 4));
  }
  auto index = WriteShardedCheckpoint(dir.File(""), "model", tensors, {{"bt.arch", "vit"}}, 1000);
  ASSERT_TRUE(index.ok()) << index.status();
  auto checkpoint = Checkpoint::Open(*index);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_GT((*checkpoint)->shard_count(), 2u);
  EXPECT_EQ((*checkpoint)->metadata().at("bt.arch"), "vit");
  ASSERT_EQ((*checkpoint)->tensors().size(), 10u);
  for (int i = 0; i < 10; ++i) {
    const TensorView* t = (*checkpoint)->Find("t" + std::to_string(i));
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->size_bytes, storage[i].size() * 4);
    EXPECT_EQ(std::memcmp(t->data, storage[i].data(), t->size_bytes), 0);
  }
  ASSERT_TRUE(WriteSafetensors(dir.File("single.safetensors"), tensors).ok());
  auto single = Checkpoint::Open(dir.File("single.safetensors"));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ((*single)->shard_count(), 1u);
  EXPECT_EQ((*single)->tensors().size(), 10u);
}

TEST(Checkpoint, RejectsBadIndexes) {
  TempDir dir;
  std::vector<float> a = Iota(4);
  ASSERT_TRUE(WriteSafetensors(dir.File("s1.safetensors"), {View("a", DType::kF32, {4}, a.data(), 16)}).ok());
  auto expect_error = [&](const std::string& index_json, const std::string& expected) {
    ASSERT_TRUE(WriteFileAtomically(dir.File("m.safetensors.index.json"), index_json).ok());
    auto checkpoint = Checkpoint::Open(dir.File("m.safetensors.index.json"));
    ASSERT_FALSE(checkpoint.ok()) << index_json;
    EXPECT_NE(checkpoint.status().message().find(expected), std::string::npos) << checkpoint.status();
  };
  expect_error(R"({"weight_map": {"a": "../s1.safetensors"}})", "not a plain file name");
  expect_error(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})", "'b' is missing");
  expect_error(R"({"weight_map": {"z": "s1.safetensors"}})", "not mapped to it");
  expect_error(R"({"metadata": {}})", "weight_map");
  expect_error(R"({"weight_map": {"a": "nope.safetensors"}})", "nope.safetensors");
}

TEST(FileUtil, AtomicWriteReplacesWholeFileAndLeavesNoTemp) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("f"), "first").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("f"), "second").ok());
  EXPECT_EQ(*ReadFileToString(dir.File("f")), "second");
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.File(""))) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
  EXPECT_FALSE(WriteFileAtomically("/proc/definitely/not/here", "x").ok());
}

}  // namespace
}  // namespace bt
