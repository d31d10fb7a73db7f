// tf/nn_internal.h: what the files of the nn kernel group (kernels_nn.cc, nn_conv.cc, nn_pool.cc,
// nn_image.cc, nn_common.cc) share; not used outside them.
//
// Contract:
// - Every function here validates what it reads (attrs, shapes) and reports errors through KernelError, so the
//   message names the node. Sizes are int64 and checked before any multiplication can overflow.
// - Layout is NHWC throughout (Keras and TF.js exports); data_format NCHW is refused by CheckNhwc.
// - Epilogue is the one implementation of "per-channel scale/bias then activation" that the fused kernels
//   (_FusedConv2D, _FusedDepthwiseConv2dNative, _FusedMatMul) and the plain activation kernels share.
// - Sgemm wraps OpenBLAS's cblas_sgemm; its first call pins OpenBLAS to one thread (kernels already run on
//   many server threads at once). Stateless otherwise: safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tf/kernel.h"

namespace inferd::tf::nn {

// Registration, one per file (kernels_nn.cc calls them).
void RegisterConvKernels(KernelRegistry& r);   // nn_conv.cc
void RegisterPoolKernels(KernelRegistry& r);   // nn_pool.cc
void RegisterImageKernels(KernelRegistry& r);  // nn_image.cc: resize, NMS, depth/space

// Largest value a spatial attr (stride, dilation, ksize) may take: far beyond any real model, small enough that
// products of two such values and a tensor dimension stay inside int64.
constexpr int64_t kMaxWindowAttr = int64_t{1} << 24;

// Tensor::Make, its error (negative or too many elements) reported as KernelError.
StatusOr<Tensor> MakeOutput(const KernelContext& ctx, DType dtype, Shape shape);
// The same through Tensor::Uninitialized: only for outputs the kernel writes in full.
StatusOr<Tensor> MakeUninitializedOutput(const KernelContext& ctx, DType dtype, Shape shape);
// "<what> must be DT_FLOAT, got DT_INT32".
Status RequireFloat(const KernelContext& ctx, const Tensor& t, std::string_view what);
// "<what> must have rank 4, got [..]".
Status RequireRank(const KernelContext& ctx, const Tensor& t, int rank, std::string_view what);
// data_format absent or "NHWC"; anything else refused naming the attr.
Status CheckNhwc(const KernelContext& ctx);

enum class Padding { kSame, kValid, kExplicit };
StatusOr<Padding> ReadPadding(const KernelContext& ctx, bool allow_explicit);

// An NHWC attr of 4 ints whose batch and channel entries must be 1 (strides, dilations, ksize); returns {h, w}.
// Absent: {dflt, dflt} when dflt > 0, an error otherwise. Values in [1, kMaxWindowAttr].
StatusOr<std::array<int64_t, 2>> ReadHW(const KernelContext& ctx, std::string_view attr, int64_t dflt);
// The same check for a value given as an input tensor (MaxPoolV2's ksize/strides: int32 [4]).
StatusOr<std::array<int64_t, 2>> ReadHWInput(const KernelContext& ctx, const Tensor& t, std::string_view what);

// The geometry of one windowed op over H and W, TensorFlow's rules (GetWindowedOutputSizeVerbose):
// VALID: out = (in - eff + stride) / stride, an error when negative; SAME: out = ceil(in / stride),
// pad_total = max((out - 1) * stride + eff - in, 0), pad_before = pad_total / 2; EXPLICIT: the given pads,
// then the VALID rule. eff = (k - 1) * dilation + 1.
struct Window2D {
  int64_t in_h = 0, in_w = 0;
  int64_t k_h = 1, k_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t out_h = 0, out_w = 0;
};
// explicit_pads: the 8 entries of explicit_paddings (NHWC pairs) for kExplicit, ignored otherwise.
Status ComputeWindow(const KernelContext& ctx, Padding padding, std::span<const int64_t> explicit_pads,
                     Window2D& w);
// Reads padding, strides, dilations (if use_dilations) and explicit_paddings and fills w's pads and outputs;
// w.in_*, w.k_* are set by the caller.
Status ReadConvWindow(const KernelContext& ctx, bool use_dilations, Window2D& w);

// ---- activations, shared by the standalone kernels and the fused epilogues ----
enum class Act { kNone, kRelu, kRelu6, kElu, kSelu, kLeakyRelu, kPrelu, kTanh, kSigmoid };

// y = act(x * scale[c] + bias[c]) over rows of `channels` values, in place. Missing scale/bias: 1/0.
// Prelu's alpha is one value, one per channel, or one per element of an image (rows_per_image rows).
struct Epilogue {
  std::vector<float> scale;  // empty: none
  std::vector<float> bias;   // empty: none
  Act act = Act::kNone;
  float alpha = 0.2f;        // LeakyRelu
  const float* prelu = nullptr;  // points into an input tensor, alive for the kernel's call
  int64_t prelu_count = 0;       // 1, channels, or rows_per_image * channels
  int64_t rows_per_image = 1;
  bool empty() const { return scale.empty() && bias.empty() && act == Act::kNone; }
};
// rows [first_row, first_row + rows) of a [*, channels] block at data.
void ApplyEpilogue(const Epilogue& e, float* data, int64_t first_row, int64_t rows, int64_t channels);
// dst[0, n) = the epilogue of src[0, n) taken as one row (no bias, scale or Prelu): Relu and Relu6 in one pass.
void ApplyEpilogueFrom(const Epilogue& e, const float* src, float* dst, int64_t n);

// The fused_ops/num_args/epsilon/leakyrelu_alpha attrs of _FusedConv2D, _FusedDepthwiseConv2dNative and
// _FusedMatMul: args are ctx.inputs[2..]. Accepted: [], [BiasAdd], [FusedBatchNorm] (args scale, offset, mean,
// variance), each optionally followed by Relu, Relu6, Elu, LeakyRelu, Tanh, Sigmoid or Prelu (one more arg).
StatusOr<Epilogue> ReadFusedOps(const KernelContext& ctx, int64_t channels, int64_t rows_per_image);

// C[m,n] = op(A)[m,k] * op(B)[k,n] (+ C if accumulate), row-major; leading dims are the stored row lengths.
// The caller checks every size fits an int (CheckBlasDims).
void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
           const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate = false);
Status CheckBlasDims(const KernelContext& ctx, std::initializer_list<int64_t> dims);

}  // namespace inferd::tf::nn
