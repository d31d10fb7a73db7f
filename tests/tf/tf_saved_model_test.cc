#include "tf/saved_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <complex>
#include <filesystem>
#include <fstream>

#include "tf/saved_model.pb.h"

namespace inferd::tf {
namespace {

namespace fs = std::filesystem;
const std::string kData = INFERD_SOURCE_DIR "/tests/data/tf/";

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

MetaGraph MustLoad(const std::string& model, std::vector<AssetFeed>* feeds = nullptr) {
  auto dir = FindServedVersion(kData + model);
  EXPECT_TRUE(dir.ok()) << model << ": " << dir.status().ToString();
  if (!dir.ok()) return {};
  auto mg = LoadSavedModel(*dir, "serve", {}, feeds);
  EXPECT_TRUE(mg.ok()) << model << ": " << mg.status().ToString();
  return mg.ok() ? std::move(mg).value() : MetaGraph{};
}

const NodeDef* FindNode(const std::vector<NodeDef>& nodes, std::string_view name) {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("tf_saved_model_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static inline int counter = 0;
};

void Touch(const fs::path& p, const std::string& content = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// ---- TensorFlow's own SavedModels ------------------------------------------------------------------------

TEST(TfSavedModel, HalfPlusTwoSignaturesRestoreAndAssets) {
  std::vector<AssetFeed> feeds;
  MetaGraph mg = MustLoad("saved_model_half_plus_two_cpu", &feeds);
  EXPECT_EQ(mg.tags, (std::vector<std::string>{"serve"}));
  ASSERT_EQ(mg.signatures.count("serving_default"), 1u);
  const SignatureDef& sig = mg.signatures.at("serving_default");
  EXPECT_EQ(sig.method_name, "tensorflow/serving/predict");
  ASSERT_EQ(sig.inputs.size(), 1u);
  ASSERT_EQ(sig.outputs.size(), 1u);
  const TensorInfo& x = sig.inputs.at("x");
  EXPECT_EQ(x.tensor_name, "x:0");
  EXPECT_EQ(x.dtype, DType::kFloat);
  EXPECT_FALSE(x.shape.unknown_rank);
  EXPECT_EQ(x.shape.dims, (Shape{-1, 1}));
  EXPECT_EQ(sig.outputs.at("y").tensor_name, "y:0");
  EXPECT_EQ(mg.signatures.at("regress_x_to_y").method_name, "tensorflow/serving/regress");
  EXPECT_EQ(mg.signatures.at("regress_x_to_y").inputs.at("inputs").dtype, DType::kString);
  EXPECT_EQ(mg.signatures.at("classify_x_to_y").method_name, "tensorflow/serving/classify");
  EXPECT_EQ(mg.signatures.size(), 5u);
  // TF1 restore: save/Const:0 <- the variables prefix, run save/restore_all, then the main op.
  ASSERT_TRUE(mg.restore.has_value());
  EXPECT_EQ(mg.restore->filename_tensor, "save/Const:0");
  EXPECT_EQ(mg.restore->restore_op, "save/restore_all");
  EXPECT_EQ(mg.restore->init_ops, (std::vector<std::string>{"group_deps"}));
  EXPECT_EQ(mg.asset_files, (std::vector<std::string>{"foo.txt"}));
  ASSERT_EQ(feeds.size(), 1u);
  EXPECT_EQ(feeds[0].tensor, "Const:0");
  EXPECT_EQ(feeds[0].file, "foo.txt");
  EXPECT_EQ(mg.graph.producer, 149);
  EXPECT_TRUE(mg.graph.functions.empty());
  // Nodes and attrs: x (an Identity of the parsed tf.Example's feature), and a = 0.5 as a Const's float_val.
  const NodeDef* xn = FindNode(mg.graph.nodes, "x");
  ASSERT_NE(xn, nullptr);
  EXPECT_EQ(xn->op, "Identity");
  EXPECT_EQ(xn->inputs.size(), 1u);
  auto dtype = AttrType(*xn, "T");
  ASSERT_TRUE(dtype.ok());
  EXPECT_EQ(*dtype, DType::kFloat);
  const NodeDef* a = FindNode(mg.graph.nodes, "a/initial_value");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->op, "Const");
  EXPECT_EQ(a->device, "/device:CPU:0");
  const AttrValue* v = FindAttr(*a, "value");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->kind, AttrValue::Kind::kTensor);
  EXPECT_EQ(v->tensor.dtype(), DType::kFloat);
  EXPECT_EQ(v->tensor.rank(), 0);
  EXPECT_EQ(v->tensor.data<float>()[0], 0.5f);
  const NodeDef* group = FindNode(mg.graph.nodes, "group_deps");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->inputs, (std::vector<std::string>{"^Assign"}));
}

TEST(TfSavedModel, Tf2ExportHasItsFunctionLibrary) {
  std::vector<AssetFeed> feeds;
  MetaGraph mg = MustLoad("saved_model_half_plus_two_tf2_cpu", &feeds);
  EXPECT_EQ(mg.graph.functions.size(), 14u);
  ASSERT_TRUE(mg.restore.has_value());
  EXPECT_EQ(mg.restore->filename_tensor, "saver_filename:0");
  EXPECT_EQ(mg.restore->restore_op, "StatefulPartitionedCall_7");
  EXPECT_EQ(mg.restore->init_ops, (std::vector<std::string>{"NoOp"}));  // from the __saved_model_init_op signature
  EXPECT_EQ(mg.signatures.count("__saved_model_init_op"), 0u);
  const SignatureDef& sig = mg.signatures.at("serving_default");
  EXPECT_EQ(sig.inputs.at("x").tensor_name, "serving_default_x:0");
  EXPECT_EQ(sig.outputs.at("y").tensor_name, "StatefulPartitionedCall_5:0");
  // The init op reads a Placeholder that TensorFlow's loader feeds with the asset's path.
  ASSERT_EQ(feeds.size(), 1u);
  EXPECT_EQ(feeds[0].tensor, "asset_path_initializer:0");
  EXPECT_EQ(feeds[0].file, "foo.txt");
  // Every function call in the graph names a function of the library, whose body is converted.
  const NodeDef* call = FindNode(mg.graph.nodes, "StatefulPartitionedCall_5");
  ASSERT_NE(call, nullptr);
  const AttrValue* f = FindAttr(*call, "f");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->kind, AttrValue::Kind::kFunc);
  auto fn = std::find_if(mg.graph.functions.begin(), mg.graph.functions.end(),
                         [&](const FunctionDef& d) { return d.name == f->func->name; });
  ASSERT_NE(fn, mg.graph.functions.end()) << f->func->name;
  EXPECT_FALSE(fn->nodes.empty());
  EXPECT_FALSE(fn->input_args.empty());
  EXPECT_FALSE(fn->ret.empty());
  const AttrValue* tin = FindAttr(*call, "Tin");
  ASSERT_NE(tin, nullptr);
  ASSERT_EQ(tin->kind, AttrValue::Kind::kList);
  EXPECT_EQ(tin->list->type.size(), fn->input_args.size());
}

TEST(TfSavedModel, KerasAndCounterModels) {
  MetaGraph keras = MustLoad("tf_rust_keras_multiple_inputs");
  const SignatureDef& sig = keras.signatures.at("serving_default");
  EXPECT_EQ(sig.inputs.size(), 2u);
  EXPECT_EQ(sig.inputs.at("test_in2").shape.dims, (Shape{-1, 5}));
  EXPECT_EQ(sig.outputs.at("test_out").tensor_name, "StatefulPartitionedCall:0");
  EXPECT_EQ(keras.graph.functions.size(), 36u);
  MetaGraph counter = MustLoad("saved_model_counter");
  ASSERT_TRUE(counter.restore.has_value());
  EXPECT_TRUE(counter.restore->init_ops.empty());
  EXPECT_TRUE(counter.asset_files.empty());
  EXPECT_EQ(counter.signatures.size(), 4u);
  EXPECT_TRUE(counter.signatures.at("incr_counter_by").inputs.at("delta").shape.unknown_rank);
  MetaGraph legacy = MustLoad("saved_model_half_plus_three");  // legacy_init_op, not saved_model_main_op
  ASSERT_TRUE(legacy.restore.has_value());
  EXPECT_EQ(legacy.restore->init_ops, (std::vector<std::string>{"group_deps"}));
}

TEST(TfSavedModel, EveryTestModelLoads) {
  int models = 0;
  for (const auto& e : fs::recursive_directory_iterator(kData)) {
    if (e.path().filename() != "saved_model.pb") continue;
    auto mg = LoadSavedModel(e.path().parent_path().string());
    EXPECT_TRUE(mg.ok()) << e.path() << ": " << mg.status().ToString();
    if (mg.ok()) {
      EXPECT_FALSE(mg->signatures.empty()) << e.path();
    }
    ++models;
  }
  EXPECT_EQ(models, 20);
}

TEST(TfSavedModel, TagSelection) {
  std::string dir = kData + "saved_model_half_plus_two_cpu/00000123";
  auto wrong = LoadSavedModel(dir, "serve,gpu");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kNotFound);
  EXPECT_NE(wrong.status().message().find("[serve]"), std::string::npos) << wrong.status().message();
  EXPECT_TRUE(LoadSavedModel(dir, "").ok());         // the first MetaGraph
  EXPECT_TRUE(LoadSavedModel(dir, " serve ").ok());  // spaces around tags are ignored
}

// ---- version directories -----------------------------------------------------------------------------------

TEST(TfSavedModel, VersionSelection) {
  auto two = FindServedVersion(kData + "saved_model_half_plus_two_2_versions");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(fs::path(*two).filename(), "00000124");
  std::string flat = kData + "tfjs_node_times_three_float";
  auto same = FindServedVersion(flat);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, flat);

  TempDir t;
  EXPECT_EQ(FindServedVersion(t.path.string()).status().code(), StatusCode::kNotFound);
  Touch(t.path / "7" / "saved_model.pb");
  Touch(t.path / "00000012" / "saved_model.pb");
  Touch(t.path / "99" / "variables" / "variables.index");  // no saved_model.pb: not a version
  Touch(t.path / "123abc" / "saved_model.pb");               // not numeric
  Touch(t.path / "5" / "saved_model.pb");
  auto best = FindServedVersion(t.path.string());
  ASSERT_TRUE(best.ok()) << best.status().ToString();
  EXPECT_EQ(fs::path(*best).filename(), "00000012");
  EXPECT_EQ(FindServedVersion((t.path / "missing").string()).status().code(), StatusCode::kNotFound);
}

TEST(TfSavedModel, MissingAndTextFormatFiles) {
  TempDir t;
  auto missing = LoadSavedModel(t.path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Touch(t.path / "saved_model.pbtxt", "saved_model_schema_version: 1");
  auto text = LoadSavedModel(t.path.string());
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(text.status().message().find("pbtxt"), std::string::npos);
}

// ---- hostile files -----------------------------------------------------------------------------------------

TEST(TfSavedModel, TruncatedFilesAreErrors) {
  std::string bytes = ReadAll(kData + "saved_model_half_plus_two_cpu/00000123/saved_model.pb");
  ASSERT_GT(bytes.size(), 10000u);
  for (size_t n = 0; n < bytes.size(); n += 37) {
    auto mg = ParseSavedModel(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(mg.ok()) << "prefix of " << n << " bytes";
  }
  auto last = ParseSavedModel(std::string_view(bytes).substr(0, bytes.size() - 1));
  EXPECT_FALSE(last.ok());
  EXPECT_FALSE(ParseSavedModel("this is not a protobuf \xff\xff\xff\xff").ok());
  // On disk: the file name is in the message.
  TempDir t;
  Touch(t.path / "saved_model.pb", bytes.substr(0, bytes.size() / 2));
  auto mg = LoadSavedModel(t.path.string());
  ASSERT_FALSE(mg.ok());
  EXPECT_NE(mg.status().message().find("saved_model.pb"), std::string::npos) << mg.status().message();
  SavedModelLimits small;
  small.max_file_bytes = 1000;
  EXPECT_FALSE(LoadSavedModel(kData + "saved_model_half_plus_two_cpu/00000123", "serve", small).ok());
}

// A SavedModel with one Const node whose value is `t`, built with the same schema.
std::string WithConst(const tfproto::TensorProto& t) {
  tfproto::SavedModel sm;
  auto* mg = sm.add_meta_graphs();
  mg->mutable_meta_info_def()->add_tags("serve");
  auto* n = mg->mutable_graph_def()->add_node();
  n->set_name("k");
  n->set_op("Const");
  (*n->mutable_attr())["value"].mutable_tensor()->CopyFrom(t);
  return sm.SerializeAsString();
}

tfproto::TensorProto Proto(int dtype, std::vector<int64_t> shape) {
  tfproto::TensorProto t;
  t.set_dtype(dtype);
  for (int64_t d : shape) t.mutable_tensor_shape()->add_dim()->set_size(d);
  return t;
}

StatusOr<Tensor> ConstValue(const tfproto::TensorProto& t, const SavedModelLimits& limits = {}) {
  auto mg = ParseSavedModel(WithConst(t), "serve", limits);
  if (!mg.ok()) return mg.status();
  return mg->graph.nodes.at(0).attrs.at("value").tensor;
}

TEST(TfSavedModel, TensorProtoValuesAndTheRepeatRule) {
  auto p = Proto(1, {2, 3});
  p.add_float_val(1);
  p.add_float_val(2);
  auto t = ConstValue(p);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->shape(), (Shape{2, 3}));
  std::vector<float> got(t->data<float>(), t->data<float>() + 6);
  EXPECT_EQ(got, (std::vector<float>{1, 2, 2, 2, 2, 2}));  // fewer values: the last repeats
  auto zeros = ConstValue(Proto(3, {4}));                  // no values: zeros
  ASSERT_TRUE(zeros.ok());
  EXPECT_EQ(zeros->data<int32_t>()[3], 0);
  auto i8 = Proto(6, {2});
  i8.add_int_val(-5);
  i8.add_int_val(7);
  auto ti8 = ConstValue(i8);
  ASSERT_TRUE(ti8.ok());
  EXPECT_EQ(ti8->data<int8_t>()[0], -5);
  EXPECT_EQ(ti8->data<int8_t>()[1], 7);
  auto half = Proto(19, {1});
  half.add_half_val(0x3c00);  // 1.0 in binary16
  auto th = ConstValue(half);
  ASSERT_TRUE(th.ok());
  EXPECT_EQ(th->data<uint16_t>()[0], 0x3c00);
  auto c64 = Proto(8, {2});
  c64.add_scomplex_val(1);
  c64.add_scomplex_val(-1);
  auto tc = ConstValue(c64);
  ASSERT_TRUE(tc.ok());
  EXPECT_EQ(tc->data<std::complex<float>>()[1], std::complex<float>(1, -1));
  auto strs = Proto(7, {3});
  strs.add_string_val("a");
  strs.add_string_val("bc");
  auto ts = ConstValue(strs);
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(ts->strings(), (std::vector<std::string>{"a", "bc", "bc"}));
  auto content = Proto(9, {2});
  int64_t raw[2] = {-3, 1ll << 40};
  content.set_tensor_content(std::string(reinterpret_cast<const char*>(raw), 16));
  auto tcontent = ConstValue(content);
  ASSERT_TRUE(tcontent.ok());
  EXPECT_EQ(tcontent->data<int64_t>()[1], 1ll << 40);
  auto packed = Proto(7, {2});
  packed.set_tensor_content(std::string("\x01\x02" "abc", 5));  // varint lengths, then the bytes
  auto tp = ConstValue(packed);
  ASSERT_TRUE(tp.ok()) << tp.status().ToString();
  EXPECT_EQ(tp->strings(), (std::vector<std::string>{"a", "bc"}));
}

TEST(TfSavedModel, HostileTensorsAreRefused) {
  auto too_many = Proto(1, {1});
  too_many.add_float_val(1);
  too_many.add_float_val(2);
  EXPECT_FALSE(ConstValue(too_many).ok());
  auto content = Proto(1, {3});
  content.set_tensor_content(std::string(8, '\0'));  // 2 floats for 3 elements
  EXPECT_FALSE(ConstValue(content).ok());
  EXPECT_FALSE(ConstValue(Proto(1, {int64_t{1} << 40, int64_t{1} << 40})).ok());
  EXPECT_FALSE(ConstValue(Proto(1, {-1})).ok());
  EXPECT_FALSE(ConstValue(Proto(21, {1})).ok());  // DT_VARIANT
  EXPECT_FALSE(ConstValue(Proto(99, {1})).ok());  // unknown dtype
  auto odd = Proto(8, {1});
  odd.add_scomplex_val(1);
  EXPECT_FALSE(ConstValue(odd).ok());
  auto strings = Proto(7, {3});
  strings.set_tensor_content("\x05" "ab");
  EXPECT_FALSE(ConstValue(strings).ok());
  // One value claiming a billion elements: within TensorFlow's rule, but over the expansion limit.
  auto bomb = Proto(1, {1 << 30});
  bomb.add_float_val(1);
  SavedModelLimits limits;
  limits.max_expanded_bytes = 1 << 20;
  auto r = ConstValue(bomb, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node 'k'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("attr 'value'"), std::string::npos) << r.status().message();
  auto small = Proto(1, {1000});
  small.add_float_val(1);
  EXPECT_TRUE(ConstValue(small, limits).ok());
}

TEST(TfSavedModel, HostileGraphsAreRefused) {
  // An asset name that would escape <dir>/assets/.
  tfproto::SavedModel sm;
  auto* mg = sm.add_meta_graphs();
  mg->mutable_meta_info_def()->add_tags("serve");
  mg->add_asset_file_def()->set_filename("../../etc/passwd");
  auto escape = ParseSavedModel(sm.SerializeAsString());
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.status().message().find("asset"), std::string::npos);
  mg->mutable_asset_file_def(0)->set_filename("vocab/words.txt");
  EXPECT_TRUE(ParseSavedModel(sm.SerializeAsString()).ok());
  // An unknown DataType in a type attr, naming node and attr.
  auto* n = mg->mutable_graph_def()->add_node();
  n->set_name("p");
  n->set_op("Placeholder");
  (*n->mutable_attr())["dtype"].set_type(1234);
  auto bad_type = ParseSavedModel(sm.SerializeAsString());
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("node 'p': attr 'dtype'"), std::string::npos)
      << bad_type.status().message();
  (*n->mutable_attr())["dtype"].set_type(1);
  ASSERT_TRUE(ParseSavedModel(sm.SerializeAsString()).ok());
  // Function attrs nested deeper than any real graph.
  tfproto::AttrValue deep;
  deep.set_i(1);
  for (int i = 0; i < 40; ++i) {
    tfproto::AttrValue outer;
    outer.mutable_func()->set_name("f");
    (*outer.mutable_func()->mutable_attr())["x"] = deep;
    deep = outer;
  }
  (*n->mutable_attr())["deep"] = deep;
  EXPECT_FALSE(ParseSavedModel(sm.SerializeAsString()).ok());
  n->mutable_attr()->erase("deep");
  // A signature tensor without a name (sparse), and a main-op collection naming two ops.
  auto& sig = (*mg->mutable_signature_def())["s"];
  sig.set_method_name("tensorflow/serving/predict");
  sig.mutable_inputs()->insert({"x", tfproto::TensorInfo()});
  auto sparse = ParseSavedModel(sm.SerializeAsString());
  ASSERT_FALSE(sparse.ok());
  EXPECT_NE(sparse.status().message().find("signature 's': input 'x'"), std::string::npos)
      << sparse.status().message();
  (*sig.mutable_inputs())["x"].set_name("p:0");
  ASSERT_TRUE(ParseSavedModel(sm.SerializeAsString()).ok());
  auto* main_op = (*mg->mutable_collection_def())["saved_model_main_op"].mutable_node_list();
  main_op->add_value("a");
  main_op->add_value("b");
  EXPECT_FALSE(ParseSavedModel(sm.SerializeAsString()).ok());
  // No MetaGraph at all.
  EXPECT_FALSE(ParseSavedModel(tfproto::SavedModel().SerializeAsString()).ok());
}

}  // namespace
}  // namespace inferd::tf
