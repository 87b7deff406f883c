#include "edge/intake/sample_buffer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/base/file_util.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

Sample MakeSample(int i) {
  Sample s;
  s.timestamp_ms = 1000 + i;
  s.label = i % 3 == 0 ? -1 : i % 10;
  s.height = 4;
  s.width = 5;
  s.channels = 1;
  s.source = "test:" + std::to_string(i);
  for (int p = 0; p < 20; ++p) s.pixels.push_back(static_cast<uint8_t>(i * 7 + p));
  return s;
}

SampleBufferOptions Options(const std::string& path) {
  SampleBufferOptions o;
  o.path = path;
  o.max_samples = 1000;
  o.sync_every = 1;
  return o;
}

TEST(SampleBuffer, SurvivesARestart) {
  TestDir dir;
  {
    auto buffer = SampleBuffer::Open(Options(dir.Path("b.buf")));
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*buffer)->Append(MakeSample(i)).ok());
  }
  auto reopened = SampleBuffer::Open(Options(dir.Path("b.buf")));
  ASSERT_TRUE(reopened.ok());
  ASSERT_EQ((*reopened)->size(), 10u);
  auto all = (*reopened)->Recent(100);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i], MakeSample(i)) << i;
  EXPECT_EQ((*reopened)->labeled_count(), 6u);
  auto last3 = (*reopened)->Recent(3);
  ASSERT_EQ(last3.size(), 3u);
  EXPECT_EQ(last3[0], MakeSample(7));
}

TEST(SampleBuffer, KeepsOnlyTheMostRecentWithinBoundsAcrossCompactions) {
  TestDir dir;
  SampleBufferOptions options = Options(dir.Path("b.buf"));
  options.max_samples = 25;
  {
    auto buffer = SampleBuffer::Open(options);
    ASSERT_TRUE(buffer.ok());
    for (int i = 0; i < 200; ++i) ASSERT_TRUE((*buffer)->Append(MakeSample(i)).ok());
    EXPECT_EQ((*buffer)->size(), 25u);
    EXPECT_EQ((*buffer)->Recent(1)[0], MakeSample(199));
  }
  // Compaction kept the file bounded: at most 2 × 25 records plus the magic.
  EXPECT_LE(std::filesystem::file_size(dir.Path("b.buf")), 8u + 2 * 25 * EncodeSampleRecord(MakeSample(199)).size());
  auto reopened = SampleBuffer::Open(options);
  ASSERT_TRUE(reopened.ok());
  ASSERT_EQ((*reopened)->size(), 25u);
  EXPECT_EQ((*reopened)->Recent(25)[0], MakeSample(175));

  SampleBufferOptions by_bytes = Options(dir.Path("c.buf"));
  by_bytes.max_bytes = 500;  // each record is 12 + 18 + 7..8 + 20 bytes
  auto small = SampleBuffer::Open(by_bytes);
  ASSERT_TRUE(small.ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*small)->Append(MakeSample(i)).ok());
  EXPECT_LE((*small)->bytes(), 500u);
  EXPECT_GE((*small)->size(), 8u);
}

TEST(SampleBuffer, TruncationAtAnyPointLosesOnlyTheTornSample) {
  TestDir dir;
  const std::string path = dir.Path("b.buf");
  {
    auto buffer = SampleBuffer::Open(Options(path));
    ASSERT_TRUE(buffer.ok());
    for (int i = 0; i < 30; ++i) ASSERT_TRUE((*buffer)->Append(MakeSample(i)).ok());
  }
  auto full = ReadFileToString(path);
  ASSERT_TRUE(full.ok());
  // Record boundaries, to know how many complete samples each cut leaves.
  std::vector<size_t> ends;
  size_t offset = 8;
  for (int i = 0; i < 30; ++i) {
    offset += EncodeSampleRecord(MakeSample(i)).size();
    ends.push_back(offset);
  }
  ASSERT_EQ(ends.back(), full->size());

  std::mt19937 rng(7);
  for (int trial = 0; trial < 150; ++trial) {
    size_t cut = trial < 20 ? static_cast<size_t>(trial) : rng() % (full->size() + 1);
    ASSERT_TRUE(WriteFileAtomically(path, full->substr(0, cut)).ok());
    auto buffer = SampleBuffer::Open(Options(path));
    ASSERT_TRUE(buffer.ok()) << "cut at " << cut << ": " << buffer.status();
    size_t expected = 0;
    while (expected < ends.size() && ends[expected] <= cut) ++expected;
    ASSERT_EQ((*buffer)->size(), expected) << "cut at " << cut;
    auto samples = (*buffer)->Recent(1000);
    for (size_t i = 0; i < expected; ++i) ASSERT_EQ(samples[i], MakeSample(static_cast<int>(i)));
    // And the buffer keeps working after recovery.
    ASSERT_TRUE((*buffer)->Append(MakeSample(99)).ok());
    buffer->reset();
    auto again = SampleBuffer::Open(Options(path));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->size(), expected + 1) << "cut at " << cut;
  }
}

TEST(SampleBuffer, CorruptedRecordStopsRecoveryThere) {
  TestDir dir;
  const std::string path = dir.Path("b.buf");
  {
    auto buffer = SampleBuffer::Open(Options(path));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*buffer)->Append(MakeSample(i)).ok());
  }
  std::string bytes = *ReadFileToString(path);
  size_t third = 8 + 2 * EncodeSampleRecord(MakeSample(0)).size() + 20;  // inside the third record's payload
  bytes[third] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  auto buffer = SampleBuffer::Open(Options(path));
  ASSERT_TRUE(buffer.ok());
  EXPECT_EQ((*buffer)->size(), 2u);
  EXPECT_GT((*buffer)->recovered_bytes(), 0u);
}

TEST(SampleBuffer, RefusesAFileThatIsNotABuffer) {
  TestDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.Path("x"), "hello, this is a text file").ok());
  auto buffer = SampleBuffer::Open(Options(dir.Path("x")));
  ASSERT_FALSE(buffer.ok());
  EXPECT_NE(buffer.status().message().find("not a sample buffer"), std::string::npos);
  // It was not modified.
  EXPECT_EQ(*ReadFileToString(dir.Path("x")), "hello, this is a text file");
}

TEST(SampleBuffer, RejectsInconsistentSamples) {
  TestDir dir;
  auto buffer = SampleBuffer::Open(Options(dir.Path("b.buf")));
  Sample bad = MakeSample(1);
  bad.pixels.pop_back();
  EXPECT_FALSE((*buffer)->Append(bad).ok());
  EXPECT_EQ((*buffer)->size(), 0u);
}

TEST(SampleBuffer, KeepsTextSamplesBesideImagesAcrossARestart) {
  TestDir dir;
  Sample text;
  text.timestamp_ms = 5;
  text.label = 0;
  text.channels = 0;
  text.height = 0;
  text.width = 0;
  text.source = "spool:notes.txt#0";
  text.tokens = {1, 70000, 3, 0, 2047};
  {
    auto buffer = SampleBuffer::Open(Options(dir.Path("b.buf")));
    ASSERT_TRUE(buffer.ok());
    ASSERT_TRUE((*buffer)->Append(MakeSample(1)).ok());
    ASSERT_TRUE((*buffer)->Append(text).ok());
    // What cannot be stored is refused, naming why; nothing is written.
    Sample bad = text;
    bad.tokens = {4};
    EXPECT_NE((*buffer)->Append(bad).message().find("token ids"), std::string::npos);
    bad.tokens = {4, -1};
    EXPECT_NE((*buffer)->Append(bad).message().find("negative"), std::string::npos);
    bad = text;
    bad.pixels = {1};
    EXPECT_FALSE((*buffer)->Append(bad).ok());
    bad = MakeSample(2);
    bad.tokens = {1, 2};
    EXPECT_FALSE((*buffer)->Append(bad).ok());
    EXPECT_EQ((*buffer)->size(), 2u);
  }
  auto reopened = SampleBuffer::Open(Options(dir.Path("b.buf")));
  ASSERT_TRUE(reopened.ok());
  const std::vector<Sample> all = (*reopened)->Recent(10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], MakeSample(1));
  EXPECT_EQ(all[1], text);
  EXPECT_TRUE(all[1].text());
  EXPECT_EQ((*reopened)->recovered_bytes(), 0u);
}

}  // namespace
}  // namespace bt
