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

#include "inference.grpc.pb.h"
#include "tensorflow_serving/apis/model_service.grpc.pb.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"
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

  // Classify needs tf.Example parsing (ParseExample): refused saying so.
  tfs::ClassificationRequest creq;
  creq.mutable_model_spec()->set_name("half_plus_two");
  tfs::ClassificationResponse cresp;
  grpc::ClientContext cctx;
  st = predict_->Classify(&cctx, creq, &cresp);
  EXPECT_EQ(st.error_code(), C::UNIMPLEMENTED);
  EXPECT_NE(st.error_message().find("ParseExample"), std::string::npos) << st.error_message();

  // Still serving after all of it.
  tfs::PredictResponse resp;
  grpc::Status ok = Predict(HalfPlusTwo(FloatTensor({1}, {2.0f})), &resp);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_FLOAT_EQ(resp.outputs().at("y").float_val(0), 3.0f);
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
