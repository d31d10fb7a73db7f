// tf/kernels_example.cc: ParseExample and ParseExampleV2 (serialized tf.Example protos -> dense and sparse tensors),
// what classify/regress signatures (TF Serving's `:classify`, `:regress`) and estimator exports start with.
//
// Supported: dense features of fixed shape (float32, int64 or string; missing ones take the default, or are an
// error when the default is empty), sparse features (indices [n, 2], values, dense_shape [batch, max length]).
// Refused, naming the node and key: variable-length dense features (a dense shape with an unknown dimension) and
// ParseExampleV2's ragged features. `names` is only used in error messages, as in TensorFlow.
#include <string>
#include <vector>

#include "tf/example.h"
#include "tf/kernel_util.h"

namespace inferd::tf {
namespace {

struct DenseSpec {
  std::string key;
  DType dtype = DType::kInvalid;
  Shape shape;
  int64_t elements = 1;
  const Tensor* dflt = nullptr;
};
struct SparseSpec {
  std::string key;
  DType dtype = DType::kInvalid;
};

StatusOr<std::vector<DType>> TypeList(const KernelContext& ctx, std::string_view attr) {
  const AttrValue* a = FindAttr(ctx.node, attr);
  if (a == nullptr) return std::vector<DType>{};
  if (a->kind != AttrValue::Kind::kList || !a->list) return KernelError(ctx, "attr " + std::string(attr) + " must be a list of types");
  return a->list->type;
}

StatusOr<std::vector<PartialShape>> ShapeList(const KernelContext& ctx) {
  const AttrValue* a = FindAttr(ctx.node, "dense_shapes");
  if (a == nullptr) return std::vector<PartialShape>{};
  if (a->kind != AttrValue::Kind::kList || !a->list) return KernelError(ctx, "attr dense_shapes must be a list of shapes");
  return a->list->shape;
}

Status CheckFeatureType(const KernelContext& ctx, DType t, const std::string& key) {
  if (t == DType::kFloat || t == DType::kInt64 || t == DType::kString) return Status::Ok();
  return KernelError(ctx, "feature '" + key + "' has dtype " + std::string(DTypeName(t)) +
                              " (float, int64 or string only)");
}

// The keys of one kind: V1 passes one scalar string input per key, V2 one vector of them.
StatusOr<std::vector<std::string>> Keys(const KernelContext& ctx, size_t first, size_t count, bool v2) {
  std::vector<std::string> keys;
  if (v2) {
    const Tensor& t = ctx.inputs[first];
    if (t.dtype() != DType::kString || t.rank() > 1) return KernelError(ctx, "keys must be a string vector");
    return t.strings();
  }
  for (size_t i = 0; i < count; ++i) {
    const Tensor& t = ctx.inputs[first + i];
    if (t.dtype() != DType::kString || t.num_elements() != 1) return KernelError(ctx, "each key must be a scalar string");
    keys.push_back(t.strings()[0]);
  }
  return keys;
}

std::string_view KindName(ExampleFeature::Kind k) {
  switch (k) {
    case ExampleFeature::Kind::kBytes: return "bytes_list (string)";
    case ExampleFeature::Kind::kFloat: return "float_list (float)";
    case ExampleFeature::Kind::kInt64: return "int64_list (int64)";
    default: return "no list";
  }
}

size_t FeatureSize(const ExampleFeature& f) {
  return f.kind == ExampleFeature::Kind::kBytes ? f.bytes.size()
         : f.kind == ExampleFeature::Kind::kFloat ? f.floats.size() : f.ints.size();
}

Status CheckKind(const KernelContext& ctx, const ExampleFeature& f, DType t, const std::string& key, size_t ex) {
  const ExampleFeature::Kind want = t == DType::kFloat   ? ExampleFeature::Kind::kFloat
                                    : t == DType::kInt64 ? ExampleFeature::Kind::kInt64
                                                         : ExampleFeature::Kind::kBytes;
  if (f.kind == want || f.kind == ExampleFeature::Kind::kNone) return Status::Ok();
  return KernelError(ctx, "example " + std::to_string(ex) + ", feature '" + key + "': data types don't match: expected " +
                              std::string(DTypeName(t)) + ", the feature is a " + std::string(KindName(f.kind)));
}

// Copies `count` values of feature f (or of `from`, a tensor of the same dtype) to out at element `at`.
void CopyValues(const ExampleFeature* f, const Tensor* from, DType t, Tensor& out, int64_t at, int64_t count) {
  const auto n = static_cast<size_t>(count), a = static_cast<size_t>(at);
  if (t == DType::kFloat) {
    const float* src = f ? f->floats.data() : from->data<float>();
    std::copy(src, src + n, out.data<float>() + a);
  } else if (t == DType::kInt64) {
    const int64_t* src = f ? f->ints.data() : from->data<int64_t>();
    std::copy(src, src + n, out.data<int64_t>() + a);
  } else {
    const std::string* src = f ? f->bytes.data() : from->strings().data();
    std::copy(src, src + n, out.strings().begin() + static_cast<std::ptrdiff_t>(a));
  }
}

Status FillDense(KernelContext& ctx, const std::vector<ExampleFeatures>& ex, const Shape& batch,
                 const DenseSpec& d, Tensor* out) {
  Shape shape = batch;
  shape.insert(shape.end(), d.shape.begin(), d.shape.end());
  ASSIGN_OR_RETURN(*out, MakeOutput(ctx, d.dtype, shape));
  for (size_t i = 0; i < ex.size(); ++i) {
    auto it = ex[i].find(d.key);
    const int64_t at = static_cast<int64_t>(i) * d.elements;
    if (it == ex[i].end() || it->second.kind == ExampleFeature::Kind::kNone) {
      if (d.dflt->num_elements() == 0) {
        return KernelError(ctx, "example " + std::to_string(i) + " has no feature '" + d.key + "', which is required");
      }
      CopyValues(nullptr, d.dflt, d.dtype, *out, at, d.elements);
      continue;
    }
    RETURN_IF_ERROR(CheckKind(ctx, it->second, d.dtype, d.key, i));
    if (static_cast<int64_t>(FeatureSize(it->second)) != d.elements) {
      return KernelError(ctx, "example " + std::to_string(i) + ", feature '" + d.key + "': " +
                                  std::to_string(FeatureSize(it->second)) + " values where the dense shape " +
                                  ShapeString(d.shape) + " needs " + std::to_string(d.elements));
    }
    CopyValues(&it->second, nullptr, d.dtype, *out, at, d.elements);
  }
  return Status::Ok();
}

// Sparse: indices [n, 2] int64 (example, position), values [n], dense_shape [2] = [batch, longest].
Status FillSparse(KernelContext& ctx, const std::vector<ExampleFeatures>& ex, const SparseSpec& s, Tensor out[3]) {
  int64_t total = 0, longest = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    auto it = ex[i].find(s.key);
    if (it == ex[i].end()) continue;
    RETURN_IF_ERROR(CheckKind(ctx, it->second, s.dtype, s.key, i));
    const auto n = static_cast<int64_t>(FeatureSize(it->second));
    total += n;
    longest = std::max(longest, n);
  }
  ASSIGN_OR_RETURN(out[0], MakeOutput(ctx, DType::kInt64, {total, 2}));
  ASSIGN_OR_RETURN(out[1], MakeOutput(ctx, s.dtype, {total}));
  ASSIGN_OR_RETURN(out[2], MakeOutput(ctx, DType::kInt64, {2}));
  int64_t at = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    auto it = ex[i].find(s.key);
    if (it == ex[i].end()) continue;
    const auto n = static_cast<int64_t>(FeatureSize(it->second));
    for (int64_t k = 0; k < n; ++k) {
      out[0].data<int64_t>()[2 * (at + k)] = static_cast<int64_t>(i);
      out[0].data<int64_t>()[2 * (at + k) + 1] = k;
    }
    if (n > 0) CopyValues(&it->second, nullptr, s.dtype, out[1], at, n);
    at += n;
  }
  out[2].data<int64_t>()[0] = static_cast<int64_t>(ex.size());
  out[2].data<int64_t>()[1] = longest;
  return Status::Ok();
}

StatusOr<std::vector<DenseSpec>> DenseSpecs(const KernelContext& ctx, const std::vector<std::string>& keys,
                                            size_t defaults_at) {
  ASSIGN_OR_RETURN(std::vector<DType> types, TypeList(ctx, "Tdense"));
  ASSIGN_OR_RETURN(std::vector<PartialShape> shapes, ShapeList(ctx));
  if (types.size() != keys.size() || shapes.size() != keys.size() || defaults_at + keys.size() > ctx.inputs.size()) {
    return KernelError(ctx, "dense keys, Tdense, dense_shapes and dense_defaults differ in length");
  }
  std::vector<DenseSpec> out(keys.size());
  for (size_t j = 0; j < keys.size(); ++j) {
    DenseSpec& d = out[j];
    d.key = keys[j], d.dtype = types[j], d.dflt = &ctx.inputs[defaults_at + j];
    RETURN_IF_ERROR(CheckFeatureType(ctx, d.dtype, d.key));
    if (shapes[j].unknown_rank) return KernelError(ctx, "dense feature '" + d.key + "' has a shape of unknown rank");
    d.shape = shapes[j].dims;
    for (int64_t s : d.shape) {
      if (s < 0) return KernelError(ctx, "variable-length dense feature '" + d.key + "' (shape " + ShapeString(d.shape) + ") is not supported");
      if (s > 0 && d.elements > kMaxElements / s) return KernelError(ctx, "dense feature '" + d.key + "' is too large");
      d.elements *= s;
    }
    if (d.dflt->dtype() != d.dtype) return KernelError(ctx, "dense_defaults for '" + d.key + "' has another dtype");
    if (d.dflt->num_elements() != 0 && d.dflt->num_elements() != d.elements) {
      return KernelError(ctx, "dense_defaults for '" + d.key + "' has " + std::to_string(d.dflt->num_elements()) +
                                  " values, the dense shape " + std::to_string(d.elements));
    }
  }
  return out;
}

Status ParseCommon(KernelContext& ctx, const std::vector<SparseSpec>& sparse, const std::vector<DenseSpec>& dense) {
  const Tensor& serialized = ctx.inputs[0];
  if (serialized.dtype() != DType::kString || serialized.rank() > 1) {
    return KernelError(ctx, "serialized must be a string scalar or vector");
  }
  std::vector<ExampleFeatures> ex;
  ex.reserve(serialized.strings().size());
  for (size_t i = 0; i < serialized.strings().size(); ++i) {
    auto f = ParseExampleProto(serialized.strings()[i], i);
    if (!f.ok()) return KernelError(ctx, f.status().message());
    ex.push_back(std::move(*f));
  }
  for (const SparseSpec& s : sparse) RETURN_IF_ERROR(CheckFeatureType(ctx, s.dtype, s.key));
  std::vector<Tensor> parts(3 * sparse.size());
  for (size_t j = 0; j < sparse.size(); ++j) {
    Tensor three[3];
    RETURN_IF_ERROR(FillSparse(ctx, ex, sparse[j], three));
    for (size_t k = 0; k < 3; ++k) parts[k * sparse.size() + j] = std::move(three[k]);
  }
  for (Tensor& t : parts) ctx.outputs.push_back(std::move(t));
  const Shape batch = serialized.shape();  // [] for one example (V2 allows a scalar), [n] otherwise
  for (const DenseSpec& d : dense) {
    Tensor out;
    RETURN_IF_ERROR(FillDense(ctx, ex, batch, d, &out));
    ctx.outputs.push_back(std::move(out));
  }
  return Status::Ok();
}

StatusOr<std::vector<SparseSpec>> SparseSpecs(const KernelContext& ctx, const std::vector<std::string>& keys) {
  ASSIGN_OR_RETURN(std::vector<DType> types, TypeList(ctx, "sparse_types"));
  if (types.size() != keys.size()) return KernelError(ctx, "sparse keys and sparse_types differ in length");
  std::vector<SparseSpec> out(keys.size());
  for (size_t j = 0; j < keys.size(); ++j) out[j] = {keys[j], types[j]};
  return out;
}

// ParseExample: serialized, names, sparse_keys x Nsparse, dense_keys x Ndense, dense_defaults x Ndense.
Status ParseExample(KernelContext& ctx) {
  ASSIGN_OR_RETURN(int64_t ns, AttrIntOr(ctx.node, "Nsparse", 0));
  ASSIGN_OR_RETURN(int64_t nd, AttrIntOr(ctx.node, "Ndense", 0));
  if (ns < 0 || nd < 0 || ns > 1 << 16 || nd > 1 << 16) return KernelError(ctx, "bad Nsparse/Ndense");
  const auto s = static_cast<size_t>(ns), d = static_cast<size_t>(nd);
  RETURN_IF_ERROR(ExpectInputs(ctx, 2 + s + 2 * d));
  ASSIGN_OR_RETURN(std::vector<std::string> sparse_keys, Keys(ctx, 2, s, false));
  ASSIGN_OR_RETURN(std::vector<std::string> dense_keys, Keys(ctx, 2 + s, d, false));
  ASSIGN_OR_RETURN(std::vector<SparseSpec> sparse, SparseSpecs(ctx, sparse_keys));
  ASSIGN_OR_RETURN(std::vector<DenseSpec> dense, DenseSpecs(ctx, dense_keys, 2 + s + d));
  return ParseCommon(ctx, sparse, dense);
}

// ParseExampleV2: serialized, names, sparse_keys, dense_keys, ragged_keys (vectors), dense_defaults x len(Tdense).
Status ParseExampleV2(KernelContext& ctx) {
  if (ctx.inputs.size() < 5) return ExpectInputs(ctx, 5);
  ASSIGN_OR_RETURN(std::vector<DType> ragged, TypeList(ctx, "ragged_value_types"));
  if (!ragged.empty() || ctx.inputs[4].num_elements() != 0) {
    return KernelError(ctx, "ragged features are not supported");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> sparse_keys, Keys(ctx, 2, 0, true));
  ASSIGN_OR_RETURN(std::vector<std::string> dense_keys, Keys(ctx, 3, 0, true));
  RETURN_IF_ERROR(ExpectInputs(ctx, 5 + dense_keys.size()));
  ASSIGN_OR_RETURN(std::vector<SparseSpec> sparse, SparseSpecs(ctx, sparse_keys));
  ASSIGN_OR_RETURN(std::vector<DenseSpec> dense, DenseSpecs(ctx, dense_keys, 5));
  return ParseCommon(ctx, sparse, dense);
}

// Load-time check (KernelDef::check): feature dtypes, fully known dense shapes, no ragged features.
Status CheckParseExample(const NodeDef& n) {
  std::vector<Tensor> none;
  KernelContext ctx{n, {}, none};
  ASSIGN_OR_RETURN(std::vector<DType> dense, TypeList(ctx, "Tdense"));
  ASSIGN_OR_RETURN(std::vector<DType> sparse, TypeList(ctx, "sparse_types"));
  ASSIGN_OR_RETURN(std::vector<DType> ragged, TypeList(ctx, "ragged_value_types"));
  ASSIGN_OR_RETURN(std::vector<PartialShape> shapes, ShapeList(ctx));
  auto unsupported = [&](const std::string& what) { return Unimplemented(n.op + " '" + n.name + "': " + what); };
  if (!ragged.empty()) return unsupported("ragged features are not supported");
  for (DType t : dense) {
    if (t != DType::kFloat && t != DType::kInt64 && t != DType::kString) {
      return unsupported("dense feature dtype " + std::string(DTypeName(t)) + " is not supported");
    }
  }
  for (DType t : sparse) {
    if (t != DType::kFloat && t != DType::kInt64 && t != DType::kString) {
      return unsupported("sparse feature dtype " + std::string(DTypeName(t)) + " is not supported");
    }
  }
  for (const PartialShape& s : shapes) {
    bool known = !s.unknown_rank;
    for (int64_t d : s.dims) known = known && d >= 0;
    if (!known) return unsupported("variable-length dense features (dense shape with an unknown dimension) are not supported");
  }
  return Status::Ok();
}

}  // namespace

void RegisterExampleKernels(KernelRegistry& r) {
  r.Register("ParseExample", {ParseExample, false, CheckParseExample});
  r.Register("ParseExampleV2", {ParseExampleV2, false, CheckParseExample});
}

}  // namespace inferd::tf
