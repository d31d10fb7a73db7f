// tf/nn_conv.cc: convolutions and the fused matmul of the nn kernel group (tf/nn_internal.h).
//
// Conv2D lowers to im2col + sgemm over chunks of output pixels (a 1x1, stride-1, unpadded conv is one sgemm on
// the input itself); the fused epilogue runs on each chunk while it is in cache. Depthwise convolution is a
// direct loop vectorised over channels. Conv2DBackpropInput is sgemm into columns, then col2im.
// Layouts: input NHWC, Conv2D filter HWIO, depthwise filter HWCM (output channel c*M + m).
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "tf/nn_internal.h"

namespace inferd::tf::nn {
namespace {

// Floats of im2col buffer per chunk: keeps the columns and the output chunk near L2.
constexpr int64_t kColBudget = int64_t{1} << 17;

struct ConvSetup {
  Window2D w;
  int64_t batch = 0, in_c = 0, out_c = 0, mult = 1;
};

Status SetupConv(const KernelContext& ctx, bool depthwise, ConvSetup& s) {
  RETURN_IF_ERROR(CheckNhwc(ctx));
  if (ctx.inputs.size() < 2) return ExpectInputs(ctx, 2);
  const Tensor& x = ctx.inputs[0];
  const Tensor& f = ctx.inputs[1];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "input"));
  RETURN_IF_ERROR(RequireFloat(ctx, f, "filter"));
  RETURN_IF_ERROR(RequireRank(ctx, x, 4, "input"));
  RETURN_IF_ERROR(RequireRank(ctx, f, 4, "filter"));
  if (f.dim(2) != x.dim(3)) {
    return KernelError(ctx, "filter " + ShapeString(f.shape()) + " has " + std::to_string(f.dim(2)) +
                                " input channels, the input " + ShapeString(x.shape()) + " has " +
                                std::to_string(x.dim(3)) + " (grouped convolution is not supported)");
  }
  s.batch = x.dim(0);
  s.in_c = x.dim(3);
  s.mult = depthwise ? f.dim(3) : 1;
  s.out_c = depthwise ? s.in_c * s.mult : f.dim(3);  // <= filter elements: no overflow
  s.w.in_h = x.dim(1), s.w.in_w = x.dim(2);
  s.w.k_h = f.dim(0), s.w.k_w = f.dim(1);
  return ReadConvWindow(ctx, /*use_dilations=*/true, s.w);
}

// Columns of output pixels [p0, p0 + n) of one image: row i holds the kh*kw*C window of pixel p0 + i.
void Im2Col(const float* x, const Window2D& w, int64_t c, int64_t p0, int64_t n, float* col) {
  const int64_t k = w.k_h * w.k_w * c;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t oy = (p0 + i) / w.out_w, ox = (p0 + i) % w.out_w;
    float* dst = col + i * k;
    for (int64_t ky = 0; ky < w.k_h; ++ky) {
      const int64_t iy = oy * w.stride_h - w.pad_top + ky * w.dil_h;
      if (iy < 0 || iy >= w.in_h) {
        std::fill(dst, dst + w.k_w * c, 0.0f);
        dst += w.k_w * c;
        continue;
      }
      const float* row = x + iy * w.in_w * c;
      for (int64_t kx = 0; kx < w.k_w; ++kx, dst += c) {
        const int64_t ix = ox * w.stride_w - w.pad_left + kx * w.dil_w;
        if (ix < 0 || ix >= w.in_w) {
          std::fill(dst, dst + c, 0.0f);
        } else {
          std::memcpy(dst, row + ix * c, static_cast<size_t>(c) * sizeof(float));
        }
      }
    }
  }
}

Status RunConv2D(KernelContext& ctx, const ConvSetup& s, const Epilogue& ep) {
  const Window2D& w = s.w;
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, DType::kFloat, {s.batch, w.out_h, w.out_w, s.out_c}));
  const int64_t k = w.k_h * w.k_w * s.in_c;
  const int64_t pixels = w.out_h * w.out_w;
  if (out.num_elements() > 0) {
    const float* x = ctx.inputs[0].data<float>();
    const float* f = ctx.inputs[1].data<float>();
    float* y = out.data<float>();
    const bool direct = w.k_h == 1 && w.k_w == 1 && w.stride_h == 1 && w.stride_w == 1 && w.pad_top == 0 &&
                        w.pad_left == 0 && w.out_h == w.in_h && w.out_w == w.in_w;
    // A bias without a scale is written into the output first and the product accumulated onto it (beta = 1):
    // with beta = 0 OpenBLAS zeroes the output in a pass of its own, and the epilogue adds the bias in another.
    const bool bias_first = ep.scale.empty() && !ep.bias.empty();
    Epilogue rest = ep;
    if (bias_first) rest.bias.clear();
    auto fill_bias = [&](float* dst, int64_t rows) {
      for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * s.out_c, ep.bias.data(), ep.bias.size() * sizeof(float));
    };
    if (direct) {
      RETURN_IF_ERROR(CheckBlasDims(ctx, {s.batch * pixels, s.out_c, k}));
      if (bias_first) fill_bias(y, s.batch * pixels);
      Sgemm(false, false, s.batch * pixels, s.out_c, k, x, k, f, s.out_c, y, s.out_c, bias_first);
      if (!rest.empty()) ApplyEpilogue(rest, y, 0, s.batch * pixels, s.out_c);
    } else {
      RETURN_IF_ERROR(CheckBlasDims(ctx, {pixels, s.out_c, k}));
      const int64_t chunk = std::clamp<int64_t>(kColBudget / std::max<int64_t>(k, 1), 1, pixels);
      // From the tensor buffer cache (tensor.h): a fresh 512 KiB buffer per call would be a fresh mmap.
      ASSIGN_OR_RETURN(Tensor col_buffer, MakeUninitializedOutput(ctx, DType::kFloat, {chunk * k}));
      float* col = col_buffer.data<float>();  // every entry written
      const int64_t in_image = w.in_h * w.in_w * s.in_c;
      for (int64_t b = 0; b < s.batch; ++b) {
        float* yb = y + b * pixels * s.out_c;
        for (int64_t p0 = 0; p0 < pixels; p0 += chunk) {
          const int64_t n = std::min(chunk, pixels - p0);
          Im2Col(x + b * in_image, w, s.in_c, p0, n, col);
          if (bias_first) fill_bias(yb + p0 * s.out_c, n);
          Sgemm(false, false, n, s.out_c, k, col, k, f, s.out_c, yb + p0 * s.out_c, s.out_c, bias_first);
          if (!rest.empty()) ApplyEpilogue(rest, yb + p0 * s.out_c, p0, n, s.out_c);
        }
      }
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// The depthwise row loop is compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time (GCC's
// target_clones): the project builds for baseline x86-64, and this loop is not a BLAS call.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define INFERD_NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define INFERD_NN_CLONES
#endif

// acc[i] += x[i] * f[i], in blocks of fixed length that the compiler turns into vector operations.
inline void MulAdd(float* __restrict acc, const float* __restrict x, const float* __restrict f, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[i + j] += x[i + j] * f[i + j];
  }
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[i + j] += x[i + j] * f[i + j];
  }
  for (; i < n; ++i) acc[i] += x[i] * f[i];
}

// The in-bounds taps of output pixel (oy, ox): offsets into the image and the filter.
struct Taps {
  int64_t n = 0;
  std::array<int64_t, 64> x, f;  // the first n entries are set
};

// Channels [c, c + W) of one output pixel, summed over its taps in registers, starting from bias when not null.
// Inlined into DepthwiseRow's clones, so each is compiled for the clone's vector width.
template <int W>
__attribute__((always_inline)) inline void DepthwiseBlock(const float* x, const float* f, const Taps& t, int64_t c,
                                                          const float* bias, float* acc) {
  float sum[W];
  for (int j = 0; j < W; ++j) sum[j] = bias != nullptr ? bias[c + j] : 0.0f;
  for (int64_t k = 0; k < t.n; ++k) {
    const float* xp = x + t.x[static_cast<size_t>(k)] + c;
    const float* fp = f + t.f[static_cast<size_t>(k)] + c;
    for (int j = 0; j < W; ++j) sum[j] += xp[j] * fp[j];
  }
  for (int j = 0; j < W; ++j) acc[c + j] = sum[j];
}

// Output row oy of one image of a depthwise conv: acc[c*M + m] = sum over the window of x[c] * f[ky, kx, c, m].
// With M = 1 and at most 64 taps, each block of 16 channels is summed over all taps in registers, starting
// from bias when not null (the fused BiasAdd).
INFERD_NN_CLONES
void DepthwiseRow(const float* x, const float* f, const ConvSetup& s, int64_t oy, float* row, const float* bias) {
  const Window2D& w = s.w;
  const bool blocked = s.mult == 1 && w.k_h * w.k_w <= 64;
  Taps t;
  for (int64_t ox = 0; ox < w.out_w; ++ox) {
    float* acc = row + ox * s.out_c;
    t.n = 0;
    if (blocked) {
      for (int64_t ky = 0; ky < w.k_h; ++ky) {
        const int64_t iy = oy * w.stride_h - w.pad_top + ky * w.dil_h;
        for (int64_t kx = 0; kx < w.k_w; ++kx) {
          const int64_t ix = ox * w.stride_w - w.pad_left + kx * w.dil_w;
          if (iy < 0 || iy >= w.in_h || ix < 0 || ix >= w.in_w) continue;
          t.x[static_cast<size_t>(t.n)] = (iy * w.in_w + ix) * s.in_c;
          t.f[static_cast<size_t>(t.n++)] = (ky * w.k_w + kx) * s.out_c;
        }
      }
      // Blocks of 16, then 8 and 4 channels (BlazeFace-style models have 24, 28, 42... channels), then single ones.
      int64_t c = 0;
      for (; c + 16 <= s.in_c; c += 16) DepthwiseBlock<16>(x, f, t, c, bias, acc);
      for (; c + 8 <= s.in_c; c += 8) DepthwiseBlock<8>(x, f, t, c, bias, acc);
      for (; c + 4 <= s.in_c; c += 4) DepthwiseBlock<4>(x, f, t, c, bias, acc);
      for (; c < s.in_c; ++c) DepthwiseBlock<1>(x, f, t, c, bias, acc);
      continue;
    }
    std::fill(acc, acc + s.out_c, 0.0f);
    for (int64_t ky = 0; ky < w.k_h; ++ky) {
      const int64_t iy = oy * w.stride_h - w.pad_top + ky * w.dil_h;
      if (iy < 0 || iy >= w.in_h) continue;
      for (int64_t kx = 0; kx < w.k_w; ++kx) {
        const int64_t ix = ox * w.stride_w - w.pad_left + kx * w.dil_w;
        if (ix < 0 || ix >= w.in_w) continue;
        const float* xp = x + (iy * w.in_w + ix) * s.in_c;
        const float* fp = f + (ky * w.k_w + kx) * s.out_c;
        if (s.mult == 1) {
          MulAdd(acc, xp, fp, s.in_c);
          continue;
        }
        for (int64_t c = 0; c < s.in_c; ++c) {
          const float v = xp[c];
          float* a = acc + c * s.mult;
          const float* fc = fp + c * s.mult;
          for (int64_t m = 0; m < s.mult; ++m) a[m] += v * fc[m];
        }
      }
    }
  }
}

Status RunDepthwise(KernelContext& ctx, const ConvSetup& s, const Epilogue& ep) {
  const Window2D& w = s.w;
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, DType::kFloat, {s.batch, w.out_h, w.out_w, s.out_c}));
  // A plain BiasAdd starts the row loop's blocked sums; what else the epilogue does runs on each row after.
  Epilogue rest = ep;
  const float* bias = nullptr;
  if (s.mult == 1 && w.k_h * w.k_w <= 64 && ep.scale.empty() && !ep.bias.empty()) {
    bias = ep.bias.data();
    rest.bias.clear();
  }
  if (out.num_elements() > 0) {
    const float* x = ctx.inputs[0].data<float>();
    const float* f = ctx.inputs[1].data<float>();
    float* y = out.data<float>();
    const int64_t in_image = w.in_h * w.in_w * s.in_c;
    for (int64_t b = 0; b < s.batch; ++b) {
      for (int64_t oy = 0; oy < w.out_h; ++oy) {
        float* row = y + ((b * w.out_h + oy) * w.out_w) * s.out_c;
        DepthwiseRow(x + b * in_image, f, s, oy, row, bias);
        if (!rest.empty()) ApplyEpilogue(rest, row, oy * w.out_w, w.out_w, s.out_c);
      }
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status Conv2D(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ConvSetup s;
  RETURN_IF_ERROR(SetupConv(ctx, false, s));
  return RunConv2D(ctx, s, Epilogue{});
}

Status FusedConv2D(KernelContext& ctx) {
  ConvSetup s;
  RETURN_IF_ERROR(SetupConv(ctx, false, s));
  ASSIGN_OR_RETURN(Epilogue ep, ReadFusedOps(ctx, s.out_c, s.w.out_h * s.w.out_w));
  return RunConv2D(ctx, s, ep);
}

Status DepthwiseConv2D(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ConvSetup s;
  RETURN_IF_ERROR(SetupConv(ctx, true, s));
  return RunDepthwise(ctx, s, Epilogue{});
}

Status FusedDepthwiseConv2D(KernelContext& ctx) {
  ConvSetup s;
  RETURN_IF_ERROR(SetupConv(ctx, true, s));
  ASSIGN_OR_RETURN(Epilogue ep, ReadFusedOps(ctx, s.out_c, s.w.out_h * s.w.out_w));
  return RunDepthwise(ctx, s, ep);
}

// Adds the columns of pixels [p0, p0 + n) back onto the image they were taken from (Im2Col's adjoint).
void Col2Im(const float* col, const Window2D& w, int64_t c, int64_t p0, int64_t n, float* x) {
  const int64_t k = w.k_h * w.k_w * c;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t oy = (p0 + i) / w.out_w, ox = (p0 + i) % w.out_w;
    const float* src = col + i * k;
    for (int64_t ky = 0; ky < w.k_h; ++ky) {
      const int64_t iy = oy * w.stride_h - w.pad_top + ky * w.dil_h;
      for (int64_t kx = 0; kx < w.k_w; ++kx, src += c) {
        const int64_t ix = ox * w.stride_w - w.pad_left + kx * w.dil_w;
        if (iy < 0 || iy >= w.in_h || ix < 0 || ix >= w.in_w) continue;
        float* dst = x + (iy * w.in_w + ix) * c;
        for (int64_t j = 0; j < c; ++j) dst[j] += src[j];
      }
    }
  }
}

StatusOr<std::vector<int64_t>> ReadSizes(const KernelContext& ctx, const Tensor& t) {
  if (t.rank() != 1 || (t.dtype() != DType::kInt32 && t.dtype() != DType::kInt64)) {
    return KernelError(ctx, "input_sizes must be an int32 or int64 vector");
  }
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    v.push_back(t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i]);
  }
  return v;
}

// Conv2DBackpropInput(input_sizes, filter HWIO, out_backprop): the transposed convolution.
Status Conv2DBackpropInput(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  RETURN_IF_ERROR(CheckNhwc(ctx));
  const Tensor& f = ctx.inputs[1];
  const Tensor& dy = ctx.inputs[2];
  RETURN_IF_ERROR(RequireFloat(ctx, f, "filter"));
  RETURN_IF_ERROR(RequireFloat(ctx, dy, "out_backprop"));
  RETURN_IF_ERROR(RequireRank(ctx, f, 4, "filter"));
  RETURN_IF_ERROR(RequireRank(ctx, dy, 4, "out_backprop"));
  ASSIGN_OR_RETURN(auto sizes, ReadSizes(ctx, ctx.inputs[0]));
  if (sizes.size() == 2) sizes = {dy.dim(0), sizes[0], sizes[1], f.dim(2)};
  if (sizes.size() != 4) return KernelError(ctx, "input_sizes must have 4 entries");
  if (sizes[0] != dy.dim(0) || sizes[3] != f.dim(2) || dy.dim(3) != f.dim(3)) {
    return KernelError(ctx, "input_sizes " + ShapeString(sizes) + ", filter " + ShapeString(f.shape()) +
                                " and out_backprop " + ShapeString(dy.shape()) + " disagree");
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kFloat, sizes));  // checks negative and huge sizes
  ConvSetup s;
  s.batch = sizes[0], s.in_c = sizes[3], s.out_c = f.dim(3);
  s.w.in_h = sizes[1], s.w.in_w = sizes[2], s.w.k_h = f.dim(0), s.w.k_w = f.dim(1);
  RETURN_IF_ERROR(ReadConvWindow(ctx, /*use_dilations=*/true, s.w));
  const Window2D& w = s.w;
  if (w.out_h != dy.dim(1) || w.out_w != dy.dim(2)) {
    return KernelError(ctx, "out_backprop " + ShapeString(dy.shape()) + " is not the forward output size [" +
                                std::to_string(w.out_h) + "," + std::to_string(w.out_w) + "] of input_sizes " +
                                ShapeString(sizes));
  }
  const int64_t k = w.k_h * w.k_w * s.in_c;
  const int64_t pixels = w.out_h * w.out_w;
  if (out.num_elements() > 0 && pixels > 0) {
    RETURN_IF_ERROR(CheckBlasDims(ctx, {pixels, s.out_c, k}));
    const int64_t chunk = std::clamp<int64_t>(kColBudget / std::max<int64_t>(k, 1), 1, pixels);
    std::unique_ptr<float[]> col(new float[static_cast<size_t>(chunk * k)]);  // every entry written
    for (int64_t b = 0; b < s.batch; ++b) {
      const float* dyb = dy.data<float>() + b * pixels * s.out_c;
      float* xb = out.data<float>() + b * w.in_h * w.in_w * s.in_c;
      for (int64_t p0 = 0; p0 < pixels; p0 += chunk) {
        const int64_t n = std::min(chunk, pixels - p0);
        Sgemm(false, true, n, k, s.out_c, dyb + p0 * s.out_c, s.out_c, f.data<float>(), s.out_c, col.get(), k);
        Col2Im(col.get(), w, s.in_c, p0, n, xb);
      }
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// _FusedMatMul(a, b, args...): MatMul then the fused BiasAdd and activation.
Status FusedMatMul(KernelContext& ctx) {
  if (ctx.inputs.size() < 2) return ExpectInputs(ctx, 2);
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  RETURN_IF_ERROR(RequireFloat(ctx, a, "a"));
  RETURN_IF_ERROR(RequireFloat(ctx, b, "b"));
  RETURN_IF_ERROR(RequireRank(ctx, a, 2, "a"));
  RETURN_IF_ERROR(RequireRank(ctx, b, 2, "b"));
  ASSIGN_OR_RETURN(bool ta, AttrBoolOr(ctx.node, "transpose_a", false));
  ASSIGN_OR_RETURN(bool tb, AttrBoolOr(ctx.node, "transpose_b", false));
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb) {
    return KernelError(ctx, "a " + ShapeString(a.shape()) + " and b " + ShapeString(b.shape()) +
                                " do not multiply (inner dimensions " + std::to_string(k) + " and " +
                                std::to_string(kb) + ")");
  }
  RETURN_IF_ERROR(CheckBlasDims(ctx, {m, n, k, a.dim(1), b.dim(1)}));
  ASSIGN_OR_RETURN(Epilogue ep, ReadFusedOps(ctx, n, m));
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, DType::kFloat, {m, n}));  // Sgemm writes all
  Sgemm(ta, tb, m, n, k, a.data<float>(), std::max<int64_t>(a.dim(1), 1), b.data<float>(),
        std::max<int64_t>(b.dim(1), 1), out.data<float>(), std::max<int64_t>(n, 1));
  if (!ep.empty()) ApplyEpilogue(ep, out.data<float>(), 0, m, n);
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

}  // namespace

void RegisterConvKernels(KernelRegistry& r) {
  r.Register("Conv2D", {Conv2D});
  r.Register("_FusedConv2D", {FusedConv2D});
  r.Register("DepthwiseConv2dNative", {DepthwiseConv2D});
  r.Register("FusedDepthwiseConv2dNative", {FusedDepthwiseConv2D});
  r.Register("_FusedDepthwiseConv2dNative", {FusedDepthwiseConv2D});
  r.Register("Conv2DBackpropInput", {Conv2DBackpropInput});
  r.Register("_FusedMatMul", {FusedMatMul});
}

}  // namespace inferd::tf::nn
