#include "edge/intake/image_io.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cstring>

#include "common/base/file_util.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

std::string EncodePng(int width, int height, bool rgb, uint8_t value) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image), value);
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  std::string out(size, '\0');
  EXPECT_TRUE(png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr));
  out.resize(size);
  return out;
}

TEST(ImageIo, DecodesPgmBinaryAsciiAndSixteenBit) {
  TestDir dir;
  GrayImage img{2, 3, {0, 50, 100, 150, 200, 250}};
  ASSERT_TRUE(WriteFileAtomically(dir.Path("a.pgm"), EncodePgm(img)).ok());
  auto a = DecodeImageFile(dir.Path("a.pgm"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->pixels, img.pixels);
  EXPECT_EQ(a->width, 3);

  ASSERT_TRUE(WriteFileAtomically(dir.Path("b.pgm"), "P2\n# a comment\n2 1\n15\n0 15\n").ok());
  auto b = DecodeImageFile(dir.Path("b.pgm"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->pixels, (std::vector<uint8_t>{0, 255}));

  ASSERT_TRUE(WriteFileAtomically(dir.Path("c.pgm"), std::string("P5 1 1 65535\n\xff\xff", 15)).ok());
  auto c = DecodeImageFile(dir.Path("c.pgm"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->pixels[0], 255);
}

TEST(ImageIo, DecodesPngOfAnyColourTypeToGray) {
  TestDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.Path("g.png"), EncodePng(7, 5, false, 77)).ok());
  auto g = DecodeImageFile(dir.Path("g.png"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->width, 7);
  EXPECT_EQ(g->height, 5);
  EXPECT_EQ(g->pixels[0], 77);
  ASSERT_TRUE(WriteFileAtomically(dir.Path("c.png"), EncodePng(3, 3, true, 200)).ok());
  auto c = DecodeImageFile(dir.Path("c.png"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->pixels[4], 200, 2);
}

TEST(ImageIo, RejectsDamagedOrForeignFiles) {
  TestDir dir;
  std::string png = EncodePng(20, 20, false, 10);
  ASSERT_TRUE(WriteFileAtomically(dir.Path("t.png"), png.substr(0, png.size() / 2)).ok());
  EXPECT_FALSE(DecodeImageFile(dir.Path("t.png")).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("x.png"), "GIF89a....").ok());
  auto foreign = DecodeImageFile(dir.Path("x.png"));
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("not a PNG or PGM"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomically(dir.Path("t.pgm"), "P5\n10 10\n255\n\x01\x02").ok());
  EXPECT_FALSE(DecodeImageFile(dir.Path("t.pgm")).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("h.pgm"), "P5\n99999 99999\n255\n").ok());
  EXPECT_FALSE(DecodeImageFile(dir.Path("h.pgm")).ok());
  EXPECT_FALSE(DecodeImageFile(dir.Path("missing.pgm")).ok());
}

TEST(ImageIo, AreaResizeAveragesExactly) {
  GrayImage in{4, 4, {}};
  for (int i = 0; i < 16; ++i) in.pixels.push_back(static_cast<uint8_t>((i % 4) < 2 ? 0 : 200));
  GrayImage half = ResizeArea(in, 2, 2);
  EXPECT_EQ(half.pixels, (std::vector<uint8_t>{0, 200, 0, 200}));
  GrayImage one = ResizeArea(in, 1, 1);
  EXPECT_EQ(one.pixels[0], 100);
  GrayImage up = ResizeArea(half, 4, 4);
  EXPECT_EQ(up.pixels, in.pixels);
  GrayImage odd = ResizeArea(in, 3, 3);
  EXPECT_EQ(odd.pixels.size(), 9u);
}

TEST(ImageIo, DecodesToRgbForAnRgbModelAndResizesEachChannel) {
  TestDir dir;
  // An RGB PNG with a red left half and a blue right half; a gray PGM replicated to three channels.
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = 4;
  image.height = 2;
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels;
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) {
      const std::vector<uint8_t> rgb = x < 2 ? std::vector<uint8_t>{250, 0, 0} : std::vector<uint8_t>{0, 0, 90};
      pixels.insert(pixels.end(), rgb.begin(), rgb.end());
    }
  }
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  std::string png(size, '\0');
  ASSERT_TRUE(png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr));
  png.resize(size);
  ASSERT_TRUE(WriteFileAtomically(dir.Path("rgb.png"), png).ok());
  auto rgb = DecodeImageFile(dir.Path("rgb.png"), 3);
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->channels, 3);
  EXPECT_EQ(rgb->pixels, pixels);
  const GrayImage small = ResizeArea(*rgb, 1, 2);
  EXPECT_EQ(small.pixels, (std::vector<uint8_t>{250, 0, 0, 0, 0, 90}));
  // The same file for a gray model: one channel.
  auto gray = DecodeImageFile(dir.Path("rgb.png"));
  ASSERT_TRUE(gray.ok());
  EXPECT_EQ(gray->channels, 1);
  EXPECT_EQ(gray->pixels.size(), 8u);
  ASSERT_TRUE(WriteFileAtomically(dir.Path("g.pgm"), EncodePgm(GrayImage{1, 2, {10, 20}})).ok());
  auto replicated = DecodeImageFile(dir.Path("g.pgm"), 3);
  ASSERT_TRUE(replicated.ok());
  EXPECT_EQ(replicated->pixels, (std::vector<uint8_t>{10, 10, 10, 20, 20, 20}));
  EXPECT_FALSE(DecodeImageFile(dir.Path("g.pgm"), 4).ok());
}

}  // namespace
}  // namespace bt
