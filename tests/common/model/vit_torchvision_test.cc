// Parity with torchvision's VisionTransformer: the fixture holds weights exported from torchvision (with
// conv_proj swapped for one input channel) plus inputs and torchvision's logits; see
// tests/fixtures/make_vit_fixture.py, which generated it with Debian's python3-torchvision.
#include <gtest/gtest.h>

#include "common/model/block_model.h"
#include "common/format/safetensors.h"
#include "common/model/tensor_convert.h"

namespace bt {
namespace {

const std::string kFixtures = std::string(BT_SOURCE_DIR) + "/tests/fixtures/";

TEST(VitTorchvision, LogitsMatchTorchvisionWithin1e4) {
  auto model = LoadModel(kFixtures + "vit_tiny.safetensors");
  ASSERT_TRUE(model.ok()) << model.status();
  auto io = SafetensorsFile::Open(kFixtures + "vit_tiny_io.safetensors");
  ASSERT_TRUE(io.ok()) << io.status();
  auto input = ToTensor(*(*io)->Find("input"));
  auto expected = ToTensor(*(*io)->Find("logits"));
  ASSERT_TRUE(input.ok() && expected.ok());

  torch::NoGradGuard no_grad;
  (*model)->SetTrainingMode(false);
  torch::Tensor logits = (*model)->Forward(*input);
  ASSERT_EQ(logits.sizes(), expected->sizes());
  double max_diff = (logits - *expected).abs().max().item<double>();
  EXPECT_LT(max_diff, 1e-4);
  // The fixture is not trivial: logits differ across samples and classes.
  EXPECT_GT(expected->std().item<double>(), 0.1);
}

TEST(VitTorchvision, EveryFixtureTensorIsUsed) {
  auto checkpoint = Checkpoint::Open(kFixtures + "vit_tiny.safetensors");
  ASSERT_TRUE(checkpoint.ok());
  auto model = LoadModel(kFixtures + "vit_tiny.safetensors");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*checkpoint)->tensors().size(), (*model)->parameters().size());
  for (const TensorView& t : (*checkpoint)->tensors()) {
    auto stored = ToTensor(t);
    ASSERT_TRUE(stored.ok());
    EXPECT_TRUE(stored->equal((*model)->parameters().at(t.name))) << t.name;
  }
}

}  // namespace
}  // namespace bt
