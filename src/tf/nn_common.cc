// tf/nn_common.cc: window geometry, fused epilogues and the sgemm wrapper of the nn kernel group
// (tf/nn_internal.h).
#include <cblas.h>

#include <Eigen/Core>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <climits>
#include <limits>
#include <mutex>
#include <cstring>
#include <string>

#include "tf/nn_internal.h"

namespace inferd::tf::nn {

StatusOr<Tensor> MakeOutput(const KernelContext& ctx, DType dtype, Shape shape) {
  auto t = Tensor::Make(dtype, std::move(shape));
  if (!t.ok()) return KernelError(ctx, "output: " + t.status().message());
  return t;
}

StatusOr<Tensor> MakeUninitializedOutput(const KernelContext& ctx, DType dtype, Shape shape) {
  auto t = Tensor::Uninitialized(dtype, std::move(shape));
  if (!t.ok()) return KernelError(ctx, "output: " + t.status().message());
  return t;
}

Status RequireFloat(const KernelContext& ctx, const Tensor& t, std::string_view what) {
  if (t.dtype() == DType::kFloat) return Status::Ok();
  return KernelError(ctx, std::string(what) + " must be DT_FLOAT, got " + std::string(DTypeName(t.dtype())));
}

Status RequireRank(const KernelContext& ctx, const Tensor& t, int rank, std::string_view what) {
  if (t.rank() == rank) return Status::Ok();
  return KernelError(ctx, std::string(what) + " must have rank " + std::to_string(rank) + ", got shape " +
                              ShapeString(t.shape()));
}

Status CheckNhwc(const KernelContext& ctx) {
  auto fmt = AttrStringOr(ctx.node, "data_format", "NHWC");
  if (!fmt.ok()) return fmt.status();
  if (*fmt == "NHWC") return Status::Ok();
  return KernelError(ctx, "attr data_format '" + *fmt + "' is not supported (only NHWC)");
}

StatusOr<Padding> ReadPadding(const KernelContext& ctx, bool allow_explicit) {
  auto p = AttrString(ctx.node, "padding");
  if (!p.ok()) return p.status();
  if (*p == "SAME") return Padding::kSame;
  if (*p == "VALID") return Padding::kValid;
  if (*p == "EXPLICIT" && allow_explicit) return Padding::kExplicit;
  return KernelError(ctx, "attr padding '" + *p + "' is not supported");
}

namespace {

StatusOr<std::array<int64_t, 2>> CheckHW(const KernelContext& ctx, std::span<const int64_t> v,
                                         std::string_view what) {
  if (v.size() != 4) {
    return KernelError(ctx, std::string(what) + " must have 4 entries (NHWC), got " + std::to_string(v.size()));
  }
  if (v[0] != 1 || v[3] != 1) {
    return KernelError(ctx, std::string(what) + " must be 1 in the batch and channel dimensions");
  }
  for (int i = 1; i <= 2; ++i) {
    if (v[static_cast<size_t>(i)] < 1 || v[static_cast<size_t>(i)] > kMaxWindowAttr) {
      return KernelError(ctx, std::string(what) + " entries must be in [1, 2^24], got " +
                                  std::to_string(v[static_cast<size_t>(i)]));
    }
  }
  return std::array<int64_t, 2>{v[1], v[2]};
}

// One spatial dimension of ComputeWindow.
Status WindowDim(const KernelContext& ctx, Padding padding, int64_t in, int64_t k, int64_t stride, int64_t dil,
                 int64_t pad_a, int64_t pad_b, int64_t& out, int64_t& before) {
  const int64_t eff = (k - 1) * dil + 1;  // k <= 2^31, dil <= 2^24: no overflow
  if (padding == Padding::kSame) {
    out = (in + stride - 1) / stride;
    before = std::max<int64_t>((out - 1) * stride + eff - in, 0) / 2;
    return Status::Ok();
  }
  if (padding == Padding::kValid) pad_a = pad_b = 0;
  out = (in + pad_a + pad_b - eff + stride) / stride;
  before = pad_a;
  if (out < 0) {
    return KernelError(ctx, "window of effective size " + std::to_string(eff) + " does not fit an input of size " +
                                std::to_string(in) + " (output size would be negative)");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::array<int64_t, 2>> ReadHW(const KernelContext& ctx, std::string_view attr, int64_t dflt) {
  if (FindAttr(ctx.node, attr) == nullptr) {
    if (dflt > 0) return std::array<int64_t, 2>{dflt, dflt};
    return KernelError(ctx, "attr " + std::string(attr) + " is missing");
  }
  auto v = AttrInts(ctx.node, attr);
  if (!v.ok()) return v.status();
  if (v->empty() && dflt > 0) return std::array<int64_t, 2>{dflt, dflt};
  return CheckHW(ctx, *v, "attr " + std::string(attr));
}

StatusOr<std::array<int64_t, 2>> ReadHWInput(const KernelContext& ctx, const Tensor& t, std::string_view what) {
  std::vector<int64_t> v;
  if (t.dtype() == DType::kInt32) {
    v.assign(t.data<int32_t>(), t.data<int32_t>() + t.num_elements());
  } else if (t.dtype() == DType::kInt64) {
    v.assign(t.data<int64_t>(), t.data<int64_t>() + t.num_elements());
  } else {
    return KernelError(ctx, std::string(what) + " must be DT_INT32 or DT_INT64");
  }
  if (t.rank() != 1) return KernelError(ctx, std::string(what) + " must be a vector");
  return CheckHW(ctx, v, what);
}

Status ComputeWindow(const KernelContext& ctx, Padding padding, std::span<const int64_t> pads, Window2D& w) {
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  if (padding == Padding::kExplicit) {
    if (pads.size() != 8) return KernelError(ctx, "attr explicit_paddings must have 8 entries");
    for (int64_t p : pads) {
      if (p < 0 || p > kMaxWindowAttr) return KernelError(ctx, "attr explicit_paddings entries must be in [0, 2^24]");
    }
    if (pads[0] != 0 || pads[1] != 0 || pads[6] != 0 || pads[7] != 0) {
      return KernelError(ctx, "attr explicit_paddings must be 0 in the batch and channel dimensions");
    }
    pt = pads[2], pb = pads[3], pl = pads[4], pr = pads[5];
  }
  if (w.k_h < 1 || w.k_w < 1) return KernelError(ctx, "window size must be positive");
  RETURN_IF_ERROR(WindowDim(ctx, padding, w.in_h, w.k_h, w.stride_h, w.dil_h, pt, pb, w.out_h, w.pad_top));
  return WindowDim(ctx, padding, w.in_w, w.k_w, w.stride_w, w.dil_w, pl, pr, w.out_w, w.pad_left);
}

Status ReadConvWindow(const KernelContext& ctx, bool use_dilations, Window2D& w) {
  ASSIGN_OR_RETURN(Padding padding, ReadPadding(ctx, /*allow_explicit=*/true));
  ASSIGN_OR_RETURN(auto strides, ReadHW(ctx, "strides", 0));
  w.stride_h = strides[0], w.stride_w = strides[1];
  if (use_dilations) {
    ASSIGN_OR_RETURN(auto dil, ReadHW(ctx, "dilations", 1));
    w.dil_h = dil[0], w.dil_w = dil[1];
  }
  std::vector<int64_t> pads;
  if (padding == Padding::kExplicit) {
    ASSIGN_OR_RETURN(pads, AttrInts(ctx.node, "explicit_paddings"));
  }
  return ComputeWindow(ctx, padding, pads, w);
}

// ---- epilogues ----
// Eigen's array expressions: vectorised whatever the compiler's cost model, and its exp/tanh/logistic are the
// ones TensorFlow's CPU kernels use.

namespace {

using Flat = Eigen::Map<Eigen::ArrayXf>;
using ConstVec = Eigen::Map<const Eigen::ArrayXf>;
using Block = Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic>>;  // channels x rows

void ApplyPrelu(const Epilogue& e, float* data, int64_t first_row, int64_t rows, int64_t ch) {
  if (e.prelu_count == 1) {
    Flat a(data, rows * ch);
    const float a0 = e.prelu[0];
    a = (a > 0.0f).select(a, a * a0);
    return;
  }
  if (e.prelu_count == ch) {
    Block m(data, ch, rows);
    m = (m > 0.0f).select(m, m.colwise() * ConstVec(e.prelu, ch));
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    Flat a(data + r * ch, ch);
    a = (a > 0.0f).select(a, a * ConstVec(e.prelu + ((first_row + r) % e.rows_per_image) * ch, ch));
  }
}

}  // namespace

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The common epilogue (optional bias, then nothing, Relu or Relu6) in one AVX2 pass: Eigen is compiled for the
// project's baseline x86-64 (SSE2) and makes separate passes. Same results: add, then max/min.
// Reads src, writes data (the same buffer, or a copy's destination: one pass instead of a copy and a pass).
__attribute__((target("avx2"))) void BiasClampAvx2(const float* src, float* data, int64_t rows, int64_t ch,
                                                  const float* bias, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int64_t r = 0; r < rows; ++r) {
    const float* q = src + r * ch;
    float* p = data + r * ch;
    int64_t c = 0;
    for (; c + 8 <= ch; c += 8) {
      __m256 v = _mm256_loadu_ps(q + c);
      if (bias != nullptr) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + c));
      _mm256_storeu_ps(p + c, _mm256_min_ps(_mm256_max_ps(v, vlo), vhi));
    }
    for (; c < ch; ++c) {
      const float v = q[c] + (bias != nullptr ? bias[c] : 0.0f);
      p[c] = std::min(std::max(v, lo), hi);
    }
  }
}

bool FastEpilogue(const Epilogue& e, const float* src, float* data, int64_t rows, int64_t ch) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (!avx2 || !e.scale.empty() || (e.act != Act::kNone && e.act != Act::kRelu && e.act != Act::kRelu6)) {
    return false;
  }
  const float inf = std::numeric_limits<float>::infinity();
  BiasClampAvx2(src, data, rows, ch, e.bias.empty() ? nullptr : e.bias.data(), e.act == Act::kNone ? -inf : 0.0f,
                e.act == Act::kRelu6 ? 6.0f : inf);
  return true;
}
#else
bool FastEpilogue(const Epilogue&, const float*, float*, int64_t, int64_t) { return false; }
#endif

void ApplyEpilogueFrom(const Epilogue& e, const float* src, float* dst, int64_t n) {
  if (n <= 0) return;
  if (FastEpilogue(e, src, dst, 1, n)) return;
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  ApplyEpilogue(e, dst, 0, 1, n);
}

void ApplyEpilogue(const Epilogue& e, float* data, int64_t first_row, int64_t rows, int64_t ch) {
  if (rows <= 0 || ch <= 0) return;
  if (FastEpilogue(e, data, data, rows, ch)) return;
  Block m(data, ch, rows);
  if (!e.scale.empty()) m.colwise() *= ConstVec(e.scale.data(), ch);
  if (!e.bias.empty()) m.colwise() += ConstVec(e.bias.data(), ch);
  Flat a(data, rows * ch);
  constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
  constexpr float kSeluScale = 1.0507009873554804934193349852946f;
  switch (e.act) {
    case Act::kNone: break;
    case Act::kRelu: a = a.max(0.0f); break;
    case Act::kRelu6: a = a.max(0.0f).min(6.0f); break;
    case Act::kElu: a = (a < 0.0f).select(a.exp() - 1.0f, a); break;
    case Act::kSelu: a = (a < 0.0f).select((kSeluScale * kSeluAlpha) * (a.exp() - 1.0f), kSeluScale * a); break;
    case Act::kLeakyRelu: a = (a > 0.0f).select(a, a * e.alpha); break;
    case Act::kTanh: a = a.tanh(); break;
    case Act::kSigmoid: a = a.logistic(); break;
    case Act::kPrelu: ApplyPrelu(e, data, first_row, rows, ch); break;
  }
}

namespace {

StatusOr<std::vector<float>> ChannelArg(const KernelContext& ctx, size_t i, int64_t channels, std::string_view what) {
  const Tensor& t = ctx.inputs[i];
  RETURN_IF_ERROR(RequireFloat(ctx, t, what));
  if (t.rank() != 1 || t.dim(0) != channels) {
    return KernelError(ctx, std::string(what) + " must have shape [" + std::to_string(channels) + "], got " +
                                ShapeString(t.shape()));
  }
  return std::vector<float>(t.data<float>(), t.data<float>() + channels);
}

// FusedBatchNorm folded into a per-channel scale and bias: y = (x - mean) * scale / sqrt(var + eps) + offset.
Status FoldBatchNorm(const KernelContext& ctx, size_t first, int64_t channels, Epilogue& e) {
  ASSIGN_OR_RETURN(float eps, AttrFloatOr(ctx.node, "epsilon", 1e-4f));
  ASSIGN_OR_RETURN(auto scale, ChannelArg(ctx, first, channels, "batch norm scale"));
  ASSIGN_OR_RETURN(auto offset, ChannelArg(ctx, first + 1, channels, "batch norm offset"));
  ASSIGN_OR_RETURN(auto mean, ChannelArg(ctx, first + 2, channels, "batch norm mean"));
  ASSIGN_OR_RETURN(auto var, ChannelArg(ctx, first + 3, channels, "batch norm variance"));
  e.scale.resize(static_cast<size_t>(channels));
  e.bias.resize(static_cast<size_t>(channels));
  for (size_t c = 0; c < e.scale.size(); ++c) {
    e.scale[c] = scale[c] / std::sqrt(var[c] + eps);
    e.bias[c] = offset[c] - mean[c] * e.scale[c];
  }
  return Status::Ok();
}

StatusOr<Act> ActFromName(std::string_view name) {
  if (name == "Relu") return Act::kRelu;
  if (name == "Relu6") return Act::kRelu6;
  if (name == "Elu") return Act::kElu;
  if (name == "LeakyRelu") return Act::kLeakyRelu;
  if (name == "Tanh") return Act::kTanh;
  if (name == "Sigmoid") return Act::kSigmoid;
  if (name == "Prelu") return Act::kPrelu;
  return InvalidArgument(std::string(name));
}

}  // namespace

StatusOr<Epilogue> ReadFusedOps(const KernelContext& ctx, int64_t channels, int64_t rows_per_image) {
  std::vector<std::string> ops;
  if (FindAttr(ctx.node, "fused_ops") != nullptr) {
    ASSIGN_OR_RETURN(ops, AttrStrings(ctx.node, "fused_ops"));
  }
  const int64_t have = static_cast<int64_t>(ctx.inputs.size()) - 2;
  ASSIGN_OR_RETURN(int64_t num_args, AttrIntOr(ctx.node, "num_args", have));
  if (have < 0 || num_args != have) {
    return KernelError(ctx, "expects " + std::to_string(num_args) + " fused args after input and filter, got " +
                                std::to_string(std::max<int64_t>(have, 0)));
  }
  Epilogue e;
  e.rows_per_image = std::max<int64_t>(rows_per_image, 1);
  size_t next = 2;
  auto refuse = [&] {
    std::string list;
    for (const auto& o : ops) list += (list.empty() ? "" : ",") + o;
    return KernelError(ctx, "fused_ops [" + list + "] with " + std::to_string(num_args) + " args are not supported");
  };
  if (ops.size() > 2) return refuse();
  if (!ops.empty()) {
    if (ops[0] == "BiasAdd") {
      if (next >= ctx.inputs.size()) return refuse();
      ASSIGN_OR_RETURN(e.bias, ChannelArg(ctx, next, channels, "bias"));
      next += 1;
    } else if (ops[0] == "FusedBatchNorm") {
      if (next + 4 > ctx.inputs.size()) return refuse();
      RETURN_IF_ERROR(FoldBatchNorm(ctx, next, channels, e));
      next += 4;
    } else {
      return refuse();
    }
  }
  if (ops.size() == 2) {
    auto act = ActFromName(ops[1]);
    if (!act.ok()) return refuse();
    e.act = *act;
    if (e.act == Act::kLeakyRelu) {
      ASSIGN_OR_RETURN(e.alpha, AttrFloatOr(ctx.node, "leakyrelu_alpha", 0.2f));
    }
    if (e.act == Act::kPrelu) {
      if (next >= ctx.inputs.size()) return refuse();
      const Tensor& a = ctx.inputs[next++];
      RETURN_IF_ERROR(RequireFloat(ctx, a, "prelu alpha"));
      const int64_t n = a.num_elements();
      if (n != 1 && n != channels && n != channels * e.rows_per_image) {
        return KernelError(ctx, "prelu alpha of shape " + ShapeString(a.shape()) + " does not match " +
                                    std::to_string(channels) + " channels");
      }
      e.prelu = a.data<float>();
      e.prelu_count = n;
    }
  }
  if (next != ctx.inputs.size()) return refuse();
  return e;
}

// ---- BLAS ----

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
           const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), accumulate ? 1.0f : 0.0f, c,
              static_cast<blasint>(ldc));
}

Status CheckBlasDims(const KernelContext& ctx, std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) {
    if (d < 0 || d > INT_MAX) return KernelError(ctx, "matrix dimension " + std::to_string(d) + " is too large");
  }
  return Status::Ok();
}

}  // namespace inferd::tf::nn
