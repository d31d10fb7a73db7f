// server/v1_passthrough.h: V1 bodies handed whole to a model through a front-end adapter (custom Python
// models; tests/server/python_model_test.cc runs the real ones), here with a fake model so that the
// adapter's own contract (depth limit, pending count, error naming, exceptions) and the REST routing by
// metadata().v1_passthrough are checked without Python.
#include "server/v1_passthrough.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "model/backend_registry.h"
#include "model/repository.h"
#include "server/metrics.h"
#include "server/rest_handler.h"

namespace inferd {
namespace {

// A tensor model with one FP32 input and output (doubles it); `passthrough` sets metadata().v1_passthrough.
class Doubler : public Backend {
 public:
  explicit Doubler(bool passthrough) {
    md_.platform = "test";
    md_.inputs = {{"x", DataType::kFp32, {-1}}};
    md_.outputs = {{"y", DataType::kFp32, {-1}}};
    md_.v1_passthrough = passthrough;
  }
  const ModelMetadata& metadata() const override { return md_; }
  Status Execute(std::span<const Tensor> in, std::span<const int>, std::vector<Tensor>* out) override {
    Tensor y("y", DataType::kFp32, in[0].shape());
    float* p = reinterpret_cast<float*>(y.Allocate(in[0].byte_size()));
    for (int64_t i = 0; i < in[0].element_count(); ++i) p[i] = 2 * in[0].data<float>()[i];
    out->push_back(std::move(y));
    return Status::Ok();
  }

 private:
  ModelMetadata md_;
};

PassThroughCall BodyOnly(std::string_view body) {
  PassThroughCall call;
  call.body = body;
  return call;
}

TEST(V1PassThroughs, HandsTheBodyOverAndCountsItAsPending) {
  Model model("m", "1", std::make_unique<Doubler>(true));
  V1PassThroughs v1;
  int64_t pending_inside = -1;
  v1.Add("m", [&](const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
    pending_inside = model.pending();
    return PassThroughAnswer{"{\"got\":" + std::string(call.body) + "}", {}};
  });
  InferTiming timing;
  timing.queue_ns = 123;
  auto out = v1.Predict(model, BodyOnly("[1,2]"), &timing);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->body, "{\"got\":[1,2]}");
  EXPECT_EQ(pending_inside, 1);
  EXPECT_EQ(model.pending(), 0);
  EXPECT_EQ(timing.queue_ns, 0);
  EXPECT_GE(timing.compute_ns, 0);
}

TEST(V1PassThroughs, FailuresAreNamedLikeInfers) {
  Model model("m", "1", std::make_unique<Doubler>(true));
  V1PassThroughs v1;
  Status next = Status::Ok();
  v1.Add("m", [&](const PassThroughCall&) -> StatusOr<PassThroughAnswer> {
    if (next.ok()) throw std::runtime_error("boom");
    return next;
  });
  next = InvalidArgument("instances: bad");  // the field is named already: no prefix
  EXPECT_EQ(v1.Predict(model, BodyOnly("{}"), nullptr).status().message(), "instances: bad");
  next = Unavailable("not ready");
  auto st = v1.Predict(model, BodyOnly("{}"), nullptr).status();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "model 'm': not ready");
  next = Status::Ok();
  st = v1.Predict(model, BodyOnly("{}"), nullptr).status();
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message(), "model 'm': model raised an exception: boom");
  EXPECT_EQ(model.pending(), 0);
}

TEST(V1PassThroughs, DeepBodiesNeverReachTheModel) {
  Model model("m", "1", std::make_unique<Doubler>(true));
  V1PassThroughs v1;
  bool called = false;
  v1.Add("m", [&](const PassThroughCall&) -> StatusOr<PassThroughAnswer> {
    called = true;
    return PassThroughAnswer{"{}", {}};
  });
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  auto out = v1.Predict(model, BodyOnly(deep), nullptr);
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("nested deeper than 64"), std::string::npos) << out.status().message();
  EXPECT_FALSE(called);
}

TEST(V1PassThroughs, AModelWithoutOneIsAnInternalError) {
  Model model("m", "1", std::make_unique<Doubler>(true));
  V1PassThroughs v1;
  EXPECT_TRUE(v1.empty());
  auto out = v1.Predict(model, BodyOnly("{}"), nullptr);
  EXPECT_EQ(out.status().code(), StatusCode::kInternal);
  EXPECT_NE(out.status().message().find("no V1 pass-through"), std::string::npos);
}

// The REST front end sends V1 bodies to the pass-through only for models whose metadata asks for it; the
// name alone (a tensor model of the same name) is not enough, and V2 always goes through the Backend.
TEST(V1PassThroughs, RestRoutesByMetadata) {
  BackendRegistry registry;
  ModelRepository repo(&registry, RepositoryOptions{});
  ASSERT_TRUE(repo.AddLoaded("custom", std::make_unique<Doubler>(true)).ok());
  ASSERT_TRUE(repo.AddLoaded("tensor", std::make_unique<Doubler>(false)).ok());
  V1PassThroughs v1;
  for (const char* name : {"custom", "tensor"}) {
    v1.Add(name, [](const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
      return PassThroughAnswer{"{\"whole\":" + std::string(call.body) + "}", {{"x-seen", std::string(call.request_id)}}};
    });
  }
  Metrics metrics;
  ServerState state;
  RestHandler handler(&repo, &metrics, &state, ServerOptions{}, nullptr, std::move(v1));
  auto call = [&](const std::string& target, const std::string& body) {
    RestRequest req;
    req.method = "POST";
    req.target = target;
    req.body = body;
    RestResponse out;
    handler.Handle(std::move(req), [&](RestResponse&& r) { out = std::move(r); });
    return out;
  };
  RestResponse r = call("/v1/models/custom:predict", "{\"instances\":[1]}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"whole\":{\"instances\":[1]}}");
  r = call("/v1/models/tensor:predict", "{\"instances\":[1]}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"predictions\":[2.0]}");
  r = call("/v1/models/custom:explain", "{}");  // no explainer registered: KServe's 501
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.body.find("has no explainer"), std::string::npos) << r.body;
  r = call("/v2/models/custom/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[3]}]}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"data\":[6.0]"), std::string::npos) << r.body;
}

// :explain goes to the model's registered explainer, whatever kind of model it is, with the request id and
// the answer's headers passed through.
TEST(V1PassThroughs, ExplainGoesToTheRegisteredExplainer) {
  BackendRegistry registry;
  ModelRepository repo(&registry, RepositoryOptions{});
  ASSERT_TRUE(repo.AddLoaded("tensor", std::make_unique<Doubler>(false)).ok());
  V1PassThroughs v1;
  EXPECT_FALSE(v1.HasExplainer("tensor"));
  v1.AddExplainer("tensor", [](const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
    if (call.body == "bad") return InvalidArgument("instances: bad");
    return PassThroughAnswer{"{\"explained\":" + std::string(call.body) + "}", {{"x-id", std::string(call.request_id)}}};
  });
  EXPECT_TRUE(v1.HasExplainer("tensor"));
  Metrics metrics;
  ServerState state;
  RestHandler handler(&repo, &metrics, &state, ServerOptions{}, nullptr, std::move(v1));
  auto call = [&](const std::string& body) {
    RestRequest req;
    req.method = "POST";
    req.target = "/v1/models/tensor:explain";
    req.body = body;
    req.request_id = "rid-1";
    RestResponse out;
    handler.Handle(std::move(req), [&](RestResponse&& r) { out = std::move(r); });
    return out;
  };
  RestResponse r = call("[1]");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"explained\":[1]}");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "rid-1");
  r = call("bad");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("instances: bad"), std::string::npos) << r.body;
}

// The default explainer (inferd's TreeSHAP/KernelSHAP in the model server) gets the Model at call time, so any
// model has it, loaded before or after; a registered explainer (a Python model's explain()) wins.
TEST(V1PassThroughs, DefaultExplainerServesEveryModelAndARegisteredOneWins) {
  Model plain("plain", "1", std::make_unique<Doubler>(false));
  Model python("python", "1", std::make_unique<Doubler>(true));
  V1PassThroughs v1;
  v1.AddExplainer("python", [](const PassThroughCall&) -> StatusOr<PassThroughAnswer> {
    return PassThroughAnswer{"\"own\"", {}};
  });
  EXPECT_EQ(v1.Explain(plain, BodyOnly("{}"), nullptr).status().code(), StatusCode::kUnimplemented);
  v1.SetDefaultExplainer([](Model& m, const PassThroughCall& call) -> StatusOr<PassThroughAnswer> {
    if (call.body == "bad") return Unimplemented("cannot explain");
    return PassThroughAnswer{"\"default for " + m.name() + "\"", {}};
  });
  auto out = v1.Explain(plain, BodyOnly("{}"), nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->body, "\"default for plain\"");
  out = v1.Explain(python, BodyOnly("{}"), nullptr);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "\"own\"");
  out = v1.Explain(plain, BodyOnly("bad"), nullptr);
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(out.status().message().find("model 'plain'"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace inferd
