// Block forms are parsed once and printed once: every name round-trips, and anything else is refused.
#include "common/plan/block_form.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

TEST(BlockForm, NamesRoundTrip) {
  for (const BlockChoice& c : {BlockChoice::Frozen(), BlockChoice::Train(), BlockChoice::Proxy(0.25),
                               BlockChoice::Proxy(0.5), BlockChoice::Lora(), BlockChoice::Lora(0.75)}) {
    auto back = ChoiceFromName(c.Name());
    ASSERT_TRUE(back.ok()) << c.Name();
    EXPECT_EQ(*back, c) << c.Name();
  }
  EXPECT_EQ(BlockChoice::Proxy(0.5).Name(), "train@0.50");
  EXPECT_EQ(BlockChoice::Lora().Name(), "lora");
  EXPECT_FALSE(BlockChoice::Frozen().trains());
  EXPECT_TRUE(BlockChoice::Lora(0.25).trains());
}

TEST(BlockForm, RefusesAnythingElse) {
  for (const char* bad : {"", "Train", "train@", "train@0", "train@1", "train@1.5", "train@-0.2", "train@x",
                          "lora@0", "lora@1", "frozen ", "train@0.5junk"}) {
    EXPECT_FALSE(ChoiceFromName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace bt
