// The served model survives restarts: Adopt and Deploy write serving.json before the change is visible, Load
// rebuilds the same model, and a corrupted block file is refused.
#include "edge/serving_state.h"

#include <gtest/gtest.h>

#include "common/base/file_util.h"
#include "common/format/manifest.h"
#include "common/model/tensor_convert.h"
#include "edge/window/window_runner.h"
#include "tests/testing/test_dir.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

// Stores every block of `model` and returns their digests in forward order.
BlockDigests StoreAll(const BlockModel& model, const BlockStore& store) {
  BlockDigests out;
  for (const BlockSpec& b : model.layout()) {
    const TensorMap tensors = *model.GetBlock(b.name);
    std::vector<TensorView> views;
    std::vector<torch::Tensor> keep;
    for (const auto& [name, t] : tensors) {
      keep.push_back(t.contiguous());
      views.push_back(*ViewOf(name, keep.back()));
    }
    out.emplace_back(b.name, *store.Put(*SerializeBlock(views)));
  }
  return out;
}

TEST(ServingState, AdoptDeployAndReloadServeTheSameModel) {
  TestDir dir;
  BlockStore store(dir.Path("blocks"));
  auto model = *CreateVitModel(fixtures::TinyVit(), 1);
  const BlockDigests blocks = StoreAll(*model, store);
  ServingState serving(dir.Path("serving.json"), &store);
  ASSERT_TRUE(serving.Load().ok());  // first start: nothing yet
  EXPECT_FALSE(serving.has_model());
  serving.SetArchitecture(model->ArchitectureMetadata());
  ASSERT_TRUE(serving.Adopt(blocks, 4).ok());
  EXPECT_TRUE(serving.has_model());
  EXPECT_EQ(serving.version(), 4u);

  // A window's result: another model, deployed; the version moves when the cloud accepts it.
  auto trained = *CreateVitModel(fixtures::TinyVit(), 2);
  const BlockDigests trained_blocks = StoreAll(*trained, store);
  ASSERT_TRUE(serving.Deploy(*CopyModel(*trained), trained_blocks).ok());
  EXPECT_EQ(serving.version(), 4u);
  ASSERT_TRUE(serving.SetVersion(5).ok());

  ServingState restarted(dir.Path("serving.json"), &store);
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.version(), 5u);
  EXPECT_EQ(restarted.blocks(), trained_blocks);
  auto snapshot = restarted.CopyForWindow();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  for (const auto& [name, t] : trained->parameters()) {
    EXPECT_TRUE(torch::equal(snapshot->model->parameters().at(name), t)) << name;
  }
}

TEST(ServingState, ACorruptedBlockFileIsRefusedAndNothingChanges) {
  TestDir dir;
  BlockStore store(dir.Path("blocks"));
  auto model = *CreateVitModel(fixtures::TinyVit(), 1);
  BlockDigests blocks = StoreAll(*model, store);
  ServingState serving(dir.Path("serving.json"), &store);
  serving.SetArchitecture(model->ArchitectureMetadata());
  ASSERT_TRUE(serving.Adopt(blocks, 1).ok());
  std::string bytes = *store.Read(blocks[0].second);
  bytes[bytes.size() - 1] ^= 1;
  ASSERT_TRUE(WriteFileAtomically(store.PathFor(blocks[0].second), bytes).ok());
  absl::Status s = serving.Adopt(blocks, 2);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_EQ(serving.version(), 1u);
  ServingState restarted(dir.Path("serving.json"), &store);
  EXPECT_FALSE(restarted.Load().ok());  // the block it names is damaged: said so at start-up, not served
}

}  // namespace
}  // namespace bt
