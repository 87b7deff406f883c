// The bytes of an unsigned-byte IDX file (big-endian magic and dimensions, then the data), for IDX and dataset tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bt::fixtures {

inline std::string Idx(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return out + data;
}

}  // namespace bt::fixtures
