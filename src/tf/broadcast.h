// tf/broadcast.h: NumPy broadcasting and strided element loops shared by the array and math kernels.
//
// Contract:
// - BroadcastShape() applies TensorFlow's (NumPy's) rule to shapes; it fails with a message naming both shapes.
// - PlanBroadcast() turns operand shapes that are known to broadcast to `out` into a collapsed iteration plan:
//   dimensions of size 1 dropped, neighbours merged where every operand is either contiguous or broadcast in
//   both, and per-operand strides (0 where broadcast). All loops below run on such plans with typed, inlined
//   functors: one dispatch per call, tight inner loops (same-shape and scalar cases vectorise), no per-element
//   indirection.
// - AffineCopy() copies an affine view of one buffer into an affine view of another (steps may be 0 or negative):
//   Slice, StridedSlice, Transpose, Reverse, Pad, Tile, BroadcastTo, Concat and Split are all this one loop.
// - Outputs never alias inputs (kernels allocate them), which the loops assume (__restrict__).
// - Stateless and thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "tf/tensor.h"

namespace inferd::tf {

// The broadcast of two shapes, or InvalidArgument("shapes [2,3] and [4] are not broadcastable").
StatusOr<Shape> BroadcastShape(const Shape& a, const Shape& b);
// True when `in` broadcasts to `out` (right-aligned, each dim 1 or equal, rank not larger).
bool BroadcastsTo(const Shape& in, const Shape& out);

struct BroadcastPlan {
  std::vector<int64_t> dims;                  // collapsed output dims; empty for a single element
  std::vector<std::vector<int64_t>> strides;  // per operand, one per collapsed dim; 0 where broadcast
  int64_t elements = 1;                       // output element count
};
// Every shape in `in` must broadcast to `out` (checked by the caller).
BroadcastPlan PlanBroadcast(std::span<const Shape* const> in, const Shape& out);

// for (i = 0; i < n; ++i) f(i), in fixed-size blocks that GCC vectorises at -O2.
template <typename F>
inline __attribute__((always_inline)) void ForBlocked(int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int64_t j = 0; j < 16; ++j) f(i + j);
  }
  for (; i < n; ++i) f(i);
}

// out[i] = op(a[i * sa], b[i * sb]) for i < n, with sa, sb in {0, 1} specialised.
template <typename R, typename A, typename B, typename Op>
inline void BinaryInner(const A* __restrict__ a, int64_t sa, const B* __restrict__ b, int64_t sb,
                        R* __restrict__ out, int64_t n, Op op) {
  if (sa == 1 && sb == 1) {
    ForBlocked(n, [&](int64_t i) { out[i] = op(a[i], b[i]); });
  } else if (sa == 0 && sb == 1) {
    const A x = *a;
    ForBlocked(n, [&](int64_t i) { out[i] = op(x, b[i]); });
  } else if (sa == 1 && sb == 0) {
    const B y = *b;
    ForBlocked(n, [&](int64_t i) { out[i] = op(a[i], y); });
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = op(a[i * sa], b[i * sb]);
  }
}

// Calls body(offsets..., inner_count) for each innermost run of a plan; offsets are element offsets of each
// operand at the run's start. `Ops` is the number of operands.
template <size_t Ops, typename Body>
void ForEachRun(const BroadcastPlan& p, Body body) {
  const size_t r = p.dims.size();
  std::array<int64_t, Ops> off{};
  if (r == 0) {
    body(off, int64_t{1});
    return;
  }
  if (p.elements == 0) return;
  const int64_t inner = p.dims[r - 1];
  const int64_t outer = p.elements / inner;
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < outer; ++o) {
    body(off, inner);
    for (size_t d = r - 1; d-- > 0;) {
      ++idx[d];
      for (size_t k = 0; k < Ops; ++k) off[k] += p.strides[k][d];
      if (idx[d] < p.dims[d]) break;
      for (size_t k = 0; k < Ops; ++k) off[k] -= p.strides[k][d] * p.dims[d];
      idx[d] = 0;
    }
  }
}

// out (shape of the plan's output, contiguous) = op(a, b) under broadcasting.
template <typename R, typename A, typename B, typename Op>
void BinaryBroadcast(const BroadcastPlan& p, const A* a, const B* b, R* out, Op op) {
  const size_t r = p.dims.size();
  const int64_t sa = r ? p.strides[0][r - 1] : 0;
  const int64_t sb = r ? p.strides[1][r - 1] : 0;
  int64_t o = 0;
  ForEachRun<2>(p, [&](const std::array<int64_t, 2>& off, int64_t n) {
    BinaryInner(a + off[0], sa, b + off[1], sb, out + o, n, op);
    o += n;
  });
}

// Copies dims-shaped elements: out[ob + sum j_d * os_d] = in[ib + sum j_d * is_d].
template <typename T>
void AffineCopy(const T* in, int64_t ib, std::vector<int64_t> is, T* out, int64_t ob, std::vector<int64_t> os,
                std::vector<int64_t> dims) {
  // Collapse: drop size-1 dims, merge a dim into its outer neighbour when both views are contiguous across it.
  std::vector<int64_t> cd, ci, co;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 0) return;
    if (dims[d] == 1) continue;
    if (!cd.empty() && ci.back() == is[d] * dims[d] && co.back() == os[d] * dims[d]) {
      cd.back() *= dims[d];
      ci.back() = is[d];
      co.back() = os[d];
    } else {
      cd.push_back(dims[d]);
      ci.push_back(is[d]);
      co.push_back(os[d]);
    }
  }
  if (cd.empty()) {
    out[ob] = in[ib];
    return;
  }
  const size_t r = cd.size();
  const int64_t n = cd[r - 1], si = ci[r - 1], so = co[r - 1];
  int64_t outer = 1;
  for (size_t d = 0; d + 1 < r; ++d) outer *= cd[d];
  std::vector<int64_t> idx(r, 0);
  int64_t io = ib, oo = ob;
  for (int64_t k = 0; k < outer; ++k) {
    if (si == 1 && so == 1) {
      std::copy(in + io, in + io + n, out + oo);
    } else {
      for (int64_t i = 0; i < n; ++i) out[oo + i * so] = in[io + i * si];
    }
    for (size_t d = r - 1; d-- > 0;) {
      ++idx[d];
      io += ci[d];
      oo += co[d];
      if (idx[d] < cd[d]) break;
      io -= ci[d] * cd[d];
      oo -= co[d] * cd[d];
      idx[d] = 0;
    }
  }
}

}  // namespace inferd::tf
