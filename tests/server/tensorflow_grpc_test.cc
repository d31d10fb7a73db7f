// End-to-end: a real `inferd model-server` serving TF Serving's half_plus_two (tests/data/tf), called over TF
// Serving's gRPC API (tensorflow.serving.PredictionService / ModelService: KServe's `grpc-v1` for the tensorflow
// runtime) with stubs generated from proto/tensorflow_serving/apis, as TF Serving's C++ clients call it; V2 gRPC
// on the same port; hostile requests answered with TF Serving's status codes, never a crash.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "inference.grpc.pb.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "tf/example.pb.h"
#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;
namespace tfs = ::tensorflow::serving;
using inferd::tfproto::TensorProto;

constexpr int kDtFloat = 1, kDtDouble = 2;

std::string TfData(const std::string& rel) { return std::string(INFERD_SOURCE_DIR) + "/tests/data/tf/" + rel; }

TensorProto FloatTensor(std::initializer_list<int64_t> dims, std::initializer_list<float> values) {
  TensorProto t;
  t.set_dtype(kDtFloat);
  for (int64_t d : dims) t.mutable_tensor_shape()->add_dim()->set_size(d);
  for (float v : values) t.add_float_val(v);
  return t;
}

// A unary call of `method` with raw `bytes` (a completion queue: no locks of the test's own).
grpc::Status GenericUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& bytes) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  grpc::Slice slice(bytes);
  grpc::ByteBuffer in(&slice, 1), out;
  auto call = generic.PrepareUnaryCall(&ctx, method, in, &cq);
  call->StartCall();
  grpc::Status st;
  call->Finish(&out, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok) return grpc::Status(grpc::StatusCode::UNKNOWN, "the completion queue failed");
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return st;
}

class TensorflowGrpc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerProcess::StartReady(
                  {"--model_name", "half_plus_two", "--model_dir", TfData("saved_model_half_plus_two_cpu")}, &error_)
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << error_;
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    predict_ = tfs::PredictionService::NewStub(channel_);
    models_ = tfs::ModelService::NewStub(channel_);
  }

  grpc::Status Predict(const tfs::PredictRequest& req, tfs::PredictResponse* resp) {
    grpc::ClientContext ctx;
    return predict_->Predict(&ctx, req, resp);
  }
  static tfs::PredictRequest HalfPlusTwo(TensorProto x) {
    tfs::PredictRequest req;
    req.mutable_model_spec()->set_name("half_plus_two");
    (*req.mutable_inputs())["x"] = std::move(x);
    return req;
  }
  // The call's status code and message, for one bad request.
  void ExpectError(const tfs::PredictRequest& req, grpc::StatusCode code, const std::string& needle) {
    tfs::PredictResponse resp;
    grpc::Status st = Predict(req, &resp);
    EXPECT_EQ(st.error_code(), code) << st.error_message();
    EXPECT_NE(st.error_message().find(needle), std::string::npos) << st.error_message();
  }

  static inline ServerProcess* server_ = nullptr;
  static inline std::string error_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<tfs::PredictionService::Stub> predict_;
  std::unique_ptr<tfs::ModelService::Stub> models_;
};

TEST_F(TensorflowGrpc, PredictTypedValuesAndTensorContent) {
  tfs::PredictResponse resp;
  grpc::Status st = Predict(HalfPlusTwo(FloatTensor({3}, {1.0f, 2.0f, 5.0f})), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.outputs().count("y"), 1u);
  const TensorProto& y = resp.outputs().at("y");
  EXPECT_EQ(y.dtype(), kDtFloat);
  ASSERT_EQ(y.tensor_shape().dim_size(), 1);
  EXPECT_EQ(y.tensor_shape().dim(0).size(), 3);
  ASSERT_EQ(y.float_val_size(), 3);  // TF Serving answers in the typed field (clients read float_val)
  EXPECT_FLOAT_EQ(y.float_val(0), 2.5f);
  EXPECT_FLOAT_EQ(y.float_val(1), 3.0f);
  EXPECT_FLOAT_EQ(y.float_val(2), 4.5f);
  EXPECT_EQ(resp.model_spec().name(), "half_plus_two");
  EXPECT_EQ(resp.model_spec().version().value(), 123);  // the served version directory, 00000123
  EXPECT_EQ(resp.model_spec().signature_name(), "serving_default");

  // The same input as tensor_content (what tf.make_tensor_proto writes), shape [2, 1], version and signature named.
  TensorProto x;
  x.set_dtype(kDtFloat);
  x.mutable_tensor_shape()->add_dim()->set_size(2);
  x.mutable_tensor_shape()->add_dim()->set_size(1);
  const float xs[2] = {4.0f, -2.0f};
  x.set_tensor_content(std::string(reinterpret_cast<const char*>(xs), sizeof xs));
  tfs::PredictRequest req = HalfPlusTwo(x);
  req.mutable_model_spec()->mutable_version()->set_value(123);
  req.mutable_model_spec()->set_signature_name("serving_default");
  req.add_output_filter("y");
  st = Predict(req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const TensorProto& y2 = resp.outputs().at("y");
  ASSERT_EQ(y2.tensor_shape().dim_size(), 2);
  ASSERT_EQ(y2.float_val_size(), 2);
  EXPECT_FLOAT_EQ(y2.float_val(0), 4.0f);
  EXPECT_FLOAT_EQ(y2.float_val(1), 1.0f);

  // TensorFlow's repetition rule: one value for three elements repeats it.
  st = Predict(HalfPlusTwo(FloatTensor({3}, {6.0f})), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.outputs().at("y").float_val_size(), 3);
  EXPECT_FLOAT_EQ(resp.outputs().at("y").float_val(2), 5.0f);
}

TEST_F(TensorflowGrpc, MetadataAndStatusAsTfServingAnswersThem) {
  tfs::GetModelMetadataRequest req;
  req.mutable_model_spec()->set_name("half_plus_two");
  req.add_metadata_field("signature_def");
  tfs::GetModelMetadataResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status st = predict_->GetModelMetadata(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(resp.model_spec().name(), "half_plus_two");
  EXPECT_EQ(resp.model_spec().version().value(), 123);
  ASSERT_EQ(resp.metadata().count("signature_def"), 1u);
  const auto& any = resp.metadata().at("signature_def");
  EXPECT_EQ(any.type_url(), "type.googleapis.com/tensorflow.serving.SignatureDefMap");
  tfs::SignatureDefMap sigs;
  ASSERT_TRUE(any.UnpackTo(&sigs));
  ASSERT_EQ(sigs.signature_def().count("serving_default"), 1u);
  const auto& sig = sigs.signature_def().at("serving_default");
  ASSERT_EQ(sig.inputs().count("x"), 1u);
  EXPECT_EQ(sig.inputs().at("x").dtype(), kDtFloat);
  EXPECT_EQ(sig.inputs().at("x").name(), "x:0");
  EXPECT_EQ(sig.outputs().at("y").dtype(), kDtFloat);
  EXPECT_EQ(sig.method_name(), "tensorflow/serving/predict");

  req.clear_metadata_field();  // TF Serving's rule: at least one field, and only signature_def
  {
    grpc::ClientContext ctx;
    grpc::Status st = predict_->GetModelMetadata(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  }
  req.add_metadata_field("graph");
  {
    grpc::ClientContext ctx;
    grpc::Status st = predict_->GetModelMetadata(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("graph"), std::string::npos) << st.error_message();
  }

  tfs::GetModelStatusRequest sreq;
  sreq.mutable_model_spec()->set_name("half_plus_two");
  tfs::GetModelStatusResponse sresp;
  {
    grpc::ClientContext ctx;
    grpc::Status st = models_->GetModelStatus(&ctx, sreq, &sresp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(sresp.model_version_status_size(), 1);
  EXPECT_EQ(sresp.model_version_status(0).version(), 123);
  EXPECT_EQ(sresp.model_version_status(0).state(), tfs::ModelVersionStatus::AVAILABLE);
  EXPECT_EQ(sresp.model_version_status(0).status().error_code(), 0);
  for (auto [name, version, text] : {std::tuple{"nope", -1, "Could not find any versions of model nope"},
                                     std::tuple{"half_plus_two", 7, "Could not find version 7 of model half_plus_two"}}) {
    sreq.mutable_model_spec()->set_name(name);
    if (version >= 0) sreq.mutable_model_spec()->mutable_version()->set_value(version);
    grpc::ClientContext ctx;
    grpc::Status st = models_->GetModelStatus(&ctx, sreq, &sresp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
    EXPECT_EQ(st.error_message(), text);
  }
}

TEST_F(TensorflowGrpc, BadRequestsGetTfServingsStatusCodes) {
  using C = grpc::StatusCode;
  tfs::PredictRequest req = HalfPlusTwo(FloatTensor({1}, {1.0f}));
  req.mutable_model_spec()->set_name("nope");
  ExpectError(req, C::NOT_FOUND, "Servable not found for request: Latest(nope)");
  req = HalfPlusTwo(FloatTensor({1}, {1.0f}));
  req.mutable_model_spec()->mutable_version()->set_value(5);
  ExpectError(req, C::NOT_FOUND, "Specific(half_plus_two, 5)");
  req.mutable_model_spec()->set_version_label("stable");
  ExpectError(req, C::INVALID_ARGUMENT, "Unrecognized servable version label: stable");
  req.clear_model_spec();
  ExpectError(req, C::INVALID_ARGUMENT, "Missing ModelSpec");

  req = HalfPlusTwo(FloatTensor({1}, {1.0f}));
  req.mutable_model_spec()->set_signature_name("nope_sig");
  ExpectError(req, C::INVALID_ARGUMENT, "Serving signature key \"nope_sig\" not found.");
  req = HalfPlusTwo(FloatTensor({1}, {1.0f}));
  req.add_output_filter("z");
  ExpectError(req, C::INVALID_ARGUMENT, "output tensor alias not found in signature: z");
  req = HalfPlusTwo(FloatTensor({1}, {1.0f}));
  (*req.mutable_inputs())["xx"] = FloatTensor({1}, {1.0f});
  ExpectError(req, C::INVALID_ARGUMENT, "input tensor alias not found in signature: xx");
  req.mutable_inputs()->erase("x");
  req.mutable_inputs()->erase("xx");
  ExpectError(req, C::INVALID_ARGUMENT, "Missing but required: {x}");

  // Wrong dtype, named.
  TensorProto d;
  d.set_dtype(kDtDouble);
  d.mutable_tensor_shape()->add_dim()->set_size(1);
  d.add_double_val(1.0);
  ExpectError(HalfPlusTwo(d), C::INVALID_ARGUMENT, "input 'x': the signature expects DT_FLOAT, got DT_DOUBLE");
  // Hostile TensorProtos: content that does not match the shape, sizes past the element limit, repetition past the
  // request's budget, an unknown dtype, a negative dimension.
  TensorProto c = FloatTensor({4}, {});
  c.set_tensor_content(std::string(10, '\0'));
  ExpectError(HalfPlusTwo(c), C::INVALID_ARGUMENT, "input 'x'");
  ExpectError(HalfPlusTwo(FloatTensor({int64_t{1} << 20, int64_t{1} << 20}, {1.0f})), C::INVALID_ARGUMENT,
              "more than 2^31 elements");
  ExpectError(HalfPlusTwo(FloatTensor({int64_t{1} << 30}, {1.0f})), C::INVALID_ARGUMENT, "expanded bytes");
  TensorProto u = FloatTensor({1}, {1.0f});
  u.set_dtype(999);
  ExpectError(HalfPlusTwo(u), C::INVALID_ARGUMENT, "unknown DataType 999");
  ExpectError(HalfPlusTwo(FloatTensor({-3}, {1.0f})), C::INVALID_ARGUMENT, "bad dimension -3");
  TensorProto many = FloatTensor({2}, {1.0f, 2.0f, 3.0f});
  ExpectError(HalfPlusTwo(many), C::INVALID_ARGUMENT, "3 values for 2 elements");

  // Bytes that are no protobuf message at all.
  grpc::Status st = GenericUnary(channel_, "/tensorflow.serving.PredictionService/Predict",
                                 std::string("\x0a\xff\xff\xff\xff\x0f", 6));
  EXPECT_EQ(st.error_code(), C::INVALID_ARGUMENT) << st.error_message();

  // Classify without an input: TF Serving's "Input is empty".
  tfs::ClassificationRequest creq;
  creq.mutable_model_spec()->set_name("half_plus_two");
  creq.mutable_model_spec()->set_signature_name("classify_x_to_y");
  tfs::ClassificationResponse cresp;
  grpc::ClientContext cctx;
  st = predict_->Classify(&cctx, creq, &cresp);
  EXPECT_EQ(st.error_code(), C::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("Input is empty"), std::string::npos) << st.error_message();
  // Serialized Examples that are not Examples.
  creq.mutable_input()->mutable_example_list()->add_examples(std::string("\x0a\xff\xff", 3));
  grpc::ClientContext cctx2;
  st = predict_->Classify(&cctx2, creq, &cresp);
  EXPECT_EQ(st.error_code(), C::INVALID_ARGUMENT) << st.error_message();

  // Still serving after all of it.
  tfs::PredictResponse resp;
  grpc::Status ok = Predict(HalfPlusTwo(FloatTensor({1}, {2.0f})), &resp);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_FLOAT_EQ(resp.outputs().at("y").float_val(0), 3.0f);
  EXPECT_TRUE(server_->Alive());
}

// A serialized tf.Example with one float feature "x" (absent when `x` is empty), as TF Serving's clients build them.
std::string ExampleX(std::initializer_list<float> x) {
  inferd::tfproto::Example e;
  if (x.size() > 0) {
    auto& f = (*e.mutable_features()->mutable_feature())["x"];
    for (float v : x) f.mutable_float_list()->add_value(v);
  }
  return e.SerializeAsString();
}

tfs::Input ExampleList(std::initializer_list<float> xs) {
  tfs::Input in;
  for (float x : xs) in.mutable_example_list()->add_examples(ExampleX({x}));
  return in;
}

// The same examples as tensorflow_rest_test's ClassifyAndRegressOnTfExamples, with the same answers (y = x/2 + 2,
// y2 = x/2 + 3 on half_plus_two's ParseExample signatures).
TEST_F(TensorflowGrpc, ClassifyRegressAndMultiInferenceOnTfExamples) {
  tfs::RegressionRequest rreq;
  rreq.mutable_model_spec()->set_name("half_plus_two");
  rreq.mutable_model_spec()->set_signature_name("regress_x_to_y");
  *rreq.mutable_input() = ExampleList({1.0f, 3.0f, -4.5f});
  tfs::RegressionResponse rresp;
  grpc::ClientContext rctx;
  grpc::Status st = predict_->Regress(&rctx, rreq, &rresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(rresp.result().regressions_size(), 3);
  EXPECT_FLOAT_EQ(rresp.result().regressions(0).value(), 2.5f);
  EXPECT_FLOAT_EQ(rresp.result().regressions(1).value(), 3.5f);
  EXPECT_FLOAT_EQ(rresp.result().regressions(2).value(), -0.25f);
  EXPECT_EQ(rresp.model_spec().name(), "half_plus_two");
  EXPECT_EQ(rresp.model_spec().version().value(), 123);
  EXPECT_EQ(rresp.model_spec().signature_name(), "regress_x_to_y");

  // Context: its features go to every example, an example's own value wins.
  tfs::ClassificationRequest creq;
  creq.mutable_model_spec()->set_name("half_plus_two");
  creq.mutable_model_spec()->set_signature_name("classify_x_to_y");
  auto* with_context = creq.mutable_input()->mutable_example_list_with_context();
  with_context->set_context(ExampleX({10.0f}));
  with_context->add_examples(ExampleX({}));
  with_context->add_examples(ExampleX({2.0f}));
  tfs::ClassificationResponse cresp;
  grpc::ClientContext cctx;
  st = predict_->Classify(&cctx, creq, &cresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(cresp.result().classifications_size(), 2);
  ASSERT_EQ(cresp.result().classifications(0).classes_size(), 1);
  EXPECT_EQ(cresp.result().classifications(0).classes(0).label(), "");  // the signature has no classes output
  EXPECT_FLOAT_EQ(cresp.result().classifications(0).classes(0).score(), 7.0f);
  ASSERT_EQ(cresp.result().classifications(1).classes_size(), 1);
  EXPECT_FLOAT_EQ(cresp.result().classifications(1).classes(0).score(), 3.0f);
  EXPECT_EQ(cresp.model_spec().signature_name(), "classify_x_to_y");

  // MultiInference: one classify and two regress tasks over the same examples, answered in the tasks' order.
  tfs::MultiInferenceRequest mreq;
  for (const auto& [sig, method] : {std::pair{"classify_x_to_y", "tensorflow/serving/classify"},
                                    std::pair{"regress_x_to_y", "tensorflow/serving/regress"},
                                    std::pair{"regress_x_to_y2", "tensorflow/serving/regress"}}) {
    tfs::InferenceTask* task = mreq.add_tasks();
    task->mutable_model_spec()->set_name("half_plus_two");
    task->mutable_model_spec()->set_signature_name(sig);
    task->set_method_name(method);
  }
  *mreq.mutable_input() = ExampleList({1.0f, 4.0f});
  tfs::MultiInferenceResponse mresp;
  grpc::ClientContext mctx;
  st = predict_->MultiInference(&mctx, mreq, &mresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(mresp.results_size(), 3);
  EXPECT_EQ(mresp.results(0).model_spec().signature_name(), "classify_x_to_y");
  ASSERT_TRUE(mresp.results(0).has_classification_result());
  ASSERT_EQ(mresp.results(0).classification_result().classifications_size(), 2);
  EXPECT_FLOAT_EQ(mresp.results(0).classification_result().classifications(1).classes(0).score(), 4.0f);
  ASSERT_TRUE(mresp.results(1).has_regression_result());
  ASSERT_EQ(mresp.results(1).regression_result().regressions_size(), 2);
  EXPECT_FLOAT_EQ(mresp.results(1).regression_result().regressions(0).value(), 2.5f);
  EXPECT_FLOAT_EQ(mresp.results(2).regression_result().regressions(0).value(), 3.5f);
  EXPECT_FLOAT_EQ(mresp.results(2).regression_result().regressions(1).value(), 5.0f);
  EXPECT_EQ(mresp.results(2).model_spec().name(), "half_plus_two");
}

TEST_F(TensorflowGrpc, ClassifyRegressAndMultiInferenceErrors) {
  using C = grpc::StatusCode;
  auto regress = [&](const std::string& sig, const tfs::Input& in, C code, const std::string& needle) {
    tfs::RegressionRequest req;
    req.mutable_model_spec()->set_name("half_plus_two");
    req.mutable_model_spec()->set_signature_name(sig);
    *req.mutable_input() = in;
    tfs::RegressionResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = predict_->Regress(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), code) << sig << ": " << st.error_message();
    EXPECT_NE(st.error_message().find(needle), std::string::npos) << st.error_message();
  };
  // A classify signature asked to regress, the default (predict) signature, a signature whose input is not
  // serialized Examples, an unknown signature, no examples, an example missing the feature the graph needs.
  regress("classify_x_to_y", ExampleList({1.0f}), C::INVALID_ARGUMENT,
          "Expected regression signature method_name to be tensorflow/serving/regress. Was: "
          "tensorflow/serving/classify");
  regress("", ExampleList({1.0f}), C::INVALID_ARGUMENT, "Was: tensorflow/serving/predict");
  regress("regress_x2_to_y3", ExampleList({1.0f}), C::INVALID_ARGUMENT, "one DT_STRING input named 'inputs'");
  regress("nope", ExampleList({1.0f}), C::INVALID_ARGUMENT, "nope");
  regress("regress_x_to_y", tfs::Input(), C::INVALID_ARGUMENT, "Input is empty");
  tfs::Input no_x;
  no_x.mutable_example_list()->add_examples(ExampleX({}));
  regress("regress_x_to_y", no_x, C::INVALID_ARGUMENT, "no feature 'x'");

  // A context is copied into every example: 1 MiB of context x 100 examples passes the 64 MiB bound on one
  // request's examples (a 1 MiB message on the wire).
  tfs::Input big;
  {
    inferd::tfproto::Example ctx;
    (*ctx.mutable_features()->mutable_feature())["pad"].mutable_bytes_list()->add_value(std::string(1 << 20, 'a'));
    big.mutable_example_list_with_context()->set_context(ctx.SerializeAsString());
    for (int i = 0; i < 100; ++i) big.mutable_example_list_with_context()->add_examples(ExampleX({1.0f}));
  }
  regress("regress_x_to_y", big, C::INVALID_ARGUMENT, "MiB in one request");

  // An unknown model is NOT_FOUND, as for Predict.
  tfs::ClassificationRequest creq;
  creq.mutable_model_spec()->set_name("nosuch");
  *creq.mutable_input() = ExampleList({1.0f});
  tfs::ClassificationResponse cresp;
  grpc::ClientContext cctx;
  EXPECT_EQ(predict_->Classify(&cctx, creq, &cresp).error_code(), C::NOT_FOUND);

  // MultiInference: tasks on another model, a duplicated signature, an unknown method, a method that does not
  // match the signature's.
  auto multi = [&](std::vector<std::tuple<std::string, std::string, std::string>> tasks, const std::string& needle) {
    tfs::MultiInferenceRequest req;
    for (const auto& [model, sig, method] : tasks) {
      tfs::InferenceTask* t = req.add_tasks();
      t->mutable_model_spec()->set_name(model);
      t->mutable_model_spec()->set_signature_name(sig);
      t->set_method_name(method);
    }
    *req.mutable_input() = ExampleList({1.0f});
    tfs::MultiInferenceResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = predict_->MultiInference(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), C::INVALID_ARGUMENT) << needle << ": " << st.error_message();
    EXPECT_NE(st.error_message().find(needle), std::string::npos) << st.error_message();
  };
  const std::string r = "tensorflow/serving/regress", c = "tensorflow/serving/classify";
  multi({{"half_plus_two", "regress_x_to_y", r}, {"other", "classify_x_to_y", c}}, "same model name");
  multi({{"half_plus_two", "regress_x_to_y", r}, {"half_plus_two", "regress_x_to_y", r}},
        "Duplicate evaluation of signature: regress_x_to_y");
  multi({{"half_plus_two", "serving_default", "tensorflow/serving/predict"}},
        "Unsupported signature method_name: tensorflow/serving/predict");
  multi({{"half_plus_two", "regress_x_to_y", c}}, "Expected classification signature method_name");
  EXPECT_TRUE(server_->Alive());
}

TEST_F(TensorflowGrpc, V2GrpcOnTheSamePort) {
  auto v2 = inference::GRPCInferenceService::NewStub(channel_);
  inference::ModelInferRequest req;
  req.set_model_name("half_plus_two");
  auto* in = req.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(2);
  in->add_shape(1);
  in->mutable_contents()->add_fp32_contents(1.0f);
  in->mutable_contents()->add_fp32_contents(3.0f);
  inference::ModelInferResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = v2->ModelInfer(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.outputs_size(), 1);
  const auto& ys = resp.outputs(0).contents().fp32_contents();  // typed in, typed out
  ASSERT_EQ(ys.size(), 2);
  EXPECT_FLOAT_EQ(ys[0], 2.5f);
  EXPECT_FLOAT_EQ(ys[1], 3.5f);
  // An unknown service is UNIMPLEMENTED naming the method.
  st = GenericUnary(channel_, "/nope.Service/Call", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(st.error_message().find("/nope.Service/Call"), std::string::npos) << st.error_message();
}

// A model whose backend does not speak TF Serving's API (an XGBoost model beside the SavedModel) is UNIMPLEMENTED.
TEST(TensorflowGrpcRepository, OtherFormatsAreUnimplemented) {
  fs::path repo = fs::temp_directory_path() / ("inferd_tfgrpc_" + std::to_string(::getpid()));
  fs::remove_all(repo);
  fs::create_directories(repo);
  fs::copy(TfData("saved_model_half_plus_two_cpu"), repo / "half_plus_two", fs::copy_options::recursive);
  fs::copy(ModelsDir() + "/xgb_iris_softmax", repo / "xgb", fs::copy_options::recursive);
  std::string error;
  auto server = ServerProcess::StartReady({"--model_repository", repo.string()}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = tfs::PredictionService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server->grpc_port()), grpc::InsecureChannelCredentials()));
  tfs::PredictRequest req;
  req.mutable_model_spec()->set_name("xgb");
  tfs::PredictResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = stub->Predict(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();
  EXPECT_NE(st.error_message().find("model 'xgb'"), std::string::npos) << st.error_message();
  req.mutable_model_spec()->set_name("half_plus_two");
  (*req.mutable_inputs())["x"] = FloatTensor({1}, {0.0f});
  grpc::ClientContext ctx2;
  st = stub->Predict(&ctx2, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FLOAT_EQ(resp.outputs().at("y").float_val(0), 2.0f);
  server.reset();
  fs::remove_all(repo);
}

}  // namespace
}  // namespace inferd::testing
