#include "explain/explainer.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/forest/forest.h"
#include "explain/explain_request.h"
#include "explain/kernel_shap.h"
#include "explain/tree_shap.h"

namespace inferd::explain {

namespace {

using Json = nlohmann::ordered_json;  // members in the documented order

constexpr size_t kMaxKernelInstances = 64;
// Interaction values per request (rows x outputs x M x M): bounds the answer's memory and size.
constexpr size_t kMaxInteractionValues = size_t{1} << 24;
// Model evaluations per KernelSHAP request, all rows together.
constexpr int64_t kMaxRequestEvaluations = kMaxEvaluations * 4;

// A number for one output, a list of K for several.
Json PerOutput(const double* v, size_t k) {
  if (k == 1) return v[0];
  return Json(std::vector<double>(v, v + k));
}

std::string ShapeText(const Shape& s) { return ShapeToString(s); }

StatusOr<std::string> ExplainTree(const TreeEnsembleView& view, const TreeShap& ts, const ExplainRequest& r) {
  const forest::Forest& f = *view.forest;
  const auto m = static_cast<size_t>(f.num_features());
  const auto k = static_cast<size_t>(f.num_groups());
  if (r.instances.shape.size() != 1 || r.instances.width != m) {
    return InvalidArgument("instances: rows of shape " + ShapeText(r.instances.shape) + ", the model takes " +
                           std::to_string(m) + " features");
  }
  const size_t w = m + 1;
  if (r.interactions && r.instances.count * k * m * m > kMaxInteractionValues) {
    return InvalidArgument("interactions: " + std::to_string(r.instances.count) + " rows x " + std::to_string(k) +
                           " outputs x " + std::to_string(m) + "^2 features is more than " +
                           std::to_string(kMaxInteractionValues) + " values; send fewer rows");
  }
  std::vector<double> row(m), phi(k * w), margin(k), inter(r.interactions ? k * w * w : 0);
  Json out = Json::array();
  for (size_t i = 0; i < r.instances.count; ++i) {
    const double* src = r.instances.values.data() + i * m;
    for (size_t j = 0; j < m; ++j) row[j] = view.float32_input ? static_cast<double>(static_cast<float>(src[j])) : src[j];
    ts.Contributions(row.data(), phi.data());
    f.Margins(row.data(), 1, margin.data());
    Json shap = Json::array(), expected = Json::array();
    for (size_t g = 0; g < k; ++g) {
      shap.push_back(std::vector<double>(phi.begin() + static_cast<std::ptrdiff_t>(g * w),
                                         phi.begin() + static_cast<std::ptrdiff_t>(g * w + m)));
      expected.push_back(phi[g * w + m]);
    }
    Json e = {{"shap_values", k == 1 ? shap[0] : shap},
              {"expected_value", k == 1 ? expected[0] : expected},
              {"margin", PerOutput(margin.data(), k)}};
    if (r.interactions) {
      ts.Interactions(row.data(), inter.data());
      Json groups = Json::array();
      for (size_t g = 0; g < k; ++g) {
        Json mat = Json::array();
        for (size_t a = 0; a < m; ++a) {
          const double* p = inter.data() + (g * w + a) * w;
          mat.push_back(std::vector<double>(p, p + m));
        }
        groups.push_back(std::move(mat));
      }
      e["shap_interaction_values"] = k == 1 ? groups[0] : groups;
    }
    out.push_back(std::move(e));
  }
  Json doc = {{"explanations", std::move(out)}, {"method", "tree"}, {"output", "margin"}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The model as KernelSHAP's black box: rows of the instances' shape, through Model::Infer.
BatchModel BlackBox(Model& model, const Rows& instances, bool one_row_batches) {
  const ModelMetadata& md = model.metadata();
  const std::string input = md.inputs[0].name;
  const std::string output = md.outputs[static_cast<size_t>(md.v1_output)].name;
  const Shape row_shape = instances.shape;
  const size_t m = instances.width;
  return [&model, input, output, row_shape, m, one_row_batches](const double* rows, size_t n,
                                                                std::vector<double>* out) -> Status {
    const size_t step = one_row_batches ? 1 : n;
    for (size_t start = 0; start < n; start += step) {
      const size_t b = std::min(step, n - start);
      InferRequest req;
      req.inferred_datatypes = true;
      Shape shape = {static_cast<int64_t>(b)};
      shape.insert(shape.end(), row_shape.begin(), row_shape.end());
      Tensor t(input, DataType::kFp64, std::move(shape));
      std::memcpy(t.Allocate(b * m * sizeof(double)), rows + start * m, b * m * sizeof(double));
      req.inputs.push_back(std::move(t));
      req.outputs.push_back({output, {}});
      InferResponse resp;
      if (Status st = model.Infer(req, &resp); !st.ok()) {
        if (st.code() != StatusCode::kInvalidArgument) return st;
        return InvalidArgument("instances: the model refused rows of shape " + ShapeText(row_shape) + ": " +
                               st.message());
      }
      if (resp.outputs.size() != 1) return Internal("the model answered no '" + output + "'");
      ASSIGN_OR_RETURN(Tensor d, ConvertTensor(resp.outputs[0], DataType::kFp64));
      const double* v = d.data<double>();
      out->insert(out->end(), v, v + d.byte_size() / sizeof(double));
    }
    return Status::Ok();
  };
}

// Why KernelSHAP cannot call this model, or OK.
Status CheckBlackBox(const Model& model) {
  const ModelMetadata& md = model.metadata();
  if (model.dynamic_io()) {
    return Unimplemented("a custom Python model is explained by its own explain(); this one defines none");
  }
  if (md.inputs.size() != 1) {
    return Unimplemented("the model has " + std::to_string(md.inputs.size()) +
                         " inputs; inferd's explainers take models with one numeric input");
  }
  if (!IsNumeric(md.inputs[0].dtype)) {
    return Unimplemented("input '" + md.inputs[0].name + "' is " + std::string(DataTypeName(md.inputs[0].dtype)) +
                         "; SHAP values need numeric features");
  }
  if (md.v1_output < 0 || static_cast<size_t>(md.v1_output) >= md.outputs.size() ||
      !IsNumeric(md.outputs[static_cast<size_t>(md.v1_output)].dtype)) {
    return Unimplemented("the model's prediction is not numeric; SHAP values explain numbers");
  }
  const Shape& s = md.inputs[0].shape;
  if (!s.empty() && s[0] > 1) {
    return Unimplemented("input '" + md.inputs[0].name + "' has a fixed batch size of " + std::to_string(s[0]));
  }
  return Status::Ok();
}

StatusOr<Rows> Background(const Model& model, const ExplainRequest& r, const BackgroundReader& read) {
  if (r.has_background) return r.background;
  std::optional<std::string> text;
  if (read) {
    ASSIGN_OR_RETURN(text, read(model));
  }
  if (!text) {
    return InvalidArgument(std::string("background: KernelSHAP needs background rows: give \"background\" in the "
                                       "request or put ") + kBackgroundFile + " beside the model");
  }
  ASSIGN_OR_RETURN(Rows rows, ParseRows(*text, kBackgroundFile));
  if (rows.shape != r.instances.shape) {
    return InvalidArgument(std::string(kBackgroundFile) + ": rows of shape " + ShapeText(rows.shape) +
                           ", the instances are " + ShapeText(r.instances.shape));
  }
  return rows;
}

StatusOr<std::string> ExplainKernel(Model& model, const ExplainRequest& r, const BackgroundReader& read) {
  RETURN_IF_ERROR(CheckBlackBox(model));
  if (r.interactions) return InvalidArgument("interactions: only TreeSHAP (method \"tree\") computes interaction values");
  if (r.instances.count > kMaxKernelInstances) {
    return InvalidArgument("instances: KernelSHAP explains at most " + std::to_string(kMaxKernelInstances) +
                           " rows per request");
  }
  ASSIGN_OR_RETURN(Rows bg, Background(model, r, read));
  // The per-row bounds (KernelShap's, named after their own fields) first, then the request's total.
  const int64_t per_row = (KernelShapCoalitions(r.instances.width, r.nsamples) + 1) * static_cast<int64_t>(bg.count);
  const bool rows_within = r.nsamples <= kMaxNsamples && bg.count <= kMaxBackground &&
                           r.instances.width <= kMaxFeatures && per_row <= kMaxEvaluations;
  if (rows_within && per_row * static_cast<int64_t>(r.instances.count) > kMaxRequestEvaluations) {
    return InvalidArgument("instances: " + std::to_string(r.instances.count) + " rows x " + std::to_string(per_row) +
                           " model evaluations each is more than " + std::to_string(kMaxRequestEvaluations) +
                           " per request; send fewer rows, lower nsamples or use fewer background rows");
  }
  const Shape& in = model.metadata().inputs[0].shape;
  const BatchModel f = BlackBox(model, r.instances, !in.empty() && in[0] == 1);
  const size_t m = r.instances.width;
  Json out = Json::array();
  int64_t coalitions = 0;
  for (size_t i = 0; i < r.instances.count; ++i) {
    ASSIGN_OR_RETURN(KernelShapResult res, KernelShap(f, r.instances.values.data() + i * m, m, bg.values.data(),
                                                      bg.count, {r.nsamples, r.seed}));
    Json shap = Json::array();
    for (size_t j = 0; j < res.outputs; ++j) {
      shap.push_back(std::vector<double>(res.phi.begin() + static_cast<std::ptrdiff_t>(j * m),
                                         res.phi.begin() + static_cast<std::ptrdiff_t>((j + 1) * m)));
    }
    out.push_back({{"shap_values", res.outputs == 1 ? shap[0] : shap},
                   {"expected_value", PerOutput(res.expected.data(), res.outputs)},
                   {"prediction", PerOutput(res.fx.data(), res.outputs)}});
    coalitions = res.coalitions;
  }
  Json doc = {{"explanations", std::move(out)}, {"method", "kernel"}, {"output", "prediction"},
              {"nsamples", coalitions}, {"background_rows", bg.count}, {"seed", r.seed}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

StatusOr<std::string> ExplainModel(Model& model, std::string_view body, const BackgroundReader& read_background) {
  if (model.dynamic_io()) RETURN_IF_ERROR(CheckBlackBox(model));
  ASSIGN_OR_RETURN(ExplainRequest r, ParseExplainRequest(body));
  const TreeEnsembleView view = model.backend().tree_ensemble();
  if (r.method != Method::kKernel && view.forest) {
    StatusOr<TreeShap> ts = TreeShap::Create(*view.forest);
    if (ts.ok()) return ExplainTree(view, *ts, r);
    if (r.method == Method::kTree) return InvalidArgument("method: \"tree\": " + ts.status().message());
  } else if (r.method == Method::kTree) {
    return InvalidArgument("method: \"tree\" needs a tree model that inferd evaluates natively (XGBoost gbtree, "
                           "LightGBM, scikit-learn trees without preprocessing steps); use \"kernel\"");
  }
  return ExplainKernel(model, r, read_background);
}

BackgroundReader FileBackground(ModelDirLookup model_dir) {
  return [model_dir = std::move(model_dir)](const Model& model) -> StatusOr<std::optional<std::string>> {
    namespace fs = std::filesystem;
    StatusOr<std::string> dir = model_dir(model.name());
    if (!dir.ok()) return std::optional<std::string>();  // models not loaded from a directory (Python scripts)
    std::error_code ec;
    fs::path path = fs::path(*dir) / model.version() / kBackgroundFile;
    if (model.version().empty() || !fs::is_regular_file(path, ec)) path = fs::path(*dir) / kBackgroundFile;
    if (!fs::is_regular_file(path, ec)) return std::optional<std::string>();
    const auto size = fs::file_size(path, ec);
    if (ec) return Internal("cannot read " + path.string() + ": " + ec.message());
    if (size > kMaxBackgroundBytes) {
      return InvalidArgument(std::string(kBackgroundFile) + ": larger than " +
                             std::to_string(kMaxBackgroundBytes >> 20) + " MiB");
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return Internal("cannot read " + path.string());
    return std::optional<std::string>(ss.str());
  };
}

std::function<StatusOr<PassThroughAnswer>(Model&, const PassThroughCall&)> NewDefaultExplainer(
    ModelDirLookup model_dir) {
  return [background = FileBackground(std::move(model_dir))](Model& model,
                                                              const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
    ASSIGN_OR_RETURN(std::string body, ExplainModel(model, call.body, background));
    return PassThroughAnswer{std::move(body), {}};
  };
}

}  // namespace inferd::explain
