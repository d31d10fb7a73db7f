// tf/graph_def.h: the executor's in-memory form of a TensorFlow graph, independent of how it was stored.
//
// Contract:
// - These structs mirror TensorFlow's GraphDef / NodeDef / AttrValue / FunctionDef / SignatureDef messages,
//   holding only what the executor reads. Two loaders fill them: tf/saved_model.h (protobuf `saved_model.pb`)
//   and tf/tfjs_model.h (TF.js `model.json`, proto3 JSON). The executor (tf/executor.h) never sees protobuf or
//   JSON, so one executor serves both formats.
// - Names keep TensorFlow's conventions: a NodeDef input is "node", "node:2" (output 2) or "^node" (control
//   dependency); inside a FunctionDef body an input may also be "node:out_arg:2" (FunctionDef form) or the name
//   of a function input argument. ParseInput() splits both forms.
// - Loaders only translate: they check structure (sizes, dtypes in range) but not op semantics; the executor's
//   load step checks ops, arity and attrs and fails naming the node.
// - Plain values: copyable, no threads, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tf/tensor.h"

namespace inferd::tf {

// A declared shape: unknown rank, or a rank with -1 for unknown dimensions.
struct PartialShape {
  bool unknown_rank = true;
  Shape dims;  // meaningful when !unknown_rank
};

struct AttrValue;

// A function reference (attr `f` of PartitionedCall/StatefulPartitionedCall, While's cond/body...).
struct FuncAttr {
  std::string name;
  std::map<std::string, AttrValue, std::less<>> attrs;
};

struct AttrList {
  std::vector<std::string> s;
  std::vector<int64_t> i;
  std::vector<float> f;
  std::vector<bool> b;
  std::vector<DType> type;
  std::vector<PartialShape> shape;
  std::vector<Tensor> tensor;
  std::vector<FuncAttr> func;
};

struct AttrValue {
  // Which member is set, as AttrValue's `oneof value` (kList: `list`, possibly empty).
  enum class Kind { kNone, kS, kI, kF, kB, kType, kShape, kTensor, kList, kFunc, kPlaceholder };
  Kind kind = Kind::kNone;
  std::string s;  // kS (bytes), kPlaceholder (the placeholder's name)
  int64_t i = 0;
  float f = 0;
  bool b = false;
  DType type = DType::kInvalid;
  PartialShape shape;
  Tensor tensor;
  std::shared_ptr<AttrList> list;  // kList
  std::shared_ptr<FuncAttr> func;  // kFunc
};

using AttrMap = std::map<std::string, AttrValue, std::less<>>;

struct NodeDef {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;  // data inputs first, then "^ctrl" inputs
  std::string device;               // ignored by the CPU executor (documented soft placement)
  AttrMap attrs;
};

struct ArgDef {
  std::string name;
  DType type = DType::kInvalid;  // kInvalid when given by type_attr / number_attr / type_list_attr
  std::string type_attr;
  std::string number_attr;
  std::string type_list_attr;
};

struct FunctionDef {
  std::string name;                    // signature.name
  std::vector<ArgDef> input_args;      // signature.input_arg
  std::vector<ArgDef> output_args;     // signature.output_arg
  std::vector<NodeDef> nodes;          // node_def
  std::map<std::string, std::string, std::less<>> ret;          // output arg name -> "node:out_arg:idx"
  std::map<std::string, std::string, std::less<>> control_ret;  // unused by execution
  AttrMap attrs;
  // arg_attr's `_output_shapes`/`_user_specified_name` are not needed; resource args are typed DT_RESOURCE.
};

struct GraphDef {
  std::vector<NodeDef> nodes;
  std::vector<FunctionDef> functions;  // library.function
  int producer = 0;                    // versions.producer
};

// SignatureDef's TensorInfo, as far as a server needs it.
struct TensorInfo {
  std::string tensor_name;  // "x:0", "StatefulPartitionedCall:1"
  DType dtype = DType::kInvalid;
  PartialShape shape;
};

struct SignatureDef {
  std::string method_name;  // "tensorflow/serving/predict", ".../classify", ".../regress"
  std::map<std::string, TensorInfo, std::less<>> inputs;   // alias -> tensor
  std::map<std::string, TensorInfo, std::less<>> outputs;  // alias -> tensor
};

// How a model restores its variables before serving (SavedModel's saver_def and init ops).
struct RestoreSpec {
  std::string filename_tensor;   // saver_def.filename_tensor_name ("save/Const:0", "saver_filename:0")
  std::string restore_op;        // saver_def.restore_op_name ("save/restore_all", "StatefulPartitionedCall_2")
  std::vector<std::string> init_ops;  // saved_model_main_op / legacy_init_op / saved_model_init_op targets
};

// One loaded MetaGraph: the graph, its signatures, and the restore/init recipe.
struct MetaGraph {
  std::vector<std::string> tags;  // meta_info_def.tags ("serve")
  GraphDef graph;
  std::map<std::string, SignatureDef, std::less<>> signatures;
  std::optional<RestoreSpec> restore;
  std::vector<std::string> asset_files;  // assets/ file names the graph refers to
};

// "node" -> {"node", 0}; "node:3" -> {"node", 3}; "^node" -> {"node", -1} (control). Inside functions,
// "node:out:2" -> {"node", 2, "out"}.
struct InputRef {
  std::string node;
  int index = 0;  // -1: control dependency
  std::string output_arg;  // FunctionDef form only
};
InputRef ParseInput(std::string_view s);

// Attribute lookup helpers: NotFound/InvalidArgument naming node and attr when missing or of another kind.
StatusOr<int64_t> AttrInt(const NodeDef& n, std::string_view name);
StatusOr<float> AttrFloat(const NodeDef& n, std::string_view name);
StatusOr<bool> AttrBool(const NodeDef& n, std::string_view name);
StatusOr<DType> AttrType(const NodeDef& n, std::string_view name);
StatusOr<std::string> AttrString(const NodeDef& n, std::string_view name);
StatusOr<std::vector<int64_t>> AttrInts(const NodeDef& n, std::string_view name);
StatusOr<std::vector<std::string>> AttrStrings(const NodeDef& n, std::string_view name);
// The attr, or null.
const AttrValue* FindAttr(const NodeDef& n, std::string_view name);
// With a default when absent (a present attr of the wrong kind is still an error).
StatusOr<int64_t> AttrIntOr(const NodeDef& n, std::string_view name, int64_t dflt);
StatusOr<float> AttrFloatOr(const NodeDef& n, std::string_view name, float dflt);
StatusOr<bool> AttrBoolOr(const NodeDef& n, std::string_view name, bool dflt);
StatusOr<std::string> AttrStringOr(const NodeDef& n, std::string_view name, std::string dflt);

}  // namespace inferd::tf
