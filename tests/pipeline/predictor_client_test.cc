// pipeline/predictor_client: the pure routing decision and error parsing, then every call against a real
// `inferd model-server` (XGBoost iris, scripts/gen_test_models.py) over REST v1, REST v2 and gRPC v2,
// directly and through a "gateway" address with the predictor's name as Host / :authority.
#include "pipeline/predictor_client.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "inference.pb.h"
#include "util/test_util.h"

namespace inferd::pipeline {
namespace {

using inferd::testing::ModelsDir;
using inferd::testing::ServerProcess;

TEST(PredictorRoute, GatewayOnlyForNames) {
  auto r = RouteFor("iris-predictor.default", "127.0.0.1:9000", false, false);
  EXPECT_EQ(r.connect, "127.0.0.1:9000");
  EXPECT_EQ(r.authority, "iris-predictor.default");
  r = RouteFor("iris-predictor.default:8080", "127.0.0.1:9000", true, false);
  EXPECT_EQ(r.connect, "127.0.0.1:9000");
  EXPECT_EQ(r.authority, "iris-predictor.default");  // without the port
  for (const char* direct : {"127.0.0.1:8085", "localhost:8085", "[::1]:8085", "10.0.0.7"}) {
    r = RouteFor(direct, "127.0.0.1:9000", false, false);
    EXPECT_EQ(r.connect, direct) << direct;
    EXPECT_EQ(r.authority, "") << direct;
  }
  r = RouteFor("iris-predictor.default", "", false, false);
  EXPECT_EQ(r.connect, "iris-predictor.default");
}

TEST(PredictorRoute, GrpcDefaultPortAsKServe) {
  EXPECT_EQ(RouteFor("10.0.0.7", "", true, false).connect, "10.0.0.7:80");
  EXPECT_EQ(RouteFor("10.0.0.7", "", true, true).connect, "10.0.0.7:443");
  EXPECT_EQ(RouteFor("10.0.0.7:81", "", true, true).connect, "10.0.0.7:81");
  EXPECT_EQ(RouteFor("10.0.0.7", "", false, false).connect, "10.0.0.7");  // REST: the scheme's port
}

TEST(PredictorProtocolNames, ParseAndName) {
  EXPECT_EQ(*ParsePredictorProtocol("v1"), PredictorProtocol::kRestV1);
  EXPECT_EQ(*ParsePredictorProtocol("v2"), PredictorProtocol::kRestV2);
  EXPECT_EQ(*ParsePredictorProtocol("grpc-v2"), PredictorProtocol::kGrpcV2);
  auto bad = ParsePredictorProtocol("grpc");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'grpc'"), std::string::npos);
  EXPECT_EQ(PredictorProtocolName(PredictorProtocol::kGrpcV2), "grpc-v2");
}

TEST(PredictorErrors, HttpStatusOf) {
  EXPECT_EQ(PredictorClient::HttpStatusOf(Internal("HTTPStatusError : x, '404 Not Found' for url 'http://h/v1'")), 404);
  EXPECT_EQ(PredictorClient::HttpStatusOf(Internal("ConnectError : refused")), 0);
  EXPECT_EQ(PredictorClient::HttpStatusOf(Status::Ok()), 0);
}

constexpr const char* kIrisV1 = R"({"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]})";
constexpr const char* kIrisV2 =
    R"({"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",)"
    R"( "data": [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6]}]})";

class PredictorClientServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerProcess::StartReady({"--model_name", "iris", "--model_dir", ModelsDir() + "/xgb_iris_softmax"},
                                        &error_);
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { ASSERT_NE(server_, nullptr) << error_; }

  static PredictorConfig Config(PredictorProtocol p, int port) {
    PredictorConfig c;
    c.host = "127.0.0.1:" + std::to_string(port);
    c.protocol = p;
    c.timeout_s = 30;
    return c;
  }

  static std::unique_ptr<ServerProcess> server_;
  static std::string error_;
};
std::unique_ptr<ServerProcess> PredictorClientServer::server_;
std::string PredictorClientServer::error_;

TEST_F(PredictorClientServer, RestV1PredictAndKeepAlive) {
  PredictorClient client(Config(PredictorProtocol::kRestV1, server_->http_port()));
  HeaderList in = {{"x-request-id", "rid-7"}, {"x-other", "dropped"}};
  for (int i = 0; i < 3; ++i) {  // repeated calls on one client (pooled connections)
    auto r = client.PredictV1("iris", kIrisV1, &in);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("\"predictions\""), std::string::npos) << r->body;
  }
  EXPECT_TRUE(client.ServerReady().ok());
  EXPECT_TRUE(client.ModelReady("iris").ok());
  EXPECT_EQ(client.ModelReady("nope").code(), StatusCode::kUnavailable);
}

TEST_F(PredictorClientServer, NonSuccessIsKServesHttpStatusError) {
  PredictorClient client(Config(PredictorProtocol::kRestV1, server_->http_port()));
  auto r = client.PredictV1("nope", kIrisV1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind("HTTPStatusError : ", 0), 0u) << m;
  EXPECT_NE(m.find("Model with name nope does not exist."), std::string::npos) << m;  // the predictor's error
  EXPECT_NE(m.find("/v1/models/nope:predict"), std::string::npos) << m;
  EXPECT_EQ(PredictorClient::HttpStatusOf(r.status()), 404);
}

TEST_F(PredictorClientServer, RestV2Infer) {
  PredictorClient client(Config(PredictorProtocol::kRestV2, server_->http_port()));
  std::string body = kIrisV2;
  auto r = client.InferV2("iris", body, body.size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->body.find("\"outputs\""), std::string::npos) << r->body;
  EXPECT_TRUE(client.ServerReady().ok());
}

TEST_F(PredictorClientServer, GrpcV2Infer) {
  PredictorClient client(Config(PredictorProtocol::kGrpcV2, server_->grpc_port()));
  inference::ModelInferRequest req;
  req.set_model_name("iris");
  auto* in = req.add_inputs();
  in->set_name("input-0");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(4);
  float row[4] = {6.8f, 2.8f, 4.8f, 1.4f};
  req.add_raw_input_contents(std::string(reinterpret_cast<const char*>(row), sizeof row));
  inference::ModelInferResponse resp;
  Status st = client.InferGrpc(req, &resp);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_GE(resp.outputs_size(), 1);
  EXPECT_TRUE(client.ServerReady().ok());
  req.set_model_name("nope");
  st = client.InferGrpc(req, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message().rfind("AioRpcError : ", 0), 0u) << st.message();
}

TEST_F(PredictorClientServer, ThroughTheGatewayAddressWithTheNameAsHost) {
  PredictorConfig c = Config(PredictorProtocol::kRestV1, 0);
  c.host = "iris-predictor.default";
  c.gateway_http = "127.0.0.1:" + std::to_string(server_->http_port());
  c.gateway_grpc = "127.0.0.1:" + std::to_string(server_->grpc_port());
  PredictorClient client(c);
  auto r = client.PredictV1("iris", kIrisV1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  c.protocol = PredictorProtocol::kGrpcV2;
  PredictorClient grpc_client(c);
  EXPECT_TRUE(grpc_client.ServerReady().ok());
}

TEST(PredictorClientDown, ConnectErrorNamesThePredictor) {
  PredictorConfig c;
  c.host = "127.0.0.1:1";
  c.timeout_s = 5;
  PredictorClient client(c);
  auto r = client.PredictV1("m", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("ConnectError : ", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_EQ(client.ServerReady().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace inferd::pipeline
