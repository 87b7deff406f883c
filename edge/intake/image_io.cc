#include "edge/intake/image_io.h"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "common/base/file_util.h"

namespace bt {
namespace {

constexpr int kMaxSide = 16384;

absl::StatusOr<GrayImage> DecodePng(const std::string& bytes, int channels) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    std::string why = image.message;
    png_image_free(&image);
    return absl::InvalidArgumentError(absl::StrCat("bad PNG: ", why));
  }
  if (image.width == 0 || image.height == 0 || image.width > kMaxSide || image.height > kMaxSide) {
    png_image_free(&image);
    return absl::InvalidArgumentError(absl::StrCat("PNG size ", image.width, "x", image.height, " is out of range"));
  }
  image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  GrayImage out;
  out.height = static_cast<int>(image.height);
  out.width = static_cast<int>(image.width);
  out.channels = channels;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    std::string why = image.message;
    png_image_free(&image);
    return absl::InvalidArgumentError(absl::StrCat("bad PNG: ", why));
  }
  return out;
}

// PGM: "P5"/"P2", whitespace-separated width, height, maxval (comments start with '#'), then pixels.
absl::StatusOr<GrayImage> DecodePgm(const std::string& bytes) {
  size_t pos = 2;
  auto next_token = [&](int64_t* value) {
    while (pos < bytes.size()) {
      if (std::isspace(static_cast<unsigned char>(bytes[pos]))) {
        ++pos;
      } else if (bytes[pos] == '#') {
        while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
      } else {
        break;
      }
    }
    size_t start = pos;
    *value = 0;
    while (pos < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[pos]))) {
      *value = *value * 10 + (bytes[pos] - '0');
      if (*value > 1'000'000) return false;
      ++pos;
    }
    return pos > start;
  };
  const bool binary = bytes[1] == '5';
  int64_t width = 0, height = 0, maxval = 0;
  if (!next_token(&width) || !next_token(&height) || !next_token(&maxval)) {
    return absl::InvalidArgumentError("bad PGM header");
  }
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("PGM size ", width, "x", height, " is out of range"));
  }
  if (maxval < 1 || maxval > 65535) return absl::InvalidArgumentError("PGM maxval must be 1-65535");
  GrayImage out;
  out.width = static_cast<int>(width);
  out.height = static_cast<int>(height);
  const size_t count = static_cast<size_t>(width * height);
  out.pixels.resize(count);
  auto scale = [&](int64_t v) { return static_cast<uint8_t>(std::lround(255.0 * std::min(v, maxval) / maxval)); };
  if (binary) {
    ++pos;  // exactly one whitespace byte after maxval
    const size_t bytes_per = maxval < 256 ? 1 : 2;
    if (pos + count * bytes_per > bytes.size()) return absl::InvalidArgumentError("PGM pixel data is truncated");
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data()) + pos + i * bytes_per;
      out.pixels[i] = scale(bytes_per == 1 ? p[0] : (p[0] << 8) | p[1]);
    }
  } else {
    for (size_t i = 0; i < count; ++i) {
      int64_t v = 0;
      if (!next_token(&v)) return absl::InvalidArgumentError("PGM pixel data is truncated");
      out.pixels[i] = scale(v);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<GrayImage> DecodeImageFile(const std::string& path, int channels) {
  if (channels != 1 && channels != 3) {
    return absl::InvalidArgumentError(absl::StrCat("images decode to 1 or 3 channels, not ", channels));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return DecodePng(bytes, channels);
  if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '2')) {
    ASSIGN_OR_RETURN(GrayImage gray, DecodePgm(bytes));
    if (channels == 1) return gray;
    GrayImage rgb{gray.height, gray.width, {}, 3};
    rgb.pixels.reserve(gray.pixels.size() * 3);
    for (uint8_t v : gray.pixels) rgb.pixels.insert(rgb.pixels.end(), {v, v, v});
    return rgb;
  }
  return absl::InvalidArgumentError("not a PNG or PGM image");
}

GrayImage ResizeArea(const GrayImage& in, int height, int width) {
  GrayImage out;
  out.height = height;
  out.width = width;
  out.channels = in.channels;
  const int c = in.channels;
  out.pixels.resize(static_cast<size_t>(height) * width * c);
  const double sy = static_cast<double>(in.height) / height, sx = static_cast<double>(in.width) / width;
  for (int oy = 0; oy < height; ++oy) {
    const double y0 = oy * sy, y1 = (oy + 1) * sy;
    for (int ox = 0; ox < width; ++ox) {
      const double x0 = ox * sx, x1 = (ox + 1) * sx;
      double sum[3] = {0, 0, 0}, area = 0;
      for (int iy = static_cast<int>(y0); iy < std::min(in.height, static_cast<int>(std::ceil(y1))); ++iy) {
        const double wy = std::min<double>(iy + 1, y1) - std::max<double>(iy, y0);
        for (int ix = static_cast<int>(x0); ix < std::min(in.width, static_cast<int>(std::ceil(x1))); ++ix) {
          const double w = wy * (std::min<double>(ix + 1, x1) - std::max<double>(ix, x0));
          const size_t at = (static_cast<size_t>(iy) * in.width + ix) * c;
          for (int k = 0; k < c; ++k) sum[k] += w * in.pixels[at + k];
          area += w;
        }
      }
      const size_t to = (static_cast<size_t>(oy) * width + ox) * c;
      for (int k = 0; k < c; ++k) out.pixels[to + k] = static_cast<uint8_t>(std::lround(area > 0 ? sum[k] / area : 0));
    }
  }
  return out;
}

std::string EncodePgm(const GrayImage& image) {
  if (image.channels != 1) return "";  // PGM is gray
  std::string out = absl::StrCat("P5\n", image.width, " ", image.height, "\n255\n");
  out.append(reinterpret_cast<const char*>(image.pixels.data()), image.pixels.size());
  return out;
}

}  // namespace bt
