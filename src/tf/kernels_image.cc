// tf/kernels_image.cc: DecodeJpeg, DecodePng, DecodeImage (tf/image_decode.h does the decoding with libjpeg-turbo
// and libpng). The resize ops live in nn_image.cc.
//
// Every attr TensorFlow defines for these ops is implemented, except DecodePng/DecodeImage `dtype` uint16 (refused:
// the simplified libpng API used here delivers 16-bit samples linearised) and GIF/BMP data, refused by name when
// DecodeImage meets them (DecodeGif and DecodeBmp are not registered, so a graph using them fails to load naming
// them). The image input comes from a request: a bad image is the kernel's InvalidArgument (a 400), naming the node.
#include <cmath>
#include <string>

#include "tf/image_decode.h"
#include "tf/kernel_util.h"

namespace inferd::tf {
namespace {

StatusOr<std::string_view> ScalarBytes(const KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& t = ctx.inputs[0];
  if (t.dtype() != DType::kString || t.num_elements() != 1 || t.rank() != 0) {
    return KernelError(ctx, "contents must be a scalar string, got " + std::string(DTypeName(t.dtype())) + " " +
                                ShapeString(t.shape()));
  }
  return std::string_view(t.strings()[0]);
}

StatusOr<JpegOptions> JpegAttrs(const KernelContext& ctx) {
  JpegOptions o;
  const NodeDef& n = ctx.node;
  ASSIGN_OR_RETURN(int64_t channels, AttrIntOr(n, "channels", 0));
  ASSIGN_OR_RETURN(int64_t ratio, AttrIntOr(n, "ratio", 1));
  ASSIGN_OR_RETURN(o.fancy_upscaling, AttrBoolOr(n, "fancy_upscaling", true));
  ASSIGN_OR_RETURN(o.try_recover_truncated, AttrBoolOr(n, "try_recover_truncated", false));
  ASSIGN_OR_RETURN(o.acceptable_fraction, AttrFloatOr(n, "acceptable_fraction", 1.0f));
  ASSIGN_OR_RETURN(std::string dct, AttrStringOr(n, "dct_method", ""));
  if (channels != 0 && channels != 1 && channels != 3) {
    return KernelError(ctx, "attr channels must be 0, 1 or 3, got " + std::to_string(channels));
  }
  if (ratio != 1 && ratio != 2 && ratio != 4 && ratio != 8) {
    return KernelError(ctx, "attr ratio must be 1, 2, 4 or 8, got " + std::to_string(ratio));
  }
  if (!std::isfinite(o.acceptable_fraction)) return KernelError(ctx, "attr acceptable_fraction must be finite");
  if (dct != "" && dct != "INTEGER_FAST" && dct != "INTEGER_ACCURATE") {
    return KernelError(ctx, "attr dct_method must be \"\", INTEGER_FAST or INTEGER_ACCURATE, got '" + dct + "'");
  }
  o.channels = static_cast<int>(channels);
  o.ratio = static_cast<int>(ratio);
  o.integer_accurate = dct == "INTEGER_ACCURATE";
  return o;
}

// The decoded image as the node's output: uint8, or float32 scaled to [0, 1] (DecodeImage's dtype float).
Status Emit(KernelContext& ctx, StatusOr<DecodedImage> img, DType dtype, bool batch_dim) {
  if (!img.ok()) return KernelError(ctx, img.status().message());
  Shape shape = {img->height, img->width, img->channels};
  if (batch_dim) shape.insert(shape.begin(), 1);
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, dtype, shape));
  const size_t n = img->pixels.size();
  if (dtype == DType::kUint8) {
    std::copy(img->pixels.begin(), img->pixels.end(), out.data<uint8_t>());
  } else {
    float* o = out.data<float>();
    for (size_t i = 0; i < n; ++i) o[i] = static_cast<float>(img->pixels[i]) * (1.0f / 255.0f);
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status DecodeJpeg(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::string_view bytes, ScalarBytes(ctx));
  ASSIGN_OR_RETURN(JpegOptions o, JpegAttrs(ctx));
  return Emit(ctx, DecodeJpegBytes(bytes, o), DType::kUint8, false);
}

StatusOr<int> PngChannels(const KernelContext& ctx) {
  ASSIGN_OR_RETURN(int64_t channels, AttrIntOr(ctx.node, "channels", 0));
  if (channels < 0 || channels > 4) return KernelError(ctx, "attr channels must be 0 to 4, got " + std::to_string(channels));
  return static_cast<int>(channels);
}

StatusOr<DType> ImageDtype(const KernelContext& ctx, bool allow_float) {
  const AttrValue* a = FindAttr(ctx.node, "dtype");
  if (a == nullptr) return DType::kUint8;
  ASSIGN_OR_RETURN(DType t, AttrType(ctx.node, "dtype"));
  if (t == DType::kUint8 || (allow_float && t == DType::kFloat)) return t;
  return KernelError(ctx, "attr dtype " + std::string(DTypeName(t)) + " is not supported (uint8" +
                              std::string(allow_float ? " or float" : "") + " only)");
}

Status DecodePng(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::string_view bytes, ScalarBytes(ctx));
  ASSIGN_OR_RETURN(int channels, PngChannels(ctx));
  ASSIGN_OR_RETURN(DType dtype, ImageDtype(ctx, false));
  return Emit(ctx, DecodePngBytes(bytes, channels), dtype, false);
}

// DecodeImage: JPEG or PNG by their signature bytes, with the JPEG defaults (channels applies to both).
Status DecodeImage(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::string_view bytes, ScalarBytes(ctx));
  ASSIGN_OR_RETURN(int64_t channels, AttrIntOr(ctx.node, "channels", 0));
  ASSIGN_OR_RETURN(DType dtype, ImageDtype(ctx, true));
  if (channels != 0 && channels != 1 && channels != 3 && channels != 4) {
    return KernelError(ctx, "attr channels must be 0, 1, 3 or 4, got " + std::to_string(channels));
  }
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kJpeg: {
      if (channels == 4) return KernelError(ctx, "channels 4 is not valid for a JPEG image");
      JpegOptions o;
      o.channels = static_cast<int>(channels);
      return Emit(ctx, DecodeJpegBytes(bytes, o), dtype, false);
    }
    case ImageFormat::kPng: return Emit(ctx, DecodePngBytes(bytes, static_cast<int>(channels)), dtype, false);
    case ImageFormat::kGif: return KernelError(ctx, "GIF images are not supported (JPEG and PNG are)");
    case ImageFormat::kBmp: return KernelError(ctx, "BMP images are not supported (JPEG and PNG are)");
    case ImageFormat::kUnknown: break;
  }
  return KernelError(ctx, "unknown image format: the data is neither JPEG nor PNG");
}

// Load-time attr checks (KernelDef::check): the same parsing the kernels do, on the node alone.
template <typename F>
Status CheckWith(const NodeDef& n, F&& parse) {
  std::vector<Tensor> none;
  KernelContext ctx{n, {}, none};
  Status st = parse(ctx);
  if (st.ok() || st.message().find("is not supported") == std::string::npos) return st;
  return Unimplemented(std::string(st.message()));
}

Status CheckJpeg(const NodeDef& n) {
  return CheckWith(n, [](const KernelContext& ctx) { return JpegAttrs(ctx).status(); });
}
Status CheckPng(const NodeDef& n) {
  return CheckWith(n, [](const KernelContext& ctx) -> Status {
    RETURN_IF_ERROR(PngChannels(ctx).status());
    return ImageDtype(ctx, false).status();
  });
}
Status CheckImage(const NodeDef& n) {
  return CheckWith(n, [](const KernelContext& ctx) { return ImageDtype(ctx, true).status(); });
}

}  // namespace

void RegisterImageKernels(KernelRegistry& r) {
  r.Register("DecodeJpeg", {DecodeJpeg, false, CheckJpeg});
  r.Register("DecodePng", {DecodePng, false, CheckPng});
  r.Register("DecodeImage", {DecodeImage, false, CheckImage});
}

}  // namespace inferd::tf
