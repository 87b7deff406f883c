// Fuzz target: the YAML loaders — the edge's and the cloud's config and drift scenarios — on the same text.
#include <cstdint>
#include <string>

#include "common/config/config.h"
#include "common/config/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)bt::ParseEdgeConfig(text, "fuzz.yaml");
  (void)bt::ParseCloudConfig(text, "fuzz.yaml");
  (void)bt::ParseScenario(text, "fuzz.yaml");
  return 0;
}
