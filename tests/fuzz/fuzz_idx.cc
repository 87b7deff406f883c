// Fuzz target: the IDX reader (dataset files), on decompressed bytes.
#include <cstdint>
#include <vector>

#include "common/format/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)bt::ParseIdx(std::vector<uint8_t>(data, data + size), "fuzz");
  return 0;
}
