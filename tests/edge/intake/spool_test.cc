#include "edge/intake/spool.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "edge/intake/image_io.h"
#include "tests/testing/test_dir.h"

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

}  // namespace
}  // namespace bt
