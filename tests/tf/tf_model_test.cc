// TensorFlow's own SavedModels (tests/data/tf, see its README) loaded, restored and run end to end through
// tf::TfModel: every case of expected_outputs.json, whose values come from the models' checkpoints and the
// upstream tests, not from inferd.
#include "tf/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/clock.h"

namespace inferd::tf {
namespace {

const std::string kDir = INFERD_SOURCE_DIR "/tests/data/tf/";

nlohmann::json Expected() {
  std::ifstream f(kDir + "expected_outputs.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

Tensor FromJson(const nlohmann::json& j) {
  DType dtype = DTypeFromName(j.at("dtype").get<std::string>());
  Shape shape = j.at("shape").get<Shape>();
  Tensor t = *Tensor::Make(dtype, shape);
  if (j.contains("tf_example_hex")) {
    size_t i = 0;
    for (const auto& h : j["tf_example_hex"]) t.strings()[i++] = Unhex(h.get<std::string>());
    return t;
  }
  const auto& v = j.at("values");
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const auto& x = v.at(static_cast<size_t>(i));
    switch (dtype) {
      case DType::kFloat: t.data<float>()[i] = x.get<float>(); break;
      case DType::kDouble: t.data<double>()[i] = x.get<double>(); break;
      case DType::kInt32: t.data<int32_t>()[i] = x.get<int32_t>(); break;
      case DType::kInt64: t.data<int64_t>()[i] = x.get<int64_t>(); break;
      case DType::kUint8: t.data<uint8_t>()[i] = x.get<uint8_t>(); break;
      case DType::kBool: t.data<bool>()[i] = x.get<bool>(); break;
      default: ADD_FAILURE() << "dtype " << DTypeName(dtype) << " not handled by the test";
    }
  }
  return t;
}

double At(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat: return t.data<float>()[i];
    case DType::kDouble: return t.data<double>()[i];
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kUint8: return t.data<uint8_t>()[i];
    case DType::kBool: return t.data<bool>()[i];
    default: return NAN;
  }
}

void ExpectTensor(const Tensor& got, const nlohmann::json& want, const std::string& what) {
  EXPECT_EQ(DTypeName(got.dtype()), want.at("dtype").get<std::string>()) << what;
  EXPECT_EQ(ShapeString(got.shape()), ShapeString(want.at("shape").get<Shape>())) << what;
  const auto& v = want.at("values");
  ASSERT_EQ(static_cast<size_t>(got.num_elements()), v.size()) << what;
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    double w = v[static_cast<size_t>(i)].get<double>();
    EXPECT_NEAR(At(got, i), w, 1e-5 * std::max(1.0, std::fabs(w))) << what << " element " << i;
  }
}

// Runs one case {inputs, outputs} of `signature`; the outputs asked for are the expected ones.
Status RunCase(TfModel& model, const std::string& signature, const nlohmann::json& c, const std::string& what) {
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const auto& [alias, t] : c.at("inputs").items()) inputs.emplace_back(alias, FromJson(t));
  std::vector<std::string> outputs;
  for (const auto& [alias, _] : c.at("outputs").items()) outputs.push_back(alias);
  std::vector<Tensor> results;
  Status st = model.Run(signature, inputs, outputs, &results);
  if (!st.ok()) return st;
  EXPECT_EQ(results.size(), outputs.size()) << what;
  for (size_t i = 0; i < results.size() && i < outputs.size(); ++i) {
    ExpectTensor(results[i], c["outputs"][outputs[i]], what + " output " + outputs[i]);
  }
  return Status::Ok();
}

// The signatures that read serialized tf.Example protos (ParseExample: classify_x_to_y, regress_x_to_y...).
bool ReadsTfExamples(const nlohmann::json& c) {
  for (const auto& [_, t] : c.at("inputs").items()) {
    if (t.contains("tf_example_hex")) return true;
  }
  return false;
}

// expected_outputs.json lists classify_x2_to_y3 for half_plus_two_mlmd, but that model's saved_model.pb has no
// such signature (the name does not occur in the file): the case must fail as NotFound, naming the ones it has.
bool AbsentFromTheModel(const std::string& folder, const std::string& signature) {
  return folder == "saved_model_half_plus_two_mlmd/00000123" && signature == "classify_x2_to_y3";
}

TEST(TfModel, EveryExpectedCaseOfTensorFlowsSavedModels) {
  auto expected = Expected();
  int ran = 0, ran_examples = 0;
  for (const auto& [folder, spec] : expected.items()) {
    if (!spec.contains("signatures")) continue;  // the stateful sequence: its own test below
    auto model = TfModel::LoadSavedModel(kDir + folder);
    ASSERT_TRUE(model.ok()) << folder << ": " << model.status().message();
    for (const auto& [signature, cases] : spec["signatures"].items()) {
      for (size_t i = 0; i < cases.size(); ++i) {
        std::string what = folder + " " + signature + " case " + std::to_string(i);
        Status st = RunCase(**model, signature, cases[i], what);
        if (AbsentFromTheModel(folder, signature)) {
          EXPECT_EQ(st.code(), StatusCode::kNotFound) << what << ": " << st.message();
          continue;
        }
        EXPECT_TRUE(st.ok()) << what << ": " << st.message();
        ++ran;
        if (ReadsTfExamples(cases[i])) ++ran_examples;
      }
    }
  }
  EXPECT_GE(ran, 20);
  EXPECT_GE(ran_examples, 6);  // half_plus_two's classify/regress signatures parse tf.Examples
}

TEST(TfModel, ServesTheHighestVersionAndNamesSignatures) {
  auto model = TfModel::LoadSavedModel(kDir + "saved_model_half_plus_two_2_versions");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_NE((*model)->path().find("00000124"), std::string::npos);
  auto missing = (*model)->FindSignature("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("serving_default"), std::string::npos);
}

TEST(TfModel, RequestErrorsNameTheInput) {
  auto model = TfModel::LoadSavedModel(kDir + "saved_model_half_plus_two_cpu");
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::vector<Tensor> out;
  Tensor x = *Tensor::Make(DType::kFloat, {2, 1});
  Status wrong_name = (*model)->Run("", {{"z", x}}, {}, &out);
  ASSERT_FALSE(wrong_name.ok());
  EXPECT_NE(wrong_name.message().find("'x'"), std::string::npos) << wrong_name.message();
  Tensor ints = *Tensor::Make(DType::kInt32, {2, 1});
  Status wrong_type = (*model)->Run("", {{"x", ints}}, {}, &out);
  EXPECT_FALSE(wrong_type.ok());
  Status too_many = (*model)->Run("", {{"x", x}, {"y", x}}, {}, &out);
  EXPECT_FALSE(too_many.ok());
  Status bad_output = (*model)->Run("", {{"x", x}}, {"nope"}, &out);
  EXPECT_FALSE(bad_output.ok());
}

// A run's deadline (TF Serving's --rest_api_timeout_in_ms, a gRPC client's deadline): passed, the run stops before
// its next kernel with DeadlineExceeded naming it; in the future, it changes nothing.
TEST(TfModel, DeadlineStopsTheRunBetweenKernels) {
  auto model = TfModel::LoadSavedModel(kDir + "saved_model_half_plus_two_cpu");
  ASSERT_TRUE(model.ok()) << model.status().message();
  Tensor x = *Tensor::Make(DType::kFloat, {1});
  x.data<float>()[0] = 4.0f;
  std::vector<Tensor> out;
  Status late = (*model)->Run("", {{"x", x}}, {}, &out, /*deadline_ns=*/1);
  ASSERT_EQ(late.code(), StatusCode::kDeadlineExceeded) << late.message();
  EXPECT_NE(late.message().find("deadline"), std::string::npos) << late.message();
  Status in_time = (*model)->Run("", {{"x", x}}, {}, &out, NowNs() + int64_t{60} * 1000 * 1000 * 1000);
  ASSERT_TRUE(in_time.ok()) << in_time.message();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].data<float>()[0], 4.0f);
}

// In-graph training: `train` returns the loss and then updates w and b; calls in order on one loaded model.
TEST(TfModel, StatefulSequenceKeepsVariablesBetweenCalls) {
  auto expected = Expected();
  const std::string folder = "tf_rust_regression_savedmodel";
  ASSERT_TRUE(expected.contains(folder));
  auto model = TfModel::LoadSavedModel(kDir + folder);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const auto& seq = expected[folder]["stateful_sequence"];
  ASSERT_GT(seq.size(), 2u);
  for (size_t i = 0; i < seq.size(); ++i) {
    const auto& step = seq[i];
    std::string what = folder + " step " + std::to_string(i);
    Status st = RunCase(**model, step.at("signature").get<std::string>(), step, what);
    EXPECT_TRUE(st.ok()) << what << ": " << st.message();
  }
}

TEST(TfModel, ConcurrentRunsAgree) {
  auto model = TfModel::LoadSavedModel(kDir + "tf_rust_keras_single_input");
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto expected = Expected()["tf_rust_keras_single_input"]["signatures"]["serving_default"][0];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) EXPECT_TRUE(RunCase(**model, "serving_default", expected, "concurrent").ok());
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace inferd::tf

namespace inferd::tf {
namespace {

const std::string kJs = INFERD_SOURCE_DIR "/tests/data/tfjs/";

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// TF.js's case-0 input (tests/data/tfjs/README.md): a gradient over the image, lo + (hi-lo)*u per channel.
Tensor GradientImage(const nlohmann::json& in) {
  Shape shape = in.at("shape").get<Shape>();
  Tensor t = *Tensor::Make(DType::kFloat, shape);
  const double lo = in["range"][0].get<double>(), hi = in["range"][1].get<double>();
  const int64_t h = shape[1], w = shape[2], c = shape[3];
  float* p = t.data<float>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t k = 0; k < c; ++k) {
        double u = (static_cast<double>(x) / static_cast<double>(w - 1) * static_cast<double>(c - k) +
                    static_cast<double>(y) / static_cast<double>(h - 1) * static_cast<double>(k + 1)) /
                   static_cast<double>(c + 1);
        *p++ = static_cast<float>(lo + (hi - lo) * u);
      }
    }
  }
  return t;
}

// The signature output alias whose tensor is node `name`'s first output.
std::string OutputAlias(const TfModel& model, const std::string& name) {
  for (const auto& [alias, info] : model.meta_graph().signatures.at("serving_default").outputs) {
    if (ParseInput(info.tensor_name).node == name) return alias;
  }
  return "";
}

std::string InputAlias(const TfModel& model, const std::string& name) {
  for (const auto& [alias, info] : model.meta_graph().signatures.at("serving_default").inputs) {
    if (ParseInput(info.tensor_name).node == name) return alias;
  }
  return "";
}

void ExpectClose(float got, double want, double scale, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-4 * scale + 1e-6) << what;
}

// Every case whose input and output files were copied: full comparison, tolerance relative to the output's range.
void RunFileCases(const std::string& folder, const std::string& json) {
  auto model = TfModel::LoadTfjs(kJs + folder + "/" + json);
  ASSERT_TRUE(model.ok()) << folder << ": " << model.status().message();
  auto spec = nlohmann::json::parse(ReadAll(kJs + folder + "/expected.json"));
  int ran = 0;
  for (const auto& c : spec["cases"]) {
    const auto& in = c["inputs"][0];
    const auto& out = c["outputs"][0];
    std::string in_bytes = ReadAll(kJs + folder + "/" + in["file"].get<std::string>());
    std::string out_bytes = ReadAll(kJs + folder + "/" + out["file"].get<std::string>());
    if (in_bytes.empty() || out_bytes.empty()) continue;
    Tensor x = *Tensor::Make(DType::kFloat, in["shape"].get<Shape>());
    ASSERT_EQ(in_bytes.size(), x.byte_size());
    std::memcpy(x.raw(), in_bytes.data(), in_bytes.size());
    std::vector<Tensor> results;
    Status st = (*model)->Run("", {{InputAlias(**model, in["name"]), x}}, {OutputAlias(**model, out["name"])},
                              &results);
    ASSERT_TRUE(st.ok()) << folder << ": " << st.message();
    ASSERT_EQ(results[0].byte_size(), out_bytes.size());
    const float* want = reinterpret_cast<const float*>(out_bytes.data());
    double scale = std::max(std::fabs(out["min"].get<double>()), std::fabs(out["max"].get<double>()));
    for (int64_t i = 0; i < results[0].num_elements(); ++i) {
      ExpectClose(results[0].data<float>()[i], want[i], scale, folder + " element " + std::to_string(i));
    }
    ++ran;
  }
  EXPECT_GT(ran, 0) << folder;
}

TEST(TfjsModel, E2eMatmulAndAgeModelMatchTfjs) {
  RunFileCases("tfjs_e2e_matmul", "model.json");
  RunFileCases("human_age", "age.json");
}

// Only the summary of case 0 was copied for this model: the input is regenerated and the output's first
// values, extremes and mean compared.
TEST(TfjsModel, Float16FaceDetectorMatchesTfjsSummary) {
  const std::string folder = "human_facemesh_detection_short";
  auto model = TfModel::LoadTfjs(kJs + folder + "/facemesh-detection-short.json");
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto spec = nlohmann::json::parse(ReadAll(kJs + folder + "/expected.json"));
  const auto& out = spec["cases"][0]["outputs"][0];
  std::vector<Tensor> results;
  Status st = (*model)->Run("", {{InputAlias(**model, "input"), GradientImage(spec["inputs"][0])}},
                            {OutputAlias(**model, out["name"])}, &results);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(ShapeString(results[0].shape()), ShapeString(out["shape"].get<Shape>()));
  const float* p = results[0].data<float>();
  double scale = std::max(std::fabs(out["min"].get<double>()), std::fabs(out["max"].get<double>()));
  for (size_t i = 0; i < out["first"].size(); ++i) ExpectClose(p[i], out["first"][i].get<double>(), scale, "first");
  double sum = 0, lo = p[0], hi = p[0];
  for (int64_t i = 0; i < results[0].num_elements(); ++i) {
    sum += p[i];
    lo = std::min<double>(lo, p[i]);
    hi = std::max<double>(hi, p[i]);
  }
  ExpectClose(static_cast<float>(lo), out["min"].get<double>(), scale, "min");
  ExpectClose(static_cast<float>(hi), out["max"].get<double>(), scale, "max");
  EXPECT_NEAR(sum / static_cast<double>(results[0].num_elements()), out["mean"].get<double>(), 1e-3);
}

// Reads a raw little-endian tensor file as expected.json describes it (dtype "float32", "int32" or "uint8").
Tensor ReadTensorFile(const std::string& folder, const nlohmann::json& spec) {
  const std::string dtype = spec["dtype"].get<std::string>();
  DType t = dtype == "uint8" ? DType::kUint8 : dtype == "int32" ? DType::kInt32 : DType::kFloat;
  Tensor x = *Tensor::Make(t, spec["shape"].get<Shape>());
  std::string bytes = ReadAll(kJs + folder + "/" + spec["file"].get<std::string>());
  EXPECT_EQ(bytes.size(), x.byte_size()) << spec["file"];
  if (bytes.size() == x.byte_size()) std::memcpy(x.raw(), bytes.data(), bytes.size());
  return x;
}

double ValueAt(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<float>()[i];
}

// Every case, every output, element by element, in order (post-NMS outputs included: TensorFlow's and TF.js's
// ordering rules are the same, so a faithful executor reproduces the order).
void RunAllOutputs(const std::string& folder, const std::string& json) {
  auto model = TfModel::LoadTfjs(kJs + folder + "/" + json);
  ASSERT_TRUE(model.ok()) << folder << ": " << model.status().message();
  auto spec = nlohmann::json::parse(ReadAll(kJs + folder + "/expected.json"));
  for (const auto& c : spec["cases"]) {
    std::vector<std::pair<std::string, Tensor>> inputs;
    for (const auto& in : c["inputs"]) inputs.emplace_back(InputAlias(**model, in["name"]), ReadTensorFile(folder, in));
    std::vector<std::string> aliases;
    for (const auto& o : c["outputs"]) aliases.push_back(OutputAlias(**model, o["name"]));
    std::vector<Tensor> results;
    Status st = (*model)->Run("", inputs, aliases, &results);
    ASSERT_TRUE(st.ok()) << folder << ": " << st.message();
    for (size_t k = 0; k < results.size(); ++k) {
      const auto& o = c["outputs"][k];
      Tensor want = ReadTensorFile(folder, o);
      ASSERT_EQ(results[k].dtype(), want.dtype()) << o["name"];
      ASSERT_EQ(ShapeString(results[k].shape()), ShapeString(want.shape())) << o["name"];
      double scale = std::max(std::fabs(o["min"].get<double>()), std::fabs(o["max"].get<double>()));
      for (int64_t i = 0; i < want.num_elements(); ++i) {
        ExpectClose(static_cast<float>(ValueAt(results[k], i)), ValueAt(want, i), scale,
                    folder + " case " + std::to_string(c["case"].get<int>()) + " " + o["name"].get<std::string>() +
                        "[" + std::to_string(i) + "]");
      }
    }
  }
}

// FaceBoxes: a TF1 object-detection graph whose NMS runs in a TF1 while loop (tf.map_fn over the batch) over
// TensorArrayV3s, with NonMaxSuppressionV3, Where, Pad and Gather in the body: the three cases match TF.js.
TEST(TfjsModel, FaceboxesDetectorWithTensorArrayLoopMatchesTfjs) {
  RunAllOutputs("human_faceboxes", "faceboxes.json");
}

// The summary expected.json keeps of one output (first values, extremes, mean), within the README's tolerance
// relative to the output's largest magnitude.
void ExpectSummary(const Tensor& got, const nlohmann::json& out, const std::string& what) {
  ASSERT_EQ(ShapeString(got.shape()), ShapeString(out["shape"].get<Shape>())) << what;
  ASSERT_EQ(got.dtype(), DType::kFloat) << what;
  const float* p = got.data<float>();
  double scale = std::max(std::fabs(out["min"].get<double>()), std::fabs(out["max"].get<double>()));
  for (size_t i = 0; i < out["first"].size(); ++i) {
    ExpectClose(p[i], out["first"][i].get<double>(), scale, what + " first[" + std::to_string(i) + "]");
  }
  double sum = 0, lo = p[0], hi = p[0];
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    sum += p[i];
    lo = std::min<double>(lo, p[i]);
    hi = std::max<double>(hi, p[i]);
  }
  ExpectClose(static_cast<float>(lo), out["min"].get<double>(), scale, what + " min");
  ExpectClose(static_cast<float>(hi), out["max"].get<double>(), scale, what + " max");
  EXPECT_NEAR(sum / static_cast<double>(got.num_elements()), out["mean"].get<double>(), 1e-4 * scale + 1e-6)
      << what << " mean";
}

// A TF2 object-detection SSD whose post-processing is a TF1-style while loop (Enter/Merge/Switch/
// NextIteration/Exit, lowered by grappler) over TensorLists, then NMS and TopK: all eight outputs of the three
// cases (their input files; the outputs' summaries) match TF.js's, post-NMS detections included, in order.
TEST(TfjsModel, HandtrackDetectorWithWhileLoopMatchesTfjs) {
  const std::string folder = "human_handtrack";
  auto model = TfModel::LoadTfjs(kJs + folder + "/handtrack.json");
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto spec = nlohmann::json::parse(ReadAll(kJs + folder + "/expected.json"));
  ASSERT_EQ(spec["cases"].size(), 3u);
  for (const auto& c : spec["cases"]) {
    const auto& outs = c["outputs"];
    std::vector<std::string> aliases;
    for (const auto& o : outs) aliases.push_back(OutputAlias(**model, o["name"]));
    std::vector<Tensor> results;
    Status st = (*model)->Run("", {{InputAlias(**model, "input_tensor"), ReadTensorFile(folder, c["inputs"][0])}},
                              aliases, &results);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(results.size(), outs.size());
    const std::string name = "case " + std::to_string(c["case"].get<int>()) + " ";
    for (size_t i = 0; i < outs.size(); ++i) {
      ExpectSummary(results[i], outs[i], name + outs[i]["name"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace inferd::tf
