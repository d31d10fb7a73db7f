// fuzz/tfjs_model_fuzz.cc: TensorFlow.js graph models as inferd loads them (tf/tfjs_model.h): the input is the
// model.json text; every weight file the manifest names reads as the same fixed 512-byte buffer: bytes 0..255
// (so every uint8 value and float16 NaNs, infinities and subnormals occur), then zeros (so a string weight past
// offset 256 has a length prefix that fits). Checks, beyond "no crash": a loaded model has its serving
// signature, and every Const holds a value tensor of its dtype attr.
#include <string>

#include "fuzz_check.h"
#include "tf/tfjs_model.h"

using namespace inferd;
using namespace inferd::tf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kShard = [] {
    std::string s(512, '\0');
    for (size_t i = 0; i < 256; ++i) s[i] = static_cast<char>(i);
    return s;
  }();
  auto read = [](std::string_view) -> StatusOr<std::string> { return kShard; };
  auto mg = ParseTfjsModel(inferd::fuzz::AsText(data, size), read);
  if (!mg.ok()) {
    FUZZ_CHECK(!mg.status().message().empty(), "an error without a message");
    return 0;
  }
  FUZZ_CHECK(mg->signatures.count("serving_default") == 1, "no serving_default signature");
  for (const NodeDef& n : mg->graph.nodes) {
    FUZZ_CHECK(!n.name.empty() && !n.op.empty(), "a node without name or op");
    if (n.op != "Const") continue;
    const AttrValue* v = FindAttr(n, "value");
    FUZZ_CHECK(v != nullptr && v->kind == AttrValue::Kind::kTensor && v->tensor.valid(), n.name);
    auto dt = AttrType(n, "dtype");
    FUZZ_CHECK(dt.ok() && *dt == v->tensor.dtype(), n.name);
  }
  return 0;
}
