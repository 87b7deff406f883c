// Fuzz target: the safetensors reader (checkpoints, and every block a peer sends), then what is done with a parsed
// file: its tensors described as a block (digest, canonical bytes).
#include <cstdint>
#include <string>

#include "common/format/manifest.h"
#include "common/format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = bt::SafetensorsFile::FromBytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!file.ok()) return 0;
  auto block = bt::DescribeBlock("b", (*file)->tensors());
  if (block.ok()) (void)bt::SerializeBlock((*file)->tensors());
  return 0;
}
