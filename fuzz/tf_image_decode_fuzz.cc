// fuzz/tf_image_decode_fuzz.cc: the image decoders behind DecodeJpeg / DecodePng / DecodeImage
// (tf/image_decode.h: libjpeg-turbo with inferd's longjmp error manager and source manager, libpng's simplified
// API). The first byte chooses the decoder and the options (bit 0: PNG, else JPEG; bits 1-2: channels; bits 3-4:
// ratio; bit 5: try_recover_truncated; bit 6: fancy_upscaling off; bit 7: the accurate DCT), the rest is the
// image. A decoded image must hold exactly height x width x channels bytes within kMaxImagePixels.
#include "fuzz_check.h"
#include "tf/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t o = data[0];
  const std::string_view bytes = inferd::fuzz::AsText(data + 1, size - 1);
  inferd::StatusOr<inferd::tf::DecodedImage> img = inferd::InvalidArgument("");
  if (o & 1) {
    img = inferd::tf::DecodePngBytes(bytes, (o >> 1) & 3 ? ((o >> 1) & 3) + 1 : 0);
  } else {
    inferd::tf::JpegOptions opt;
    static constexpr int kChannels[4] = {0, 1, 3, 3};
    opt.channels = kChannels[(o >> 1) & 3];
    opt.ratio = 1 << ((o >> 3) & 3);
    opt.try_recover_truncated = (o >> 5) & 1;
    opt.acceptable_fraction = opt.try_recover_truncated ? 0.5f : 1.0f;
    opt.fancy_upscaling = !((o >> 6) & 1);
    opt.integer_accurate = (o >> 7) & 1;
    img = inferd::tf::DecodeJpegBytes(bytes, opt);
  }
  if (!img.ok()) return 0;
  FUZZ_CHECK(img->height > 0 && img->width > 0 && img->height * img->width <= inferd::tf::kMaxImagePixels, "size");
  FUZZ_CHECK(img->channels >= 1 && img->channels <= 4, "channels");
  FUZZ_CHECK(img->pixels.size() == static_cast<size_t>(img->height * img->width * img->channels), "pixel count");
  return 0;
}
