#include "tf/saved_model.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <complex>
#include <cstring>
#include <filesystem>

#include "tf/saved_model.pb.h"
#include "tf/tensor_bundle.h"
#include "tf/tensor_proto.h"

namespace inferd::tf {
namespace {

namespace pb = ::inferd::tfproto;

constexpr int kMaxAttrDepth = 32;  // func attrs nest attrs; protobuf's own parse depth limit is 100
constexpr std::string_view kInitOpSignature = "__saved_model_init_op";
constexpr std::string_view kMainOpCollection = "saved_model_main_op";
constexpr std::string_view kLegacyInitOpCollection = "legacy_init_op";
constexpr std::string_view kAssetsCollection = "saved_model_assets";

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

StatusOr<DType> CheckedType(int32_t v) { return DTypeFromProtoChecked(v); }

StatusOr<Shape> Dims(const pb::TensorShapeProto& s, bool allow_unknown) { return ShapeFromProto(s, allow_unknown); }

StatusOr<PartialShape> ConvertPartialShape(const pb::TensorShapeProto& s) {
  PartialShape out;
  out.unknown_rank = s.unknown_rank();
  if (!out.unknown_rank) {
    ASSIGN_OR_RETURN(out.dims, Dims(s, /*allow_unknown=*/true));
  }
  return out;
}

// Converts the parts of one MetaGraphDef, charging tensors filled by repetition to a shared budget.
class Converter {
 public:
  explicit Converter(const SavedModelLimits& limits) : budget_(limits.max_expanded_bytes) {}

  StatusOr<GraphDef> Graph(const pb::GraphDef& g);
  StatusOr<SignatureDef> Signature(const pb::SignatureDef& s);

 private:
  StatusOr<Tensor> ConvertTensor(const pb::TensorProto& p) { return TensorFromProto(p, &budget_); }
  StatusOr<AttrValue> ConvertAttr(const pb::AttrValue& p, int depth);
  Status ConvertList(const pb::AttrValue::ListValue& p, int depth, AttrList* out);
  Status ConvertAttrs(const google::protobuf::Map<std::string, pb::AttrValue>& in, int depth, AttrMap* out);
  StatusOr<FuncAttr> ConvertFunc(const pb::NameAttrList& p, int depth);
  StatusOr<NodeDef> Node(const pb::NodeDef& p);
  StatusOr<FunctionDef> Function(const pb::FunctionDef& p);

  uint64_t budget_;
};

StatusOr<FuncAttr> Converter::ConvertFunc(const pb::NameAttrList& p, int depth) {
  FuncAttr f;
  f.name = p.name();
  RETURN_IF_ERROR(ConvertAttrs(p.attr(), depth + 1, &f.attrs));
  return f;
}

Status Converter::ConvertList(const pb::AttrValue::ListValue& p, int depth, AttrList* out) {
  out->s.assign(p.s().begin(), p.s().end());
  out->i.assign(p.i().begin(), p.i().end());
  out->f.assign(p.f().begin(), p.f().end());
  out->b.assign(p.b().begin(), p.b().end());
  for (int32_t t : p.type()) {
    ASSIGN_OR_RETURN(DType dt, CheckedType(t));
    out->type.push_back(dt);
  }
  for (const auto& s : p.shape()) {
    ASSIGN_OR_RETURN(PartialShape ps, ConvertPartialShape(s));
    out->shape.push_back(std::move(ps));
  }
  for (const auto& t : p.tensor()) {
    ASSIGN_OR_RETURN(Tensor v, ConvertTensor(t));
    out->tensor.push_back(std::move(v));
  }
  for (const auto& f : p.func()) {
    ASSIGN_OR_RETURN(FuncAttr v, ConvertFunc(f, depth));
    out->func.push_back(std::move(v));
  }
  return Status::Ok();
}

StatusOr<AttrValue> Converter::ConvertAttr(const pb::AttrValue& p, int depth) {
  if (depth > kMaxAttrDepth) return InvalidArgument("attrs nested too deeply");
  AttrValue a;
  using K = AttrValue::Kind;
  switch (p.value_case()) {
    case pb::AttrValue::kS: a.kind = K::kS; a.s = p.s(); break;
    case pb::AttrValue::kI: a.kind = K::kI; a.i = p.i(); break;
    case pb::AttrValue::kF: a.kind = K::kF; a.f = p.f(); break;
    case pb::AttrValue::kB: a.kind = K::kB; a.b = p.b(); break;
    case pb::AttrValue::kType: {
      a.kind = K::kType;
      ASSIGN_OR_RETURN(a.type, CheckedType(p.type()));
      break;
    }
    case pb::AttrValue::kShape: {
      a.kind = K::kShape;
      ASSIGN_OR_RETURN(a.shape, ConvertPartialShape(p.shape()));
      break;
    }
    case pb::AttrValue::kTensor: {
      a.kind = K::kTensor;
      ASSIGN_OR_RETURN(a.tensor, ConvertTensor(p.tensor()));
      break;
    }
    case pb::AttrValue::kList: {
      a.kind = K::kList;
      a.list = std::make_shared<AttrList>();
      RETURN_IF_ERROR(ConvertList(p.list(), depth, a.list.get()));
      break;
    }
    case pb::AttrValue::kFunc: {
      a.kind = K::kFunc;
      ASSIGN_OR_RETURN(FuncAttr f, ConvertFunc(p.func(), depth));
      a.func = std::make_shared<FuncAttr>(std::move(f));
      break;
    }
    case pb::AttrValue::kPlaceholder: a.kind = K::kPlaceholder; a.s = p.placeholder(); break;
    case pb::AttrValue::VALUE_NOT_SET: break;
  }
  return a;
}

Status Converter::ConvertAttrs(const google::protobuf::Map<std::string, pb::AttrValue>& in, int depth,
                               AttrMap* out) {
  for (const auto& [name, value] : in) {
    auto a = ConvertAttr(value, depth);
    if (!a.ok()) return a.status().WithPrefix("attr " + Quoted(name));
    out->emplace(name, std::move(a).value());
  }
  return Status::Ok();
}

StatusOr<NodeDef> Converter::Node(const pb::NodeDef& p) {
  NodeDef n;
  n.name = p.name();
  n.op = p.op();
  const std::string where = "node " + Quoted(n.name);
  if (n.name.empty()) return InvalidArgument("a node without a name (op " + Quoted(n.op) + ")");
  if (n.op.empty()) return InvalidArgument(where + ": no op");
  n.inputs.assign(p.input().begin(), p.input().end());
  n.device = p.device();
  Status st = ConvertAttrs(p.attr(), 0, &n.attrs);
  if (!st.ok()) return st.WithPrefix(where);
  return n;
}

StatusOr<std::vector<ArgDef>> Args(const google::protobuf::RepeatedPtrField<pb::OpDef::ArgDef>& in) {
  std::vector<ArgDef> out;
  for (const auto& a : in) {
    ArgDef d;
    d.name = a.name();
    auto t = CheckedType(a.type());
    if (!t.ok()) return t.status().WithPrefix("arg " + Quoted(d.name));
    d.type = *t;
    d.type_attr = a.type_attr();
    d.number_attr = a.number_attr();
    d.type_list_attr = a.type_list_attr();
    out.push_back(std::move(d));
  }
  return out;
}

StatusOr<FunctionDef> Converter::Function(const pb::FunctionDef& p) {
  FunctionDef f;
  f.name = p.signature().name();
  if (f.name.empty()) return InvalidArgument("a function without a name");
  const std::string where = "function " + Quoted(f.name);
  auto ins = Args(p.signature().input_arg());
  if (!ins.ok()) return ins.status().WithPrefix(where);
  auto outs = Args(p.signature().output_arg());
  if (!outs.ok()) return outs.status().WithPrefix(where);
  f.input_args = std::move(ins).value();
  f.output_args = std::move(outs).value();
  for (const auto& nd : p.node_def()) {
    auto n = Node(nd);
    if (!n.ok()) return n.status().WithPrefix(where);
    f.nodes.push_back(std::move(n).value());
  }
  f.ret.insert(p.ret().begin(), p.ret().end());
  f.control_ret.insert(p.control_ret().begin(), p.control_ret().end());
  Status st = ConvertAttrs(p.attr(), 0, &f.attrs);
  if (!st.ok()) return st.WithPrefix(where);
  return f;
}

StatusOr<GraphDef> Converter::Graph(const pb::GraphDef& g) {
  GraphDef out;
  out.producer = g.versions().producer();
  out.nodes.reserve(static_cast<size_t>(g.node_size()));
  for (const auto& nd : g.node()) {
    ASSIGN_OR_RETURN(NodeDef n, Node(nd));
    out.nodes.push_back(std::move(n));
  }
  for (const auto& fd : g.library().function()) {
    ASSIGN_OR_RETURN(FunctionDef f, Function(fd));
    out.functions.push_back(std::move(f));
  }
  return out;
}

StatusOr<TensorInfo> ConvertTensorInfo(const pb::TensorInfo& p) {
  TensorInfo t;
  t.tensor_name = p.name();
  if (t.tensor_name.empty()) {
    return InvalidArgument("no tensor name (sparse and composite signature tensors are not supported)");
  }
  ASSIGN_OR_RETURN(t.dtype, CheckedType(p.dtype()));
  if (p.has_tensor_shape()) {
    ASSIGN_OR_RETURN(t.shape, ConvertPartialShape(p.tensor_shape()));
  }  // else: unknown rank (PartialShape's default)
  return t;
}

StatusOr<SignatureDef> Converter::Signature(const pb::SignatureDef& s) {
  SignatureDef out;
  out.method_name = s.method_name();
  for (const auto& [alias, info] : s.inputs()) {
    auto t = ConvertTensorInfo(info);
    if (!t.ok()) return t.status().WithPrefix("input " + Quoted(alias));
    out.inputs.emplace(alias, std::move(t).value());
  }
  for (const auto& [alias, info] : s.outputs()) {
    auto t = ConvertTensorInfo(info);
    if (!t.ok()) return t.status().WithPrefix("output " + Quoted(alias));
    out.outputs.emplace(alias, std::move(t).value());
  }
  return out;
}

// ---- MetaGraph-level pieces ----------------------------------------------------------------------------

std::vector<std::string> SplitTags(std::string_view tags) {
  std::vector<std::string> out;
  while (!tags.empty()) {
    size_t comma = tags.find(',');
    std::string_view t = tags.substr(0, comma);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (!t.empty()) out.emplace_back(t);
    if (comma == std::string_view::npos) break;
    tags.remove_prefix(comma + 1);
  }
  return out;
}

StatusOr<const pb::MetaGraphDef*> ChooseMetaGraph(const pb::SavedModel& sm, std::string_view tags) {
  if (sm.meta_graphs_size() == 0) return InvalidArgument("no MetaGraphDef in the SavedModel");
  const std::vector<std::string> want = SplitTags(tags);
  std::string seen;
  for (const auto& mg : sm.meta_graphs()) {
    const auto& have = mg.meta_info_def().tags();
    bool all = std::all_of(want.begin(), want.end(), [&](const std::string& t) {
      return std::find(have.begin(), have.end(), t) != have.end();
    });
    if (all) return &mg;
    std::string set;
    for (const auto& t : have) set += (set.empty() ? "" : ",") + t;
    seen += " [" + set + "]";
  }
  return NotFound("no MetaGraph has the tags '" + std::string(tags) + "' (tag sets:" + seen + ")");
}

// The init op as TensorFlow's loader picks it (GetInitOp in TensorFlow's SavedModel loader).
StatusOr<std::string> InitOp(const pb::MetaGraphDef& mg) {
  auto sig = mg.signature_def().find(std::string(kInitOpSignature));
  if (sig != mg.signature_def().end()) {
    auto out = sig->second.outputs().find(std::string(kInitOpSignature));
    if (out == sig->second.outputs().end()) {
      return InvalidArgument("signature __saved_model_init_op has no output __saved_model_init_op");
    }
    return ParseInput(out->second.name()).node;
  }
  for (std::string_view key : {kMainOpCollection, kLegacyInitOpCollection}) {
    auto c = mg.collection_def().find(std::string(key));
    if (c == mg.collection_def().end()) continue;
    if (c->second.node_list().value_size() != 1) {
      return InvalidArgument("collection " + Quoted(key) + " must name exactly one op");
    }
    return ParseInput(c->second.node_list().value(0)).node;
  }
  return std::string();
}

// A relative file name under assets/ without "", ".", ".." components (the caller joins it to a directory).
bool SafeAssetName(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string_view::npos) return false;
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) break;
    name.remove_prefix(slash + 1);
  }
  return true;
}

Status AddAsset(const pb::AssetFileDef& a, MetaGraph* mg, std::vector<AssetFeed>* feeds) {
  const std::string& name = a.filename();
  if (!SafeAssetName(name)) return InvalidArgument("asset file name " + Quoted(name) + " is not a relative path");
  if (std::find(mg->asset_files.begin(), mg->asset_files.end(), name) == mg->asset_files.end()) {
    mg->asset_files.push_back(name);
  }
  if (!a.tensor_info().name().empty()) feeds->push_back(AssetFeed{a.tensor_info().name(), name});
  return Status::Ok();
}

// asset_file_def (TF2) and the `saved_model_assets` collection of Any-wrapped AssetFileDefs (TF1).
Status ListAssets(const pb::MetaGraphDef& mg, MetaGraph* out, std::vector<AssetFeed>* feeds) {
  for (const auto& a : mg.asset_file_def()) RETURN_IF_ERROR(AddAsset(a, out, feeds));
  auto c = mg.collection_def().find(std::string(kAssetsCollection));
  if (c == mg.collection_def().end()) return Status::Ok();
  for (const auto& any : c->second.any_list().value()) {
    if (!std::string_view(any.type_url()).ends_with("/tensorflow.AssetFileDef")) continue;
    pb::AssetFileDef a;
    if (!a.ParseFromString(any.value())) return InvalidArgument("collection saved_model_assets: corrupt AssetFileDef");
    RETURN_IF_ERROR(AddAsset(a, out, feeds));
  }
  return Status::Ok();
}

StatusOr<MetaGraph> ConvertMetaGraph(const pb::MetaGraphDef& mg, const SavedModelLimits& limits,
                                     std::vector<AssetFeed>* feeds) {
  MetaGraph out;
  out.tags.assign(mg.meta_info_def().tags().begin(), mg.meta_info_def().tags().end());
  Converter conv(limits);
  ASSIGN_OR_RETURN(out.graph, conv.Graph(mg.graph_def()));
  for (const auto& [key, sig] : mg.signature_def()) {
    if (key == kInitOpSignature) continue;
    auto s = conv.Signature(sig);
    if (!s.ok()) return s.status().WithPrefix("signature " + Quoted(key));
    out.signatures.emplace(key, std::move(s).value());
  }
  ASSIGN_OR_RETURN(std::string init_op, InitOp(mg));
  if (mg.has_saver_def() || !init_op.empty()) {
    RestoreSpec r;
    r.filename_tensor = mg.saver_def().filename_tensor_name();
    r.restore_op = mg.saver_def().restore_op_name();
    if (!init_op.empty()) r.init_ops.push_back(std::move(init_op));
    out.restore = std::move(r);
  }
  std::vector<AssetFeed> local;
  RETURN_IF_ERROR(ListAssets(mg, &out, feeds != nullptr ? feeds : &local));
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

StatusOr<MetaGraph> ParseSavedModel(std::string_view bytes, std::string_view tags, const SavedModelLimits& limits,
                                    std::vector<AssetFeed>* asset_feeds) {
  if (asset_feeds != nullptr) asset_feeds->clear();
  if (bytes.size() > limits.max_file_bytes || bytes.size() > static_cast<size_t>(INT_MAX)) {
    return InvalidArgument("saved_model.pb of " + std::to_string(bytes.size()) + " bytes is over the limit");
  }
  pb::SavedModel sm;
  if (!sm.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("not a SavedModel protobuf (corrupt or truncated)");
  }
  ASSIGN_OR_RETURN(const pb::MetaGraphDef* mg, ChooseMetaGraph(sm, tags));
  return ConvertMetaGraph(*mg, limits, asset_feeds);
}

StatusOr<MetaGraph> LoadSavedModel(const std::string& dir, std::string_view tags, const SavedModelLimits& limits,
                                   std::vector<AssetFeed>* asset_feeds) {
  const std::string path = dir + "/saved_model.pb";
  auto bytes = ReadFileBounded(path, limits.max_file_bytes);
  if (!bytes.ok()) {
    std::error_code ec;
    if (bytes.status().code() == StatusCode::kNotFound && std::filesystem::exists(dir + "/saved_model.pbtxt", ec)) {
      return Unimplemented(dir + ": text-format SavedModels (saved_model.pbtxt) are not supported");
    }
    return bytes.status();
  }
  auto mg = ParseSavedModel(*bytes, tags, limits, asset_feeds);
  if (!mg.ok()) return mg.status().WithPrefix(path);
  return mg;
}

StatusOr<std::string> FindServedVersion(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto holds_model = [](const fs::path& d) {
    std::error_code e;
    return fs::is_regular_file(d / "saved_model.pb", e) || fs::is_regular_file(d / "saved_model.pbtxt", e);
  };
  if (holds_model(dir)) return dir;
  fs::directory_iterator it(dir, ec);
  if (ec) return NotFound(dir + ": cannot list the model directory: " + ec.message());
  std::string best;
  uint64_t best_version = 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return NotFound(dir + ": cannot list the model directory: " + ec.message());
    std::string name = it->path().filename().string();
    uint64_t v = 0;
    if (!AllDigits(name)) continue;
    auto [p, err] = std::from_chars(name.data(), name.data() + name.size(), v);
    if (err != std::errc() || !holds_model(it->path())) continue;
    if (best.empty() || v > best_version || (v == best_version && name > best)) {
      best = name;
      best_version = v;
    }
  }
  if (best.empty()) {
    return NotFound(dir + ": no saved_model.pb, neither here nor in a numeric version subdirectory");
  }
  return (fs::path(dir) / best).string();
}

std::string VariablesPrefix(const std::string& dir) { return dir + "/variables/variables"; }

}  // namespace inferd::tf
