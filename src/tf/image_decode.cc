#include "tf/image_decode.h"

// Debian's libjpeg-turbo and libpng: no hand-written decoders.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

namespace inferd::tf {
namespace {

// ---- JPEG: libjpeg with an error manager that longjmps back instead of exit() ----

struct JpegError {
  jpeg_error_mgr pub;  // first member: libjpeg passes &pub as cinfo->err
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void JpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

void JpegQuiet(j_common_ptr, int) {}  // warnings (corrupt data recovered) are not logged per request

struct JpegSource {
  jpeg_source_mgr pub;  // first member
  bool try_recover = false;
  bool truncated = false;
};

const JOCTET kFakeEoi[2] = {0xFF, JPEG_EOI};

void SrcInit(j_decompress_ptr) {}
boolean SrcFill(j_decompress_ptr cinfo) {
  auto* src = reinterpret_cast<JpegSource*>(cinfo->src);
  src->truncated = true;
  if (!src->try_recover) ERREXIT(cinfo, JERR_INPUT_EOF);
  src->pub.next_input_byte = kFakeEoi;  // as libjpeg's own memory source: end the stream where it stops
  src->pub.bytes_in_buffer = 2;
  return TRUE;
}
void SrcSkip(j_decompress_ptr cinfo, long n) {
  auto* src = reinterpret_cast<JpegSource*>(cinfo->src);
  if (n <= 0) return;
  if (static_cast<size_t>(n) > src->pub.bytes_in_buffer) {
    src->pub.bytes_in_buffer = 0;
    SrcFill(cinfo);
    return;
  }
  src->pub.next_input_byte += n;
  src->pub.bytes_in_buffer -= static_cast<size_t>(n);
}
void SrcTerm(j_decompress_ptr) {}

void ScanLimit(j_common_ptr cinfo) {
  if (cinfo->is_decompressor &&
      reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxJpegScans) {
    ERREXIT1(cinfo, JERR_BAD_SCAN_SCRIPT, 0);  // any fatal code: the message below names the real reason
  }
}

// The decoding proper. Everything that must outlive a longjmp lives in the caller (`out`, `why`): no object
// with a destructor is created between setjmp and the jumps (C++ forbids skipping destructors).
bool DecodeJpegRaw(std::string_view bytes, const JpegOptions& o, DecodedImage* out, std::string* why) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  JpegSource src{};
  jpeg_progress_mgr progress;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = JpegErrorExit;
  err.pub.emit_message = JpegQuiet;
  err.message[0] = 0;
  bool scans_exceeded = false;
  if (setjmp(err.jump)) {
    scans_exceeded = cinfo.is_decompressor && cinfo.input_scan_number > kMaxJpegScans;
    *why = scans_exceeded ? "more than " + std::to_string(kMaxJpegScans) + " scans" : std::string(err.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = kMaxJpegWorkingBytes;
  src.pub.init_source = SrcInit;
  src.pub.fill_input_buffer = SrcFill;
  src.pub.skip_input_data = SrcSkip;
  src.pub.resync_to_restart = jpeg_resync_to_restart;
  src.pub.term_source = SrcTerm;
  src.pub.next_input_byte = reinterpret_cast<const JOCTET*>(bytes.data());
  src.pub.bytes_in_buffer = bytes.size();
  src.try_recover = o.try_recover_truncated;
  cinfo.src = &src.pub;
  progress.progress_monitor = ScanLimit;
  cinfo.progress = &progress;
  jpeg_read_header(&cinfo, TRUE);
  switch (o.channels) {
    case 0:
      if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        *why = "CMYK JPEGs are not supported";
        jpeg_destroy_decompress(&cinfo);
        return false;
      }
      cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
      break;
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    default: cinfo.out_color_space = JCS_RGB; break;
  }
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(o.ratio);
  cinfo.do_fancy_upsampling = o.fancy_upscaling ? TRUE : FALSE;
  cinfo.dct_method = o.integer_accurate ? JDCT_ISLOW : JDCT_IFAST;
  jpeg_calc_output_dimensions(&cinfo);
  const int64_t w = cinfo.output_width, h = cinfo.output_height, c = cinfo.output_components;
  if (w <= 0 || h <= 0 || w * h > kMaxImagePixels) {
    *why = "image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels (at most " +
           std::to_string(kMaxImagePixels) + ")";
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  out->pixels.resize(static_cast<size_t>(w * h * c));  // may throw bad_alloc: caught by the caller
  out->width = w, out->height = h, out->channels = c;
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + static_cast<size_t>(cinfo.output_scanline) * static_cast<size_t>(w * c);
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
  }
  const double read = static_cast<double>(cinfo.output_scanline);
  if (src.truncated && read < static_cast<double>(o.acceptable_fraction) * static_cast<double>(h)) {
    *why = "truncated: " + std::to_string(cinfo.output_scanline) + " of " + std::to_string(h) + " rows";
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (cinfo.output_scanline < cinfo.output_height) {  // rows never delivered stay zero, as in TensorFlow
    std::memset(out->pixels.data() + static_cast<size_t>(cinfo.output_scanline) * static_cast<size_t>(w * c), 0,
                static_cast<size_t>((h - cinfo.output_scanline) * w * c));
  }
  jpeg_abort_decompress(&cinfo);  // not finish: a recovered truncated stream has no real EOI to read
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

StatusOr<DecodedImage> DecodeJpegBytes(std::string_view bytes, const JpegOptions& o) {
  if (o.channels != 0 && o.channels != 1 && o.channels != 3) {
    return InvalidArgument("JPEG channels must be 0, 1 or 3, got " + std::to_string(o.channels));
  }
  if (o.ratio != 1 && o.ratio != 2 && o.ratio != 4 && o.ratio != 8) {
    return InvalidArgument("JPEG ratio must be 1, 2, 4 or 8, got " + std::to_string(o.ratio));
  }
  if (bytes.empty()) return InvalidArgument("invalid JPEG data: empty");
  DecodedImage img;
  std::string why;
  bool ok = false;
  try {
    ok = DecodeJpegRaw(bytes, o, &img, &why);
  } catch (const std::bad_alloc&) {
    why = "out of memory";
  }
  if (!ok) return InvalidArgument("invalid JPEG data: " + why);
  return img;
}

StatusOr<DecodedImage> DecodePngBytes(std::string_view bytes, int channels) {
  if (channels < 0 || channels > 4) {
    return InvalidArgument("PNG channels must be 0 to 4, got " + std::to_string(channels));
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  // libpng's simplified API catches its own errors (setjmp inside) and reports them in image.message.
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    std::string why = image.message;
    png_image_free(&image);
    return InvalidArgument("invalid PNG data: " + why);
  }
  const int64_t w = image.width, h = image.height;
  if (w <= 0 || h <= 0 || w * h > kMaxImagePixels) {
    png_image_free(&image);
    return InvalidArgument("invalid PNG data: image of " + std::to_string(w) + "x" + std::to_string(h) +
                           " pixels (at most " + std::to_string(kMaxImagePixels) + ")");
  }
  const bool color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  const bool alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  if (channels == 0) channels = (color ? 3 : 1) + (alpha ? 1 : 0);
  // An alpha the caller does not want is decoded and then dropped, as TensorFlow strips it (libpng would
  // composite it onto a background instead).
  const bool strip = alpha && (channels == 1 || channels == 3);
  const int decoded = strip ? channels + 1 : channels;
  static constexpr png_uint_32 kFormats[5] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
  image.format = kFormats[decoded];
  DecodedImage img;
  img.width = w, img.height = h, img.channels = channels;
  try {
    img.pixels.resize(static_cast<size_t>(w * h * decoded));
  } catch (const std::bad_alloc&) {
    png_image_free(&image);
    return InvalidArgument("invalid PNG data: out of memory");
  }
  if (!png_image_finish_read(&image, nullptr, img.pixels.data(), 0, nullptr)) {
    std::string why = image.message;
    png_image_free(&image);
    return InvalidArgument("invalid PNG data: " + why);
  }
  png_image_free(&image);
  if (strip) {
    const size_t n = static_cast<size_t>(w * h), c = static_cast<size_t>(channels);
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < c; ++k) img.pixels[i * c + k] = img.pixels[i * (c + 1) + k];
    }
    img.pixels.resize(n * c);
  }
  return img;
}

ImageFormat SniffImageFormat(std::string_view b) {
  if (b.size() >= 3 && b.substr(0, 3) == "\xff\xd8\xff") return ImageFormat::kJpeg;
  if (b.size() >= 8 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n") return ImageFormat::kPng;
  if (b.size() >= 3 && b.substr(0, 3) == "GIF") return ImageFormat::kGif;
  if (b.size() >= 2 && b.substr(0, 2) == "BM") return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

}  // namespace inferd::tf
