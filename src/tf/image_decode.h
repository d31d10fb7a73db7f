// tf/image_decode.h: JPEG and PNG bytes to pixels, for TensorFlow's DecodeJpeg / DecodePng / DecodeImage kernels
// (tf/kernels_image.cc) and their fuzz target.
//
// Contract:
// - Pure functions of (bytes, options), safe from any thread; no globals. Image bytes come from requests, so
//   nothing here trusts them: a truncated, corrupt or hostile stream is an InvalidArgument naming the format and
//   libjpeg's / libpng's reason, never a crash or an exit() (libjpeg's default error handler exits: ours
//   longjmps back to the decoder and returns a Status; libpng's simplified API does the same internally).
// - The decoded pixel count (width x height) is checked against kMaxImagePixels from the header, before any
//   pixel buffer is allocated; a zero-sized image is an error. libjpeg's working memory is capped
//   (kMaxJpegWorkingBytes) and progressive JPEGs may have at most kMaxJpegScans scans (a many-scan file is a
//   known CPU bomb).
// - Output: row-major [height, width, channels] uint8, as TensorFlow lays it out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace inferd::tf {

inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;  // 8192 x 8192
inline constexpr long kMaxJpegWorkingBytes = 1L << 30;
inline constexpr int kMaxJpegScans = 1000;

struct DecodedImage {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels
};

// DecodeJpeg's attrs, with TensorFlow's defaults.
struct JpegOptions {
  int channels = 0;             // 0: as the file (1 or 3); 1: grayscale; 3: RGB
  int ratio = 1;                // downscale by 1, 2, 4 or 8 while decoding
  bool fancy_upscaling = true;  // chroma upsampling by interpolation (libjpeg's do_fancy_upsampling)
  bool integer_accurate = false;  // dct_method "INTEGER_ACCURATE" (JDCT_ISLOW); TensorFlow's default is the fast DCT
  bool try_recover_truncated = false;  // a truncated stream decodes (the missing rows as libjpeg fills them)
  float acceptable_fraction = 1.0f;    // with try_recover_truncated: rows that must have been read
};

// `what` names the input in errors ("DecodeJpeg 'node'").
StatusOr<DecodedImage> DecodeJpegBytes(std::string_view bytes, const JpegOptions& o);

// channels: 0 as the file (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; a palette expands to RGB(A)), or 1..4.
// 8-bit output only (DecodePng's dtype uint16 is refused by the kernel).
StatusOr<DecodedImage> DecodePngBytes(std::string_view bytes, int channels);

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kBmp };
// By the first bytes, as DecodeImage sniffs them.
ImageFormat SniffImageFormat(std::string_view bytes);

}  // namespace inferd::tf
