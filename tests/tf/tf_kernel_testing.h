// tests/tf/tf_kernel_testing.h: building tensors and NodeDefs and running one kernel directly, for the kernel
// tests (tf_array_kernels_test, tf_math_kernels_test). Header-only; test code only.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tf/graph_def.h"
#include "tf/kernel.h"
#include "tf/tensor.h"

namespace inferd::tf::testing {

template <typename T>
Tensor Make(DType dt, Shape shape, const std::vector<T>& v) {
  auto t = Tensor::Make(dt, std::move(shape));
  EXPECT_TRUE(t.ok());
  EXPECT_EQ(static_cast<size_t>(t->num_elements()), v.size());
  for (size_t i = 0; i < v.size() && i < static_cast<size_t>(t->num_elements()); ++i) t->data<T>()[i] = v[i];
  return *t;
}
inline Tensor F32(Shape s, const std::vector<float>& v) { return Make<float>(DType::kFloat, std::move(s), v); }
inline Tensor F64(Shape s, const std::vector<double>& v) { return Make<double>(DType::kDouble, std::move(s), v); }
inline Tensor I32(Shape s, const std::vector<int32_t>& v) { return Make<int32_t>(DType::kInt32, std::move(s), v); }
inline Tensor I64(Shape s, const std::vector<int64_t>& v) { return Make<int64_t>(DType::kInt64, std::move(s), v); }
inline Tensor U8(Shape s, const std::vector<uint8_t>& v) { return Make<uint8_t>(DType::kUint8, std::move(s), v); }
inline Tensor Bool(Shape s, const std::vector<bool>& v) {
  auto t = Tensor::Make(DType::kBool, std::move(s));
  EXPECT_TRUE(t.ok());
  for (size_t i = 0; i < v.size(); ++i) t->data<bool>()[i] = v[i];
  return *t;
}
inline Tensor Str(Shape s, const std::vector<std::string>& v) {
  auto t = Tensor::Make(DType::kString, std::move(s));
  EXPECT_TRUE(t.ok());
  for (size_t i = 0; i < v.size(); ++i) t->strings()[i] = v[i];
  return *t;
}
inline Tensor I32s(const std::vector<int32_t>& v) { return I32({static_cast<int64_t>(v.size())}, v); }
inline Tensor I64s(const std::vector<int64_t>& v) { return I64({static_cast<int64_t>(v.size())}, v); }
inline Tensor I32Scalar(int32_t v) { return I32({}, {v}); }

inline AttrValue AInt(int64_t v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kI;
  a.i = v;
  return a;
}
inline AttrValue ABool(bool v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kB;
  a.b = v;
  return a;
}
inline AttrValue AType(DType v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kType;
  a.type = v;
  return a;
}
inline AttrValue AStr(std::string v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kS;
  a.s = std::move(v);
  return a;
}
inline AttrValue AInts(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->i = std::move(v);
  return a;
}

inline AttrValue AFloat(float v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kF;
  a.f = v;
  return a;
}
inline AttrValue ATypes(std::vector<DType> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->type = std::move(v);
  return a;
}
// A list of fully known shapes.
inline AttrValue AShapes(std::vector<Shape> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  for (Shape& s : v) a.list->shape.push_back(PartialShape{false, std::move(s)});
  return a;
}

struct OpResult {
  Status status;
  std::vector<Tensor> out;
  const Tensor& operator[](size_t i) const { return out.at(i); }
};

// Runs op `op` (from the global registry) on `inputs` with `attrs`; the node is named "node".
inline OpResult RunOp(const std::string& op, std::vector<Tensor> inputs, AttrMap attrs = {}) {
  NodeDef n;
  n.name = "node";
  n.op = op;
  n.attrs = std::move(attrs);
  OpResult r;
  const KernelDef* k = Kernels().Find(op);
  if (k == nullptr) {
    r.status = NotFound("no kernel for " + op);
    return r;
  }
  // Kernels must never write into their inputs: compare every input's bytes before and after.
  std::vector<std::string> before;
  for (const Tensor& in : inputs) {
    before.emplace_back(in.dtype() == DType::kString || in.dtype() == DType::kResource ? std::string()
                                                                                       : std::string(in.raw(), in.byte_size()));
  }
  KernelContext ctx{n, inputs, r.out};
  r.status = k->fn(ctx);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!before[i].empty()) {
      EXPECT_EQ(before[i], std::string(inputs[i].raw(), inputs[i].byte_size())) << op << " input " << i;
    }
  }
  if (!r.status.ok()) {
    EXPECT_NE(r.status.message().find("'node'"), std::string::npos) << r.status.message();
  }
  return r;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  std::vector<T> v(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<T>()[i];
  return v;
}
inline std::vector<bool> BoolValues(const Tensor& t) {
  std::vector<bool> v(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<bool>()[i];
  return v;
}

}  // namespace inferd::tf::testing
