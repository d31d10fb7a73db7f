// fuzz/tf_saved_model_fuzz.cc: a saved_model.pb (tf/saved_model.h: the SavedModel protobuf, the MetaGraph
// chosen by tag, the GraphDef / function library / attrs / TensorProtos / signatures converted to the IR).
#include <algorithm>

#include "fuzz_check.h"
#include "tf/saved_model.h"

namespace {

using inferd::tf::AttrMap;
using inferd::tf::AttrValue;
using inferd::tf::Tensor;

void CheckTensor(const Tensor& t) {
  FUZZ_CHECK(t.valid(), "a converted tensor has no dtype");
  int64_t n = 1;
  for (int64_t d : t.shape()) {
    FUZZ_CHECK(d >= 0, "a tensor has a negative dimension");
    n *= d;
  }
  FUZZ_CHECK(n == t.num_elements(), "element count differs from the shape");
  if (t.dtype() == inferd::tf::DType::kString) {
    FUZZ_CHECK(t.strings().size() == static_cast<size_t>(n), "string count differs from the shape");
  }
}

void CheckAttrs(const AttrMap& attrs, int depth) {
  FUZZ_CHECK(depth <= 64, "attrs nested deeper than the reader allows");
  for (const auto& [name, a] : attrs) {
    if (a.kind == AttrValue::Kind::kTensor) CheckTensor(a.tensor);
    if (a.kind == AttrValue::Kind::kList) {
      FUZZ_CHECK(a.list != nullptr, "a list attr without its list: " + name);
      for (const auto& t : a.list->tensor) CheckTensor(t);
      for (const auto& f : a.list->func) CheckAttrs(f.attrs, depth + 1);
    }
    if (a.kind == AttrValue::Kind::kFunc) {
      FUZZ_CHECK(a.func != nullptr, "a func attr without its function: " + name);
      CheckAttrs(a.func->attrs, depth + 1);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inferd::tf::SavedModelLimits limits;
  limits.max_expanded_bytes = 16 << 20;  // libFuzzer's malloc limit is far below the default gigabyte
  std::vector<inferd::tf::AssetFeed> feeds;
  auto mg = inferd::tf::ParseSavedModel(inferd::fuzz::AsText(data, size), "serve", limits, &feeds);
  if (!mg.ok() && mg.status().code() == inferd::StatusCode::kNotFound) {
    mg = inferd::tf::ParseSavedModel(inferd::fuzz::AsText(data, size), "", limits, &feeds);
  }
  if (!mg.ok()) {
    FUZZ_CHECK(!mg.status().message().empty(), "an error without a message");
    return 0;
  }
  for (const auto& n : mg->graph.nodes) {
    FUZZ_CHECK(!n.name.empty() && !n.op.empty(), "a node without a name or op");
    CheckAttrs(n.attrs, 0);
  }
  for (const auto& f : mg->graph.functions) {
    FUZZ_CHECK(!f.name.empty(), "a function without a name");
    for (const auto& n : f.nodes) CheckAttrs(n.attrs, 0);
    CheckAttrs(f.attrs, 0);
  }
  for (const auto& name : mg->asset_files) {
    FUZZ_CHECK(!name.empty() && name[0] != '/', "an absolute asset path: " + name);
    std::string path = "/" + name + "/";
    FUZZ_CHECK(path.find("/../") == std::string::npos, "an asset path that escapes assets/: " + name);
  }
  for (const auto& feed : feeds) {
    FUZZ_CHECK(std::find(mg->asset_files.begin(), mg->asset_files.end(), feed.file) != mg->asset_files.end(),
               "an asset feed for a file not listed: " + feed.file);
  }
  FUZZ_CHECK(mg->signatures.count("__saved_model_init_op") == 0, "the init-op signature is listed for serving");
  return 0;
}
