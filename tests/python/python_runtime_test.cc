// python/python_runtime.h's tensor conversions: numpy arrays built and read natively (numpy.empty and the
// buffer protocol) must be the arrays and tensors the helper module makes, for every datatype, and whatever
// the native path does not take (non-contiguous, byte-swapped, subclasses, lists, long double) still goes
// through the helper.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "python/python_runtime.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace inferd {
namespace {

class PythonRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(EnsurePython().ok()); }

  // Evaluates a Python expression with numpy as `np` and `a` bound to `arg` (may be null).
  static PyRef Eval(const std::string& expr, PyObject* arg = nullptr) {
    PyRef globals(PyDict_New());
    PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins());
    PyRef np(PyImport_ImportModule("numpy"));
    PyDict_SetItemString(globals.get(), "np", np.get());
    if (arg) PyDict_SetItemString(globals.get(), "a", arg);
    PyRef out(PyRun_String(expr.c_str(), Py_eval_input, globals.get(), globals.get()));
    if (!out) ADD_FAILURE() << PythonError(expr).message();
    return out;
  }
  static bool True(const std::string& expr, PyObject* arg) {
    PyRef r = Eval(expr, arg);
    return r && PyObject_IsTrue(r.get()) == 1;
  }
};

struct Case {
  DataType dtype;
  const char* numpy;
};

TEST_F(PythonRuntimeTest, EveryNumericDatatypeRoundTrips) {
  GilLock gil;
  const Case cases[] = {{DataType::kBool, "bool"},     {DataType::kUint8, "uint8"},   {DataType::kUint16, "uint16"},
                        {DataType::kUint32, "uint32"}, {DataType::kUint64, "uint64"}, {DataType::kInt8, "int8"},
                        {DataType::kInt16, "int16"},   {DataType::kInt32, "int32"},   {DataType::kInt64, "int64"},
                        {DataType::kFp16, "float16"},  {DataType::kFp32, "float32"},  {DataType::kFp64, "float64"}};
  for (const Case& c : cases) {
    const size_t size = DataTypeSize(c.dtype);
    Tensor t("x", c.dtype, Shape{2, 3});
    char* p = t.Allocate(6 * size);
    for (size_t i = 0; i < 6 * size; ++i) p[i] = static_cast<char>(c.dtype == DataType::kBool ? i % 2 : i * 7 + 1);
    auto arr = TensorToNumpy(t);
    ASSERT_TRUE(arr.ok()) << arr.status().message();
    PyObject* a = arr->get();
    // What the helper's frombuffer(...).reshape(shape).copy() gives: owned, writable, C-contiguous.
    EXPECT_TRUE(True(std::string("a.dtype == np.dtype('") + c.numpy + "') and a.shape == (2, 3)", a)) << c.numpy;
    EXPECT_TRUE(True("a.flags.owndata and a.flags.writeable and a.flags.c_contiguous and type(a) is np.ndarray", a));
    PyRef bytes = Eval("a.tobytes()", a);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(std::string(PyBytes_AS_STRING(bytes.get()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.get()))),
              std::string(t.bytes()))
        << c.numpy;
    auto back = NumpyToTensor(a, "y");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->dtype(), c.dtype) << c.numpy;
    EXPECT_EQ(back->shape(), (Shape{2, 3}));
    EXPECT_EQ(back->name(), "y");
    EXPECT_EQ(back->bytes(), t.bytes()) << c.numpy;
  }
}

TEST_F(PythonRuntimeTest, ZeroSizedAndScalarArrays) {
  GilLock gil;
  Tensor empty("e", DataType::kFp32, Shape{0, 4});
  empty.Allocate(0);
  auto arr = TensorToNumpy(empty);
  ASSERT_TRUE(arr.ok());
  EXPECT_TRUE(True("a.shape == (0, 4) and a.dtype == np.float32", arr->get()));
  PyRef scalar = Eval("np.array(2.5)");
  auto t = NumpyToTensor(scalar.get(), "s");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype(), DataType::kFp64);
  EXPECT_TRUE(t->shape().empty());
  EXPECT_EQ(t->data<double>()[0], 2.5);
}

TEST_F(PythonRuntimeTest, WhatTheNativePathDoesNotTakeGoesThroughTheHelper) {
  GilLock gil;
  struct Other {
    const char* expr;
    DataType dtype;
    Shape shape;
    std::vector<double> values;  // as doubles, compared after conversion
  };
  const Other others[] = {
      {"np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]", DataType::kFp32, {3, 2}, {0, 2, 4, 6, 8, 10}},
      {"np.arange(3, dtype='>i4')", DataType::kInt32, {3}, {0, 1, 2}},
      {"np.arange(3, dtype=np.longdouble)", DataType::kFp64, {3}, {0, 1, 2}},
      {"np.matrix([[1.0, 2.0]])", DataType::kFp64, {1, 2}, {1, 2}},
      {"[[1, 2], [3, 4]]", DataType::kInt64, {2, 2}, {1, 2, 3, 4}},
      {"np.asfortranarray(np.arange(4, dtype=np.int16).reshape(2, 2))", DataType::kInt16, {2, 2}, {0, 1, 2, 3}},
  };
  for (const Other& o : others) {
    PyRef value = Eval(o.expr);
    ASSERT_TRUE(value) << o.expr;
    auto t = NumpyToTensor(value.get(), "o");
    ASSERT_TRUE(t.ok()) << o.expr << ": " << t.status().message();
    EXPECT_EQ(t->dtype(), o.dtype) << o.expr;
    EXPECT_EQ(t->shape(), o.shape) << o.expr;
    for (size_t i = 0; i < o.values.size(); ++i) {
      double v = 0;
      switch (o.dtype) {
        case DataType::kFp32: v = t->data<float>()[i]; break;
        case DataType::kFp64: v = t->data<double>()[i]; break;
        case DataType::kInt32: v = t->data<int32_t>()[i]; break;
        case DataType::kInt16: v = t->data<int16_t>()[i]; break;
        default: v = static_cast<double>(t->data<int64_t>()[i]); break;
      }
      EXPECT_EQ(v, o.values[i]) << o.expr << " [" << i << "]";
    }
  }
  // Not array-like (ragged rows, which numpy refuses): an error, not a crash.
  PyRef bad = Eval("[[1], [2, 3]]");
  EXPECT_FALSE(NumpyToTensor(bad.get(), "b").ok());
  EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(PythonRuntimeTest, ContentsThatDoNotFitTheShapeAreAnError) {
  GilLock gil;
  Tensor t("x", DataType::kFp32, Shape{2, 2});
  t.Allocate(12);  // three floats for a shape of four
  auto arr = TensorToNumpy(t);
  EXPECT_FALSE(arr.ok());
  EXPECT_FALSE(PyErr_Occurred());
}

}  // namespace
}  // namespace inferd
