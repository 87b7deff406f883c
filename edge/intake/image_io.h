// Decoding of the image files a camera drops in the spool (PNG via libpng, binary or ASCII PGM) into 8-bit
// grayscale, and resizing to the model's input. Torch-free; pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct GrayImage {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // row-major
};

// Decodes a PNG (any colour type/bit depth, converted to gray) or PGM (P2/P5, any maxval) by content, not by
// name. Fails with a reason for anything else or a damaged file. Images above 16384 pixels per side are refused.
absl::StatusOr<GrayImage> DecodeImageFile(const std::string& path);

// Area-weighted resampling (box filter over the exact source footprint of each output pixel).
GrayImage ResizeArea(const GrayImage& image, int height, int width);

// Writes an 8-bit binary PGM (used by tests and tools that feed the spool).
std::string EncodePgm(const GrayImage& image);

}  // namespace bt
