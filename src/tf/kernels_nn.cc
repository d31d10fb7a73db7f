// tf/kernels_nn.cc: the nn group of kernels (tf/kernel.h): activations, softmax, batch normalisation and LRN
// here; convolutions (nn_conv.cc), pooling (nn_pool.cc) and resize/NMS/depth-space (nn_image.cc) in their own
// files, sharing tf/nn_internal.h. float32 only; layouts NHWC.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "tf/kernel.h"
#include "tf/nn_internal.h"

namespace inferd::tf {
namespace nn {
namespace {

// One float input, one output of its shape, y[i] = f(x[i]).
template <typename F>
Status Unary(KernelContext& ctx, F f) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "features"));
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, DType::kFloat, x.shape()));
  const float* in = x.data<float>();
  float* o = out.data<float>();
  const int64_t n = x.num_elements();
  for (int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// Relu, Relu6, Elu, Selu, LeakyRelu: the fused epilogue's activation (nn_common.cc) on a copy of x.
template <Act kAct>
Status Activation(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "features"));
  Epilogue e;
  e.act = kAct;
  if (kAct == Act::kLeakyRelu) {
    ASSIGN_OR_RETURN(e.alpha, AttrFloatOr(ctx.node, "alpha", 0.2f));
  }
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, DType::kFloat, x.shape()));
  ApplyEpilogueFrom(e, x.data<float>(), out.data<float>(), x.num_elements());
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status Softsign(KernelContext& ctx) {
  return Unary(ctx, [](float x) { return x / (1.0f + std::fabs(x)); });
}
// TensorFlow's thresholds: x itself above -log(eps) - 2, exp(x) below log(eps) + 2, else log(exp(x) + 1).
Status Softplus(KernelContext& ctx) {
  return Unary(ctx, [](float x) {
    const float threshold = std::log(1.1920928955078125e-07f) + 2.0f;
    if (x > -threshold) return x;
    if (x < threshold) return std::exp(x);
    return std::log(std::exp(x) + 1.0f);
  });
}
// Prelu(x, alpha) (TF.js): x > 0 ? x : alpha * x, alpha broadcast into x's shape (right-aligned).
Status Prelu(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  const Tensor& a = ctx.inputs[1];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "x"));
  RETURN_IF_ERROR(RequireFloat(ctx, a, "alpha"));
  const int r = x.rank();
  bool ok = a.rank() <= r;
  std::vector<int64_t> astride(static_cast<size_t>(std::max(r, 1)), 0);  // alpha's stride per x dimension
  int64_t stride = 1;
  for (int i = a.rank() - 1; ok && i >= 0; --i) {
    const int xi = r - (a.rank() - i);
    if (a.dim(i) == x.dim(xi)) {
      astride[static_cast<size_t>(xi)] = a.dim(i) == 1 ? 0 : stride;
    } else if (a.dim(i) != 1) {
      ok = false;
    }
    stride *= a.dim(i);
  }
  if (!ok) {
    return KernelError(ctx, "alpha " + ShapeString(a.shape()) + " does not broadcast to x " + ShapeString(x.shape()));
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kFloat, x.shape()));
  const int64_t inner = r == 0 ? 1 : x.dim(r - 1);
  const int64_t outer = inner == 0 ? 0 : x.num_elements() / inner;
  const int64_t is = astride[static_cast<size_t>(std::max(r - 1, 0))];
  std::vector<int64_t> idx(static_cast<size_t>(std::max(r - 1, 0)), 0);
  const float* xp = x.data<float>();
  const float* ap = a.data<float>();
  float* o = out.data<float>();
  int64_t aoff = 0;
  for (int64_t row = 0; row < outer; ++row) {
    for (int64_t i = 0; i < inner; ++i) {
      const float v = xp[row * inner + i];
      o[row * inner + i] = v > 0.0f ? v : ap[aoff + i * is] * v;
    }
    for (int d = r - 2; d >= 0; --d) {  // odometer over the outer dimensions
      const size_t du = static_cast<size_t>(d);
      aoff += astride[du];
      if (++idx[du] < x.dim(d)) break;
      aoff -= astride[du] * idx[du];
      idx[du] = 0;
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// Softmax / LogSoftmax over the last axis, shifted by the row's max.
template <bool kLog>
Status SoftmaxK(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "logits"));
  if (x.rank() < 1) return KernelError(ctx, "logits must have rank >= 1");
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kFloat, x.shape()));
  const int64_t depth = x.dim(x.rank() - 1);
  const int64_t rows = depth == 0 ? 0 : x.num_elements() / depth;
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * depth;
    float* o = out.data<float>() + r * depth;
    const float mx = *std::max_element(in, in + depth);
    float sum = 0.0f;
    for (int64_t i = 0; i < depth; ++i) {
      o[i] = std::exp(in[i] - mx);
      sum += o[i];
    }
    if (kLog) {
      const float ls = std::log(sum);
      for (int64_t i = 0; i < depth; ++i) o[i] = (in[i] - mx) - ls;
    } else {
      for (int64_t i = 0; i < depth; ++i) o[i] /= sum;
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---- batch normalisation ----

StatusOr<const float*> BnVector(const KernelContext& ctx, size_t i, int64_t c, std::string_view what) {
  const Tensor& t = ctx.inputs[i];
  RETURN_IF_ERROR(RequireFloat(ctx, t, what));
  if (t.rank() != 1 || t.dim(0) != c) {
    return KernelError(ctx, std::string(what) + " must have shape [" + std::to_string(c) + "], got " +
                                ShapeString(t.shape()));
  }
  return t.data<float>();
}

Tensor VectorOf(const std::vector<float>& v) {
  Tensor t = *Tensor::Make(DType::kFloat, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// Batch statistics of x viewed as [rows, c]: mean and biased variance.
void Moments(const float* x, int64_t rows, int64_t c, std::vector<float>& mean, std::vector<float>& var) {
  std::vector<double> s(static_cast<size_t>(c), 0.0), s2(static_cast<size_t>(c), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < c; ++k) s[static_cast<size_t>(k)] += x[r * c + k];
  }
  mean.assign(static_cast<size_t>(c), 0.0f);
  for (int64_t k = 0; k < c; ++k) mean[static_cast<size_t>(k)] = static_cast<float>(s[static_cast<size_t>(k)] / static_cast<double>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < c; ++k) {
      const double d = x[r * c + k] - mean[static_cast<size_t>(k)];
      s2[static_cast<size_t>(k)] += d * d;
    }
  }
  var.assign(static_cast<size_t>(c), 0.0f);
  for (int64_t k = 0; k < c; ++k) var[static_cast<size_t>(k)] = static_cast<float>(s2[static_cast<size_t>(k)] / static_cast<double>(rows));
}

// FusedBatchNorm / V2 / V3 (x, scale, offset, mean, variance), channels last. Inference (is_training=false):
// y = (x - mean) * rsqrt(var + eps) * scale + offset; the other outputs copy mean and variance (V3's
// reserve_space_3 is empty). Training mode normalises with the batch's own moments, as TensorFlow does.
template <int kOutputs>
Status FusedBatchNorm(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 5));
  ASSIGN_OR_RETURN(std::string fmt, AttrStringOr(ctx.node, "data_format", "NHWC"));
  if (fmt != "NHWC" && fmt != "NDHWC") return KernelError(ctx, "attr data_format '" + fmt + "' is not supported");
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "x"));
  if (x.rank() != 4 && x.rank() != 5) return KernelError(ctx, "x must have rank 4 or 5, got " + ShapeString(x.shape()));
  const int64_t c = x.dim(x.rank() - 1);
  const int64_t rows = c == 0 ? 0 : x.num_elements() / c;
  ASSIGN_OR_RETURN(float eps, AttrFloatOr(ctx.node, "epsilon", 1e-4f));
  ASSIGN_OR_RETURN(bool training, AttrBoolOr(ctx.node, "is_training", true));
  ASSIGN_OR_RETURN(float factor, AttrFloatOr(ctx.node, "exponential_avg_factor", 1.0f));
  ASSIGN_OR_RETURN(const float* scale, BnVector(ctx, 1, c, "scale"));
  ASSIGN_OR_RETURN(const float* offset, BnVector(ctx, 2, c, "offset"));
  std::vector<float> mean, var, out_mean, out_var;
  if (training) {
    Moments(x.data<float>(), rows, c, mean, var);
    out_mean = mean;
    out_var = var;
    const float adjust = rows > 1 ? static_cast<float>(rows) / static_cast<float>(rows - 1) : 1.0f;
    for (float& v : out_var) v *= adjust;
    if (factor != 1.0f) {
      ASSIGN_OR_RETURN(const float* old_mean, BnVector(ctx, 3, c, "mean"));
      ASSIGN_OR_RETURN(const float* old_var, BnVector(ctx, 4, c, "variance"));
      for (size_t k = 0; k < out_mean.size(); ++k) {
        out_mean[k] = (1.0f - factor) * old_mean[k] + factor * out_mean[k];
        out_var[k] = (1.0f - factor) * old_var[k] + factor * out_var[k];
      }
    }
  } else {
    ASSIGN_OR_RETURN(const float* m, BnVector(ctx, 3, c, "mean"));
    ASSIGN_OR_RETURN(const float* v, BnVector(ctx, 4, c, "variance"));
    mean.assign(m, m + c);
    var.assign(v, v + c);
    out_mean = mean;
    out_var = var;
  }
  std::vector<float> mult(static_cast<size_t>(c));
  for (size_t k = 0; k < mult.size(); ++k) mult[k] = scale[k] / std::sqrt(var[k] + eps);
  ASSIGN_OR_RETURN(Tensor y, MakeOutput(ctx, DType::kFloat, x.shape()));
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * c;
    float* o = y.data<float>() + r * c;
    for (int64_t k = 0; k < c; ++k) o[k] = (in[k] - mean[static_cast<size_t>(k)]) * mult[static_cast<size_t>(k)] + offset[k];
  }
  ctx.outputs.push_back(std::move(y));
  ctx.outputs.push_back(VectorOf(out_mean));
  ctx.outputs.push_back(VectorOf(out_var));
  ctx.outputs.push_back(VectorOf(mean));
  ctx.outputs.push_back(VectorOf(var));
  if (kOutputs == 6) ctx.outputs.push_back(*Tensor::Make(DType::kFloat, {0}));
  return Status::Ok();
}

// LRN over the channels: x / (bias + alpha * sum of x^2 over [c - r, c + r])^beta.
Status Lrn(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  RETURN_IF_ERROR(RequireFloat(ctx, x, "input"));
  RETURN_IF_ERROR(RequireRank(ctx, x, 4, "input"));
  ASSIGN_OR_RETURN(int64_t radius, AttrIntOr(ctx.node, "depth_radius", 5));
  ASSIGN_OR_RETURN(float bias, AttrFloatOr(ctx.node, "bias", 1.0f));
  ASSIGN_OR_RETURN(float alpha, AttrFloatOr(ctx.node, "alpha", 1.0f));
  ASSIGN_OR_RETURN(float beta, AttrFloatOr(ctx.node, "beta", 0.5f));
  if (radius < 0 || radius > kMaxWindowAttr) return KernelError(ctx, "depth_radius must be in [0, 2^24]");
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kFloat, x.shape()));
  const int64_t c = x.dim(3);
  const int64_t rows = c == 0 ? 0 : x.num_elements() / c;
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * c;
    float* o = out.data<float>() + r * c;
    for (int64_t k = 0; k < c; ++k) {
      float sum = 0.0f;
      for (int64_t j = std::max<int64_t>(k - radius, 0); j <= std::min(k + radius, c - 1); ++j) sum += in[j] * in[j];
      o[k] = in[k] / std::pow(bias + alpha * sum, beta);
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

}  // namespace
}  // namespace nn

void RegisterNnKernels(KernelRegistry& r) {
  r.Register("Relu", {nn::Activation<nn::Act::kRelu>});
  r.Register("Relu6", {nn::Activation<nn::Act::kRelu6>});
  r.Register("Elu", {nn::Activation<nn::Act::kElu>});
  r.Register("Selu", {nn::Activation<nn::Act::kSelu>});
  r.Register("LeakyRelu", {nn::Activation<nn::Act::kLeakyRelu>});
  r.Register("Softplus", {nn::Softplus});
  r.Register("Softsign", {nn::Softsign});
  r.Register("Prelu", {nn::Prelu});
  r.Register("Softmax", {nn::SoftmaxK<false>});
  r.Register("LogSoftmax", {nn::SoftmaxK<true>});
  r.Register("FusedBatchNorm", {nn::FusedBatchNorm<5>});
  r.Register("FusedBatchNormV2", {nn::FusedBatchNorm<5>});
  r.Register("FusedBatchNormV3", {nn::FusedBatchNorm<6>});
  r.Register("LRN", {nn::Lrn});
  nn::RegisterConvKernels(r);
  nn::RegisterPoolKernels(r);
  nn::RegisterImageKernels(r);
}

}  // namespace inferd::tf
