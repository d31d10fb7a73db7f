// tf/nn_image.cc: ResizeBilinear, ResizeNearestNeighbor, NonMaxSuppressionV2..V5, DepthToSpace and
// SpaceToDepth (tf/nn_internal.h). Resize follows TensorFlow's own index arithmetic (float scale, the legacy
// and half-pixel scalers) so results match it, not just approximately.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <queue>
#include <string>

#include "tf/nn_internal.h"

namespace inferd::tf::nn {
namespace {

// ---- resize ----

struct ResizeSetup {
  int64_t batch = 0, in_h = 0, in_w = 0, c = 0, out_h = 0, out_w = 0;
  float scale_h = 0, scale_w = 0;
  bool align_corners = false, half_pixel = false;
};

// TensorFlow's CalculateResizeScale.
float ResizeScale(int64_t in, int64_t out, bool align_corners) {
  return (align_corners && out > 1) ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                                    : static_cast<float>(in) / static_cast<float>(out);
}

// any_real: images may also be uint8 or int32 (ResizeBilinear's output is float whatever the input).
StatusOr<ResizeSetup> SetupResize(const KernelContext& ctx, bool any_real) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  const Tensor& size = ctx.inputs[1];
  if (!any_real || (x.dtype() != DType::kUint8 && x.dtype() != DType::kInt32)) {
    RETURN_IF_ERROR(RequireFloat(ctx, x, "images"));
  }
  RETURN_IF_ERROR(RequireRank(ctx, x, 4, "images"));
  if (size.dtype() != DType::kInt32 || size.rank() != 1 || size.dim(0) != 2) {
    return KernelError(ctx, "size must be an int32 vector of 2 elements");
  }
  ResizeSetup s;
  ASSIGN_OR_RETURN(s.align_corners, AttrBoolOr(ctx.node, "align_corners", false));
  ASSIGN_OR_RETURN(s.half_pixel, AttrBoolOr(ctx.node, "half_pixel_centers", false));
  if (s.align_corners && s.half_pixel) {
    return KernelError(ctx, "align_corners and half_pixel_centers cannot both be true");
  }
  s.batch = x.dim(0), s.in_h = x.dim(1), s.in_w = x.dim(2), s.c = x.dim(3);
  s.out_h = size.data<int32_t>()[0], s.out_w = size.data<int32_t>()[1];
  if (s.out_h <= 0 || s.out_w <= 0) {
    return KernelError(ctx, "output size must be positive, got [" + std::to_string(s.out_h) + "," +
                                std::to_string(s.out_w) + "]");
  }
  if (s.in_h <= 0 || s.in_w <= 0) return KernelError(ctx, "input image must not be empty");
  s.scale_h = ResizeScale(s.in_h, s.out_h, s.align_corners);
  s.scale_w = ResizeScale(s.in_w, s.out_w, s.align_corners);
  return s;
}

struct Interp {
  int64_t lower, upper;
  float lerp;
};

// TensorFlow's compute_interpolation_weights (HalfPixelScaler or LegacyScaler).
std::vector<Interp> InterpWeights(int64_t out, int64_t in, float scale, bool half_pixel) {
  std::vector<Interp> v(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    const float f = half_pixel ? (static_cast<float>(i) + 0.5f) * scale - 0.5f : static_cast<float>(i) * scale;
    const float fl = std::floor(f);
    auto& w = v[static_cast<size_t>(i)];
    w.lower = std::max<int64_t>(static_cast<int64_t>(fl), 0);
    w.upper = std::min<int64_t>(static_cast<int64_t>(std::ceil(f)), in - 1);
    w.lerp = f - fl;
  }
  return v;
}

// The images as float: the input itself, or a converted copy of a uint8/int32 one in `store`.
const float* FloatImages(const Tensor& x, Tensor& store) {
  if (x.dtype() == DType::kFloat) return x.data<float>();
  store = *Tensor::Make(DType::kFloat, x.shape());  // same element count as x: cannot fail
  float* d = store.data<float>();
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    d[i] = x.dtype() == DType::kUint8 ? static_cast<float>(x.data<uint8_t>()[i]) : static_cast<float>(x.data<int32_t>()[i]);
  }
  return d;
}

Status ResizeBilinear(KernelContext& ctx) {
  ASSIGN_OR_RETURN(ResizeSetup s, SetupResize(ctx, /*any_real=*/true));
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kFloat, {s.batch, s.out_h, s.out_w, s.c}));
  const auto ys = InterpWeights(s.out_h, s.in_h, s.scale_h, s.half_pixel);
  const auto xs = InterpWeights(s.out_w, s.in_w, s.scale_w, s.half_pixel);
  Tensor converted;
  const float* x = FloatImages(ctx.inputs[0], converted);
  float* y = out.data<float>();
  const int64_t c = s.c;
  for (int64_t b = 0; b < s.batch; ++b) {
    const float* xb = x + b * s.in_h * s.in_w * c;
    for (const Interp& iy : ys) {
      const float* top = xb + iy.lower * s.in_w * c;
      const float* bottom = xb + iy.upper * s.in_w * c;
      for (const Interp& ix : xs) {
        const float* tl = top + ix.lower * c;
        const float* tr = top + ix.upper * c;
        const float* bl = bottom + ix.lower * c;
        const float* br = bottom + ix.upper * c;
        for (int64_t k = 0; k < c; ++k) {
          const float t = tl[k] + (tr[k] - tl[k]) * ix.lerp;
          const float bo = bl[k] + (br[k] - bl[k]) * ix.lerp;
          y[k] = t + (bo - t) * iy.lerp;
        }
        y += c;
      }
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// TensorFlow's nearest source index (HalfPixelScalerForNN or LegacyScaler; round with align_corners).
std::vector<int64_t> NearestIndex(int64_t out, int64_t in, float scale, bool align_corners, bool half_pixel) {
  std::vector<int64_t> v(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    const float f = half_pixel ? (static_cast<float>(i) + 0.5f) * scale : static_cast<float>(i) * scale;
    int64_t j = std::min<int64_t>(align_corners ? static_cast<int64_t>(std::round(f)) : static_cast<int64_t>(std::floor(f)),
                                  in - 1);
    if (half_pixel) j = std::max<int64_t>(j, 0);
    v[static_cast<size_t>(i)] = j;
  }
  return v;
}

Status ResizeNearestNeighbor(KernelContext& ctx) {
  ASSIGN_OR_RETURN(ResizeSetup s, SetupResize(ctx, /*any_real=*/false));
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kFloat, {s.batch, s.out_h, s.out_w, s.c}));
  const auto ys = NearestIndex(s.out_h, s.in_h, s.scale_h, s.align_corners, s.half_pixel);
  const auto xs = NearestIndex(s.out_w, s.in_w, s.scale_w, s.align_corners, s.half_pixel);
  const float* x = ctx.inputs[0].data<float>();
  float* y = out.data<float>();
  const size_t bytes = static_cast<size_t>(s.c) * sizeof(float);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t iy : ys) {
      const float* row = x + (b * s.in_h + iy) * s.in_w * s.c;
      for (int64_t ix : xs) {
        if (bytes > 0) std::memcpy(y, row + ix * s.c, bytes);
        y += s.c;
      }
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---- non-max suppression ----

// TensorFlow's IOU: corners in either order; an empty box overlaps nothing.
float Iou(const float* a, const float* b) {
  const float ay0 = std::min(a[0], a[2]), ax0 = std::min(a[1], a[3]);
  const float ay1 = std::max(a[0], a[2]), ax1 = std::max(a[1], a[3]);
  const float by0 = std::min(b[0], b[2]), bx0 = std::min(b[1], b[3]);
  const float by1 = std::max(b[0], b[2]), bx1 = std::max(b[1], b[3]);
  const float area_a = (ay1 - ay0) * (ax1 - ax0);
  const float area_b = (by1 - by0) * (bx1 - bx0);
  if (area_a <= 0 || area_b <= 0) return 0.0f;
  const float ih = std::max(std::min(ay1, by1) - std::max(ay0, by0), 0.0f);
  const float iw = std::max(std::min(ax1, bx1) - std::max(ax0, bx0), 0.0f);
  const float inter = ih * iw;
  return inter / (area_a + area_b - inter);
}

StatusOr<float> ScalarFloat(const KernelContext& ctx, size_t i, std::string_view what) {
  const Tensor& t = ctx.inputs[i];
  if (t.dtype() != DType::kFloat || t.num_elements() != 1 || t.rank() > 1) {
    return KernelError(ctx, std::string(what) + " must be a DT_FLOAT scalar");
  }
  return t.data<float>()[0];
}

struct NmsResult {
  std::vector<int32_t> indices;
  std::vector<float> scores;
};

// TensorFlow's greedy (soft-)NMS: candidates above score_threshold by score (ties: lower index first); a
// candidate is dropped when its IoU with a selected box exceeds iou_threshold, or, with sigma > 0, decays by
// exp(-0.5 * iou^2 / sigma) and is re-queued while its score stays above score_threshold.
NmsResult RunNms(const float* boxes, const float* scores, int64_t num, int64_t max_out, float iou_thr,
                 float score_thr, float sigma) {
  struct Cand {
    int64_t index;
    float score;
    int64_t suppress_begin;
  };
  auto cmp = [](const Cand& a, const Cand& b) {
    return (a.score == b.score && a.index > b.index) || a.score < b.score;
  };
  std::priority_queue<Cand, std::vector<Cand>, decltype(cmp)> queue(cmp);
  for (int64_t i = 0; i < num; ++i) {
    if (scores[i] > score_thr) queue.push({i, scores[i], 0});
  }
  const float scale = sigma > 0.0f ? -0.5f / sigma : 0.0f;
  NmsResult r;
  const int64_t limit = std::min(max_out, num);
  while (static_cast<int64_t>(r.indices.size()) < limit && !queue.empty()) {
    Cand c = queue.top();
    queue.pop();
    const float original = c.score;
    bool hard = false;
    for (int64_t j = static_cast<int64_t>(r.indices.size()) - 1; j >= c.suppress_begin; --j) {
      const float iou = Iou(boxes + c.index * 4, boxes + int64_t{r.indices[static_cast<size_t>(j)]} * 4);
      c.score *= iou <= iou_thr ? std::exp(scale * iou * iou) : 0.0f;
      if (sigma <= 0.0f && iou > iou_thr) {
        hard = true;
        break;
      }
      if (c.score <= score_thr) break;
    }
    c.suppress_begin = static_cast<int64_t>(r.indices.size());
    if (hard) continue;
    if (c.score == original) {
      r.indices.push_back(static_cast<int32_t>(c.index));
      r.scores.push_back(c.score);
    } else if (c.score > score_thr) {
      queue.push(c);
    }
  }
  return r;
}

// NonMaxSuppressionV2..V5: version decides the inputs (V3+: score_threshold, V5: soft_nms_sigma) and outputs
// (V4: + valid_outputs, V5: + selected_scores, valid_outputs).
template <int kVersion>
Status NonMaxSuppression(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, kVersion == 2 ? 4 : kVersion == 5 ? 6 : 5));
  const Tensor& boxes = ctx.inputs[0];
  const Tensor& scores = ctx.inputs[1];
  RETURN_IF_ERROR(RequireFloat(ctx, boxes, "boxes"));
  RETURN_IF_ERROR(RequireFloat(ctx, scores, "scores"));
  if (boxes.rank() != 2 || boxes.dim(1) != 4 || scores.rank() != 1 || scores.dim(0) != boxes.dim(0)) {
    return KernelError(ctx, "boxes " + ShapeString(boxes.shape()) + " must be [n,4] and scores " +
                                ShapeString(scores.shape()) + " [n]");
  }
  const Tensor& max_t = ctx.inputs[2];
  if (max_t.dtype() != DType::kInt32 || max_t.num_elements() != 1 || max_t.rank() > 1) {
    return KernelError(ctx, "max_output_size must be an int32 scalar");
  }
  const int64_t max_out = max_t.data<int32_t>()[0];
  if (max_out < 0) return KernelError(ctx, "max_output_size must be non-negative");
  ASSIGN_OR_RETURN(float iou_thr, ScalarFloat(ctx, 3, "iou_threshold"));
  if (!(iou_thr >= 0.0f && iou_thr <= 1.0f)) return KernelError(ctx, "iou_threshold must be in [0, 1]");
  float score_thr = std::numeric_limits<float>::lowest(), sigma = 0.0f;
  if constexpr (kVersion >= 3) {
    ASSIGN_OR_RETURN(score_thr, ScalarFloat(ctx, 4, "score_threshold"));
  }
  if constexpr (kVersion == 5) {
    ASSIGN_OR_RETURN(sigma, ScalarFloat(ctx, 5, "soft_nms_sigma"));
    if (!(sigma >= 0.0f)) return KernelError(ctx, "soft_nms_sigma must be non-negative");
  }
  bool pad = false;
  if constexpr (kVersion >= 4) {
    ASSIGN_OR_RETURN(pad, AttrBoolOr(ctx.node, "pad_to_max_output_size", false));
  }
  NmsResult r = RunNms(boxes.data<float>(), scores.data<float>(), boxes.dim(0), max_out, iou_thr, score_thr, sigma);
  const int64_t valid = static_cast<int64_t>(r.indices.size());
  const int64_t n = pad ? std::max(valid, max_out) : valid;
  ASSIGN_OR_RETURN(Tensor idx, MakeOutput(ctx, DType::kInt32, {n}));
  std::copy(r.indices.begin(), r.indices.end(), idx.data<int32_t>());
  ctx.outputs.push_back(std::move(idx));
  if constexpr (kVersion == 5) {
    ASSIGN_OR_RETURN(Tensor sc, MakeOutput(ctx, DType::kFloat, {n}));
    std::copy(r.scores.begin(), r.scores.end(), sc.data<float>());
    ctx.outputs.push_back(std::move(sc));
  }
  if constexpr (kVersion >= 4) ctx.outputs.push_back(Tensor::Scalar<int32_t>(DType::kInt32, static_cast<int32_t>(valid)));
  return Status::Ok();
}

// ---- depth <-> space (any fixed-size dtype: pure data movement) ----

template <bool kToSpace>
Status DepthSpace(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  RETURN_IF_ERROR(CheckNhwc(ctx));
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireRank(ctx, x, 4, "input"));
  const size_t esize = DTypeSize(x.dtype());
  if (esize == 0) return KernelError(ctx, "dtype " + std::string(DTypeName(x.dtype())) + " is not supported");
  ASSIGN_OR_RETURN(int64_t bs, AttrInt(ctx.node, "block_size"));
  if (bs < 2 || bs > kMaxWindowAttr) return KernelError(ctx, "block_size must be in [2, 2^24]");
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  // Work in the "space" geometry: [n, sh, sw, sc] <-> [n, sh/bs, sw/bs, sc*bs*bs].
  int64_t sh, sw, sc;
  if (kToSpace) {
    if (c % (bs * bs) != 0) return KernelError(ctx, "input depth must be divisible by block_size^2");
    sh = h * bs, sw = w * bs, sc = c / (bs * bs);
  } else {
    if (h % bs != 0 || w % bs != 0) return KernelError(ctx, "input height and width must be divisible by block_size");
    sh = h, sw = w, sc = c;
  }
  const int64_t dh = sh / bs, dw = sw / bs;
  Shape out_shape = kToSpace ? Shape{n, sh, sw, sc} : Shape{n, dh, dw, sc * bs * bs};
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), out_shape));
  const char* src = x.raw();
  char* dst = out.raw();
  const size_t run = static_cast<size_t>(sc) * esize;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t y = 0; y < sh; ++y) {
      for (int64_t xx = 0; xx < sw; ++xx) {
        const int64_t space = ((b * sh + y) * sw + xx) * sc;
        const int64_t depth = ((b * dh + y / bs) * dw + xx / bs) * sc * bs * bs + ((y % bs) * bs + xx % bs) * sc;
        const int64_t from = kToSpace ? depth : space, to = kToSpace ? space : depth;
        if (run > 0) std::memcpy(dst + static_cast<size_t>(to) * esize, src + static_cast<size_t>(from) * esize, run);
      }
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

}  // namespace

void RegisterImageKernels(KernelRegistry& r) {
  r.Register("ResizeBilinear", {ResizeBilinear});
  r.Register("ResizeNearestNeighbor", {ResizeNearestNeighbor});
  r.Register("NonMaxSuppressionV2", {NonMaxSuppression<2>});
  r.Register("NonMaxSuppressionV3", {NonMaxSuppression<3>});
  r.Register("NonMaxSuppressionV4", {NonMaxSuppression<4>});
  r.Register("NonMaxSuppressionV5", {NonMaxSuppression<5>});
  r.Register("DepthToSpace", {DepthSpace<true>});
  r.Register("SpaceToDepth", {DepthSpace<false>});
}

}  // namespace inferd::tf::nn
