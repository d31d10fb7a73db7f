// tf/kernels_math.cc: the math group of kernels (tf/kernel.h): elementwise binary ops with NumPy broadcasting
// (tf/broadcast.h), unary ops, reductions, ArgMax/ArgMin, MatMul and BatchMatMul.
//
// Semantics follow TensorFlow's CPU kernels: integer arithmetic wraps (two's complement) instead of being UB,
// integer division or modulo by zero is an error, FloorDiv/FloorMod round toward negative infinity, RealDiv
// refuses integers, Mean of integers truncates, ArgMax/ArgMin ties pick the first index, Round is half to even,
// and a reduction over an empty axis list is the identity.
// GEMM: float and double go to OpenBLAS (cblas_?gemm), set once to one thread: a server calls kernels from many
// threads at once, and OpenBLAS's own pool would oversubscribe the cores (docs/tensorflow.md has the numbers).
#include <cblas.h>

#include <Eigen/Core>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <type_traits>

#include "tf/broadcast.h"
#include "tf/kernel.h"
#include "tf/kernel_util.h"

namespace inferd::tf {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Wrapping integer arithmetic (TensorFlow's int ops wrap; signed overflow in C++ is UB).

template <typename T>
constexpr bool kSignedInt = std::is_integral_v<T> && std::is_signed_v<T> && !std::is_same_v<T, bool>;

template <typename T>
inline T WAdd(T a, T b) {
  if constexpr (kSignedInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename T>
inline T WSub(T a, T b) {
  if constexpr (kSignedInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return a - b;
  }
}
template <typename T>
inline T WMul(T a, T b) {
  if constexpr (kSignedInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise binary ops. Each op names its dtype domain, whether it yields bool, and its scalar function.

enum class Dom {
  kArith,     // float, double, int32, int64
  kArithStr,  // kArith + string (Add)
  kReal,      // float, double
  kOrdered,   // comparisons: numeric
  kEquality,  // numeric, bool, string
  kBool,      // bool only
};

template <Dom D, typename F>
Status VisitDom(const KernelContext& ctx, DType t, F&& f) {
  if constexpr (D == Dom::kArith) {
    return VisitArith(ctx, t, f);
  } else if constexpr (D == Dom::kArithStr) {
    return t == DType::kString ? f(std::string{}) : VisitArith(ctx, t, f);
  } else if constexpr (D == Dom::kReal) {
    return VisitReal(ctx, t, f);
  } else if constexpr (D == Dom::kOrdered) {
    return VisitNumeric(ctx, t, f);
  } else if constexpr (D == Dom::kEquality) {
    return t == DType::kString ? f(std::string{}) : VisitNumericOrBool(ctx, t, f);
  } else {
    return t == DType::kBool ? f(bool{}) : UnsupportedType(ctx, t);
  }
}

// Integer divisors: any zero is an error (TensorFlow: "Integer division by zero").
enum class Check { kNone, kNonZeroDivisor, kNonNegativeExponent };

struct AddOp {
  static constexpr Dom kDom = Dom::kArithStr;
  template <typename T>
  static T F(const T& a, const T& b) {
    if constexpr (std::is_same_v<T, std::string>) {
      return a + b;
    } else {
      return WAdd(a, b);
    }
  }
};
struct SubOp {
  static constexpr Dom kDom = Dom::kArith;
  template <typename T>
  static T F(T a, T b) { return WSub(a, b); }
};
struct MulOp {
  static constexpr Dom kDom = Dom::kArith;
  template <typename T>
  static T F(T a, T b) { return WMul(a, b); }
};
// Div: truncating for integers (C++ semantics, INT_MIN / -1 wraps), true division for floats.
struct DivOp {
  static constexpr Dom kDom = Dom::kArith;
  static constexpr Check kCheck = Check::kNonZeroDivisor;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (kSignedInt<T>) {
      return b == -1 ? WSub(T{0}, a) : a / b;
    } else {
      return a / b;
    }
  }
};
struct RealDivOp {
  static constexpr Dom kDom = Dom::kReal;
  template <typename T>
  static T F(T a, T b) { return a / b; }
};
struct DivNoNanOp {
  static constexpr Dom kDom = Dom::kReal;
  template <typename T>
  static T F(T a, T b) { return b == T{0} ? T{0} : a / b; }
};
struct FloorDivOp {
  static constexpr Dom kDom = Dom::kArith;
  static constexpr Check kCheck = Check::kNonZeroDivisor;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (kSignedInt<T>) {
      if (b == -1) return WSub(T{0}, a);
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
      return q;
    } else {
      return std::floor(a / b);
    }
  }
};
struct FloorModOp {
  static constexpr Dom kDom = Dom::kArith;
  static constexpr Check kCheck = Check::kNonZeroDivisor;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (kSignedInt<T>) {
      if (b == -1) return 0;
      T r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
    } else {
      T r = std::fmod(a, b);
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
  }
};
// TruncateDiv / TruncateMod (= Mod): C semantics.
struct TruncateModOp {
  static constexpr Dom kDom = Dom::kArith;
  static constexpr Check kCheck = Check::kNonZeroDivisor;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (kSignedInt<T>) {
      return b == -1 ? T{0} : static_cast<T>(a % b);
    } else {
      return std::fmod(a, b);
    }
  }
};
struct MaximumOp {
  static constexpr Dom kDom = Dom::kArith;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a)) return a;
    }
    return a > b ? a : b;
  }
};
struct MinimumOp {
  static constexpr Dom kDom = Dom::kArith;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a)) return a;
    }
    return a < b ? a : b;
  }
};
template <typename T>
T IntPow(T base, T exp) {
  T result = 1;
  while (exp > 0) {
    if (exp & 1) result = WMul(result, base);
    exp = static_cast<T>(exp >> 1);
    base = WMul(base, base);
  }
  return result;
}
struct PowOp {
  static constexpr Dom kDom = Dom::kArith;
  static constexpr Check kCheck = Check::kNonNegativeExponent;
  template <typename T>
  static T F(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(a, b);
    } else {
      return IntPow(a, b);
    }
  }
};
struct SquaredDifferenceOp {
  static constexpr Dom kDom = Dom::kArith;
  template <typename T>
  static T F(T a, T b) {
    const T d = WSub(a, b);
    return WMul(d, d);
  }
};
#define INFERD_TF_CMP(Name, DomV, expr)             \
  struct Name {                                     \
    static constexpr Dom kDom = DomV;               \
    static constexpr bool kBoolOut = true;          \
    template <typename T>                           \
    static bool F(const T& a, const T& b) {         \
      return expr;                                  \
    }                                               \
  };
INFERD_TF_CMP(GreaterOp, Dom::kOrdered, a > b)
INFERD_TF_CMP(GreaterEqualOp, Dom::kOrdered, a >= b)
INFERD_TF_CMP(LessOp, Dom::kOrdered, a < b)
INFERD_TF_CMP(LessEqualOp, Dom::kOrdered, a <= b)
INFERD_TF_CMP(EqualOp, Dom::kEquality, a == b)
INFERD_TF_CMP(NotEqualOp, Dom::kEquality, a != b)
INFERD_TF_CMP(LogicalAndOp, Dom::kBool, a && b)
INFERD_TF_CMP(LogicalOrOp, Dom::kBool, a || b)
#undef INFERD_TF_CMP

template <typename Op>
constexpr Check CheckOf() {
  if constexpr (requires { Op::kCheck; }) {
    return Op::kCheck;
  } else {
    return Check::kNone;
  }
}
template <typename Op>
constexpr bool BoolOut() {
  if constexpr (requires { Op::kBoolOut; }) {
    return Op::kBoolOut;
  } else {
    return false;
  }
}

template <typename Op, typename T>
Status CheckOperands(const KernelContext& ctx, const Tensor& b, int64_t out_elements) {
  if constexpr (std::is_integral_v<T> && CheckOf<Op>() != Check::kNone) {
    if (out_elements == 0) return Status::Ok();
    const T* p = b.data<T>();
    for (int64_t i = 0; i < b.num_elements(); ++i) {
      if (CheckOf<Op>() == Check::kNonZeroDivisor && p[i] == 0) return KernelError(ctx, "integer division by zero");
      if (CheckOf<Op>() == Check::kNonNegativeExponent && p[i] < 0) {
        return KernelError(ctx, "integers to negative integer powers are not allowed");
      }
    }
  }
  return Status::Ok();
}

// out = op(a, b) with broadcasting; same-shape and scalar operands take the flat loops.
template <typename R, typename T, typename Fn>
void RunBinary(const Tensor& a, const Tensor& b, Tensor& out, Fn fn) {
  const T* pa = Elems<T>(a);
  const T* pb = Elems<T>(b);
  R* po = MutElems<R>(out);
  const int64_t n = out.num_elements();
  if (a.num_elements() == n && b.num_elements() == n && a.shape() == b.shape()) {
    BinaryInner(pa, 1, pb, 1, po, n, fn);
  } else if (a.num_elements() == 1 && b.num_elements() == n) {
    BinaryInner(pa, 0, pb, 1, po, n, fn);
  } else if (b.num_elements() == 1 && a.num_elements() == n) {
    BinaryInner(pa, 1, pb, 0, po, n, fn);
  } else {
    const Shape* shapes[] = {&a.shape(), &b.shape()};
    BinaryBroadcast(PlanBroadcast(shapes, out.shape()), pa, pb, po, fn);
  }
}

template <typename Op>
Status BinaryKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  if (a.dtype() != b.dtype()) {
    return KernelError(ctx, "operands have different dtypes " + std::string(DTypeName(a.dtype())) + " and " +
                                std::string(DTypeName(b.dtype())));
  }
  auto shape = BroadcastShape(a.shape(), b.shape());
  if (!shape.ok()) return KernelError(ctx, shape.status().message());
  return VisitDom<Op::kDom>(ctx, a.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using R = std::conditional_t<BoolOut<Op>(), bool, T>;
    ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, BoolOut<Op>() ? DType::kBool : a.dtype(), *shape));
    RETURN_IF_ERROR((CheckOperands<Op, T>(ctx, b, out.num_elements())));
    RunBinary<R, T>(a, b, out, [](const T& x, const T& y) -> R { return Op::F(x, y); });
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// AddN: the sum of n same-shape tensors.
Status AddNKernel(KernelContext& ctx) {
  if (ctx.inputs.empty()) return KernelError(ctx, "expects at least one input");
  const Tensor& first = ctx.inputs[0];
  for (const Tensor& t : ctx.inputs) {
    if (t.dtype() != first.dtype() || t.shape() != first.shape()) {
      return KernelError(ctx, "inputs must share dtype and shape; got " + ShapeString(first.shape()) + " and " +
                                  ShapeString(t.shape()));
    }
  }
  return VisitArith(ctx, first.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, first.dtype(), first.shape()));
    T* __restrict__ o = out.data<T>();
    const int64_t n = out.num_elements();
    if (n > 0) std::memcpy(o, first.data<T>(), static_cast<size_t>(n) * sizeof(T));
    for (size_t k = 1; k < ctx.inputs.size(); ++k) {
      const T* __restrict__ p = ctx.inputs[k].data<T>();
      ForBlocked(n, [&](int64_t i) { o[i] = WAdd(o[i], p[i]); });
    }
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// BiasAdd(value, bias): bias [C] added along the channel dim (last for NHWC, 1 for NCHW).
Status BiasAddKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& v = ctx.inputs[0];
  const Tensor& bias = ctx.inputs[1];
  ASSIGN_OR_RETURN(std::string fmt, AttrStringOr(ctx.node, "data_format", "NHWC"));
  if (fmt != "NHWC" && fmt != "NCHW" && fmt != "NDHWC" && fmt != "NCDHW") {
    return KernelError(ctx, "unsupported data_format '" + fmt + "'");
  }
  const bool nchw = fmt == "NCHW" || fmt == "NCDHW";
  if (v.dtype() != bias.dtype()) return KernelError(ctx, "value and bias dtypes differ");
  if (v.rank() < (nchw ? 3 : 2) || bias.rank() != 1) {
    return KernelError(ctx, "needs value of rank >= 2 (3 for NCHW) and a 1-D bias; got " + ShapeString(v.shape()) +
                                " and " + ShapeString(bias.shape()));
  }
  const int c_dim = nchw ? 1 : v.rank() - 1;
  if (v.dim(c_dim) != bias.dim(0)) {
    return KernelError(ctx, "bias size " + std::to_string(bias.dim(0)) + " does not match channel dimension " +
                                std::to_string(v.dim(c_dim)) + " of " + ShapeString(v.shape()));
  }
  Shape bshape(static_cast<size_t>(v.rank() - c_dim), 1);
  bshape[0] = bias.dim(0);
  ASSIGN_OR_RETURN(Tensor b2, bias.Reshaped(bshape));
  return VisitArith(ctx, v.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, v.dtype(), v.shape()));
    RunBinary<T, T>(v, b2, out, [](T x, T y) { return WAdd(x, y); });
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Unary ops. kInts: whether integer dtypes are accepted. Vec (optional): a vectorised float/double path (Eigen).

template <typename T>
using EMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using CEMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

#define INFERD_TF_UNARY(Name, ints, expr)       \
  struct Name {                                 \
    static constexpr bool kInts = ints;         \
    template <typename T>                       \
    static T F(T x) {                           \
      return expr;                              \
    }                                           \
  };
#define INFERD_TF_UNARY_VEC(Name, expr, vexpr)                        \
  struct Name {                                                       \
    static constexpr bool kInts = false;                              \
    template <typename T>                                             \
    static T F(T x) {                                                 \
      return expr;                                                    \
    }                                                                 \
    template <typename T>                                             \
    static void Vec(const T* in, T* out, int64_t n) {                 \
      EMap<T>(out, n) = CEMap<T>(in, n).vexpr;                        \
    }                                                                 \
  };

INFERD_TF_UNARY(NegOp, true, WSub(T{0}, x))
INFERD_TF_UNARY(AbsOp, true, x < T{0} ? WSub(T{0}, x) : x)
INFERD_TF_UNARY(SquareOp, true, WMul(x, x))
INFERD_TF_UNARY(SignOp, true, static_cast<T>(x > T{0} ? 1 : (x < T{0} ? -1 : 0)))
INFERD_TF_UNARY_VEC(SqrtOp, std::sqrt(x), sqrt())
INFERD_TF_UNARY_VEC(RsqrtOp, T{1} / std::sqrt(x), rsqrt())
INFERD_TF_UNARY_VEC(ExpOp, std::exp(x), exp())
INFERD_TF_UNARY_VEC(LogOp, std::log(x), log())
INFERD_TF_UNARY_VEC(Log1pOp, std::log1p(x), log1p())
INFERD_TF_UNARY_VEC(TanhOp, std::tanh(x), tanh())
INFERD_TF_UNARY_VEC(SigmoidOp, T{1} / (T{1} + std::exp(-x)), logistic())
INFERD_TF_UNARY_VEC(SinOp, std::sin(x), sin())
INFERD_TF_UNARY_VEC(CosOp, std::cos(x), cos())
INFERD_TF_UNARY_VEC(FloorOp, std::floor(x), floor())
INFERD_TF_UNARY_VEC(CeilOp, std::ceil(x), ceil())
INFERD_TF_UNARY_VEC(ReciprocalOp, T{1} / x, inverse())
INFERD_TF_UNARY(ErfOp, false, std::erf(x))
INFERD_TF_UNARY(Expm1Op, false, std::expm1(x))
INFERD_TF_UNARY(TanOp, false, std::tan(x))
INFERD_TF_UNARY(AsinOp, false, std::asin(x))
INFERD_TF_UNARY(AcosOp, false, std::acos(x))
INFERD_TF_UNARY(AtanOp, false, std::atan(x))
INFERD_TF_UNARY(SinhOp, false, std::sinh(x))
INFERD_TF_UNARY(CoshOp, false, std::cosh(x))
INFERD_TF_UNARY(SoftsignOp, false, x / (T{1} + std::abs(x)))
#undef INFERD_TF_UNARY
#undef INFERD_TF_UNARY_VEC

// Round: half to even for floats (std::nearbyint under the default rounding mode), the identity for integers.
struct RoundOp {
  static constexpr bool kInts = true;
  template <typename T>
  static T F(T x) {
    if constexpr (std::is_floating_point_v<T>) {
      const T r = std::round(x);
      if (std::abs(x - std::trunc(x)) == T{0.5}) return T{2} * std::round(x / T{2});
      return r;
    } else {
      return x;
    }
  }
};

template <typename Op, typename T>
void ApplyUnary(const T* __restrict__ in, T* __restrict__ out, int64_t n) {
  if constexpr (requires { Op::template Vec<T>(in, out, n); }) {
    if (n > 0) Op::template Vec<T>(in, out, n);
  } else {
    ForBlocked(n, [&](int64_t i) { out[i] = Op::F(in[i]); });
  }
}

template <typename Op>
Status UnaryKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  auto body = [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, x.dtype(), x.shape()));
    ApplyUnary<Op, T>(x.data<T>(), out.data<T>(), x.num_elements());
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  };
  if constexpr (Op::kInts) {
    return VisitArith(ctx, x.dtype(), body);
  } else {
    return VisitReal(ctx, x.dtype(), body);
  }
}

// Float -> bool predicates (IsNan...) and LogicalNot.
template <int Kind>
Status PredicateKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kBool, x.shape()));
  bool* o = out.data<bool>();
  const int64_t n = x.num_elements();
  if constexpr (Kind == 0) {
    if (x.dtype() != DType::kBool) return UnsupportedType(ctx, x.dtype());
    const bool* p = x.data<bool>();
    ForBlocked(n, [&](int64_t i) { o[i] = !p[i]; });
  } else {
    RETURN_IF_ERROR(VisitReal(ctx, x.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* p = x.data<T>();
      for (int64_t i = 0; i < n; ++i) {
        o[i] = Kind == 1 ? std::isnan(p[i]) : (Kind == 2 ? std::isinf(p[i]) : std::isfinite(p[i]));
      }
      return Status::Ok();
    }));
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Reductions: Sum, Mean, Prod, Max, Min, All, Any over the axes of input 1, with keep_dims.

struct ReduceShape {
  Shape out_shape;      // with or without kept dims, as the node asks
  BroadcastPlan plan;   // over the input: operand 0 = input (contiguous), operand 1 = output (0 on reduced dims)
  int64_t count = 1;    // elements reduced into each output element
  bool inner_reduced = false;
};

StatusOr<ReduceShape> PlanReduce(const KernelContext& ctx, const Shape& in, const Tensor& axes_t, bool keep_dims) {
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, IntList(ctx, axes_t, "reduction axes"));
  const int rank = static_cast<int>(in.size());
  std::vector<bool> red(in.size(), false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, rank, "reduction axis"));
    red[static_cast<size_t>(ax)] = true;
  }
  ReduceShape r;
  std::vector<bool> cred;  // collapsed: reduced flag per dim
  for (size_t d = 0; d < in.size(); ++d) {
    if (red[d]) r.count *= in[d];
    if (!red[d]) r.out_shape.push_back(in[d]);
    if (red[d] && keep_dims) r.out_shape.push_back(1);
    r.plan.elements *= in[d];
    if (in[d] == 1) continue;
    if (!cred.empty() && cred.back() == red[d]) {
      r.plan.dims.back() *= in[d];
    } else {
      r.plan.dims.push_back(in[d]);
      cred.push_back(red[d]);
    }
  }
  const size_t cr = r.plan.dims.size();
  r.plan.strides.assign(2, std::vector<int64_t>(cr, 0));
  int64_t si = 1, so = 1;
  for (size_t d = cr; d-- > 0;) {
    r.plan.strides[0][d] = si;
    si *= r.plan.dims[d];
    if (!cred[d]) {
      r.plan.strides[1][d] = so;
      so *= r.plan.dims[d];
    }
  }
  r.inner_reduced = cr > 0 && cred.back();
  return r;
}

template <typename T, typename Op>
void Reduce(const ReduceShape& rs, const T* in, T* out, int64_t out_n, T identity, Op op) {
  for (int64_t i = 0; i < out_n; ++i) out[i] = identity;
  if (rs.plan.dims.empty()) {  // every dim is 1 (or a scalar): one element per output
    if (rs.plan.elements == 1 && out_n == 1) out[0] = op(identity, in[0]);
    return;
  }
  if (rs.inner_reduced) {
    ForEachRun<2>(rs.plan, [&](const std::array<int64_t, 2>& off, int64_t n) {
      const T* p = in + off[0];
      T acc[16];
      for (T& a : acc) a = identity;
      int64_t i = 0;
      for (; i + 16 <= n; i += 16) {
        for (int j = 0; j < 16; ++j) acc[j] = op(acc[j], p[i + j]);
      }
      T total = out[off[1]];
      for (T a : acc) total = op(total, a);
      for (; i < n; ++i) total = op(total, p[i]);
      out[off[1]] = total;
    });
  } else {
    ForEachRun<2>(rs.plan, [&](const std::array<int64_t, 2>& off, int64_t n) {
      const T* __restrict__ p = in + off[0];
      T* __restrict__ o = out + off[1];
      ForBlocked(n, [&](int64_t i) { o[i] = op(o[i], p[i]); });
    });
  }
}

enum class RK { kSum, kMean, kProd, kMax, kMin, kAll, kAny };

template <RK K, typename T>
void ReduceTyped(const ReduceShape& rs, const T* in, T* out, int64_t out_n) {
  if constexpr (K == RK::kSum || K == RK::kMean) {
    Reduce(rs, in, out, out_n, T{0}, [](T a, T b) { return WAdd(a, b); });
    if (K == RK::kMean && rs.count > 0) {
      const T c = static_cast<T>(rs.count);
      for (int64_t i = 0; i < out_n; ++i) out[i] = out[i] / c;
    }
    if constexpr (K == RK::kMean && std::is_floating_point_v<T>) {
      if (rs.count == 0) {
        for (int64_t i = 0; i < out_n; ++i) out[i] = std::numeric_limits<T>::quiet_NaN();
      }
    }
  } else if constexpr (K == RK::kProd) {
    Reduce(rs, in, out, out_n, T{1}, [](T a, T b) { return WMul(a, b); });
  } else if constexpr (K == RK::kMax) {
    const T lo = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                      : std::numeric_limits<T>::lowest();
    Reduce(rs, in, out, out_n, lo, [](T a, T b) { return b > a ? b : a; });
  } else if constexpr (K == RK::kMin) {
    const T hi = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                      : std::numeric_limits<T>::max();
    Reduce(rs, in, out, out_n, hi, [](T a, T b) { return b < a ? b : a; });
  } else if constexpr (K == RK::kAll) {
    Reduce(rs, in, out, out_n, true, [](bool a, bool b) { return a && b; });
  } else {
    Reduce(rs, in, out, out_n, false, [](bool a, bool b) { return a || b; });
  }
}

template <RK K>
Status ReduceKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(bool keep, AttrBoolOr(ctx.node, "keep_dims", false));
  ASSIGN_OR_RETURN(ReduceShape rs, PlanReduce(ctx, x.shape(), ctx.inputs[1], keep));
  auto body = [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), rs.out_shape));
    ReduceTyped<K, T>(rs, x.data<T>(), out.data<T>(), out.num_elements());
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  };
  if constexpr (K == RK::kAll || K == RK::kAny) {
    if (x.dtype() != DType::kBool) return UnsupportedType(ctx, x.dtype());
    return body(bool{});
  } else {
    return VisitArith(ctx, x.dtype(), body);
  }
}

// ArgMax / ArgMin over input 1's axis; ties keep the first index; output_type int64 (default) or int32.
template <bool kMax>
Status ArgKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t axis_v, IntScalar(ctx, ctx.inputs[1], "dimension"));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, axis_v, x.rank(), "dimension"));
  DType out_t = DType::kInt64;
  if (FindAttr(ctx.node, "output_type") != nullptr) {
    ASSIGN_OR_RETURN(out_t, AttrType(ctx.node, "output_type"));
  }
  if (!IsIndexType(out_t)) return KernelError(ctx, "output_type must be int32 or int64");
  const int64_t k = x.dim(axis);
  if (k == 0) return KernelError(ctx, "cannot reduce over an empty dimension of " + ShapeString(x.shape()));
  Shape os = x.shape();
  os.erase(os.begin() + axis);
  const int64_t outer = DimProduct(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, out_t, os));
  RETURN_IF_ERROR(VisitNumeric(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x.data<T>();
    std::vector<T> best(static_cast<size_t>(inner));
    std::vector<int64_t> idx(static_cast<size_t>(inner));
    for (int64_t o = 0; o < outer; ++o) {
      const T* base = p + o * k * inner;
      std::copy(base, base + inner, best.begin());
      std::fill(idx.begin(), idx.end(), 0);
      for (int64_t j = 1; j < k; ++j) {
        const T* row = base + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const bool better = kMax ? row[i] > best[static_cast<size_t>(i)] : row[i] < best[static_cast<size_t>(i)];
          if (better) {
            best[static_cast<size_t>(i)] = row[i];
            idx[static_cast<size_t>(i)] = j;
          }
        }
      }
      for (int64_t i = 0; i < inner; ++i) {
        if (out_t == DType::kInt64) {
          out.data<int64_t>()[o * inner + i] = idx[static_cast<size_t>(i)];
        } else {
          out.data<int32_t>()[o * inner + i] = static_cast<int32_t>(idx[static_cast<size_t>(i)]);
        }
      }
    }
    return Status::Ok();
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ClipByValue(t, lo, hi): min(max(t, lo), hi); lo and hi broadcast to t (TensorFlow: scalars or t's shape).
Status ClipByValueKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  const Tensor& x = ctx.inputs[0];
  const Tensor& lo = ctx.inputs[1];
  const Tensor& hi = ctx.inputs[2];
  if (lo.dtype() != x.dtype() || hi.dtype() != x.dtype()) return KernelError(ctx, "clip bounds' dtype differs from t's");
  if (!BroadcastsTo(lo.shape(), x.shape()) || !BroadcastsTo(hi.shape(), x.shape())) {
    return KernelError(ctx, "clip bounds " + ShapeString(lo.shape()) + ", " + ShapeString(hi.shape()) +
                                " do not fit " + ShapeString(x.shape()));
  }
  return VisitArith(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), x.shape()));
    const Shape* shapes[] = {&x.shape(), &lo.shape(), &hi.shape()};
    const BroadcastPlan plan = PlanBroadcast(shapes, x.shape());
    const T* px = x.data<T>();
    const T* pl = lo.data<T>();
    const T* ph = hi.data<T>();
    T* o = out.data<T>();
    const size_t r = plan.dims.size();
    const int64_t sl = r ? plan.strides[1][r - 1] : 0, sh = r ? plan.strides[2][r - 1] : 0;
    int64_t k = 0;
    ForEachRun<3>(plan, [&](const std::array<int64_t, 3>& off, int64_t n) {
      for (int64_t i = 0; i < n; ++i, ++k) {
        const T v = px[off[0] + i], l = pl[off[1] + i * sl], h = ph[off[2] + i * sh];
        o[k] = v < l ? l : (v > h ? h : v);
      }
    });
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// Cumsum / Cumprod(x, axis) with `exclusive` and `reverse`.
template <bool kProd>
Status CumulativeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t a, IntScalar(ctx, ctx.inputs[1], "axis"));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, x.rank()));
  ASSIGN_OR_RETURN(bool exclusive, AttrBoolOr(ctx.node, "exclusive", false));
  ASSIGN_OR_RETURN(bool reverse, AttrBoolOr(ctx.node, "reverse", false));
  const int64_t outer = DimProduct(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t n = x.dim(axis);
  const int64_t inner = DimProduct(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  return VisitArith(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), x.shape()));
    std::vector<T> acc(static_cast<size_t>(inner));
    for (int64_t b = 0; b < outer; ++b) {
      std::fill(acc.begin(), acc.end(), kProd ? T{1} : T{0});
      for (int64_t s = 0; s < n; ++s) {
        const int64_t j = reverse ? n - 1 - s : s;
        const T* __restrict__ p = x.data<T>() + (b * n + j) * inner;
        T* __restrict__ o = out.data<T>() + (b * n + j) * inner;
        T* __restrict__ c = acc.data();
        if (exclusive) {
          ForBlocked(inner, [&](int64_t i) {
            o[i] = c[i];
            c[i] = kProd ? WMul(c[i], p[i]) : WAdd(c[i], p[i]);
          });
        } else {
          ForBlocked(inner, [&](int64_t i) {
            c[i] = kProd ? WMul(c[i], p[i]) : WAdd(c[i], p[i]);
            o[i] = c[i];
          });
        }
      }
    }
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// TopKV2(input, k) / TopK (attr k): the k largest of each last-dim row, values and int32 indices, largest first;
// ties go to the lower index (TensorFlow's rule). NaN ranks above every number so the order stays total.
Status TopKKernel(KernelContext& ctx) {
  if (ctx.inputs.empty() || ctx.inputs.size() > 2) return KernelError(ctx, "expects input and k");
  const Tensor& x = ctx.inputs[0];
  int64_t k = 0;
  if (ctx.inputs.size() == 2) {
    ASSIGN_OR_RETURN(k, IntScalar(ctx, ctx.inputs[1], "k"));
  } else {
    ASSIGN_OR_RETURN(k, AttrInt(ctx.node, "k"));
  }
  if (x.rank() < 1) return KernelError(ctx, "input must have rank >= 1");
  const int64_t n = x.dim(x.rank() - 1);
  if (k < 0 || k > n) return KernelError(ctx, "k " + std::to_string(k) + " is out of range for " + ShapeString(x.shape()));
  if (n > std::numeric_limits<int32_t>::max()) return KernelError(ctx, "last dimension exceeds int32 indices");
  Shape os = x.shape();
  os.back() = k;
  const int64_t rows = n == 0 ? 0 : x.num_elements() / n;
  return VisitNumeric(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor values, MakeOutput(ctx, x.dtype(), os));
    ASSIGN_OR_RETURN(Tensor indices, MakeOutput(ctx, DType::kInt32, os));
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows && k > 0; ++r) {
      const T* p = x.data<T>() + r * n;
      auto before = [p](int32_t a, int32_t b) {
        const T va = p[a], vb = p[b];
        if constexpr (std::is_floating_point_v<T>) {
          const bool na = std::isnan(va), nb = std::isnan(vb);
          if (na || nb) return na && nb ? a < b : na;
        }
        if (va != vb) return va > vb;
        return a < b;
      };
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t i = 0; i < k; ++i) {
        values.data<T>()[r * k + i] = p[order[static_cast<size_t>(i)]];
        indices.data<int32_t>()[r * k + i] = order[static_cast<size_t>(i)];
      }
    }
    ctx.outputs.push_back(std::move(values));
    ctx.outputs.push_back(std::move(indices));
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// GEMM: C[M,N] = op(A) * op(B), row-major, op = transpose when asked. C is zero-filled on entry.

template <typename T>
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  if (m == 0 || n == 0 || k == 0) return;
  const auto lda = static_cast<blasint>(ta ? m : k);
  const auto ldb = static_cast<blasint>(tb ? k : n);
  const CBLAS_TRANSPOSE tra = ta ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE trb = tb ? CblasTrans : CblasNoTrans;
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    // A single row or column is a matrix-vector product: OpenBLAS's GEMM would pack the whole matrix first
    // (1x256x256: 17.7 us CPU through sgemm against 2.9 us through sgemv, bench/tf_kernels_bench).
    if (m == 1 || n == 1) {
      const bool row = m == 1;  // c[1,N] = a[K] . op(B)   or   c[M,1] = op(A) . b[K]
      const T* mat = row ? b : a;
      const bool mat_t = row ? !tb : ta;  // row: c = op(B)^T a, op(B)^T is B^T unless tb
      const blasint rows = static_cast<blasint>(row ? (tb ? n : k) : (ta ? k : m));
      const blasint cols = static_cast<blasint>(row ? (tb ? k : n) : (ta ? m : k));
      const T* vec = row ? a : b;
      if constexpr (std::is_same_v<T, float>) {
        cblas_sgemv(CblasRowMajor, mat_t ? CblasTrans : CblasNoTrans, rows, cols, 1.0f, mat, cols, vec, 1, 0.0f, c, 1);
      } else {
        cblas_dgemv(CblasRowMajor, mat_t ? CblasTrans : CblasNoTrans, rows, cols, 1.0, mat, cols, vec, 1, 0.0, c, 1);
      }
      return;
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, tra, trb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, N);
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, tra, trb, M, N, K, 1.0, a, lda, b, ldb, 0.0, c, N);
  } else {
    for (int64_t i = 0; i < m; ++i) {
      T* __restrict__ crow = c + i * n;
      for (int64_t p = 0; p < k; ++p) {
        const T av = ta ? a[p * m + i] : a[i * k + p];
        if (tb) {
          for (int64_t j = 0; j < n; ++j) crow[j] = WAdd(crow[j], WMul(av, b[j * k + p]));
        } else {
          const T* __restrict__ brow = b + p * n;
          ForBlocked(n, [&](int64_t j) { crow[j] = WAdd(crow[j], WMul(av, brow[j])); });
        }
      }
    }
  }
}

template <typename F>
Status VisitGemm(const KernelContext& ctx, DType t, F&& f) {
  return VisitArith(ctx, t, f);
}

Status CheckBlasDims(const KernelContext& ctx, int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (m > kMax || n > kMax || k > kMax) return KernelError(ctx, "matrix dimension exceeds 2^31-1");
  return Status::Ok();
}

Status MatMulKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  ASSIGN_OR_RETURN(bool ta, AttrBoolOr(ctx.node, "transpose_a", false));
  ASSIGN_OR_RETURN(bool tb, AttrBoolOr(ctx.node, "transpose_b", false));
  if (a.rank() != 2 || b.rank() != 2) {
    return KernelError(ctx, "needs 2-D operands, got " + ShapeString(a.shape()) + " and " + ShapeString(b.shape()));
  }
  if (a.dtype() != b.dtype()) return KernelError(ctx, "operand dtypes differ");
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb) {
    return KernelError(ctx, "inner dimensions differ: " + ShapeString(a.shape()) + " x " + ShapeString(b.shape()) +
                                (ta || tb ? " (with transposes)" : ""));
  }
  RETURN_IF_ERROR(CheckBlasDims(ctx, m, n, k));
  return VisitGemm(ctx, a.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    // BLAS writes the whole output; the integer loop accumulates into zeros, and k == 0 leaves it alone.
    constexpr bool kBlas = std::is_same_v<T, float> || std::is_same_v<T, double>;
    ASSIGN_OR_RETURN(Tensor out, kBlas && k > 0 ? MakeUninitializedOutput(ctx, a.dtype(), {m, n})
                                                : MakeOutput(ctx, a.dtype(), {m, n}));
    Gemm<T>(ta, tb, m, n, k, a.data<T>(), b.data<T>(), out.data<T>());
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// _FusedMatMul (grappler / TF.js converter): MatMul, then `fused_ops` in order on the product, which this kernel
// allocated itself: BiasAdd and Prelu take the next argument input ([N]); Relu, Relu6, Elu, LeakyRelu
// (`leakyrelu_alpha`), Sigmoid, Tanh take none. float and double.
template <typename T>
Status ApplyFused(const KernelContext& ctx, const std::vector<std::string>& ops, Tensor& y, float alpha) {
  const int64_t n = y.dim(1), rows = y.dim(0);
  T* p = y.data<T>();
  size_t arg = 2;
  for (const std::string& op : ops) {
    const T* v = nullptr;
    if (op == "BiasAdd" || op == "Prelu") {
      if (arg >= ctx.inputs.size()) return KernelError(ctx, op + " needs an argument input");
      const Tensor& t = ctx.inputs[arg++];
      if (t.dtype() != y.dtype() || t.num_elements() != n) {
        return KernelError(ctx, op + " argument " + ShapeString(t.shape()) + " does not match " + ShapeString(y.shape()));
      }
      v = t.data<T>();
    }
    for (int64_t r = 0; r < rows; ++r) {
      T* __restrict__ row = p + r * n;
      if (op == "BiasAdd") {
        ForBlocked(n, [&](int64_t i) { row[i] += v[i]; });
      } else if (op == "Prelu") {
        ForBlocked(n, [&](int64_t i) { row[i] = row[i] < T{0} ? row[i] * v[i] : row[i]; });
      } else if (op == "Relu") {
        ForBlocked(n, [&](int64_t i) { row[i] = row[i] < T{0} ? T{0} : row[i]; });
      } else if (op == "Relu6") {
        ForBlocked(n, [&](int64_t i) { row[i] = row[i] < T{0} ? T{0} : (row[i] > T{6} ? T{6} : row[i]); });
      } else if (op == "LeakyRelu") {
        ForBlocked(n, [&](int64_t i) { row[i] = row[i] < T{0} ? row[i] * static_cast<T>(alpha) : row[i]; });
      } else if (op == "Elu") {
        for (int64_t i = 0; i < n; ++i) row[i] = row[i] < T{0} ? std::expm1(row[i]) : row[i];
      } else if (op == "Sigmoid") {
        EMap<T>(row, n) = CEMap<T>(row, n).logistic();  // coefficient-wise: in place is safe
      } else if (op == "Tanh") {
        EMap<T>(row, n) = CEMap<T>(row, n).tanh();
      } else {
        return KernelError(ctx, "unsupported fused op '" + op + "'");
      }
    }
  }
  return Status::Ok();
}

Status FusedMatMulKernel(KernelContext& ctx) {
  if (ctx.inputs.size() < 2) return KernelError(ctx, "expects a, b and the fused ops' arguments");
  std::vector<std::string> ops;
  if (FindAttr(ctx.node, "fused_ops") != nullptr) {
    ASSIGN_OR_RETURN(ops, AttrStrings(ctx.node, "fused_ops"));
  }
  ASSIGN_OR_RETURN(float alpha, AttrFloatOr(ctx.node, "leakyrelu_alpha", 0.2f));
  const DType t = ctx.inputs[0].dtype();
  if (t != DType::kFloat && t != DType::kDouble) return UnsupportedType(ctx, t);
  KernelContext mm{ctx.node, ctx.inputs.first(2), ctx.outputs, ctx.variables, ctx.checkpoint};
  RETURN_IF_ERROR(MatMulKernel(mm));
  Tensor& y = ctx.outputs.back();  // allocated by MatMul above: not shared
  Status st = t == DType::kFloat ? ApplyFused<float>(ctx, ops, y, alpha) : ApplyFused<double>(ctx, ops, y, alpha);
  if (!st.ok()) ctx.outputs.pop_back();
  return st;
}

// BatchMatMul (V1: equal batch dims), V2/V3 (broadcast batch dims); adj_x/adj_y transpose (real dtypes).
template <bool kBroadcast>
Status BatchMatMulKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  const Tensor& y = ctx.inputs[1];
  ASSIGN_OR_RETURN(bool ax, AttrBoolOr(ctx.node, "adj_x", false));
  ASSIGN_OR_RETURN(bool ay, AttrBoolOr(ctx.node, "adj_y", false));
  if (x.rank() < 2 || y.rank() < 2) {
    return KernelError(ctx, "needs operands of rank >= 2, got " + ShapeString(x.shape()) + " and " +
                                ShapeString(y.shape()));
  }
  if (x.dtype() != y.dtype()) return KernelError(ctx, "operand dtypes differ");
  const int xr = x.rank(), yr = y.rank();
  const int64_t m = ax ? x.dim(xr - 1) : x.dim(xr - 2), k = ax ? x.dim(xr - 2) : x.dim(xr - 1);
  const int64_t ky = ay ? y.dim(yr - 1) : y.dim(yr - 2), n = ay ? y.dim(yr - 2) : y.dim(yr - 1);
  if (k != ky) {
    return KernelError(ctx, "inner dimensions differ: " + ShapeString(x.shape()) + " x " + ShapeString(y.shape()));
  }
  RETURN_IF_ERROR(CheckBlasDims(ctx, m, n, k));
  const Shape xb(x.shape().begin(), x.shape().end() - 2), yb(y.shape().begin(), y.shape().end() - 2);
  Shape ob;
  if constexpr (kBroadcast) {
    auto s = BroadcastShape(xb, yb);
    if (!s.ok()) return KernelError(ctx, "batch " + s.status().message());
    ob = *s;
  } else {
    if (xb != yb) return KernelError(ctx, "batch dimensions differ: " + ShapeString(x.shape()) + " and " + ShapeString(y.shape()));
    ob = xb;
  }
  Shape os = ob;
  os.push_back(m);
  os.push_back(n);
  return VisitGemm(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    const int64_t xs = m * k, ys = k * n, zs = m * n;
    const int64_t xbn = DimProduct(xb, 0, xb.size()), ybn = DimProduct(yb, 0, yb.size());
    const int64_t obn = DimProduct(ob, 0, ob.size());
    if (ybn == 1 && xbn == obn && !ax) {  // one shared right operand: one GEMM over all rows of x
      Gemm<T>(false, ay, obn * m, n, k, px, py, po);
    } else {
      const Shape* shapes[] = {&xb, &yb};
      const BroadcastPlan plan = PlanBroadcast(shapes, ob);
      int64_t z = 0;
      ForEachRun<2>(plan, [&](const std::array<int64_t, 2>& off, int64_t runs) {
        const size_t r = plan.dims.size();
        const int64_t sx = r ? plan.strides[0][r - 1] : 0, sy = r ? plan.strides[1][r - 1] : 0;
        for (int64_t i = 0; i < runs; ++i, ++z) {
          Gemm<T>(ax, ay, m, n, k, px + (off[0] + i * sx) * xs, py + (off[1] + i * sy) * ys, po + z * zs);
        }
      });
    }
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

// Einsum with two operands and no ellipsis (what Keras' EinsumDense and MultiHeadAttention emit, e.g.
// "abc,cde->abde", "aecd,abcd->acbe"): each operand is transposed to [batch, free, contracted] order, one batched
// GEMM runs, and the product is transposed to the output's order. Labels must be letters, appear at most once per
// operand, and every label of an operand must be in the other operand or the output (no implicit sums).
struct EinsumPlan {
  std::string batch, left, right, contract;  // label groups
  std::map<char, int64_t> size;
};

StatusOr<EinsumPlan> PlanEinsum(const KernelContext& ctx, const std::string& eq, const Shape& xs, const Shape& ys,
                                std::string& lhs, std::string& rhs, std::string& out) {
  const size_t comma = eq.find(','), arrow = eq.find("->");
  if (comma == std::string::npos || arrow == std::string::npos || comma > arrow ||
      eq.find(',', comma + 1) != std::string::npos) {
    return KernelError(ctx, "only two-operand equations 'x,y->z' are supported, got '" + eq + "'");
  }
  lhs = eq.substr(0, comma);
  rhs = eq.substr(comma + 1, arrow - comma - 1);
  out = eq.substr(arrow + 2);
  EinsumPlan p;
  auto bind = [&](const std::string& labels, const Shape& s) -> Status {
    if (labels.size() != s.size()) return KernelError(ctx, "'" + labels + "' does not match " + ShapeString(s));
    for (size_t i = 0; i < labels.size(); ++i) {
      const char c = labels[i];
      if (!std::isalpha(static_cast<unsigned char>(c)) || labels.find(c) != i) {
        return KernelError(ctx, "unsupported equation '" + eq + "' (letters only, each once per operand)");
      }
      auto [it, fresh] = p.size.emplace(c, s[i]);
      if (!fresh && it->second != s[i]) {
        return KernelError(ctx, std::string("dimension '") + c + "' differs between operands");
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(bind(lhs, xs));
  RETURN_IF_ERROR(bind(rhs, ys));
  for (size_t i = 0; i < out.size(); ++i) {
    if (!p.size.count(out[i]) || out.find(out[i]) != i) return KernelError(ctx, "bad output labels in '" + eq + "'");
  }
  for (char c : lhs) {
    const bool in_r = rhs.find(c) != std::string::npos, in_o = out.find(c) != std::string::npos;
    if (in_r && in_o) p.batch += c;
    else if (in_r) p.contract += c;
    else if (in_o) p.left += c;
    else return KernelError(ctx, std::string("label '") + c + "' is summed within one operand (unsupported)");
  }
  for (char c : rhs) {
    if (lhs.find(c) != std::string::npos) continue;
    if (out.find(c) == std::string::npos) {
      return KernelError(ctx, std::string("label '") + c + "' is summed within one operand (unsupported)");
    }
    p.right += c;
  }
  return p;
}

// Copies `in` (labels `from`) into a new contiguous buffer ordered by labels `to` (a permutation of `from`).
template <typename T>
std::vector<T> PermuteByLabels(const T* in, const std::string& from, const std::string& to,
                               const std::map<char, int64_t>& size) {
  Shape fs;
  for (char c : from) fs.push_back(size.at(c));
  const std::vector<int64_t> st = RowMajorStrides(fs);
  Shape ts;
  std::vector<int64_t> is;
  for (char c : to) {
    ts.push_back(size.at(c));
    is.push_back(st[from.find(c)]);
  }
  std::vector<T> buf(static_cast<size_t>(DimProduct(ts, 0, ts.size())));
  if (!buf.empty()) AffineCopy<T>(in, 0, is, buf.data(), 0, RowMajorStrides(ts), ts);
  return buf;
}

Status EinsumKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  const Tensor& y = ctx.inputs[1];
  if (x.dtype() != y.dtype()) return KernelError(ctx, "operand dtypes differ");
  ASSIGN_OR_RETURN(std::string eq, AttrString(ctx.node, "equation"));
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  std::string lhs, rhs, out;
  ASSIGN_OR_RETURN(EinsumPlan p, PlanEinsum(ctx, eq, x.shape(), y.shape(), lhs, rhs, out));
  auto prod = [&](const std::string& labels) {
    int64_t n = 1;
    for (char c : labels) n *= p.size[c];
    return n;
  };
  const int64_t b = prod(p.batch), m = prod(p.left), n = prod(p.right), k = prod(p.contract);
  RETURN_IF_ERROR(CheckBlasDims(ctx, m, n, k));
  Shape os;
  for (char c : out) os.push_back(p.size[c]);
  return VisitArith(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ASSIGN_OR_RETURN(Tensor result, MakeOutput(ctx, x.dtype(), os));
    const std::vector<T> xa = PermuteByLabels<T>(x.data<T>(), lhs, p.batch + p.left + p.contract, p.size);
    const std::vector<T> ya = PermuteByLabels<T>(y.data<T>(), rhs, p.batch + p.contract + p.right, p.size);
    std::vector<T> z(static_cast<size_t>(b * m * n));
    for (int64_t i = 0; i < b; ++i) {
      Gemm<T>(false, false, m, n, k, xa.data() + i * m * k, ya.data() + i * k * n, z.data() + i * m * n);
    }
    if (!z.empty()) {
      const std::vector<T> o = PermuteByLabels<T>(z.data(), p.batch + p.left + p.right, out, p.size);
      std::copy(o.begin(), o.end(), result.data<T>());
    }
    ctx.outputs.push_back(std::move(result));
    return Status::Ok();
  });
}

}  // namespace

void RegisterMathKernels(KernelRegistry& r) {
  // Kernels run on many server threads at once: OpenBLAS's own thread pool would oversubscribe the cores.
  static const bool blas_single_thread = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)blas_single_thread;

  auto reg = [&r](const char* op, KernelFn fn) { r.Register(op, KernelDef{fn, false}); };
  reg("Add", &BinaryKernel<AddOp>);
  reg("AddV2", &BinaryKernel<AddOp>);
  reg("Sub", &BinaryKernel<SubOp>);
  reg("Mul", &BinaryKernel<MulOp>);
  reg("Div", &BinaryKernel<DivOp>);
  reg("TruncateDiv", &BinaryKernel<DivOp>);
  reg("RealDiv", &BinaryKernel<RealDivOp>);
  reg("DivNoNan", &BinaryKernel<DivNoNanOp>);
  reg("FloorDiv", &BinaryKernel<FloorDivOp>);
  reg("FloorMod", &BinaryKernel<FloorModOp>);
  reg("Mod", &BinaryKernel<TruncateModOp>);
  reg("TruncateMod", &BinaryKernel<TruncateModOp>);
  reg("Maximum", &BinaryKernel<MaximumOp>);
  reg("Minimum", &BinaryKernel<MinimumOp>);
  reg("Pow", &BinaryKernel<PowOp>);
  reg("SquaredDifference", &BinaryKernel<SquaredDifferenceOp>);
  reg("Greater", &BinaryKernel<GreaterOp>);
  reg("GreaterEqual", &BinaryKernel<GreaterEqualOp>);
  reg("Less", &BinaryKernel<LessOp>);
  reg("LessEqual", &BinaryKernel<LessEqualOp>);
  reg("Equal", &BinaryKernel<EqualOp>);
  reg("NotEqual", &BinaryKernel<NotEqualOp>);
  reg("LogicalAnd", &BinaryKernel<LogicalAndOp>);
  reg("LogicalOr", &BinaryKernel<LogicalOrOp>);
  reg("AddN", &AddNKernel);
  reg("BiasAdd", &BiasAddKernel);
  reg("BiasAddV1", &BiasAddKernel);
  reg("ClipByValue", &ClipByValueKernel);
  reg("Cumsum", &CumulativeKernel<false>);
  reg("Cumprod", &CumulativeKernel<true>);

  reg("Neg", &UnaryKernel<NegOp>);
  reg("Abs", &UnaryKernel<AbsOp>);
  reg("Square", &UnaryKernel<SquareOp>);
  reg("Sign", &UnaryKernel<SignOp>);
  reg("Sqrt", &UnaryKernel<SqrtOp>);
  reg("Rsqrt", &UnaryKernel<RsqrtOp>);
  reg("Exp", &UnaryKernel<ExpOp>);
  reg("Expm1", &UnaryKernel<Expm1Op>);
  reg("Log", &UnaryKernel<LogOp>);
  reg("Log1p", &UnaryKernel<Log1pOp>);
  reg("Sigmoid", &UnaryKernel<SigmoidOp>);
  reg("Tanh", &UnaryKernel<TanhOp>);
  reg("Erf", &UnaryKernel<ErfOp>);
  reg("Floor", &UnaryKernel<FloorOp>);
  reg("Ceil", &UnaryKernel<CeilOp>);
  reg("Round", &UnaryKernel<RoundOp>);
  reg("Rint", &UnaryKernel<RoundOp>);
  reg("Reciprocal", &UnaryKernel<ReciprocalOp>);
  reg("Inv", &UnaryKernel<ReciprocalOp>);
  reg("Sin", &UnaryKernel<SinOp>);
  reg("Cos", &UnaryKernel<CosOp>);
  reg("Tan", &UnaryKernel<TanOp>);
  reg("Asin", &UnaryKernel<AsinOp>);
  reg("Acos", &UnaryKernel<AcosOp>);
  reg("Atan", &UnaryKernel<AtanOp>);
  reg("Sinh", &UnaryKernel<SinhOp>);
  reg("Cosh", &UnaryKernel<CoshOp>);
  reg("Softsign", &UnaryKernel<SoftsignOp>);
  reg("LogicalNot", &PredicateKernel<0>);
  reg("IsNan", &PredicateKernel<1>);
  reg("IsInf", &PredicateKernel<2>);
  reg("IsFinite", &PredicateKernel<3>);

  reg("Sum", &ReduceKernel<RK::kSum>);
  reg("Mean", &ReduceKernel<RK::kMean>);
  reg("Prod", &ReduceKernel<RK::kProd>);
  reg("Max", &ReduceKernel<RK::kMax>);
  reg("Min", &ReduceKernel<RK::kMin>);
  reg("All", &ReduceKernel<RK::kAll>);
  reg("Any", &ReduceKernel<RK::kAny>);
  reg("ArgMax", &ArgKernel<true>);
  reg("ArgMin", &ArgKernel<false>);
  reg("TopKV2", &TopKKernel);
  reg("TopK", &TopKKernel);

  reg("MatMul", &MatMulKernel);
  reg("_FusedMatMul", &FusedMatMulKernel);
  reg("Einsum", &EinsumKernel);
  reg("BatchMatMul", &BatchMatMulKernel<false>);
  reg("BatchMatMulV2", &BatchMatMulKernel<true>);
  reg("BatchMatMulV3", &BatchMatMulKernel<true>);
}

}  // namespace inferd::tf
