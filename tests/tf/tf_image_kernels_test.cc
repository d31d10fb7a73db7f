// DecodeJpeg / DecodePng / DecodeImage (tf/kernels_image.cc, tf/image_decode.h) against PIL's decoding of images
// PIL writes at test time (tf_image_testing.h), and on hostile bytes: truncated, corrupt, huge or empty images are
// errors naming the node, never a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "tf/image_decode.h"
#include "tf/tf_image_testing.h"
#include "tf/tf_kernel_testing.h"

namespace inferd::tf {
namespace {

using testing::ABool;
using testing::AInt;
using testing::AStr;
using testing::AType;
using testing::RunOp;
using testing::Str;

class TfImageKernels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "/tf_image_kernels_" + std::to_string(getpid()));
    have_pil_ = testing::MakePilImages(*dir_);
  }
  void SetUp() override {
    if (!have_pil_) GTEST_SKIP() << "/usr/bin/python3 with PIL is needed to make the test images";
  }
  static std::string File(const std::string& name) { return testing::ReadBytes(*dir_ + "/" + name); }
  static Tensor Bytes(const std::string& s) { return Str({}, {s}); }
  static std::string Pixels(const Tensor& t) { return std::string(t.raw(), t.byte_size()); }
  static int MaxDiff(const std::string& a, const std::string& b) {
    int m = a.size() == b.size() ? 0 : 256;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      m = std::max(m, std::abs(static_cast<int>(static_cast<uint8_t>(a[i])) - static_cast<uint8_t>(b[i])));
    }
    return m;
  }
  static std::string* dir_;
  static bool have_pil_;
};
std::string* TfImageKernels::dir_ = nullptr;
bool TfImageKernels::have_pil_ = false;

TEST_F(TfImageKernels, DecodeJpegMatchesPilWithTheAccurateDct) {
  auto r = RunOp("DecodeJpeg", {Bytes(File("rgb.jpg"))}, {{"dct_method", AStr("INTEGER_ACCURATE")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r[0].dtype(), DType::kUint8);
  EXPECT_EQ(r[0].shape(), (Shape{23, 37, 3}));
  EXPECT_EQ(Pixels(r[0]), File("rgb.jpg.raw"));  // the same libjpeg-turbo, the same settings: identical
  // TensorFlow's default DCT is the fast integer one: close, not identical.
  auto fast = RunOp("DecodeJpeg", {Bytes(File("rgb.jpg"))}, {{"channels", AInt(3)}});
  ASSERT_TRUE(fast.status.ok());
  EXPECT_LE(MaxDiff(Pixels(fast[0]), File("rgb.jpg.raw")), 8);
  auto gray = RunOp("DecodeJpeg", {Bytes(File("gray.jpg"))}, {{"dct_method", AStr("INTEGER_ACCURATE")}});
  ASSERT_TRUE(gray.status.ok());
  EXPECT_EQ(gray[0].shape(), (Shape{23, 37, 1}));
  EXPECT_EQ(Pixels(gray[0]), File("gray.jpg.raw"));
}

TEST_F(TfImageKernels, DecodeJpegAttrs) {
  const Tensor jpg = Bytes(File("rgb.jpg"));
  auto gray = RunOp("DecodeJpeg", {jpg}, {{"channels", AInt(1)}});
  ASSERT_TRUE(gray.status.ok());
  EXPECT_EQ(gray[0].shape(), (Shape{23, 37, 1}));
  auto gray_to_rgb = RunOp("DecodeJpeg", {Bytes(File("gray.jpg"))}, {{"channels", AInt(3)}});
  ASSERT_TRUE(gray_to_rgb.status.ok());
  EXPECT_EQ(gray_to_rgb[0].shape(), (Shape{23, 37, 3}));
  auto half = RunOp("DecodeJpeg", {jpg}, {{"ratio", AInt(2)}});
  ASSERT_TRUE(half.status.ok());
  EXPECT_EQ(half[0].shape(), (Shape{12, 19, 3}));  // ceil(23/2), ceil(37/2), as libjpeg scales
  auto eighth = RunOp("DecodeJpeg", {jpg}, {{"ratio", AInt(8)}});
  ASSERT_TRUE(eighth.status.ok());
  EXPECT_EQ(eighth[0].shape(), (Shape{3, 5, 3}));
  auto plain = RunOp("DecodeJpeg", {jpg}, {{"fancy_upscaling", ABool(false)}, {"dct_method", AStr("INTEGER_ACCURATE")}});
  ASSERT_TRUE(plain.status.ok());
  EXPECT_NE(Pixels(plain[0]), File("rgb.jpg.raw"));  // box upsampling of the 4:2:0 chroma differs from PIL's fancy
  const std::string pil = File("rgb.jpg.raw"), box = Pixels(plain[0]);
  double mean = 0;
  for (size_t i = 0; i < pil.size() && i < box.size(); ++i) {
    mean += std::abs(static_cast<int>(static_cast<uint8_t>(pil[i])) - static_cast<uint8_t>(box[i]));
  }
  EXPECT_LT(mean / static_cast<double>(pil.size()), 10.0);
  for (auto [attr, v] : {std::pair{"channels", AInt(2)}, {"ratio", AInt(3)}, {"dct_method", AStr("FLOAT")}}) {
    auto bad = RunOp("DecodeJpeg", {jpg}, {{attr, v}});
    EXPECT_EQ(bad.status.code(), StatusCode::kInvalidArgument) << attr;
    EXPECT_NE(bad.status.message().find(attr), std::string::npos) << bad.status.message();
  }
}

TEST_F(TfImageKernels, DecodePngMatchesPil) {
  auto rgba = RunOp("DecodePng", {Bytes(File("rgba.png"))});
  ASSERT_TRUE(rgba.status.ok()) << rgba.status.message();
  EXPECT_EQ(rgba[0].shape(), (Shape{23, 37, 4}));
  EXPECT_EQ(Pixels(rgba[0]), File("rgba.png.raw"));
  auto rgb = RunOp("DecodePng", {Bytes(File("rgb.png"))}, {{"channels", AInt(3)}});
  ASSERT_TRUE(rgb.status.ok());
  EXPECT_EQ(Pixels(rgb[0]), File("rgb.png.raw"));
  auto pal = RunOp("DecodePng", {Bytes(File("pal.png"))});
  ASSERT_TRUE(pal.status.ok());
  EXPECT_EQ(pal[0].shape(), (Shape{23, 37, 3}));
  EXPECT_EQ(Pixels(pal[0]), File("pal.png.raw"));
  // channels 3 on an RGBA image strips the alpha (TensorFlow's png_set_strip_alpha), it does not composite.
  auto stripped = RunOp("DecodePng", {Bytes(File("rgba.png"))}, {{"channels", AInt(3)}});
  ASSERT_TRUE(stripped.status.ok());
  const std::string rgba_raw = File("rgba.png.raw");
  std::string rgb_of_rgba;
  for (size_t i = 0; i < rgba_raw.size(); i += 4) rgb_of_rgba += rgba_raw.substr(i, 3);
  EXPECT_EQ(Pixels(stripped[0]), rgb_of_rgba);
  auto gray = RunOp("DecodePng", {Bytes(File("rgb.png"))}, {{"channels", AInt(1)}});
  ASSERT_TRUE(gray.status.ok());
  EXPECT_EQ(gray[0].shape(), (Shape{23, 37, 1}));
  auto u16 = RunOp("DecodePng", {Bytes(File("rgb.png"))}, {{"dtype", AType(DType::kUint16)}});
  EXPECT_EQ(u16.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(u16.status.message().find("dtype"), std::string::npos);
}

TEST_F(TfImageKernels, DecodeImageSniffsTheFormat) {
  auto jpg = RunOp("DecodeImage", {Bytes(File("rgb.jpg"))}, {{"channels", AInt(3)}});
  ASSERT_TRUE(jpg.status.ok()) << jpg.status.message();
  EXPECT_EQ(jpg[0].shape(), (Shape{23, 37, 3}));
  auto png = RunOp("DecodeImage", {Bytes(File("rgba.png"))}, {{"dtype", AType(DType::kFloat)}});
  ASSERT_TRUE(png.status.ok());
  ASSERT_EQ(png[0].dtype(), DType::kFloat);
  const std::string raw = File("rgba.png.raw");
  for (size_t i = 0; i < raw.size(); i += 97) {
    EXPECT_FLOAT_EQ(png[0].data<float>()[i], static_cast<float>(static_cast<uint8_t>(raw[i])) / 255.0f);
  }
  auto gif = RunOp("DecodeImage", {Bytes("GIF89a\x01\x00\x01\x00")});
  EXPECT_NE(gif.status.message().find("GIF"), std::string::npos) << gif.status.message();
  auto junk = RunOp("DecodeImage", {Bytes("not an image")});
  EXPECT_EQ(junk.status.code(), StatusCode::kInvalidArgument);
}

TEST_F(TfImageKernels, TruncatedAndCorruptImagesAreErrorsNeverCrashes) {
  const std::string jpg = File("rgb.jpg"), png = File("rgba.png");
  for (size_t n = 0; n < jpg.size(); n += 7) {
    auto r = RunOp("DecodeJpeg", {Bytes(jpg.substr(0, n))});
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << n;
  }
  // libpng (as TensorFlow's decoder) needs the image data, not the IEND chunk after it.
  const size_t iend = png.find("IEND") - 4;
  for (size_t n = 0; n < iend; n += 5) {
    auto r = RunOp("DecodePng", {Bytes(png.substr(0, n))});
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << n;
  }
  // try_recover_truncated: a stream cut after its header decodes, the lost rows filled in.
  auto cut = RunOp("DecodeJpeg", {Bytes(jpg.substr(0, jpg.size() * 3 / 4))},
                   {{"try_recover_truncated", ABool(true)}, {"acceptable_fraction", testing::AFloat(0.5f)}});
  ASSERT_TRUE(cut.status.ok()) << cut.status.message();
  EXPECT_EQ(cut[0].shape(), (Shape{23, 37, 3}));
  std::mt19937 rng(7);
  int decoded = 0;
  for (int round = 0; round < 300; ++round) {
    std::string bad = round % 2 ? jpg : png;
    for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto r = RunOp("DecodeImage", {Bytes(bad)});
    if (r.status.ok()) {
      ++decoded;
      EXPECT_EQ(r[0].rank(), 3);
    } else {
      EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_LT(decoded, 300);
}

TEST_F(TfImageKernels, HugeAndEmptyImagesAreRefusedBeforeAllocating) {
  auto huge = RunOp("DecodePng", {Bytes(File("huge.png"))});
  EXPECT_EQ(huge.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(huge.status.message().find("100000x100000"), std::string::npos) << huge.status.message();
  auto zero = RunOp("DecodePng", {Bytes(File("zero.png"))});
  EXPECT_EQ(zero.status.code(), StatusCode::kInvalidArgument);
  // A JPEG whose frame header (SOF0) declares 60000x60000: patched into a real file.
  std::string jpg = File("rgb.jpg");
  size_t sof = jpg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  std::string big = jpg;
  big[sof + 5] = big[sof + 7] = static_cast<char>(0xEA), big[sof + 6] = big[sof + 8] = 0x60;
  auto r = RunOp("DecodeJpeg", {Bytes(big)});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("60000x60000"), std::string::npos) << r.status.message();
  std::string empty = jpg;
  empty[sof + 5] = empty[sof + 6] = 0;
  EXPECT_EQ(RunOp("DecodeJpeg", {Bytes(empty)}).status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RunOp("DecodeJpeg", {Bytes("")}).status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RunOp("DecodeJpeg", {Str({2}, {jpg, jpg})}).status.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inferd::tf
