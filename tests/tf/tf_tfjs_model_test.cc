// TF.js graph-model loading (tf/tfjs_model.h) on real published models (tests/data/tfjs/README.md) and on
// small hand-written ones for the cases the real ones do not reach (uint16/int32 quantization, strings,
// functions, inline constants) and for hostile files.
#include "tf/tfjs_model.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include <unistd.h>

namespace inferd::tf {
namespace {

using nlohmann::json;

const std::string kData = INFERD_SOURCE_DIR "/tests/data/tfjs/";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

json ReadJson(const std::string& path) { return json::parse(Slurp(path)); }

const NodeDef* FindNode(const GraphDef& g, std::string_view name) {
  for (const NodeDef& n : g.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

// Node counts per op equal expected.json's `opTypes` (counted by the generator from model.json).
void ExpectOpTypes(const MetaGraph& mg, const std::string& expected_json) {
  std::map<std::string, int> got;
  for (const NodeDef& n : mg.graph.nodes) ++got[n.op];
  std::map<std::string, int> want;
  const json expected = ReadJson(expected_json);
  for (const auto& [op, count] : expected.at("opTypes").items()) want[op] = count.get<int>();
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

// Every Const holds a value tensor whose dtype is the node's dtype attr.
void ExpectConstsHaveValues(const MetaGraph& mg) {
  for (const NodeDef& n : mg.graph.nodes) {
    if (n.op != "Const") continue;
    const AttrValue* v = FindAttr(n, "value");
    ASSERT_NE(v, nullptr) << n.name;
    ASSERT_EQ(v->kind, AttrValue::Kind::kTensor) << n.name;
    auto dt = AttrType(n, "dtype");
    ASSERT_TRUE(dt.ok()) << n.name;
    EXPECT_EQ(*dt, v->tensor.dtype()) << n.name;
  }
}

// Byte offsets of every weight in a single-group manifest, computed here from the manifest alone.
struct RawWeight {
  size_t offset = 0;
  int64_t numel = 0;
  json spec;
};
std::map<std::string, RawWeight> RawLayout(const json& model) {
  std::map<std::string, RawWeight> out;
  size_t off = 0;
  for (const json& w : model["weightsManifest"][0]["weights"]) {
    int64_t n = 1;
    for (const json& d : w["shape"]) n *= d.get<int64_t>();
    std::string q = w.contains("quantization") ? w["quantization"]["dtype"].get<std::string>() : "";
    size_t width = q == "uint8" ? 1 : (q == "float16" || q == "uint16") ? 2 : w["dtype"] == "bool" ? 1 : 4;
    out[w["name"]] = {off, n, w};
    off += static_cast<size_t>(n) * width;
  }
  return out;
}

// IEEE half by its definition (sign, 5-bit exponent, 10-bit fraction), not by bit manipulation.
double RefHalf(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0) {
    v = std::ldexp(m, -24);
  } else if (e == 31) {
    v = m ? std::nan("") : INFINITY;
  } else {
    v = std::ldexp(1024 + m, e - 25);
  }
  return sign ? -v : v;
}

uint16_t U16At(const std::string& buf, size_t off) {
  return static_cast<uint16_t>(static_cast<unsigned char>(buf[off]) | static_cast<unsigned char>(buf[off + 1]) << 8);
}

// ---------------------------------------------------------------------------------------------------------
// Real models

TEST(TfjsModel, E2eMatmulWeightsSignatureAndResult) {
  for (const char* file : {"model.json", "model_new.json"}) {  // signature in userDefinedMetadata / top level
    SCOPED_TRACE(file);
    auto mg = LoadTfjsModel(kData + "tfjs_e2e_matmul/" + file);
    ASSERT_TRUE(mg.ok()) << mg.status().ToString();
    ExpectOpTypes(*mg, kData + "tfjs_e2e_matmul/expected.json");
    EXPECT_EQ(mg->graph.producer, 175);
    EXPECT_EQ(mg->tags, std::vector<std::string>{"serve"});
    const NodeDef* w = FindNode(mg->graph, "w");
    ASSERT_NE(w, nullptr);
    const Tensor& t = FindAttr(*w, "value")->tensor;
    ASSERT_EQ(t.dtype(), DType::kFloat);
    EXPECT_EQ(t.shape(), (Shape{2, 2}));
    const float want[4] = {0.017376422882080078f, -0.45012539625167847f, 0.7393851280212402f, 0.2666316032409668f};
    for (int i = 0; i < 4; ++i) EXPECT_EQ(t.data<float>()[i], want[i]) << i;
    const NodeDef* mm = FindNode(mg->graph, "MatMul");
    ASSERT_NE(mm, nullptr);
    EXPECT_EQ(mm->inputs, (std::vector<std::string>{"Placeholder", "w"}));
    EXPECT_EQ(mm->device, "/device:CPU:0");
    EXPECT_FALSE(*AttrBool(*mm, "transpose_a"));
    EXPECT_EQ(*AttrType(*mm, "T"), DType::kFloat);
    const SignatureDef& sig = mg->signatures.at("serving_default");
    ASSERT_EQ(sig.inputs.size(), 1u);
    ASSERT_EQ(sig.outputs.size(), 1u);
    EXPECT_EQ(sig.inputs.at("Placeholder:0").tensor_name, "Placeholder:0");
    EXPECT_EQ(sig.inputs.at("Placeholder:0").dtype, DType::kFloat);
    EXPECT_EQ(sig.inputs.at("Placeholder:0").shape.dims, (Shape{2, 2}));
    EXPECT_EQ(sig.outputs.at("MatMul:0").tensor_name, "MatMul:0");
    // The loaded weight reproduces TF.js's output for case 0 (all ones): the column sums of w, exactly.
    std::string in = Slurp(kData + "tfjs_e2e_matmul/expected/case0.input.0.bin");
    std::string out = Slurp(kData + "tfjs_e2e_matmul/expected/case0.output.0.bin");
    float x[4], y[4];
    std::memcpy(x, in.data(), 16);
    std::memcpy(y, out.data(), 16);
    for (int r = 0; r < 2; ++r) {
      for (int c = 0; c < 2; ++c) {
        EXPECT_EQ(x[2 * r] * t.data<float>()[c] + x[2 * r + 1] * t.data<float>()[2 + c], y[2 * r + c]);
      }
    }
  }
}

TEST(TfjsModel, HumanAgeFloat32WeightsAndConvAttrs) {
  const std::string dir = kData + "human_age/";
  auto mg = LoadTfjsModel(dir + "age.json");
  ASSERT_TRUE(mg.ok()) << mg.status().ToString();
  ExpectOpTypes(*mg, dir + "expected.json");
  ExpectConstsHaveValues(*mg);
  const SignatureDef& sig = mg->signatures.at("serving_default");
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs.at("input_1:0").tensor_name, "input_1:0");
  EXPECT_EQ(sig.inputs.at("input_1:0").shape.dims, (Shape{-1, 64, 64, 3}));
  EXPECT_FALSE(sig.inputs.at("input_1:0").shape.unknown_rank);
  EXPECT_EQ(sig.outputs.at("Identity:0").tensor_name, "Identity:0");
  EXPECT_EQ(sig.method_name, "tensorflow/serving/predict");

  // Every weight equals the raw little-endian bytes at the offset computed from the manifest here.
  json model = ReadJson(dir + "age.json");
  std::string bin = Slurp(dir + "age.bin");
  int checked = 0;
  for (const auto& [name, raw] : RawLayout(model)) {
    const NodeDef* n = FindNode(mg->graph, name);
    ASSERT_NE(n, nullptr) << name;
    const Tensor& t = FindAttr(*n, "value")->tensor;
    ASSERT_EQ(t.num_elements(), raw.numel) << name;
    ASSERT_EQ(std::memcmp(t.raw(), bin.data() + raw.offset, t.byte_size()), 0) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 158);

  const NodeDef* conv =
      FindNode(mg->graph, "StatefulPartitionedCall/functional_1/batch_normalization_4/FusedBatchNormV3");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->op, "_FusedConv2D");
  EXPECT_EQ(*AttrInts(*conv, "strides"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(*AttrString(*conv, "padding"), "VALID");    // base64 "VkFMSUQ="
  EXPECT_EQ(*AttrString(*conv, "data_format"), "NHWC");
  EXPECT_EQ(*AttrInt(*conv, "num_args"), 1);  // {"i": "1"}: int64 as a string
  EXPECT_EQ(*AttrStrings(*conv, "fused_ops"), (std::vector<std::string>{"BiasAdd"}));
  EXPECT_EQ(*AttrFloat(*conv, "epsilon"), 0.0f);
  EXPECT_TRUE(*AttrBool(*conv, "use_cudnn_on_gpu"));
  const AttrValue* ep = FindAttr(*conv, "explicit_paddings");
  ASSERT_NE(ep, nullptr);
  EXPECT_EQ(ep->kind, AttrValue::Kind::kList);
  EXPECT_TRUE(ep->list->i.empty());
  EXPECT_EQ(conv->inputs.size(), 3u);
  EXPECT_FALSE(AttrInt(*conv, "padding").ok());  // a string attr is not an int
}

TEST(TfjsModel, FacemeshDetectionFloat16WeightsIncludingSubnormals) {
  const std::string dir = kData + "human_facemesh_detection_short/";
  auto mg = LoadTfjsModel(dir + "facemesh-detection-short.json");
  ASSERT_TRUE(mg.ok()) << mg.status().ToString();
  ExpectOpTypes(*mg, dir + "expected.json");
  ExpectConstsHaveValues(*mg);
  const SignatureDef& sig = mg->signatures.at("serving_default");
  EXPECT_EQ(sig.inputs.at("input").tensor_name, "input:0");
  EXPECT_EQ(sig.outputs.at("objects").tensor_name, "Identity:0");
  EXPECT_EQ(sig.outputs.at("objects").shape.dims, (Shape{-1, 896, 17}));

  json model = ReadJson(dir + "facemesh-detection-short.json");
  std::string bin = Slurp(dir + "facemesh-detection-short.bin");
  int64_t halves = 0, subnormals = 0;
  for (const auto& [name, raw] : RawLayout(model)) {
    const Tensor& t = FindAttr(*FindNode(mg->graph, name), "value")->tensor;
    if (!raw.spec.contains("quantization")) {
      EXPECT_EQ(std::memcmp(t.raw(), bin.data() + raw.offset, t.byte_size()), 0) << name;
      continue;
    }
    ASSERT_EQ(t.dtype(), DType::kFloat) << name;
    for (int64_t i = 0; i < raw.numel; ++i) {
      uint16_t h = U16At(bin, raw.offset + 2 * static_cast<size_t>(i));
      ASSERT_EQ(t.data<float>()[i], static_cast<float>(RefHalf(h))) << name << "[" << i << "]";
      subnormals += ((h >> 10) & 31) == 0 && (h & 1023) != 0;
      ++halves;
    }
  }
  EXPECT_EQ(subnormals, 191);  // counted in the shipped file: the subnormal path is exercised
  EXPECT_GT(halves, 90000);
  // Three values written out: 0x136 and 0x2e are subnormal, 0xa469 normal and negative.
  const Tensor& w = FindAttr(*FindNode(mg->graph, "StatefulPartitionedCall/model/conv2d_16/Conv2D_weights"),
                             "value")->tensor;
  EXPECT_EQ(w.data<float>()[10], 1.8477439880371094e-05f);
  EXPECT_EQ(w.data<float>()[493], 2.7418136596679688e-06f);
  EXPECT_EQ(w.data<float>()[0], -0.0172271728515625f);
}

TEST(TfjsModel, HandtrackUint8DequantizationAndControlFlowGraph) {
  const std::string dir = kData + "human_handtrack/";
  auto mg = LoadTfjsModel(dir + "handtrack.json");
  ASSERT_TRUE(mg.ok()) << mg.status().ToString();
  ExpectOpTypes(*mg, dir + "expected.json");
  ExpectConstsHaveValues(*mg);
  const SignatureDef& sig = mg->signatures.at("serving_default");
  EXPECT_EQ(sig.inputs.at("input_tensor:0").dtype, DType::kUint8);
  EXPECT_EQ(sig.outputs.size(), 8u);
  EXPECT_EQ(sig.outputs.at("Identity_7:0").shape.dims, (Shape{1, 12804, 8}));

  // Values written out (computed apart from this code, as float32(q*scale + min) in double).
  const Tensor& conv1 = FindAttr(*FindNode(mg->graph, "StatefulPartitionedCall/ssd_mobile_net_v2fpn_keras_"
                                                      "feature_extractor/model/Conv1/Conv2D_weights"),
                                 "value")->tensor;
  ASSERT_EQ(conv1.shape(), (Shape{3, 3, 3, 32}));
  EXPECT_EQ(conv1.data<float>()[0], -1.0155526399612427f);  // q = 35
  EXPECT_EQ(conv1.data<float>()[1], -0.6969478726387024f);  // q = 51
  EXPECT_EQ(conv1.data<float>()[2], -0.5376455187797546f);  // q = 59
  EXPECT_EQ(conv1.data<float>()[3], -0.23895356059074402f);  // q = 74

  // Every quantized value against the reference formula on the raw bytes; int32 weights byte for byte.
  json model = ReadJson(dir + "handtrack.json");
  std::string bin = Slurp(dir + "handtrack.bin");
  int64_t quantized = 0;
  for (const auto& [name, raw] : RawLayout(model)) {
    const Tensor& t = FindAttr(*FindNode(mg->graph, name), "value")->tensor;
    if (!raw.spec.contains("quantization")) {
      ASSERT_EQ(std::memcmp(t.raw(), bin.data() + raw.offset, t.byte_size()), 0) << name;
      continue;
    }
    double scale = raw.spec["quantization"]["scale"], min = raw.spec["quantization"]["min"];
    for (int64_t i = 0; i < raw.numel; ++i) {
      auto q = static_cast<unsigned char>(bin[raw.offset + static_cast<size_t>(i)]);
      volatile double prod = q * scale;
      ASSERT_EQ(t.data<float>()[i], static_cast<float>(prod + min)) << name << "[" << i << "]";
      ++quantized;
    }
  }
  EXPECT_GT(quantized, 2000000);

  const NodeDef* enter = FindNode(mg->graph, "StatefulPartitionedCall/map/while/enter/_412");
  ASSERT_NE(enter, nullptr);
  EXPECT_EQ(*AttrString(*enter, "frame_name"), "StatefulPartitionedCall/map/while");
  EXPECT_EQ(*AttrInt(*enter, "parallel_iterations"), 32);
  int control_inputs = 0;
  for (const NodeDef& n : mg->graph.nodes) {
    for (const std::string& in : n.inputs) control_inputs += in[0] == '^';
  }
  EXPECT_GT(control_inputs, 0);
}

// ---------------------------------------------------------------------------------------------------------
// Hand-written models: every weight kind, functions, inline constants, no signature

struct Files {
  std::map<std::string, std::string> files;
  std::vector<std::string> asked;
  std::function<StatusOr<std::string>(std::string_view)> reader() {
    return [this](std::string_view p) -> StatusOr<std::string> {
      asked.emplace_back(p);
      auto it = files.find(std::string(p));
      if (it == files.end()) return NotFound("no file " + std::string(p));
      return it->second;
    };
  }
};

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

json ConstNode(const std::string& name, const std::string& dtype, json shape_dims = json::array()) {
  json dims = json::array();
  for (auto& d : shape_dims) dims.push_back({{"size", std::to_string(d.get<int64_t>())}});
  json tensor = {{"dtype", dtype}, {"tensorShape", {{"dim", dims}}}};
  json attr = {{"value", {{"tensor", tensor}}}, {"dtype", {{"type", dtype}}}};
  return {{"name", name}, {"op", "Const"}, {"attr", attr}};
}

json Model(json nodes, json manifest) {
  return {{"format", "graph-model"},
          {"modelTopology", {{"node", std::move(nodes)}, {"versions", {{"producer", 1}}}}},
          {"weightsManifest", std::move(manifest)}};
}

TEST(TfjsModel, QuantizationKindsStringsBoolsAndShardConcatenation) {
  json weights = json::array(
      {{{"name", "u16"}, {"shape", {2}}, {"dtype", "float32"},
        {"quantization", {{"dtype", "uint16"}, {"min", -1.5}, {"scale", 0.1}}}},
       {{"name", "iq"}, {"shape", {4}}, {"dtype", "int32"},
        {"quantization", {{"dtype", "uint8"}, {"min", -3}, {"scale", 0.5}}}},
       {{"name", "h"}, {"shape", {7}}, {"dtype", "float32"}, {"quantization", {{"dtype", "float16"}}}},
       {{"name", "flags"}, {"shape", {3}}, {"dtype", "bool"}},
       {{"name", "words"}, {"shape", {2}}, {"dtype", "string"}},
       {{"name", "dbl"}, {"shape", json::array()}, {"dtype", "float32"}},
       {{"name", "i64"}, {"shape", {2}}, {"dtype", "int32"}}});
  json nodes = json::array({ConstNode("u16", "DT_FLOAT", {2}), ConstNode("iq", "DT_INT32", {4}),
                            ConstNode("h", "DT_FLOAT", {7}), ConstNode("flags", "DT_BOOL", {3}),
                            ConstNode("words", "DT_STRING", {2}), ConstNode("dbl", "DT_DOUBLE"),
                            ConstNode("i64", "DT_INT64", {2})});
  json model = Model(nodes, json::array({{{"paths", {"a.bin", "sub/b.bin"}}, {"weights", weights}}}));
  std::string all = Bytes({3, 0, 0xff, 0xff})                               // u16: 3, 65535
                    + Bytes({0, 1, 5, 255})                                 // iq: -3, -2.5, -0.5, 124.5
                    + Bytes({0x01, 0x00, 0xff, 0x03, 0x00, 0x7c, 0x00, 0xfc,  // h: min subnormal, max subnormal,
                             0x00, 0x7e, 0x01, 0x7c, 0x00, 0x80})             //    +inf, -inf, NaN, sNaN, -0
                    + Bytes({0, 1, 7})                                      // flags
                    + Bytes({2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0})             // words: "hi", ""
                    + Bytes({0, 0, 0xc0, 0x3f})                             // dbl: 1.5f
                    + Bytes({0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0});          // i64: -1, 7
  Files f;
  f.files["a.bin"] = all.substr(0, 5);  // a weight may straddle two shards
  f.files["sub/b.bin"] = all.substr(5);
  auto mg = ParseTfjsModel(model.dump(), f.reader());
  ASSERT_TRUE(mg.ok()) << mg.status().ToString();
  EXPECT_EQ(f.asked, (std::vector<std::string>{"a.bin", "sub/b.bin"}));
  auto value = [&](const char* n) -> const Tensor& { return FindAttr(*FindNode(mg->graph, n), "value")->tensor; };
  EXPECT_EQ(value("u16").data<float>()[0], static_cast<float>(3 * 0.1 + -1.5));
  EXPECT_EQ(value("u16").data<float>()[1], static_cast<float>(65535 * 0.1 + -1.5));
  // Math.round: ties toward +infinity (-2.5 -> -2, -0.5 -> 0, 124.5 -> 125).
  EXPECT_EQ(std::vector<int32_t>(value("iq").data<int32_t>(), value("iq").data<int32_t>() + 4),
            (std::vector<int32_t>{-3, -2, 0, 125}));
  const uint32_t want_bits[7] = {0x33800000, 0x387fc000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f802000, 0x80000000};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(value("h").data<float>()[i]), want_bits[i]) << i;
  }
  EXPECT_EQ(value("flags").dtype(), DType::kBool);
  EXPECT_EQ(std::vector<bool>(value("flags").data<bool>(), value("flags").data<bool>() + 3),
            (std::vector<bool>{false, true, true}));
  EXPECT_EQ(value("words").strings(), (std::vector<std::string>{"hi", ""}));
  // TF.js stores DT_DOUBLE and DT_INT64 constants as float32 / int32: the loader gives them back their type.
  ASSERT_EQ(value("dbl").dtype(), DType::kDouble);
  EXPECT_EQ(value("dbl").data<double>()[0], 1.5);
  ASSERT_EQ(value("i64").dtype(), DType::kInt64);
  EXPECT_EQ(value("i64").data<int64_t>()[0], -1);
  EXPECT_EQ(value("i64").data<int64_t>()[1], 7);
  EXPECT_EQ(*AttrType(*FindNode(mg->graph, "dbl"), "dtype"), DType::kDouble);
}

TEST(TfjsModel, NoSignatureInlineConstantsFunctionsAndEveryAttrKind) {
  const json model = json::parse(R"json({
    "format": "graph-model",
    "modelTopology": {
      "node": [
        {"name": "x", "op": "Placeholder",
         "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": "-1"}]}}}},
        {"name": "c", "op": "Const",
         "attr": {"value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "3"}]}, "floatVal": [2]}},
                  "dtype": {"type": "DT_FLOAT"}}},
        {"name": "k", "op": "Const",
         "attr": {"value": {"tensor": {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "2"}]},
                                       "tensorContent": "AQAAAP7///8="}}}},
        {"name": "y", "op": "Foo", "input": ["x", "c:0", "^k"],
         "attr": {"nan": {"f": "NaN"}, "neg": {"i": "-9007199254740993"}, "num": {"i": 4},
                  "any": {"shape": {"unknownRank": true}}, "scalar": {"shape": {}},
                  "types": {"list": {"type": ["DT_FLOAT", "DT_INT32"]}},
                  "shapes": {"list": {"shape": [{"dim": [{"size": "3"}, {}]}]}},
                  "fs": {"list": {"f": [0.5, "-Infinity"]}}, "bs": {"list": {"b": [true, false]}},
                  "fn": {"func": {"name": "body", "attr": {"T": {"type": "DT_FLOAT"}}}},
                  "empty": {}}}
      ],
      "library": {"function": [
        {"signature": {"name": "body", "inputArg": [{"name": "a", "typeAttr": "T"}],
                       "outputArg": [{"name": "out", "type": "DT_FLOAT"}]},
         "nodeDef": [{"name": "n", "op": "Neg", "input": ["a"], "attr": {"T": {"placeholder": "T"}}}],
         "ret": {"out": "n:y:0"}}
      ]}
    }
  })json");
  Files f;
  auto mg = ParseTfjsModel(model.dump(), f.reader());
  ASSERT_TRUE(mg.ok()) << mg.status().ToString();
  EXPECT_TRUE(f.asked.empty());
  // No signature in the file: inputs from the Placeholders, outputs unknown (left empty).
  const SignatureDef& sig = mg->signatures.at("serving_default");
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs.at("x").tensor_name, "x:0");
  EXPECT_EQ(sig.inputs.at("x").dtype, DType::kFloat);
  EXPECT_EQ(sig.inputs.at("x").shape.dims, (Shape{-1}));
  EXPECT_TRUE(sig.outputs.empty());

  // A signature with outputs only (as human_faceboxes has): the inputs are still the Placeholders.
  json outputs_only = model;
  outputs_only["signature"] = {{"outputs", {{"result", {{"name", "y"}}}}}};
  auto mg2 = ParseTfjsModel(outputs_only.dump(), f.reader());
  ASSERT_TRUE(mg2.ok()) << mg2.status().ToString();
  EXPECT_EQ(mg2->signatures.at("serving_default").inputs.at("x").tensor_name, "x:0");
  EXPECT_EQ(mg2->signatures.at("serving_default").outputs.at("result").tensor_name, "y");

  const Tensor& c = FindAttr(*FindNode(mg->graph, "c"), "value")->tensor;
  EXPECT_EQ(std::vector<float>(c.data<float>(), c.data<float>() + 3), (std::vector<float>{2, 2, 2}));
  const NodeDef& k = *FindNode(mg->graph, "k");
  EXPECT_EQ(*AttrType(k, "dtype"), DType::kInt32);  // filled in from the value
  EXPECT_EQ(FindAttr(k, "value")->tensor.data<int32_t>()[1], -2);

  const NodeDef& y = *FindNode(mg->graph, "y");
  EXPECT_EQ(y.inputs, (std::vector<std::string>{"x", "c:0", "^k"}));
  EXPECT_TRUE(std::isnan(*AttrFloat(y, "nan")));
  EXPECT_EQ(*AttrInt(y, "neg"), -9007199254740993);
  EXPECT_EQ(*AttrInt(y, "num"), 4);
  EXPECT_TRUE(FindAttr(y, "any")->shape.unknown_rank);
  EXPECT_FALSE(FindAttr(y, "scalar")->shape.unknown_rank);
  EXPECT_TRUE(FindAttr(y, "scalar")->shape.dims.empty());
  EXPECT_EQ(FindAttr(y, "types")->list->type, (std::vector<DType>{DType::kFloat, DType::kInt32}));
  EXPECT_EQ(FindAttr(y, "shapes")->list->shape.at(0).dims, (Shape{3, 0}));
  EXPECT_EQ(FindAttr(y, "fs")->list->f.at(1), -INFINITY);
  EXPECT_EQ(FindAttr(y, "bs")->list->b, (std::vector<bool>{true, false}));
  EXPECT_EQ(FindAttr(y, "fn")->func->name, "body");
  EXPECT_EQ(FindAttr(y, "fn")->func->attrs.at("T").type, DType::kFloat);
  EXPECT_EQ(FindAttr(y, "empty")->kind, AttrValue::Kind::kNone);

  ASSERT_EQ(mg->graph.functions.size(), 1u);
  const FunctionDef& body = mg->graph.functions[0];
  EXPECT_EQ(body.name, "body");
  EXPECT_EQ(body.input_args.at(0).type_attr, "T");
  EXPECT_EQ(body.output_args.at(0).type, DType::kFloat);
  EXPECT_EQ(body.ret.at("out"), "n:y:0");
  EXPECT_EQ(body.nodes.at(0).attrs.at("T").kind, AttrValue::Kind::kPlaceholder);
  EXPECT_EQ(body.nodes.at(0).attrs.at("T").s, "T");
}

// ---------------------------------------------------------------------------------------------------------
// Hostile files: errors that name what is wrong, never a crash

json OneWeightModel(json shape = {2}, std::string path = "w.bin") {
  return Model(json::array({ConstNode("w", "DT_FLOAT", shape)}),
               json::array({{{"paths", {path}},
                             {"weights", {{{"name", "w"}, {"shape", shape}, {"dtype", "float32"}}}}}}));
}

Status ParseWith(const json& model, Files& f) { return ParseTfjsModel(model.dump(), f.reader()).status(); }

void ExpectError(const Status& st, const std::string& fragment) {
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(fragment), std::string::npos) << st.ToString();
}

TEST(TfjsModel, RefusesTruncatedAndMissingShards) {
  Files f;
  f.files["w.bin"] = std::string(7, '\0');  // 8 needed
  ExpectError(ParseWith(OneWeightModel(), f), "weight 'w'");
  f.files.clear();
  Status missing = ParseWith(OneWeightModel(), f);
  ExpectError(missing, "w.bin");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  // A Const with neither a weight nor inline values.
  json model = Model(json::array({ConstNode("lonely", "DT_FLOAT", {3})}), json::array());
  Status st = ParseWith(model, f);
  ExpectError(st, "lonely");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

TEST(TfjsModel, RefusesPathsLeavingTheModelDirectory) {
  for (const char* path : {"../w.bin", "a/../../w.bin", "/etc/passwd", "..", "a\\..\\w.bin", ""}) {
    Files f;
    f.files[path] = std::string(8, '\0');
    ExpectError(ParseWith(OneWeightModel({2}, path), f), "path");
    EXPECT_TRUE(f.asked.empty()) << path;  // refused before anything is read
  }
  // Through the filesystem: a real file outside the model's directory is not read.
  auto root = std::filesystem::temp_directory_path() / ("tfjs_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "model");
  std::ofstream(root / "secret.bin") << std::string(8, 'x');
  std::ofstream(root / "model" / "model.json") << OneWeightModel({2}, "../secret.bin").dump();
  auto mg = LoadTfjsModel((root / "model" / "model.json").string());
  ExpectError(mg.status(), "leaves the model's directory");
  std::ofstream(root / "model" / "model.json") << OneWeightModel({2}, "gone.bin").dump();
  mg = LoadTfjsModel((root / "model" / "model.json").string());
  ExpectError(mg.status(), "gone.bin");
  EXPECT_EQ(mg.status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(root);
  ExpectError(LoadTfjsModel(kData + "does-not-exist.json").status(), "does-not-exist.json");
}

TEST(TfjsModel, RefusesNegativeAndHugeShapes) {
  Files f;
  f.files["w.bin"] = std::string(64, '\0');
  ExpectError(ParseWith(OneWeightModel({-2}), f), "weight 'w'");
  ExpectError(ParseWith(OneWeightModel({int64_t{1} << 20, int64_t{1} << 20}), f), "2^31");
  ExpectError(ParseWith(OneWeightModel({int64_t{1} << 40, int64_t{1} << 40}), f), "weight 'w'");
  ExpectError(ParseWith(OneWeightModel({1.5}), f), "weight 'w'");
  // Fits 2^31 elements but not the shard: refused by the byte check, before any allocation.
  ExpectError(ParseWith(OneWeightModel({int64_t{1} << 30}), f), "needs 4294967296 bytes");
  // An inline tensor may not use "repeat the last value" to allocate gigabytes.
  json big = ConstNode("big", "DT_FLOAT", {int64_t{1} << 30});
  big["attr"]["value"]["tensor"]["floatVal"] = {1};
  ExpectError(ParseWith(Model(json::array({big}), json::array()), f), "big");
  json neg = ConstNode("neg", "DT_FLOAT");
  neg["attr"]["value"]["tensor"]["tensorShape"] = {{"dim", {{{"size", "-5"}}}}};
  ExpectError(ParseWith(Model(json::array({neg}), json::array()), f), "neg");
}

TEST(TfjsModel, RefusesDeepJsonAndOversizedFiles) {
  Files f;
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  ExpectError(ParseTfjsModel(deep, f.reader()).status(), "nested deeper");
  json model = OneWeightModel();
  json nested = {{"type", "DT_FLOAT"}};
  for (int i = 0; i < 70; ++i) nested = {{"list", {{"func", {{{"name", "f"}, {"attr", {{"a", nested}}}}}}}}};
  model["modelTopology"]["node"][0]["attr"]["deep"] = nested;
  ExpectError(ParseWith(model, f), "nested deeper");
  std::string huge(kMaxTfjsJsonBytes + 1, ' ');
  ExpectError(ParseTfjsModel(huge, f.reader()).status(), "larger than");
  ExpectError(ParseTfjsModel("{\"format\":\"graph-model\",", f.reader()).status(), "not valid JSON");
  ExpectError(ParseTfjsModel("[]", f.reader()).status(), "not a JSON object");
  ExpectError(ParseTfjsModel(R"({"format":"layers-model","modelTopology":{}})", f.reader()).status(), "layers");
}

TEST(TfjsModel, WrongAttrTypesNameTheNodeAndAttr) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"i", true}}, "attr 'bad'"},          {{{"i", "1.5x"}}, "attr 'bad'"},
      {{{"b", "yes"}}, "attr 'bad'"},         {{{"s", 5}}, "attr 'bad'"},
      {{{"s", "not base64!"}}, "attr 'bad'"}, {{{"type", "DT_NOPE"}}, "attr 'bad'"},
      {{{"f", {1}}}, "attr 'bad'"},           {{{"list", {{"i", "1"}}}}, "attr 'bad'"},
      {{{"list", {{"zz", {}}}}}, "attr 'bad'"}, {{{"shape", {{"dim", {{{"size", "-7"}}}}}}}, "attr 'bad'"},
      {{{"i", "1"}, {"f", 2}}, "attr 'bad'"}, {{{"mystery", 1}}, "attr 'bad'"},
      {json::array(), "attr 'bad'"},          {{{"tensor", {{"dtype", "DT_FLOAT"}, {"tensorContent", "AAAA"}}}},
                                               "attr 'bad'"}};
  for (const auto& [value, fragment] : cases) {
    SCOPED_TRACE(value.dump());
    json model = OneWeightModel();
    model["modelTopology"]["node"].push_back({{"name", "victim"}, {"op", "Relu"}, {"attr", {{"bad", value}}}});
    Files f;
    f.files["w.bin"] = std::string(8, '\0');
    Status st = ParseWith(model, f);
    ExpectError(st, fragment);
    ExpectError(st, "victim");
  }
  // Structure: a Const whose weight has another dtype, duplicate names, a data input after a control input,
  // a signature naming a tensor no node produces.
  Files f;
  f.files["w.bin"] = std::string(8, '\0');
  json model = OneWeightModel();
  model["modelTopology"]["node"][0]["attr"]["dtype"]["type"] = "DT_HALF";
  model["modelTopology"]["node"][0]["attr"]["value"]["tensor"]["dtype"] = "DT_HALF";
  ExpectError(ParseWith(model, f), "declares DT_HALF");
  model = OneWeightModel();
  model["modelTopology"]["node"][0]["attr"]["value"]["tensor"]["tensorShape"]["dim"][0]["size"] = "3";
  ExpectError(ParseWith(model, f), "shape");
  model = OneWeightModel();
  model["modelTopology"]["node"].push_back(model["modelTopology"]["node"][0]);
  ExpectError(ParseWith(model, f), "two nodes are named 'w'");
  model = OneWeightModel();
  model["modelTopology"]["node"].push_back({{"name", "r"}, {"op", "Relu"}, {"input", {"^w", "w"}}});
  ExpectError(ParseWith(model, f), "follows a control input");
  model = OneWeightModel();
  model["signature"] = {{"outputs", {{"out", {{"name", "ghost:0"}}}}}};
  ExpectError(ParseWith(model, f), "ghost:0");
  model = OneWeightModel();
  model["weightsManifest"][0]["weights"].push_back(model["weightsManifest"][0]["weights"][0]);
  f.files["w.bin"] = std::string(16, '\0');
  ExpectError(ParseWith(model, f), "appears twice");
  model = OneWeightModel();
  model["weightsManifest"][0]["weights"][0]["dtype"] = "float64";
  ExpectError(ParseWith(model, f), "weight 'w'");
  model = OneWeightModel();
  model["weightsManifest"][0]["weights"][0]["quantization"] = {{"dtype", "uint8"}, {"min", 0}};
  ExpectError(ParseWith(model, f), "weight 'w'");
  model = OneWeightModel();
  model["modelInitializer"] = {{"node", {{{"name", "t"}, {"op", "HashTableV2"}}}}};
  ExpectError(ParseWith(model, f), "modelInitializer");
}

// Every prefix and many single-byte corruptions of a real model: errors or graphs, never a crash.
TEST(TfjsModel, TruncatedAndCorruptedRealModelNeverCrashes) {
  const std::string json_text = Slurp(kData + "tfjs_e2e_matmul/model.json");
  Files f;
  f.files["weights.bin"] = Slurp(kData + "tfjs_e2e_matmul/weights.bin");
  int ok = 0;
  for (size_t n = 0; n < json_text.rfind('}'); ++n) ok += ParseTfjsModel(json_text.substr(0, n), f.reader()).ok();
  EXPECT_EQ(ok, 0);
  const char subst[] = {'"', '{', '[', '-', '9', 'x', '\\', ':', ','};
  for (size_t i = 0; i < json_text.size(); i += 3) {
    for (char c : subst) {
      std::string s = json_text;
      s[i] = c;
      (void)ParseTfjsModel(s, f.reader());
    }
  }
  EXPECT_TRUE(ParseTfjsModel(json_text, f.reader()).ok());
}

}  // namespace
}  // namespace inferd::tf
