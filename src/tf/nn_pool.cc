// tf/nn_pool.cc: MaxPool, MaxPoolV2 and AvgPool over NHWC (tf/nn_internal.h). Loops run over the channels
// of one window element at a time, contiguous in NHWC, so they vectorise. Windows are clipped to the input:
// MaxPool ignores padding, AvgPool divides by the number of in-bounds elements (TensorFlow's SAME rule).
#include <algorithm>
#include <limits>
#include <string>

#include "tf/nn_internal.h"

namespace inferd::tf::nn {
namespace {

enum class PoolKind { kMax, kAvg };

inline void MaxInto(float* __restrict o, const float* __restrict x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) o[i + j] = o[i + j] < x[i + j] ? x[i + j] : o[i + j];
  }
  for (; i < n; ++i) o[i] = o[i] < x[i] ? x[i] : o[i];
}

inline void AddInto(float* __restrict o, const float* __restrict x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) o[i + j] += x[i + j];
  }
  for (; i < n; ++i) o[i] += x[i];
}

void Pool(PoolKind kind, const float* x, const Window2D& w, int64_t batch, int64_t c, float* y) {
  const float init = kind == PoolKind::kMax ? std::numeric_limits<float>::lowest() : 0.0f;
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * w.in_h * w.in_w * c;
    for (int64_t oy = 0; oy < w.out_h; ++oy) {
      const int64_t hs = oy * w.stride_h - w.pad_top;
      const int64_t y0 = std::max<int64_t>(hs, 0), y1 = std::min(hs + w.k_h, w.in_h);
      for (int64_t ox = 0; ox < w.out_w; ++ox, y += c) {
        const int64_t ws = ox * w.stride_w - w.pad_left;
        const int64_t x0 = std::max<int64_t>(ws, 0), x1 = std::min(ws + w.k_w, w.in_w);
        std::fill(y, y + c, init);
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            const float* xp = xb + (iy * w.in_w + ix) * c;
            if (kind == PoolKind::kMax) {
              MaxInto(y, xp, c);
            } else {
              AddInto(y, xp, c);
            }
          }
        }
        if (kind == PoolKind::kAvg) {
          const int64_t count = std::max<int64_t>(y1 - y0, 0) * std::max<int64_t>(x1 - x0, 0);
          const float d = count > 0 ? static_cast<float>(count) : 1.0f;
          for (int64_t i = 0; i < c; ++i) y[i] /= d;
        }
      }
    }
  }
}

Status RunPool(KernelContext& ctx, PoolKind kind, std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides) {
  RETURN_IF_ERROR(CheckNhwc(ctx));
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "input"));
  RETURN_IF_ERROR(RequireRank(ctx, x, 4, "input"));
  ASSIGN_OR_RETURN(Padding padding, ReadPadding(ctx, /*allow_explicit=*/kind == PoolKind::kMax));
  std::vector<int64_t> pads;
  if (padding == Padding::kExplicit) {
    ASSIGN_OR_RETURN(pads, AttrInts(ctx.node, "explicit_paddings"));
  }
  Window2D w;
  w.in_h = x.dim(1), w.in_w = x.dim(2);
  w.k_h = ksize[0], w.k_w = ksize[1];
  w.stride_h = strides[0], w.stride_w = strides[1];
  RETURN_IF_ERROR(ComputeWindow(ctx, padding, pads, w));
  if (padding == Padding::kExplicit && (pads[2] >= w.k_h || pads[3] >= w.k_h || pads[4] >= w.k_w || pads[5] >= w.k_w)) {
    return KernelError(ctx, "explicit padding must be smaller than the window");
  }
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, DType::kFloat, {x.dim(0), w.out_h, w.out_w, x.dim(3)}));
  if (out.num_elements() > 0) Pool(kind, x.data<float>(), w, x.dim(0), x.dim(3), out.data<float>());
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

template <PoolKind kKind>
Status PoolV1(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(auto ksize, ReadHW(ctx, "ksize", 0));
  ASSIGN_OR_RETURN(auto strides, ReadHW(ctx, "strides", 0));
  return RunPool(ctx, kKind, ksize, strides);
}

// MaxPoolV2(input, ksize, strides): the window as int32 [4] inputs.
Status MaxPoolV2(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(auto ksize, ReadHWInput(ctx, ctx.inputs[1], "ksize"));
  ASSIGN_OR_RETURN(auto strides, ReadHWInput(ctx, ctx.inputs[2], "strides"));
  return RunPool(ctx, PoolKind::kMax, ksize, strides);
}

}  // namespace

void RegisterPoolKernels(KernelRegistry& r) {
  r.Register("MaxPool", {PoolV1<PoolKind::kMax>});
  r.Register("AvgPool", {PoolV1<PoolKind::kAvg>});
  r.Register("MaxPoolV2", {MaxPoolV2});
}

}  // namespace inferd::tf::nn
