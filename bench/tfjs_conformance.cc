// tfjs_conformance: runs every TF.js graph model of a test-data directory laid out as the project's shared
// set (`<dir>/<model>/{*.json, expected.json, expected/caseN.*.bin}`, README there) on inferd's executor and
// prints, per model, the ops the executor lacks (the compile error lists them all), and per case and output the
// largest |got - expected| against the README's tolerance (1e-5 * max|expected| + 1e-6), plus the CPU time of
// one run. Usage: tfjs_conformance <dir> [model...]. Exit status 0 when every case of every model matched.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/model.h"

namespace fs = std::filesystem;
using inferd::Status;
using inferd::tf::DType;
using inferd::tf::ParseInput;
using inferd::tf::Shape;
using inferd::tf::Tensor;
using inferd::tf::TfModel;

namespace {

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

DType FileDType(const std::string& s) {
  if (s == "uint8") return DType::kUint8;
  if (s == "int32") return DType::kInt32;
  return DType::kFloat;
}

double At(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat: return t.data<float>()[i];
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kUint8: return t.data<uint8_t>()[i];
    default: return NAN;
  }
}

std::string Alias(const std::map<std::string, inferd::tf::TensorInfo, std::less<>>& m, const std::string& node) {
  for (const auto& [alias, info] : m) {
    if (ParseInput(info.tensor_name).node == node) return alias;
  }
  return node;
}

// One case: feeds its input files, compares every output file. Returns whether all matched.
bool RunCase(TfModel& model, const fs::path& dir, const nlohmann::json& c, const std::string& label) {
  const auto& sig = model.meta_graph().signatures.at("serving_default");
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const auto& in : c["inputs"]) {
    auto t = Tensor::Make(FileDType(in["dtype"]), in["shape"].get<Shape>());
    std::string bytes = ReadAll(dir / in["file"].get<std::string>());
    if (!t.ok() || bytes.size() != t->byte_size()) {
      std::printf("  %s: input %s missing or of the wrong size\n", label.c_str(),
                  in["file"].get<std::string>().c_str());
      return false;
    }
    std::memcpy(t->raw(), bytes.data(), bytes.size());
    inputs.emplace_back(Alias(sig.inputs, in["name"]), std::move(*t));
  }
  std::vector<std::string> outputs;
  for (const auto& out : c["outputs"]) outputs.push_back(Alias(sig.outputs, out["name"]));
  std::vector<Tensor> results;
  const double t0 = CpuSeconds();
  Status st = model.Run("", inputs, outputs, &results);
  const double cpu = CpuSeconds() - t0;
  if (!st.ok()) {
    std::printf("  %s: FAILED to run: %s\n", label.c_str(), st.message().c_str());
    return false;
  }
  bool ok = true;
  std::string line;
  for (size_t k = 0; k < results.size(); ++k) {
    const auto& out = c["outputs"][k];
    std::string bytes = ReadAll(dir / out["file"].get<std::string>());
    auto want = Tensor::Make(FileDType(out["dtype"]), out["shape"].get<Shape>());
    if (!want.ok() || bytes.size() != want->byte_size() || results[k].num_elements() != want->num_elements()) {
      line += " " + out["name"].get<std::string>() + ":shape/size-mismatch";
      ok = false;
      continue;
    }
    std::memcpy(want->raw(), bytes.data(), bytes.size());
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < want->num_elements(); ++i) scale = std::max(scale, std::fabs(At(*want, i)));
    for (int64_t i = 0; i < want->num_elements(); ++i) {
      double d = std::fabs(At(results[k], i) - At(*want, i));
      diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    }
    const bool match = diff <= 1e-5 * scale + 1e-6;
    ok = ok && match;
    char buf[160];
    std::snprintf(buf, sizeof buf, " %s:%s(%.2g/%.2g)", out["name"].get<std::string>().c_str(),
                  match ? "ok" : "DIFF", diff, scale);
    line += buf;
  }
  std::printf("  %s: %s, %.1f ms CPU;%s\n", label.c_str(), ok ? "match" : "MISMATCH", cpu * 1e3, line.c_str());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <testdata/tfjs dir> [model...]\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> dirs;
  if (argc > 2) {
    for (int i = 2; i < argc; ++i) dirs.push_back(fs::path(argv[1]) / argv[i]);
  } else {
    for (const auto& e : fs::directory_iterator(argv[1])) {
      if (e.is_directory() && fs::exists(e.path() / "expected.json")) dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
  }
  int failed = 0;
  for (const fs::path& dir : dirs) {
    fs::path json;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() == ".json" && name != "expected.json" && (json.empty() || name == "model.json")) {
        json = e.path();
      }
    }
    std::printf("%s (%s)\n", dir.filename().c_str(), json.filename().c_str());
    auto model = TfModel::LoadTfjs(json.string());
    if (!model.ok()) {
      std::printf("  FAILED to load: %s\n", model.status().message().c_str());
      ++failed;
      continue;
    }
    auto spec = nlohmann::json::parse(ReadAll(dir / "expected.json"));
    bool ok = true;
    for (size_t i = 0; i < spec["cases"].size(); ++i) {
      ok = RunCase(**model, dir, spec["cases"][i], "case " + std::to_string(i)) && ok;
    }
    failed += ok ? 0 : 1;
  }
  std::printf("%zu models, %d with a failed or mismatching case\n", dirs.size(), failed);
  return failed == 0 ? 0 : 1;
}
