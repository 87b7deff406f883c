#include "edge/intake/spool.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "edge/intake/image_io.h"
#include "tests/testing/test_dir.h"
#include "tests/testing/tiny_tokenizer.h"

namespace bt {
namespace {

namespace fs = std::filesystem;

class SpoolTest : public testing::Test {
 protected:
  void SetUp() override {
    SampleBufferOptions options;
    options.path = dir_.Path("samples.buf");
    buffer_ = std::move(*SampleBuffer::Open(options));
    SpoolOptions spool;
    spool.dir = dir_.Path("spool");
    spool_ = std::move(*Spool::Create(spool, buffer_.get(), [] { return int64_t{42}; }));
  }
  void Drop(const std::string& name, const std::string& bytes) {
    ASSERT_TRUE(WriteFileAtomically(dir_.Path("spool/" + name), bytes).ok());
  }
  bool InSpool(const std::string& name) { return fs::exists(dir_.Path("spool/" + name)); }
  bool Rejected(const std::string& name) { return fs::exists(dir_.Path("spool/rejected/" + name)); }

  TestDir dir_;
  std::unique_ptr<SampleBuffer> buffer_;
  std::unique_ptr<Spool> spool_;
};

TEST_F(SpoolTest, IngestsImagesWithLabelsAndResizes) {
  GrayImage small{28, 28, std::vector<uint8_t>(28 * 28, 9)};
  GrayImage big{56, 112, std::vector<uint8_t>(56 * 112, 120)};
  Drop("a.pgm", EncodePgm(small));
  Drop("b.pgm", EncodePgm(big));
  Drop("labels.csv", "file,label\na.pgm,3\n");
  auto scan = spool_->ScanOnce();
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->accepted, 2);
  EXPECT_EQ(scan->rejected, 0);
  auto samples = buffer_->Recent(10);
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].label, 3);
  EXPECT_EQ(samples[0].source, "spool:a.pgm");
  EXPECT_EQ(samples[0].timestamp_ms, 42);
  EXPECT_EQ(samples[1].label, -1);
  EXPECT_EQ(samples[1].height, 28);
  EXPECT_EQ(samples[1].width, 28);
  EXPECT_EQ(samples[1].pixels[100], 120);
  EXPECT_FALSE(InSpool("a.pgm"));
  EXPECT_FALSE(InSpool("b.pgm"));
  EXPECT_TRUE(InSpool("labels.csv"));
}

TEST_F(SpoolTest, BadFilesGoToRejectedWithAReason) {
  GrayImage ok{28, 28, std::vector<uint8_t>(28 * 28, 9)};
  Drop("garbage.png", "this is not an image at all");
  Drop("torn.pgm", "P5\n28 28\n255\n\x01\x02\x03");
  Drop("badlabel.pgm", EncodePgm(ok));
  Drop("good.pgm", EncodePgm(ok));
  Drop("labels.csv", "badlabel.pgm,17\ngood.pgm,1\n");
  auto scan = spool_->ScanOnce();
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->accepted, 1);
  EXPECT_EQ(scan->rejected, 3);
  for (const char* name : {"garbage.png", "torn.pgm", "badlabel.pgm"}) {
    EXPECT_TRUE(Rejected(name)) << name;
    EXPECT_FALSE(InSpool(name)) << name;
    auto reason = ReadFileToString(dir_.Path(std::string("spool/rejected/") + name + ".reason.txt"));
    ASSERT_TRUE(reason.ok()) << name;
    EXPECT_FALSE(reason->empty());
  }
  EXPECT_NE(ReadFileToString(dir_.Path("spool/rejected/badlabel.pgm.reason.txt"))->find("17"), std::string::npos);
  ASSERT_EQ(buffer_->size(), 1u);
  EXPECT_EQ(buffer_->Recent(1)[0].label, 1);
  // A second scan finds nothing new.
  auto again = spool_->ScanOnce();
  EXPECT_EQ(again->accepted + again->rejected, 0);
}

TEST_F(SpoolTest, SkipsFilesStillBeingWritten) {
  GrayImage ok{28, 28, std::vector<uint8_t>(28 * 28, 9)};
  Drop(".partial.pgm", EncodePgm(ok));
  Drop("frame.pgm.tmp", EncodePgm(ok));
  Drop("frame2.pgm.part", "P5");
  auto scan = spool_->ScanOnce();
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->accepted + scan->rejected, 0);
  EXPECT_TRUE(InSpool("frame.pgm.tmp"));
}

TEST(TextSpool, CutsTextFilesIntoSequencesOnceTheModelIsKnownAndRejectsWhatIsNotText) {
  TestDir dir;
  SampleBufferOptions options;
  options.path = dir.Path("samples.buf");
  auto buffer = std::move(*SampleBuffer::Open(options));
  std::shared_ptr<const Tokenizer> tokenizer = fixtures::TinyTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  SpoolInput input;
  input.kind = SpoolInput::Kind::kUnknown;
  SpoolOptions spool_options;
  spool_options.dir = dir.Path("spool");
  spool_options.input = [&] { return input; };
  auto spool = std::move(*Spool::Create(spool_options, buffer.get(), [] { return int64_t{7}; }));

  std::string text;
  for (int i = 0; i < 12; ++i) text += "def f" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i) + "\n";
  ASSERT_TRUE(WriteFileAtomically(dir.Path("spool/module.py"), text).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("spool/short.txt"), "def").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("spool/image.bin"), std::string("P5\0\0\1binary", 12)).ok());

  // Before the daemon knows what the model reads, the files wait.
  auto waiting = spool->ScanOnce();
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->accepted + waiting->rejected, 0);
  EXPECT_TRUE(fs::exists(dir.Path("spool/module.py")));

  input.kind = SpoolInput::Kind::kText;
  input.tokenizer = tokenizer;
  input.sequence = 8;
  auto scan = spool->ScanOnce();
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->accepted, 1);
  EXPECT_EQ(scan->rejected, 2);
  EXPECT_TRUE(fs::exists(dir.Path("spool/rejected/short.txt")));
  EXPECT_NE(ReadFileToString(dir.Path("spool/rejected/short.txt.reason.txt"))->find("shorter than one sample"),
            std::string::npos);
  EXPECT_NE(ReadFileToString(dir.Path("spool/rejected/image.bin.reason.txt"))->find("binary"), std::string::npos);

  // The samples tile the file's token ids: each holds 8 inputs and the next token, the next starts at that token.
  const std::vector<int32_t> ids = tokenizer->Encode(text);
  const std::vector<Sample> samples = buffer->Recent(1000);
  ASSERT_EQ(static_cast<int64_t>(samples.size()), scan->samples);
  ASSERT_EQ(samples.size(), (ids.size() - 1) / 8);
  for (size_t k = 0; k < samples.size(); ++k) {
    EXPECT_TRUE(samples[k].text());
    EXPECT_TRUE(samples[k].labeled());
    EXPECT_EQ(samples[k].timestamp_ms, 7);
    EXPECT_EQ(samples[k].source, "spool:module.py#" + std::to_string(k));
    EXPECT_EQ(samples[k].tokens, std::vector<int32_t>(ids.begin() + 8 * k, ids.begin() + 8 * k + 9)) << k;
  }
}

}  // namespace
}  // namespace bt
