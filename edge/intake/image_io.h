// Decoding of the image files a camera drops in the spool (PNG via libpng, binary or ASCII PGM) into 8-bit
// grayscale or RGB (what the model reads), and resizing to the model's input. Torch-free; pure functions,
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct GrayImage {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // row-major, channel-last
  int channels = 1;             // 1 (gray) or 3 (RGB)
};

// Decodes a PNG (any colour type/bit depth, converted to gray or RGB as `channels` says; alpha is composited on
// black) or PGM (P2/P5, any maxval; replicated for RGB) by content, not by name. Fails with a reason for anything
// else or a damaged file. Images above 16384 pixels per side are refused.
absl::StatusOr<GrayImage> DecodeImageFile(const std::string& path, int channels = 1);

// Area-weighted resampling (box filter over the exact source footprint of each output pixel), per channel.
GrayImage ResizeArea(const GrayImage& image, int height, int width);

// Writes an 8-bit binary PGM (used by tests and tools that feed the spool).
std::string EncodePgm(const GrayImage& image);

}  // namespace bt
