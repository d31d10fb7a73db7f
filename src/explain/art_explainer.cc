#include "explain/art_explainer.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/clock.h"
#include "core/json_depth.h"
#include "core/logging.h"
#include "protocol/json_tensor.h"
#include "protocol/json_writer.h"

namespace inferd::explain {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr const char* kWho = "ART explainer (SquareAttack)";

// Parses `json` with `parser` (limited by LimitJsonDepth when made; its own, not the thread's: the classifier
// parses while the caller's elements are in use).
Status Parse(simdjson::dom::parser& parser, std::string_view json, element* out, const char* what) {
  auto err = parser.parse(json.data(), json.size(), true).get(*out);
  if (err == simdjson::DEPTH_ERROR) return JsonTooDeep(what);
  if (err) return InvalidArgument(std::string(what) + ": malformed JSON (" + simdjson::error_message(err) + ")");
  return Status::Ok();
}

// A JSON number that is a whole number in [0, limit), else -1.
int64_t ClassIndex(element e, int64_t limit) {
  if (!e.is_number()) return -1;
  const double v = e.get_double().value_unsafe();  // every JSON number converts (integers exactly below 2^53)
  if (!(v >= 0 && v < static_cast<double>(limit)) || v != std::floor(v)) return -1;
  return static_cast<int64_t>(v);
}

Status ParseImages(element e, ImageBatch* out) {
  const std::string field = "instances[0]";
  Shape shape;
  DataType dtype;
  RETURN_IF_ERROR(InferJsonShapeAndType(e, &shape, &dtype, field));
  if (shape.size() != 4) {
    return InvalidArgument(field + ": the image must be numbers nested [N, H, W, C] (channels last, as KServe's ART "
                           "explainer takes it), got shape " + ShapeToString(shape));
  }
  if (dtype != DataType::kInt64 && dtype != DataType::kFp64) {
    return InvalidArgument(field + ": the image must hold numbers, not " + std::string(DataTypeName(dtype)));
  }
  if (shape[0] < 1 || shape[0] > static_cast<int64_t>(kMaxSquareAttackImages)) {
    return InvalidArgument(field + ": between 1 and " + std::to_string(kMaxSquareAttackImages) +
                           " images (N) per request, got " + std::to_string(shape[0]));
  }
  int64_t per_image = 1;
  for (size_t d = 1; d < 4; ++d) {
    if (shape[d] < 1 || shape[d] > (int64_t{1} << 24)) {
      return InvalidArgument(field + ": every dimension must be at least 1, got shape " + ShapeToString(shape));
    }
    per_image *= shape[d];
    if (per_image > (int64_t{1} << 24)) return InvalidArgument(field + ": at most 2^24 values per image");
  }
  Tensor t("image", DataType::kFp64, shape);
  int64_t count = 0;
  RETURN_IF_ERROR(FillTensorFromJson(e, shape[0] * per_image, false, &t, &count, field));
  if (count != shape[0] * per_image) return InvalidArgument(field + ": the nested arrays are not rectangular");
  out->n = static_cast<size_t>(shape[0]);
  out->height = static_cast<size_t>(shape[1]);
  out->width = static_cast<size_t>(shape[2]);
  out->channels = static_cast<size_t>(shape[3]);
  out->values.resize(static_cast<size_t>(count));
  std::memcpy(out->values.data(), t.raw(), out->values.size() * sizeof(double));
  return Status::Ok();
}

// A label as ART takes it: an index per image (N of them, or [N, 1]), or one-hot rows [N, nb_classes].
Status ParseLabels(element e, size_t n, int nb_classes, std::vector<int>* labels) {
  const std::string field = "instances[1]";
  const std::string want = ": the label must be a class index in [0, " + std::to_string(nb_classes) +
                           ") per image, or a one-hot row of " + std::to_string(nb_classes) + " per image";
  if (e.type() != element_type::ARRAY) {
    const int64_t k = ClassIndex(e, nb_classes);
    if (k < 0 || n != 1) return InvalidArgument(field + want);
    labels->push_back(static_cast<int>(k));
    return Status::Ok();
  }
  simdjson::dom::array rows = e.get_array().value_unsafe();  // type checked above
  if (rows.size() != n) {
    return InvalidArgument(field + ": one label per image: " + std::to_string(n) + " image(s), " +
                           std::to_string(rows.size()) + " label(s)");
  }
  size_t i = 0;
  for (element row : rows) {
    const std::string at = field + "[" + std::to_string(i++) + "]";
    int64_t k = -1;
    if (row.type() != element_type::ARRAY) {
      k = ClassIndex(row, nb_classes);
    } else if (simdjson::dom::array r = row.get_array().value_unsafe(); r.size() == 1) {
      k = ClassIndex(r.at(0).value_unsafe(), nb_classes);  // size checked
    } else if (r.size() == static_cast<size_t>(nb_classes)) {  // one-hot: its largest entry, as ART's argmax
      double best = -INFINITY;
      int64_t j = 0;
      for (element v : r) {
        if (!v.is_number()) return InvalidArgument(at + ": a one-hot row holds numbers only");
        if (double x = v.get_double().value_unsafe(); x > best) best = x, k = j;
        ++j;
      }
    }
    if (k < 0) return InvalidArgument(at + want);
    labels->push_back(static_cast<int>(k));
  }
  return Status::Ok();
}

std::string Answer(const ImageBatch& x, const SquareAttackResult& r) {
  std::string out;
  out.reserve(x.values.size() * 24 + 128);
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("explanations");
  w.BeginObject();
  w.Key("adversarial_example");
  w.BeginArray();
  const size_t f = x.features(), row = x.width * x.channels;
  for (size_t i = 0; i < x.n; ++i) {
    w.BeginArray();
    for (size_t h = 0; h < x.height; ++h) {
      w.BeginArray();
      for (size_t col = 0; col < x.width; ++col) {
        w.BeginArray();
        // float32 values written as the doubles they are (what Python's json writes for ART's float32 array).
        for (size_t c = 0; c < x.channels; ++c) w.Double(r.adversarial[i * f + h * row + col * x.channels + c]);
        w.EndArray();
      }
      w.EndArray();
    }
    w.EndArray();
  }
  w.EndArray();
  auto per_image = [&](const char* key, auto value) {
    w.Key(key);
    if (x.n > 1) w.BeginArray();
    for (size_t i = 0; i < x.n; ++i) value(i);
    if (x.n > 1) w.EndArray();
  };
  per_image("L2 error", [&](size_t i) {
    double sum = 0;
    for (size_t k = 0; k < f; ++k) {
      const double d = static_cast<double>(r.adversarial[i * f + k]) - x.values[i * f + k];
      sum += d * d;
    }
    w.Double(std::sqrt(sum));
  });
  per_image("adversarial_prediction", [&](size_t i) { w.Int(r.adversarial_prediction[i]); });
  per_image("prediction", [&](size_t i) { w.Int(r.prediction[i]); });
  w.EndObject();
  w.EndObject();
  return out;
}

// The predictor's "predictions" as score rows (see the header).
Status ReadPredictions(element answer, size_t n, int nb_classes, std::vector<float>* scores) {
  element preds;
  if (answer.type() != element_type::OBJECT || answer["predictions"].get(preds) ||
      preds.type() != element_type::ARRAY) {
    return Internal("the predictor's answer has no \"predictions\" list");
  }
  simdjson::dom::array rows = preds.get_array().value_unsafe();
  if (rows.size() != n) {
    return Internal("the predictor answered " + std::to_string(rows.size()) + " predictions for " +
                    std::to_string(n) + " instance(s)");
  }
  scores->assign(n * static_cast<size_t>(nb_classes), 0.0f);
  size_t i = 0;
  for (element row : rows) {
    float* out = scores->data() + i * nb_classes;
    const std::string at = "predictions[" + std::to_string(i++) + "]";
    if (row.type() != element_type::ARRAY) {
      const int64_t k = ClassIndex(row, nb_classes);
      if (k < 0) {
        return Internal("the predictor answered " + at + " = " + simdjson::to_string(row).substr(0, 64) +
                        ", not a class index in [0, " + std::to_string(nb_classes) + ") (--nb_classes)");
      }
      out[k] = 1.0f;  // KServe's one-hot of the predicted class
      continue;
    }
    simdjson::dom::array r = row.get_array().value_unsafe();
    if (r.size() != static_cast<size_t>(nb_classes)) {
      return Internal("the predictor answered " + at + " with " + std::to_string(r.size()) + " values, not one class "
                      "index or " + std::to_string(nb_classes) + " class scores (--nb_classes)");
    }
    for (element v : r) {
      if (!v.is_number()) return Internal("the predictor answered " + at + " with a value that is not a number");
      *out++ = static_cast<float>(v.get_double().value_unsafe());
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckAdversaryType(std::string_view type) {
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "squareattack") return Status::Ok();
  return InvalidArgument("--adversary_type: invalid adversary type '" + std::string(type) +
                         "': the ART explainer implements SquareAttack only (as KServe's)");
}

BlackBoxClassifier V1Classifier(V1PredictFn predict, int nb_classes) {
  auto parser = std::make_shared<simdjson::dom::parser>();  // one classifier per attack: never shared by threads
  (void)LimitJsonDepth(*parser);  // fails only without memory; simdjson's own depth limit (1024) then remains
  return [predict = std::move(predict), nb_classes, parser](std::span<const float> inputs,
                                                           size_t n) -> StatusOr<std::vector<float>> {
    std::string body;
    body.reserve(inputs.size() * 22 + 32);
    JsonWriter w(&body);
    w.BeginObject();
    w.Key("instances");
    w.BeginArray();
    const size_t per_row = n ? inputs.size() / n : 0;
    for (size_t i = 0; i < n; ++i) {
      w.BeginArray();
      for (size_t k = 0; k < per_row; ++k) w.Double(inputs[i * per_row + k]);  // float32 as a double, as KServe
      w.EndArray();
    }
    w.EndArray();
    w.EndObject();
    StatusOr<std::string> answer = predict(body, nullptr);
    if (!answer.ok()) {
      const Status& st = answer.status();
      // The predictor refusing what the explainer built is not the client's fault: never a 400 here.
      return Status(st.code() == StatusCode::kInvalidArgument ? StatusCode::kInternal : st.code(), st.message());
    }
    element doc;
    if (Status st = Parse(*parser, *answer, &doc, "the predictor's answer"); !st.ok()) {
      return Internal(st.message());
    }
    std::vector<float> scores;
    RETURN_IF_ERROR(ReadPredictions(doc, n, nb_classes, &scores));
    return scores;
  };
}

V1PassThrough NewArtExplainer(ArtExplainerOptions options, V1PredictFn predict) {
  return [options, predict](const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
    const int64_t t0 = NowNs();
    ImageBatch images;
    std::vector<int> labels;
    {
      simdjson::dom::parser parser;
      RETURN_IF_ERROR(LimitJsonDepth(parser));
      element doc, instances;
      RETURN_IF_ERROR(Parse(parser, call.body, &doc, "request body"));
      if (doc.type() != element_type::OBJECT || doc["instances"].get(instances) ||
          instances.type() != element_type::ARRAY) {
        return InvalidArgument("instances: the body must be {\"instances\": [image, label]}");
      }
      simdjson::dom::array pair = instances.get_array().value_unsafe();
      if (pair.size() != 2) {
        return InvalidArgument("instances: must be [image, label] (2 elements), got " + std::to_string(pair.size()));
      }
      RETURN_IF_ERROR(ParseImages(pair.at(0).value_unsafe(), &images));  // size checked: 2
      RETURN_IF_ERROR(ParseLabels(pair.at(1).value_unsafe(), images.n, options.attack.nb_classes, &labels));
    }
    SquareAttackOptions attack = options.attack;
    attack.deadline_ns = options.timeout_ms > 0 ? t0 + options.timeout_ms * 1'000'000 : 0;
    auto result = RunSquareAttack(images, labels, attack, V1Classifier(predict, attack.nb_classes));
    if (!result.ok()) {
      if (result.status().code() == StatusCode::kInvalidArgument) return result.status();
      return result.status().WithPrefix(kWho);
    }
    LOG_INFO("{}: {} image(s) {}x{}x{}: prediction {} -> {} after {} iteration(s), {} predictor call(s), {} ms", kWho,
             images.n, images.height, images.width, images.channels, result->prediction[0],
             result->adversarial_prediction[0], result->iterations, result->queries, (NowNs() - t0) / 1'000'000);
    return PassThroughAnswer{Answer(images, *result), {}};
  };
}

V1PassThrough NewPredictorForward(V1PredictFn predict) {
  return [predict](const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
    StatusOr<std::string> answer = predict(std::string(call.body), call.headers);
    if (!answer.ok()) return answer.status();
    return PassThroughAnswer{std::move(*answer), {}};
  };
}

}  // namespace inferd::explain
