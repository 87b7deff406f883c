// The IDX reader: plain and gzip files, and every malformed file rejected with the file named — truncated headers,
// dimensions that promise more data than the file holds (including products that would overflow), random bytes.
#include "common/format/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "common/base/file_util.h"
#include "tests/testing/idx_bytes.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

using fixtures::Idx;

void WriteGzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ReadsPlainAndGzipFiles) {
  TestDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.Path("a"), Idx({2, 3}, "abcdef")).ok());
  auto a = ReadIdxFile(dir.Path("a"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::string(a->data.begin(), a->data.end()), "abcdef");
  WriteGzip(dir.Path("b.gz"), Idx({4}, "wxyz"));
  auto b = ReadIdxFile(dir.Path("b"));  // falls back to b.gz
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->dims, (std::vector<int64_t>{4}));
  EXPECT_TRUE(absl::IsNotFound(ReadIdxFile(dir.Path("missing")).status()));
}

TEST(Idx, RejectsMalformedFilesNamingThem) {
  TestDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"magic", std::string("\x01\x00\x08\x01", 4) + "xxxx"},
      {"type", std::string("\x00\x00\x0d\x01\x00\x00\x00\x01", 8) + "x"},
      {"header", std::string("\x00\x00\x08\x03\x00\x00", 6)},
      {"short", Idx({10}, "abc")},
      {"long", Idx({2}, "abc")},
      {"overflow", Idx({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, "abcd")},
  };
  for (const auto& [name, bytes] : cases) {
    ASSERT_TRUE(WriteFileAtomically(dir.Path(name), bytes).ok());
    auto r = ReadIdxFile(dir.Path(name));
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << name << ": " << r.status();
    EXPECT_NE(r.status().message().find(dir.Path(name)), std::string::npos) << r.status();
  }
}

TEST(Idx, FuzzedBytesNeverCrash) {
  TestDir dir;
  std::mt19937 rng(7);
  const std::string valid = Idx({3, 4, 2}, std::string(24, 'p'));
  int accepted = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = valid;
    if (round % 2 == 0) {
      for (int flips = 1 + round % 4; flips > 0; --flips) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    } else {
      bytes.resize(rng() % (valid.size() + 8));
      for (char& c : bytes) c = static_cast<char>(rng());
    }
    ASSERT_TRUE(WriteFileAtomically(dir.Path("f"), bytes).ok());
    auto r = ReadIdxFile(dir.Path("f"));
    if (!r.ok()) continue;
    ++accepted;
    uint64_t count = 1;
    for (int64_t d : r->dims) count *= static_cast<uint64_t>(d);
    EXPECT_EQ(count, r->data.size());  // what is accepted is consistent
  }
  EXPECT_GT(accepted, 0);  // some flips land in the data and leave a valid file
}

}  // namespace
}  // namespace bt
