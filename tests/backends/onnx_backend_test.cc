// Tests of the ONNX backend (ONNX Runtime) against the outputs torch computed for the model it exported
// (scripts/gen_dl_test_models.py), plus metadata from the session, every element type, errors and
// concurrency.
#include <gtest/gtest.h>

#ifndef INFERD_HAVE_ONNXRUNTIME
TEST(onnx_backend, NotBuilt) { GTEST_SKIP() << "inferd was built without ONNX Runtime"; }
#else

#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "util/json_flatten.h"
#include "backends/onnx/onnx_backend.h"
#include "model/model.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;

std::string DlModels() { return INFERD_DL_TEST_MODELS; }

#define SKIP_WITHOUT_MODELS()                                                                   \
  if (!fs::exists(DlModels() + "/repo/onnx-mlp/model.onnx"))                                    \
  GTEST_SKIP() << DlModels() << " has no models (scripts/gen_dl_test_models.py needs python3-torch)"

struct Expected {
  std::vector<double> features, logits, probabilities;
  int64_t rows = 0;
};

Expected LoadExpected() {
  Expected x;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string path = DlModels() + "/onnx-mlp.expected.json";
  EXPECT_EQ(parser.load(path).get(doc), simdjson::SUCCESS) << path;
  FlattenJson(doc["inputs"]["features"].value(), &x.features);
  FlattenJson(doc["outputs"]["logits"].value(), &x.logits);
  FlattenJson(doc["outputs"]["probabilities"].value(), &x.probabilities);
  x.rows = static_cast<int64_t>(x.features.size() / 6);
  return x;
}

Tensor Fp32(const std::string& name, const std::vector<double>& values, Shape shape) {
  Tensor t(name, DataType::kFp32, std::move(shape));
  float* p = reinterpret_cast<float*>(t.Allocate(values.size() * sizeof(float)));
  for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<float>(values[i]);
  return t;
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> v(t.byte_size() / sizeof(float));
  std::memcpy(v.data(), t.raw(), v.size() * sizeof(float));
  return v;
}

bool Close(float got, double want) { return std::fabs(got - want) <= 1e-5 * std::fabs(want) + 1e-6; }

void ExpectClose(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(Close(got[i], want[i])) << what << "[" << i << "]: " << got[i] << " vs " << want[i];
}

StatusOr<std::unique_ptr<Backend>> Load(const std::string& dir, int threads = 1) {
  LoadOptions o;
  o.model_name = fs::path(dir).filename().string();
  o.model_dir = dir;
  o.intra_op_threads = threads;
  return NewOnnxBackendFactory()->Load(o);
}

std::string Mlp() { return DlModels() + "/repo/onnx-mlp"; }

TEST(onnx_backend, MetadataFromTheSession) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(Mlp());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  EXPECT_EQ(md.platform, "onnxruntime_onnx");
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "features");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 6}));  // symbolic "batch" -> -1
  ASSERT_EQ(md.outputs.size(), 2u);
  EXPECT_EQ(md.outputs[0].name, "logits");
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 3}));
  EXPECT_EQ(md.outputs[1].name, "probabilities");
  EXPECT_EQ(md.outputs[1].dtype, DataType::kFp32);
  EXPECT_TRUE((*b)->thread_safe());
}

TEST(onnx_backend, MatchesTorch) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected();
  for (int threads : {1, 2, 0}) {
    auto b = Load(Mlp(), threads);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::vector<Tensor> in = {Fp32("features", x.features, {x.rows, 6})};
    std::vector<int> req = {0, 1};
    std::vector<Tensor> out;
    Status st = (*b)->Execute(in, req, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].name(), "logits");
    EXPECT_EQ(out[0].shape(), (Shape{x.rows, 3}));
    ExpectClose(Floats(out[0]), x.logits, "logits, threads " + std::to_string(threads));
    ExpectClose(Floats(out[1]), x.probabilities, "probabilities, threads " + std::to_string(threads));

    out.clear();
    std::vector<int> only = {1};
    ASSERT_TRUE((*b)->Execute(in, only, &out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].name(), "probabilities");
    ExpectClose(Floats(out[0]), x.probabilities, "probabilities only");
  }
}

TEST(onnx_backend, EmptyBatch) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(Mlp());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = {Fp32("features", {}, {0, 6})};
  std::vector<int> req = {1};
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out[0].shape(), (Shape{0, 3}));
}

TEST(onnx_backend, WrongShapeOrTypeIsInvalidArgument) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(Mlp());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  std::vector<Tensor> in = {Fp32("features", std::vector<double>(10, 1), {2, 5})};
  Status st = (*b)->Execute(in, req, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("'features'"), std::string::npos) << st.message();
  Tensor i64("features", DataType::kInt64, {1, 6});
  i64.Allocate(48);
  in = {i64};
  st = (*b)->Execute(in, req, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();

  Model m("mlp", "1", std::move(*b));
  ASSERT_TRUE(m.WarmUp().ok());
  InferRequest r;
  r.inputs = {Fp32("features", std::vector<double>(10, 1), {2, 5})};
  InferResponse resp;
  st = m.Infer(r, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  // INT64 values are converted to the declared FP32 by the model layer.
  InferRequest r2;
  r2.inputs = {i64};
  st = m.Infer(r2, &resp);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(onnx_backend, ConcurrentExecuteGivesTheSerialAnswers) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected();
  auto b = Load(Mlp());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Backend* backend = b->get();
  std::vector<Tensor> in = {Fp32("features", x.features, {x.rows, 6})};
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> req = {0, 1};
      for (int i = 0; i < 500; ++i) {
        std::vector<Tensor> out;
        if (!backend->Execute(in, req, &out).ok() || out.size() != 2) {
          ++failures[t];
          continue;
        }
        std::vector<float> l = Floats(out[0]), p = Floats(out[1]);
        for (size_t k = 0; k < x.logits.size(); ++k) failures[t] += !Close(l[k], x.logits[k]);
        for (size_t k = 0; k < x.probabilities.size(); ++k) failures[t] += !Close(p[k], x.probabilities[k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(onnx_backend, EveryElementTypeBothWays) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/extra/onnx-types");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  const std::vector<DataType> types = {DataType::kBool,   DataType::kUint8, DataType::kInt8,   DataType::kUint16,
                                       DataType::kInt16,  DataType::kUint32, DataType::kInt32, DataType::kUint64,
                                       DataType::kInt64,  DataType::kFp16,  DataType::kBf16,   DataType::kFp32,
                                       DataType::kFp64};
  ASSERT_EQ(md.inputs.size(), types.size());
  ASSERT_EQ(md.outputs.size(), types.size());
  std::vector<Tensor> in;
  std::vector<int> req;
  for (size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(md.inputs[i].dtype, types[i]) << md.inputs[i].name;
    EXPECT_EQ(md.inputs[i].name, "in_" + std::string(DataTypeName(types[i])));
    EXPECT_EQ(md.inputs[i].shape, (Shape{-1, 2}));
    EXPECT_EQ(md.outputs[i].dtype, types[i]) << md.outputs[i].name;
    Tensor t(md.inputs[i].name, types[i], {3, 2});
    char* p = t.Allocate(6 * DataTypeSize(types[i]));
    for (size_t k = 0; k < t.byte_size(); ++k) p[k] = static_cast<char>(types[i] == DataType::kBool ? k % 2 : k * 7 + i);
    in.push_back(t);
    req.push_back(static_cast<int>(i));
  }
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out.size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(out[i].dtype(), types[i]);
    EXPECT_EQ(out[i].shape(), (Shape{3, 2}));
    EXPECT_EQ(out[i].bytes(), in[i].bytes()) << out[i].name();  // Identity: the same bytes back
  }
}

TEST(onnx_backend, StringInputFailsTheLoad) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/extra/onnx-string");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("input 'in_STRING' is a tensor of string"), std::string::npos)
      << b.status().message();
}

TEST(onnx_backend, LoadErrorsNameTheFile) {
  SKIP_WITHOUT_MODELS();
  fs::path dir = fs::temp_directory_path() / ("inferd-onnx-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto missing = Load(dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  std::ofstream(dir / "model.onnx") << "not a protobuf at all";
  auto b = Load(dir.string());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("model.onnx"), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("ONNX Runtime cannot load it"), std::string::npos) << b.status().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace inferd

#endif  // INFERD_HAVE_ONNXRUNTIME
