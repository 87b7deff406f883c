#include "common/model/proxy.h"

#include <gtest/gtest.h>

#include "common/model/vit.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

VitConfig Config() { return fixtures::TinyVit(16, 4, 2, 24); }

TensorMap Layer(BlockModel& model, int64_t index) {
  return *model.GetBlock(absl::StrCat("encoder_layer_", index));
}

// Loads tensors named "<prefix><param>" into a module whose parameters are named "<param>".
void Load(torch::nn::Module& module, const TensorMap& tensors, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) item.value().copy_(tensors.at(prefix + item.key()));
}

TEST(Proxy, ExtractThenWriteBackIsBitIdentical) {
  auto model = *CreateVitModel(Config(), 3);
  TensorMap layer = Layer(*model, 1);
  for (double s : {0.0, 0.25, 0.5, 0.75}) {
    auto spec = SelectProxyByMagnitude(layer, 1, Config(), s);
    ASSERT_TRUE(spec.ok()) << spec.status();
    auto proxy = ExtractProxy(layer, 1, Config(), *spec);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    auto back = WriteBackProxy(layer, *proxy, 1, Config(), *spec);
    ASSERT_TRUE(back.ok()) << back.status();
    for (const auto& [name, t] : layer) EXPECT_TRUE(t.equal(back->at(name))) << name << " at s=" << s;
  }
}

TEST(Proxy, UpdatesLandInExactlyTheKeptRowsAndColumns) {
  const VitConfig c = Config();
  auto model = *CreateVitModel(c, 3);
  TensorMap layer = Layer(*model, 0);
  ProxySpec spec{{1, 3}, {0, 5, 7, 20}};
  auto proxy = *ExtractProxy(layer, 0, c, spec);
  EXPECT_EQ(proxy.at(LayerPrefix(0) + "self_attention.in_proj_weight").sizes().vec(),
            (std::vector<int64_t>{3 * 2 * 4, 16}));
  EXPECT_EQ(proxy.at(LayerPrefix(0) + "mlp.3.weight").sizes().vec(), (std::vector<int64_t>{16, 4}));
  for (auto& [name, t] : proxy) t = t + 1.0f;
  auto back = *WriteBackProxy(layer, proxy, 0, c, spec);
  const std::string p = LayerPrefix(0);
  torch::Tensor changed_rows = (back.at(p + "self_attention.in_proj_weight") != layer.at(p + "self_attention.in_proj_weight")).any(1);
  std::vector<int64_t> expected_rows;
  for (int64_t part = 0; part < 3; ++part) {
    for (int64_t head : spec.heads) {
      for (int64_t i = 0; i < 4; ++i) expected_rows.push_back(part * 16 + head * 4 + i);
    }
  }
  torch::Tensor expected = torch::zeros({48}, torch::kBool);
  for (int64_t r : expected_rows) expected[r] = true;
  EXPECT_TRUE(changed_rows.equal(expected));
  torch::Tensor changed_units = (back.at(p + "mlp.3.weight") != layer.at(p + "mlp.3.weight")).any(0);
  EXPECT_EQ(changed_units.sum().item<int64_t>(), 4);
  EXPECT_TRUE(changed_units[20].item<bool>());
  EXPECT_FALSE(changed_units[1].item<bool>());
  EXPECT_EQ(ProxyParameterCount(c, spec), 4 * 16 + 3 * 8 * 16 + 3 * 8 + 16 * 8 + 16 + 4 * 16 + 4 + 16 * 4 + 16);
}

TEST(Proxy, ProxyForwardEqualsTheFullLayerWithPrunedPartsZeroed) {
  const VitConfig c = Config();
  auto model = *CreateVitModel(c, 5);
  TensorMap layer = Layer(*model, 1);
  auto spec = *SelectProxyByMagnitude(layer, 1, c, 0.5);
  ASSERT_EQ(spec.heads.size(), 2u);
  ASSERT_EQ(spec.mlp_units.size(), 12u);
  auto proxy_tensors = *ExtractProxy(layer, 1, c, spec);
  EncoderBlock proxy(c.hidden_dim, static_cast<int64_t>(spec.heads.size()), static_cast<int64_t>(spec.mlp_units.size()),
                     c.hidden_dim / c.num_heads);
  Load(*proxy, proxy_tensors, LayerPrefix(1));

  // Removing a head is zeroing its out_proj columns; removing a unit is zeroing its mlp.3 column.
  TensorMap zeroed = layer;
  const std::string p = LayerPrefix(1);
  torch::Tensor out_w = zeroed.at(p + "self_attention.out_proj.weight").clone();
  torch::Tensor fc2 = zeroed.at(p + "mlp.3.weight").clone();
  for (int64_t head = 0; head < c.num_heads; ++head) {
    if (std::find(spec.heads.begin(), spec.heads.end(), head) == spec.heads.end()) out_w.slice(1, head * 4, head * 4 + 4).zero_();
  }
  for (int64_t u = 0; u < c.mlp_dim; ++u) {
    if (std::find(spec.mlp_units.begin(), spec.mlp_units.end(), u) == spec.mlp_units.end()) fc2.select(1, u).zero_();
  }
  zeroed[p + "self_attention.out_proj.weight"] = out_w;
  zeroed[p + "mlp.3.weight"] = fc2;
  EncoderBlock full(c.hidden_dim, c.num_heads, c.mlp_dim);
  Load(*full, zeroed, p);

  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({3, c.SequenceLength(), c.hidden_dim});
  EXPECT_TRUE(torch::allclose(proxy->forward(x), full->forward(x), 1e-5, 1e-6));
}

TEST(Proxy, MagnitudeSelectionKeepsTheStrongestHeadAndRejectsBadSpecs) {
  const VitConfig c = Config();
  auto model = *CreateVitModel(c, 5);
  TensorMap layer = Layer(*model, 0);
  const std::string p = LayerPrefix(0);
  layer[p + "self_attention.out_proj.weight"].slice(1, 8, 12).mul_(100);  // head 2
  auto spec = *SelectProxyByMagnitude(layer, 0, c, 0.75);
  EXPECT_EQ(spec.heads, (std::vector<int64_t>{2}));
  EXPECT_FALSE(ExtractProxy(layer, 0, c, ProxySpec{{4}, {0}}).ok());
  EXPECT_FALSE(ExtractProxy(layer, 0, c, ProxySpec{{1, 1}, {0}}).ok());
  EXPECT_FALSE(ExtractProxy(layer, 0, c, ProxySpec{{}, {0}}).ok());
  auto json = spec.ToJson();
  EXPECT_EQ(ProxySpec::FromJson(json)->mlp_units, spec.mlp_units);
}

}  // namespace
}  // namespace bt
