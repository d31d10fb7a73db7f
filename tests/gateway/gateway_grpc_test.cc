// End-to-end tests of the gateway's gRPC proxy: in-test GRPCInferenceService replicas, the Gateway on
// ephemeral ports, generated stubs as clients.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "gateway/gateway.h"
#include "inference.grpc.pb.h"

namespace inferd::gateway {
namespace {

// A replica: ModelInfer answers id "{replica}|{request id}"; request id "sleep" waits 1 s, "fail" answers
// INTERNAL. It returns metadata "x-upstream-id" (initial) and "x-trailer" (trailing) and echoes "x-request-id".
class Replica final : public inference::GRPCInferenceService::Service {
 public:
  explicit Replica(std::string id) : id_(std::move(id)) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(this);
    server_ = b.BuildAndStart();
  }
  ~Replica() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  int port() const { return port_; }
  int calls() const { return calls_.load(); }

  grpc::Status ModelInfer(grpc::ServerContext* ctx, const inference::ModelInferRequest* req,
                          inference::ModelInferResponse* res) override {
    calls_++;
    ctx->AddInitialMetadata("x-upstream-id", id_);
    ctx->AddTrailingMetadata("x-trailer", "t-" + id_);
    auto md = ctx->client_metadata();
    if (auto it = md.find("x-request-id"); it != md.end()) {
      ctx->AddInitialMetadata("x-seen-request-id", std::string(it->second.data(), it->second.size()));
    }
    if (req->id() == "sleep") std::this_thread::sleep_for(std::chrono::seconds(1));
    if (req->id() == "fail") return grpc::Status(grpc::StatusCode::INTERNAL, "replica " + id_ + " failed");
    res->set_model_name(req->model_name());
    res->set_id(id_ + "|" + req->id());
    res->add_raw_output_contents(req->raw_input_contents_size() ? req->raw_input_contents(0) : "");
    return grpc::Status::OK;
  }
  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* req,
                          inference::ModelReadyResponse* res) override {
    calls_++;
    res->set_ready(req->name() != "not-ready");
    return grpc::Status::OK;
  }
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* res) override {
    calls_++;
    res->set_name(id_);
    return grpc::Status::OK;
  }
  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* res) override {
    calls_++;
    res->set_live(false);  // the gateway answers these itself
    return grpc::Status::OK;
  }

 private:
  std::string id_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<int> calls_{0};
};

Endpoint Ep(const Replica& r) {
  Endpoint e;
  e.grpc_port = r.port();
  e.http_port = 1;  // unused here
  return e;
}

RevisionRoute Rev(std::string name, int percent, std::vector<Endpoint> eps, std::string tag = "") {
  RevisionRoute r;
  r.revision = std::move(name);
  r.percent = percent;
  r.tag = std::move(tag);
  r.endpoints = std::move(eps);
  r.stats = std::make_shared<RevisionStats>();
  return r;
}

ServiceRoute Svc(std::string ns, std::string name, std::vector<RevisionRoute> revs,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  ServiceRoute s;
  s.ns = std::move(ns);
  s.name = std::move(name);
  s.revisions = std::move(revs);
  s.timeout = timeout;
  return s;
}

class GatewayGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<Replica>("G1");
    b_ = std::make_unique<Replica>("G2");
    GatewayOptions o;
    o.host = "127.0.0.1";
    o.http_port = 0;
    o.grpc_port = 0;
    gw_ = std::make_unique<Gateway>(o);
    ASSERT_TRUE(gw_->Start().ok());
    ASSERT_GT(gw_->grpc_port(), 0);
    table_ = std::make_shared<RoutingTable>();
    table_->services.push_back(Svc("default", "sklearn-iris", {Rev("sklearn-iris-1", 100, {Ep(*a_)})}));
    table_->services.push_back(Svc("prod", "flowers",
                                   {Rev("flowers-1", 100, {Ep(*a_)}, "prev"), Rev("flowers-2", 0, {Ep(*b_)}, "latest")}));
    Endpoint http_only;
    http_only.http_port = 1;
    table_->services.push_back(Svc("default", "rest-only", {Rev("rest-only-1", 100, {http_only})}));
    table_->services.push_back(
        Svc("default", "slow", {Rev("slow-1", 100, {Ep(*a_)})}, std::chrono::milliseconds(200)));
    gw_->UpdateRoutes(table_);
  }
  void TearDown() override { gw_->Stop(); }

  std::unique_ptr<inference::GRPCInferenceService::Stub> Stub(const std::string& authority = "") {
    grpc::ChannelArguments args;
    if (!authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
    return inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(gw_->grpc_port()), grpc::InsecureChannelCredentials(), args));
  }

  static grpc::Status Infer(inference::GRPCInferenceService::Stub* stub, const std::string& model,
                            const std::string& id, inference::ModelInferResponse* res,
                            std::multimap<std::string, std::string>* md = nullptr) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", "rid-" + id);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    inference::ModelInferRequest req;
    req.set_model_name(model);
    req.set_id(id);
    auto* in = req.add_inputs();
    in->set_name("x");
    in->set_datatype("BYTES");
    in->add_shape(1);
    req.add_raw_input_contents(std::string(100000, 'r'));
    grpc::Status s = stub->ModelInfer(&ctx, req, res);
    if (md) {
      for (const auto& [k, v] : ctx.GetServerInitialMetadata()) md->emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
      for (const auto& [k, v] : ctx.GetServerTrailingMetadata()) md->emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    return s;
  }

  std::unique_ptr<Replica> a_, b_;
  std::unique_ptr<Gateway> gw_;
  std::shared_ptr<RoutingTable> table_;
};

TEST_F(GatewayGrpcTest, ServerLiveAndReadyAreLocal) {
  auto stub = Stub();
  grpc::ClientContext c1;
  inference::ServerLiveResponse live;
  ASSERT_TRUE(stub->ServerLive(&c1, {}, &live).ok());
  EXPECT_TRUE(live.live());
  grpc::ClientContext c2;
  inference::ServerReadyResponse ready;
  ASSERT_TRUE(stub->ServerReady(&c2, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
  EXPECT_EQ(a_->calls() + b_->calls(), 0);
}

TEST_F(GatewayGrpcTest, ModelInferByModelName) {
  auto stub = Stub();
  inference::ModelInferResponse res;
  std::multimap<std::string, std::string> md;
  grpc::Status s = Infer(stub.get(), "sklearn-iris", "7", &res, &md);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(res.id(), "G1|7");
  EXPECT_EQ(res.model_name(), "sklearn-iris");
  ASSERT_EQ(res.raw_output_contents_size(), 1);
  EXPECT_EQ(res.raw_output_contents(0).size(), 100000u);
  auto find = [&](const std::string& k) {
    auto it = md.find(k);
    return it == md.end() ? std::string() : it->second;
  };
  EXPECT_EQ(find("x-upstream-id"), "G1");
  EXPECT_EQ(find("x-seen-request-id"), "rid-7");
  EXPECT_EQ(find("x-trailer"), "t-G1");
  auto stats = table_->services[0].revisions[0].stats;
  EXPECT_EQ(stats->requests.load(), 1u);
  EXPECT_EQ(stats->errors.load(), 0u);
  EXPECT_EQ(stats->in_flight.load(), 0);
  EXPECT_GT(stats->latency_ns_sum.load(), 0u);

  grpc::ClientContext c;
  inference::ModelReadyRequest rr;
  rr.set_name("sklearn-iris");
  inference::ModelReadyResponse ready;
  ASSERT_TRUE(stub->ModelReady(&c, rr, &ready).ok());
  EXPECT_TRUE(ready.ready());
}

TEST_F(GatewayGrpcTest, UnknownModelIsNotFound) {
  auto stub = Stub();
  inference::ModelInferResponse res;
  grpc::Status s = Infer(stub.get(), "nope", "1", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("nope"), std::string::npos);
  // flowers lives in "prod": without a prod authority it is not found.
  s = Infer(stub.get(), "flowers", "1", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = Infer(stub.get(), "", "1", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // Calls routed by host only need a service host.
  grpc::ClientContext c;
  inference::ServerMetadataResponse meta;
  EXPECT_EQ(stub->ServerMetadata(&c, {}, &meta).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GatewayGrpcTest, NamespaceAndTagFromAuthority) {
  auto prod = Stub("flowers.prod.example.com");
  inference::ModelInferResponse res;
  grpc::Status s = Infer(prod.get(), "flowers", "1", &res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(res.id(), "G1|1");
  auto latest = Stub("latest-flowers-predictor.prod.example.com:443");
  s = Infer(latest.get(), "flowers", "2", &res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(res.id(), "G2|2");
  grpc::ClientContext c;
  inference::ServerMetadataResponse meta;
  s = latest->ServerMetadata(&c, {}, &meta);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(meta.name(), "G2");
  EXPECT_EQ(table_->services[1].revisions[1].stats->requests.load(), 2u);
}

TEST_F(GatewayGrpcTest, ErrorsTimeoutsAndUnavailable) {
  auto stub = Stub();
  inference::ModelInferResponse res;
  grpc::Status s = Infer(stub.get(), "sklearn-iris", "fail", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message(), "replica G1 failed");
  EXPECT_EQ(table_->services[0].revisions[0].stats->errors.load(), 1u);

  auto start = std::chrono::steady_clock::now();
  s = Infer(stub.get(), "slow", "sleep", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(table_->services[3].revisions[0].stats->errors.load(), 1u);

  s = Infer(stub.get(), "rest-only", "1", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
}

// The activator holds a gRPC call at a revision with no replica until one arrives (or the timeout: 503's
// gRPC twin UNAVAILABLE).
TEST_F(GatewayGrpcTest, HeldUntilAReplicaArrives) {
  table_->services.push_back(Svc("default", "cold", {Rev("cold-1", 100, {})}));
  table_->services.push_back(Svc("default", "never", {Rev("never-1", 100, {})}, std::chrono::milliseconds(200)));
  gw_->UpdateRoutes(table_);
  auto stats = table_->services[4].revisions[0].stats;
  auto stub = Stub();
  inference::ModelInferResponse res;
  grpc::Status s;
  std::thread client([&] { s = Infer(stub.get(), "cold", "7", &res); });
  for (int i = 0; i < 500 && stats->held.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(stats->held.load(), 1);
  EXPECT_EQ(stats->activations.load(), 1u);
  table_->services[4].revisions[0].endpoints.push_back(Ep(*b_));
  gw_->UpdateRoutes(table_);
  client.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(res.id(), "G2|7");
  EXPECT_EQ(stats->held.load(), 0);
  EXPECT_EQ(stats->in_flight.load(), 0);

  inference::ModelInferResponse none;
  s = Infer(stub.get(), "never", "8", &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("within 200 ms"), std::string::npos) << s.error_message();
}

TEST_F(GatewayGrpcTest, SpreadsOverReplicas) {
  table_->services.push_back(Svc("default", "pair", {Rev("pair-1", 100, {Ep(*a_), Ep(*b_)})}));
  gw_->UpdateRoutes(table_);
  auto stub = Stub();
  std::map<std::string, int> seen;
  for (int i = 0; i < 20; ++i) {
    inference::ModelInferResponse res;
    ASSERT_TRUE(Infer(stub.get(), "pair", "x", &res).ok());
    seen[res.id()]++;
  }
  EXPECT_EQ(seen.size(), 2u);  // round robin on ties
}

TEST(GatewayGrpcAuthTest, BearerToken) {
  Replica a("G1");
  GatewayOptions o;
  o.host = "127.0.0.1";
  o.http_port = 0;
  o.grpc_port = 0;
  o.token = "s3cret";
  Gateway gw(o);
  ASSERT_TRUE(gw.Start().ok());
  auto t = std::make_shared<RoutingTable>();
  t->services.push_back(Svc("default", "m", {Rev("m-1", 100, {Ep(a)})}));
  gw.UpdateRoutes(t);
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(gw.grpc_port()), grpc::InsecureChannelCredentials()));
  inference::ModelReadyRequest req;
  req.set_name("m");
  inference::ModelReadyResponse res;
  {
    grpc::ClientContext c;
    EXPECT_EQ(stub->ModelReady(&c, req, &res).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer s3cret");
    EXPECT_TRUE(stub->ModelReady(&c, req, &res).ok());
    EXPECT_TRUE(res.ready());
  }
  {
    grpc::ClientContext c;
    inference::ServerLiveResponse live;
    EXPECT_TRUE(stub->ServerLive(&c, {}, &live).ok());
  }
  gw.Stop();
}

}  // namespace
}  // namespace inferd::gateway
