#include "backends/fault/fault_backend.h"

#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace inferd {

namespace {

struct FaultConfig {
  int64_t sleep_ms = 0;
  std::string throw_message;
  std::string fail_load;
  int64_t load_sleep_ms = 0;
  DataType dtype = DataType::kFp32;
};

class FaultBackend : public Backend {
 public:
  explicit FaultBackend(FaultConfig c) : c_(std::move(c)) {
    md_.platform = "fault";
    md_.inputs = {{"input-0", c_.dtype, {-1, -1}}};
    md_.outputs = {{"output-0", c_.dtype, {-1, -1}}};
  }
  const ModelMetadata& metadata() const override { return md_; }
  bool accepts_numeric_conversion() const override { return false; }

  Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                 std::vector<Tensor>* outputs) override {
    if (c_.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(c_.sleep_ms));
    // Warm-up (one row of zeros) must pass, or the model would never become ready.
    bool warmup = inputs[0].shape()[0] == 1 && inputs[0].element_count() <= 1;
    if (!c_.throw_message.empty() && !warmup) throw std::runtime_error(c_.throw_message);
    for (size_t i = 0; i < requested.size(); ++i) {
      Tensor t("output-0", inputs[0].dtype(), inputs[0].shape());
      t.SetOwned(std::string(inputs[0].bytes()));
      outputs->push_back(std::move(t));
    }
    return Status::Ok();
  }

 private:
  FaultConfig c_;
  ModelMetadata md_;
};

class FaultFactory : public BackendFactory {
 public:
  std::string_view format() const override { return "fault"; }
  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& o) override {
    std::ifstream in(o.model_file);
    std::stringstream ss;
    ss << in.rdbuf();
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string text = ss.str();
    if (parser.parse(text).get(doc)) return InvalidArgument(o.model_file + ": not a JSON object");
    FaultConfig c;
    int64_t v;
    std::string_view s;
    if (!doc["sleep_ms"].get(v)) c.sleep_ms = v;
    if (!doc["load_sleep_ms"].get(v)) c.load_sleep_ms = v;
    if (!doc["throw"].get(s)) c.throw_message = std::string(s);
    if (!doc["fail_load"].get(s)) c.fail_load = std::string(s);
    if (!doc["datatype"].get(s)) c.dtype = DataTypeFromName(s);
    if (c.dtype == DataType::kInvalid) return InvalidArgument(o.model_file + ": unknown datatype");
    if (c.load_sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(c.load_sleep_ms));
    if (!c.fail_load.empty()) return Internal(c.fail_load);
    return std::unique_ptr<Backend>(new FaultBackend(std::move(c)));
  }
};

}  // namespace

std::unique_ptr<BackendFactory> NewFaultBackendFactory() { return std::make_unique<FaultFactory>(); }

}  // namespace inferd
