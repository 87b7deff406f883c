// Loading Fashion-MNIST from IDX files: a well-formed split loads with pixels in [0, 1]; mismatched counts, labels
// that are not classes and damaged files are errors, never crashes.
#include "common/data/dataset.h"

#include <gtest/gtest.h>

#include <random>

#include "common/base/file_util.h"
#include "tests/testing/idx_bytes.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

using fixtures::Idx;

void WriteSplit(const TestDir& dir, const std::string& images, const std::string& labels) {
  ASSERT_TRUE(WriteFileAtomically(dir.Path("t10k-images-idx3-ubyte"), images).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("t10k-labels-idx1-ubyte"), labels).ok());
}

TEST(Dataset, LoadsASplitWithPixelsInTheUnitRange) {
  TestDir dir;
  std::string pixels(2 * 28 * 28, '\0');
  pixels[0] = static_cast<char>(255);
  WriteSplit(dir, Idx({2, 28, 28}, pixels), Idx({2}, std::string("\x03\x09", 2)));
  auto data = LoadFashionMnist(dir.Path(), "test");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 2);
  EXPECT_EQ(data->images.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_FLOAT_EQ(data->images.max().item<float>(), 1.0f);
  EXPECT_EQ(data->labels[1].item<int64_t>(), 9);
  EXPECT_FALSE(LoadFashionMnist(dir.Path(), "validation").ok());
}

TEST(Dataset, RejectsMismatchesAndLabelsThatAreNotClasses) {
  TestDir dir;
  WriteSplit(dir, Idx({2, 28, 28}, std::string(2 * 784, 'x')), Idx({3}, "\x01\x02\x03"));
  EXPECT_TRUE(absl::IsDataLoss(LoadFashionMnist(dir.Path(), "test").status()));
  WriteSplit(dir, Idx({2, 28, 28}, std::string(2 * 784, 'x')), Idx({2}, "\x01\x0a"));
  auto bad_label = LoadFashionMnist(dir.Path(), "test");
  EXPECT_TRUE(absl::IsDataLoss(bad_label.status())) << bad_label.status();
  EXPECT_NE(bad_label.status().message().find("label 1 is 10"), std::string::npos) << bad_label.status();
  WriteSplit(dir, Idx({2, 784}, std::string(2 * 784, 'x')), Idx({2}, "\x01\x02"));  // images must be N×H×W
  EXPECT_FALSE(LoadFashionMnist(dir.Path(), "test").ok());
}

TEST(Dataset, FuzzedFilesNeverCrash) {
  TestDir dir;
  std::mt19937 rng(11);
  const std::string images = Idx({3, 28, 28}, std::string(3 * 784, 'q'));
  const std::string labels = Idx({3}, "\x01\x02\x03");
  for (int round = 0; round < 300; ++round) {
    std::string a = images, b = labels;
    std::string& target = round % 2 ? a : b;
    for (int flips = 1 + round % 3; flips > 0; --flips) target[rng() % std::min<size_t>(target.size(), 24)] = rng();
    if (round % 5 == 0) target.resize(rng() % target.size());
    WriteSplit(dir, a, b);
    auto data = LoadFashionMnist(dir.Path(), "test");
    if (data.ok()) {
      EXPECT_EQ(data->images.size(0), data->labels.size(0));
      EXPECT_LT(data->labels.max().item<int64_t>(), kFashionMnistClasses);
    }
  }
}

}  // namespace
}  // namespace bt
