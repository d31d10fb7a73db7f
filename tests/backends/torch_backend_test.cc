// Tests of the PyTorch (TorchScript) backend against the outputs torch itself computed for the same models
// (scripts/gen_dl_test_models.py writes them beside the models), plus metadata sources (config.pbtxt,
// model-settings.json, forward()'s schema), datatypes, load and request errors and concurrency.
#include <gtest/gtest.h>

#ifndef INFERD_HAVE_TORCH
TEST(torch_backend, NotBuilt) { GTEST_SKIP() << "inferd was built without libtorch"; }
#else

#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "util/json_flatten.h"
#include "backends/torch/torch_backend.h"
#include "model/model.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;

std::string DlModels() { return INFERD_DL_TEST_MODELS; }

#define SKIP_WITHOUT_MODELS()                                                                   \
  if (!fs::exists(DlModels() + "/repo/torch-mlp2/model.pt"))                                    \
  GTEST_SKIP() << DlModels() << " has no models (scripts/gen_dl_test_models.py needs python3-torch)"

// NAME.expected.json: {"inputs": {name: rows}, "outputs": {name: rows}}, values flattened, plus row counts.
struct Expected {
  std::map<std::string, std::vector<double>> inputs, outputs;
  std::map<std::string, Shape> shapes;
};

Expected LoadExpected(const std::string& name) {
  Expected x;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string path = DlModels() + "/" + name + ".expected.json";
  EXPECT_EQ(parser.load(path).get(doc), simdjson::SUCCESS) << path;
  for (const char* part : {"inputs", "outputs"}) {
    simdjson::dom::object obj;
    EXPECT_EQ(doc[part].get_object().get(obj), simdjson::SUCCESS);
    for (auto field : obj) {
      std::vector<double> v;
      FlattenJson(field.value, &v);
      simdjson::dom::array rows = field.value.get_array().value();
      int64_t n = static_cast<int64_t>(rows.size());
      std::string key(field.key);
      x.shapes[key] = {n, n == 0 ? 0 : static_cast<int64_t>(v.size()) / n};
      (std::string_view(part) == "inputs" ? x.inputs : x.outputs)[key] = std::move(v);
    }
  }
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

// |got - want| <= 1e-5 * |want| (+1e-6 for values near zero).
void ExpectClose(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * std::fabs(want[i]) + 1e-6) << what << "[" << i << "]";
  }
}

StatusOr<std::unique_ptr<Backend>> Load(const std::string& dir, int threads = 1) {
  LoadOptions o;
  o.model_name = fs::path(dir).filename().string();
  o.model_dir = dir;
  o.intra_op_threads = threads;
  return NewTorchBackendFactory()->Load(o);
}

// A scratch directory holding a copy of `model_pt` and, when not empty, a config file `name` with `text`.
class ScratchDir {
 public:
  ScratchDir(const std::string& model_pt, const std::string& name = "", const std::string& text = "") {
    dir_ = fs::temp_directory_path() / ("inferd-torch-test-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (!model_pt.empty()) fs::copy_file(model_pt, dir_ / "model.pt");
    if (!name.empty()) std::ofstream(dir_ / name) << text;
  }
  ~ScratchDir() { fs::remove_all(dir_); }
  std::string path() const { return dir_.string(); }

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

std::string Mlp2Pt() { return DlModels() + "/repo/torch-mlp2/model.pt"; }

std::vector<Tensor> Mlp2Inputs(const Expected& x) {
  return {Fp32("x", x.inputs.at("x"), x.shapes.at("x")), Fp32("y", x.inputs.at("y"), x.shapes.at("y"))};
}

TEST(torch_backend, Mlp2MetadataFromConfigPbtxt) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/repo/torch-mlp2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  EXPECT_EQ(md.platform, "pytorch_libtorch");
  ASSERT_EQ(md.inputs.size(), 2u);
  EXPECT_EQ(md.inputs[0].name, "x");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 4}));
  EXPECT_EQ(md.inputs[1].name, "y");
  EXPECT_EQ(md.inputs[1].shape, (Shape{-1, 3}));
  ASSERT_EQ(md.outputs.size(), 2u);
  EXPECT_EQ(md.outputs[0].name, "logits");
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 2}));
  EXPECT_EQ(md.outputs[1].name, "score");
  EXPECT_EQ(md.outputs[1].dtype, DataType::kFp32);
  EXPECT_EQ(md.outputs[1].shape, (Shape{-1, 1}));
  EXPECT_TRUE((*b)->thread_safe());
}

TEST(torch_backend, Mlp2MatchesTorch) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  auto b = Load(DlModels() + "/repo/torch-mlp2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = Mlp2Inputs(x);
  std::vector<int> req = {0, 1};
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name(), "logits");
  EXPECT_EQ(out[0].shape(), x.shapes.at("logits"));
  EXPECT_EQ(out[1].shape(), x.shapes.at("score"));
  ExpectClose(Floats(out[0]), x.outputs.at("logits"), "logits");
  ExpectClose(Floats(out[1]), x.outputs.at("score"), "score");

  // Only what is asked, in the order asked.
  out.clear();
  std::vector<int> only_score = {1};
  ASSERT_TRUE((*b)->Execute(in, only_score, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name(), "score");
  ExpectClose(Floats(out[0]), x.outputs.at("score"), "score");
}

TEST(torch_backend, EmptyBatch) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/repo/torch-mlp2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = {Fp32("x", {}, {0, 4}), Fp32("y", {}, {0, 3})};
  std::vector<int> req = {0, 1};
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out[0].shape(), (Shape{0, 2}));
  EXPECT_EQ(out[0].byte_size(), 0u);
}

TEST(torch_backend, WrongShapeIsInvalidArgument) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/repo/torch-mlp2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = {Fp32("x", std::vector<double>(10, 0.5), {2, 5}), Fp32("y", std::vector<double>(6, 0.5), {2, 3})};
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("'x'"), std::string::npos) << st.message();

  // Through the model layer (what the servers call).
  Model m("mlp2", "1", std::move(*b));
  ASSERT_TRUE(m.WarmUp().ok());
  InferRequest r;
  r.inputs = in;
  InferResponse resp;
  st = m.Infer(r, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("shape"), std::string::npos) << st.message();
  // A BYTES input for an FP32 one.
  InferRequest r2;
  r2.inputs = {Tensor("x", DataType::kBytes, {1, 4}), Fp32("y", {1, 2, 3}, {1, 3})};
  std::string bytes;
  for (int i = 0; i < 4; ++i) AppendBytesElement(&bytes, "a");
  r2.inputs[0].SetOwned(bytes);
  st = m.Infer(r2, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

TEST(torch_backend, ModelLayerReordersInputsByName) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  auto b = Load(DlModels() + "/repo/torch-mlp2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Model m("mlp2", "1", std::move(*b));
  InferRequest r;
  std::vector<Tensor> in = Mlp2Inputs(x);
  r.inputs = {in[1], in[0]};  // y first
  InferResponse resp;
  Status st = m.Infer(r, &resp);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(resp.outputs.size(), 2u);
  ExpectClose(Floats(resp.outputs[0]), x.outputs.at("logits"), "logits");
}

TEST(torch_backend, ConcurrentExecuteGivesTheSerialAnswers) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  auto b = Load(DlModels() + "/repo/torch-mlp2");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Backend* backend = b->get();
  std::vector<Tensor> in = Mlp2Inputs(x);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> req = {0, 1};
      for (int i = 0; i < 200; ++i) {
        std::vector<Tensor> out;
        if (!backend->Execute(in, req, &out).ok() || out.size() != 2) {
          ++failures[t];
          continue;
        }
        std::vector<float> l = Floats(out[0]), s = Floats(out[1]);
        const auto& wl = x.outputs.at("logits");
        const auto& ws = x.outputs.at("score");
        for (size_t k = 0; k < wl.size(); ++k) failures[t] += std::fabs(l[k] - wl[k]) > 1e-5 * std::fabs(wl[k]) + 1e-6;
        for (size_t k = 0; k < ws.size(); ++k) failures[t] += std::fabs(s[k] - ws[k]) > 1e-5 * std::fabs(ws[k]) + 1e-6;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(torch_backend, ThreadSettingGivesTheSameAnswers) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  auto b = Load(DlModels() + "/repo/torch-mlp2", /*threads=*/2);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = Mlp2Inputs(x);
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  ExpectClose(Floats(out[0]), x.outputs.at("logits"), "logits");
  auto one = Load(DlModels() + "/repo/torch-mlp2", /*threads=*/1);  // back to the default for other tests
  ASSERT_TRUE(one.ok());
}

// Every datatype libtorch maps, through model-settings.json and a Dict[str, Tensor] result.
TEST(torch_backend, EveryDatatypeBothWays) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/extra/torch-types");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  const std::vector<DataType> types = {DataType::kBool,  DataType::kUint8, DataType::kInt8, DataType::kInt16,
                                       DataType::kInt32, DataType::kInt64, DataType::kFp16, DataType::kBf16,
                                       DataType::kFp32,  DataType::kFp64};
  ASSERT_EQ(md.inputs.size(), types.size());
  ASSERT_EQ(md.outputs.size(), types.size());
  std::vector<Tensor> in;
  const double values[4] = {1, 0, 3, 4};  // bool: true false true true
  for (size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(md.inputs[i].dtype, types[i]) << md.inputs[i].name;
    EXPECT_EQ(md.outputs[i].dtype, types[i]) << md.outputs[i].name;
    EXPECT_EQ(md.outputs[i].name, md.inputs[i].name + "_out");
    Tensor t = Fp32(md.inputs[i].name, std::vector<double>(values, values + 4), {2, 2});
    if (types[i] == DataType::kBool) {
      Tensor u(t.name(), DataType::kBool, {2, 2});
      char* p = u.Allocate(4);
      for (int k = 0; k < 4; ++k) p[k] = values[k] != 0;
      t = u;
    } else if (types[i] != DataType::kFp32) {
      auto c = ConvertTensor(t, types[i]);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      t = *c;
      t.set_name(md.inputs[i].name);
    }
    in.push_back(t);
  }
  std::vector<int> req;
  for (size_t i = 0; i < types.size(); ++i) req.push_back(static_cast<int>(i));
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out.size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(out[i].dtype(), types[i]) << out[i].name();
    EXPECT_EQ(out[i].shape(), (Shape{2, 2}));
    if (types[i] == DataType::kBool) {
      EXPECT_EQ(std::string(out[i].raw(), 4), std::string("\0\1\0\0", 4));
      continue;
    }
    auto f = ConvertTensor(out[i], DataType::kFp32);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(Floats(*f), (std::vector<float>{2, 1, 4, 5})) << out[i].name();
  }
}

TEST(torch_backend, NoConfigDerivesMetadataFromForward) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/extra/torch-noconfig");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "features");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, -1}));
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].name, "output-0");
  std::vector<Tensor> in = {Fp32("features", {-1, 2, 3, -4, 5, 6}, {2, 3})};
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Floats(out[0]), (std::vector<float>{0, 4, 6, 0, 10, 12}));

  // Through the model layer: undeclared dimensions, so no zero warm-up at load (the first request is it).
  Model m("noconfig", "1", std::move(*b));
  EXPECT_TRUE(m.WarmUp().ok());
  InferRequest r;
  r.inputs = {Fp32("features", {-1, 2, 3, -4, 5, 6}, {2, 3})};
  InferResponse resp;
  ASSERT_TRUE(m.Infer(r, &resp).ok());
  EXPECT_EQ(Floats(resp.outputs[0]), (std::vector<float>{0, 4, 6, 0, 10, 12}));
}

TEST(torch_backend, SchemaDerivedTupleOutputsAndForwardErrors) {
  SKIP_WITHOUT_MODELS();
  ScratchDir d(Mlp2Pt());  // the two-input model without its config.pbtxt
  auto b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  ASSERT_EQ(md.inputs.size(), 2u);
  EXPECT_EQ(md.inputs[0].name, "x");
  EXPECT_EQ(md.inputs[1].name, "y");
  ASSERT_EQ(md.outputs.size(), 2u);
  EXPECT_EQ(md.outputs[0].name, "output-0");
  EXPECT_EQ(md.outputs[1].name, "output-1");
  // A shape the model rejects inside forward(): InvalidArgument with libtorch's message, no backtrace.
  std::vector<Tensor> in = {Fp32("x", std::vector<double>(10, 1), {2, 5}), Fp32("y", std::vector<double>(6, 1), {2, 3})};
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("forward() failed"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("shapes cannot be multiplied"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

TEST(torch_backend, InputsMapToArgumentsByName) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  // Declared in the other order: y first. Names match forward(x, y), so each feeds its own argument.
  ScratchDir d(Mlp2Pt(), "config.pbtxt", R"(
    input [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 3 ] }, { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]
    output [ { name: "logits" data_type: TYPE_FP32 dims: [ -1, 2 ] }, { name: "score" data_type: TYPE_FP32 dims: [ -1, 1 ] } ])");
  auto b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = Mlp2Inputs(x);
  std::vector<Tensor> swapped = {in[1], in[0]};
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(swapped, req, &out).ok());
  ExpectClose(Floats(out[0]), x.outputs.at("logits"), "logits");
}

TEST(torch_backend, InputsMapByPositionWhenNamesDiffer) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  // Triton's INPUT__0 convention, with max_batch_size (a batch dimension is prepended to dims).
  ScratchDir d(Mlp2Pt(), "config.pbtxt", R"(
    max_batch_size: 16
    input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT__1" data_type: TYPE_FP32 dims: [ 3 ] } ]
    output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 2 ] }, { name: "OUTPUT__1" data_type: TYPE_FP32 dims: [ 1 ] } ])");
  auto b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->metadata().inputs[0].shape, (Shape{-1, 4}));
  EXPECT_EQ((*b)->metadata().outputs[1].shape, (Shape{-1, 1}));
  std::vector<Tensor> in = Mlp2Inputs(x);
  std::vector<int> req = {0, 1};
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  ExpectClose(Floats(out[0]), x.outputs.at("logits"), "OUTPUT__0");
  ExpectClose(Floats(out[1]), x.outputs.at("score"), "OUTPUT__1");
}

TEST(torch_backend, DeclaredOutputDatatypeIsConverted) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  ScratchDir d(Mlp2Pt(), "config.pbtxt", R"(
    input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] }, { name: "y" data_type: TYPE_FP32 dims: [ -1, 3 ] } ]
    output [ { name: "logits" data_type: TYPE_FP64 dims: [ -1, 2 ] }, { name: "score" data_type: TYPE_FP32 dims: [ -1, 1 ] } ])");
  auto b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = Mlp2Inputs(x);
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  EXPECT_EQ(out[0].dtype(), DataType::kFp64);
  ASSERT_EQ(out[0].byte_size(), x.outputs.at("logits").size() * 8);
}

TEST(torch_backend, ListOutputsNeedDeclaredNames) {
  SKIP_WITHOUT_MODELS();
  auto b = Load(DlModels() + "/extra/torch-list");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("declare the outputs"), std::string::npos) << b.status().message();

  ScratchDir d(DlModels() + "/extra/torch-list/model.pt", "model-settings.json",
               R"({"outputs": [{"name": "sum", "datatype": "FP32", "shape": [-1, 2]},
                               {"name": "diff", "datatype": "FP32", "shape": [-1, 2]}]})");
  b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->metadata().inputs.size(), 2u);  // from the schema: a, b
  EXPECT_EQ((*b)->metadata().inputs[1].name, "b");
  std::vector<Tensor> in = {Fp32("a", {5, 7}, {1, 2}), Fp32("b", {1, 2}, {1, 2})};
  std::vector<int> req = {1, 0};
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out[0].name(), "diff");
  EXPECT_EQ(Floats(out[0]), (std::vector<float>{4, 5}));
  EXPECT_EQ(Floats(out[1]), (std::vector<float>{6, 9}));
}

TEST(torch_backend, UnsupportedDatatypesFailTheLoad) {
  SKIP_WITHOUT_MODELS();
  for (const char* type : {"TYPE_STRING", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64"}) {
    ScratchDir d(Mlp2Pt(), "config.pbtxt",
                 std::string(R"(input [ { name: "x" data_type: )") + type +
                     R"( dims: [ -1, 4 ] }, { name: "y" data_type: TYPE_FP32 dims: [ -1, 3 ] } ])");
    auto b = Load(d.path());
    ASSERT_FALSE(b.ok()) << type;
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find("libtorch does not support"), std::string::npos) << b.status().message();
  }
}

TEST(torch_backend, LoadErrorsNameTheFile) {
  SKIP_WITHOUT_MODELS();
  {  // not a TorchScript archive
    ScratchDir d("", "model.pt", "this is not a zip file");
    auto b = Load(d.path());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find("cannot load TorchScript"), std::string::npos) << b.status().message();
    EXPECT_NE(b.status().message().find("model.pt"), std::string::npos) << b.status().message();
  }
  {  // a malformed config.pbtxt: file and line
    ScratchDir d(Mlp2Pt(), "config.pbtxt", "name: \"m\"\ninput [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 }\n");
    auto b = Load(d.path());
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.status().message().find("config.pbtxt:2"), std::string::npos) << b.status().message();
  }
  {  // more declared inputs than forward() takes, with names that are not its arguments
    ScratchDir d(Mlp2Pt(), "config.pbtxt", R"(
      input [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] },
              { name: "c" data_type: TYPE_FP32 dims: [ 4 ] } ])");
    auto b = Load(d.path());
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.status().message().find("forward() takes 2 (x, y)"), std::string::npos) << b.status().message();
  }
  {  // a tuple of two but three outputs declared
    ScratchDir d(Mlp2Pt(), "config.pbtxt", R"(
      output [ { name: "a" data_type: TYPE_FP32 dims: [ 2 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 1 ] },
               { name: "c" data_type: TYPE_FP32 dims: [ 1 ] } ])");
    auto b = Load(d.path());
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.status().message().find("tuple of 2"), std::string::npos) << b.status().message();
  }
  {  // no model.pt at all
    ScratchDir d("");
    auto b = Load(d.path());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
  }
}

// A TorchScript file with fixed feature counts and nothing declaring them: its inputs are [-1,-1], so no
// zero warm-up is tried at load (it would fail: "mat1 and mat2 shapes cannot be multiplied"); it loads, and
// its first real request (the warm-up) answers as torch does.
TEST(torch_backend, UndeclaredShapesLoadWithoutAWarmUpAndAnswerTheFirstRequest) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  ScratchDir d(Mlp2Pt());  // model.pt alone
  auto b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ((*b)->metadata().inputs[0].shape, (Shape{-1, -1}));
  Model m("mlp2-noconfig", "1", std::move(*b));
  Status warm = m.WarmUp();
  ASSERT_TRUE(warm.ok()) << warm.ToString();
  InferRequest r;
  r.inputs = Mlp2Inputs(x);
  InferResponse resp;
  Status st = m.Infer(r, &resp);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(resp.outputs.size(), 2u);
  EXPECT_EQ(resp.outputs[0].shape(), x.shapes.at("logits"));
  ExpectClose(Floats(resp.outputs[0]), x.outputs.at("logits"), "logits");
  // A request of the wrong width is the model's error, answered, not a crash.
  r.inputs = {Fp32("x", std::vector<double>(5, 0.5), {1, 5}), Fp32("y", std::vector<double>(3, 0.5), {1, 3})};
  EXPECT_FALSE(m.Infer(r, &resp).ok());
}

TEST(torch_backend, WrongDeclaredOutputShapeIsInternal) {
  SKIP_WITHOUT_MODELS();
  Expected x = LoadExpected("torch-mlp2");
  ScratchDir d(Mlp2Pt(), "config.pbtxt", R"(
    output [ { name: "logits" data_type: TYPE_FP32 dims: [ -1, 3 ] }, { name: "score" data_type: TYPE_FP32 dims: [ -1, 1 ] } ])");
  auto b = Load(d.path());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in = Mlp2Inputs(x);
  in[0].set_shape({5, 4});
  // Inputs come from the schema here ([-1, -1]); the declared output shape is wrong.
  std::vector<int> req = {0};
  std::vector<Tensor> out;
  Status st = (*b)->Execute(in, req, &out);
  EXPECT_EQ(st.code(), StatusCode::kInternal) << st.ToString();
  EXPECT_NE(st.message().find("declares [-1,3]"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace inferd

#endif  // INFERD_HAVE_TORCH
