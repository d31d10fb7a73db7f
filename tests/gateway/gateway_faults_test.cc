// Faults and visibility at the gateway (issue 12): replicas that die under it (requests not yet sent go to
// a replacement, only those in flight may fail), known services without a ready revision (503 + Retry-After,
// not 404), health through the gateway by the service the request names, and cluster-local services
// (loopback clients only). In-test upstream replicas (HTTP and gRPC), the Gateway on ephemeral ports, libcurl,
// raw sockets and generated gRPC stubs as clients.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "gateway/gateway.h"
#include "gateway/upstream_server.h"
#include "inference.grpc.pb.h"
#include "util/test_util.h"

namespace inferd::gateway {
namespace {

using inferd::testing::HttpRequest;
using inferd::testing::HttpResponse;
using inferd::testing::UpstreamServer;
using namespace std::chrono_literals;

Endpoint Ep(const UpstreamServer& u) {
  Endpoint e;
  e.http_port = u.port();
  return e;
}

RevisionRoute Rev(std::string name, std::vector<Endpoint> eps, std::string unavailable = "") {
  RevisionRoute r;
  r.revision = std::move(name);
  r.endpoints = std::move(eps);
  r.unavailable = std::move(unavailable);
  r.stats = std::make_shared<RevisionStats>();
  return r;
}

ServiceRoute Svc(std::string name, std::vector<RevisionRoute> revs, std::chrono::milliseconds timeout = 10000ms) {
  ServiceRoute s;
  s.ns = "default";
  s.name = std::move(name);
  s.revisions = std::move(revs);
  s.timeout = timeout;
  return s;
}

std::string IdOf(const HttpResponse& r) {
  auto it = r.headers.find("x-upstream-id");
  return it == r.headers.end() ? "" : it->second;
}

// A non-loopback IPv4 address of this machine ("" when it has none).
std::string ExternalIp() {
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return "";
  std::string ip;
  for (auto* p = ifs; p != nullptr && ip.empty(); p = p->ifa_next) {
    if (p->ifa_addr == nullptr || p->ifa_addr->sa_family != AF_INET || (p->ifa_flags & IFF_LOOPBACK) ||
        !(p->ifa_flags & IFF_UP)) {
      continue;
    }
    char buf[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr, buf, sizeof buf)) ip = buf;
  }
  freeifaddrs(ifs);
  return ip;
}

// One HTTP/1.1 request with Connection: close to ip:port over a plain socket: the status code (0 when the
// exchange failed) and the whole answer.
struct RawAnswer {
  int status = 0;
  std::string text;
};
RawAnswer RawGet(const std::string& ip, int port, const std::string& host, const std::string& path) {
  RawAnswer out;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return out;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return out;
  }
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (out.text.rfind("HTTP/1.1 ", 0) == 0 && out.text.size() >= 12) out.status = std::atoi(out.text.c_str() + 9);
  return out;
}

class GatewayFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayOptions o;
    o.host = "0.0.0.0";  // external clients reach it too (the visibility tests)
    o.http_port = 0;
    o.grpc_port = 0;
    o.workers = 2;
    o.on_activate = [this] { activated_.fetch_add(1); };
    gw_ = std::make_unique<Gateway>(o);
    ASSERT_TRUE(gw_->Start().ok());
    port_ = gw_->http_port();
    table_ = std::make_shared<RoutingTable>();
  }
  void TearDown() override { gw_->Stop(); }

  HttpResponse Get(const std::string& path, std::vector<std::string> headers = {}, long timeout_ms = 15000) {
    return HttpRequest(port_, "GET", path, "", headers, timeout_ms);
  }

  std::unique_ptr<Gateway> gw_;
  std::shared_ptr<RoutingTable> table_;
  int port_ = 0;
  std::atomic<int> activated_{0};
};

// The only replica goes away: requests sent after that were never at a replica, so the activator holds them
// until a replacement is routed, and none fails.
TEST_F(GatewayFaultsTest, RequestsForAGoneReplicaWaitForItsReplacement) {
  auto a = std::make_unique<UpstreamServer>("A");
  table_->services.push_back(Svc("solo", {Rev("solo-1", {Ep(*a)})}));
  gw_->UpdateRoutes(table_);
  auto stats = table_->services[0].revisions[0].stats;
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Get("/v2/models/solo/ready").status, 200);  // pooled connections
  a->Stop();  // refuses connections now; the pooled ones are closed
  constexpr int kClients = 8;
  std::vector<HttpResponse> got(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { got[i] = Get("/v2/models/solo/infer/" + std::to_string(i)); });
  }
  for (int i = 0; i < 1000 && stats->held.load() < kClients; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(stats->held.load(), kClients);
  EXPECT_GE(activated_.load(), 1);  // no live replica left: an activation, as at zero
  UpstreamServer b("B");
  table_->services[0].revisions[0].endpoints = {Ep(b)};
  gw_->UpdateRoutes(table_);
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(got[i].status, 200) << got[i].body;
    EXPECT_EQ(IdOf(got[i]), "B");
  }
  EXPECT_EQ(stats->errors.load(), 0u);
  EXPECT_EQ(stats->in_flight.load(), 0);
}

// One request on a raw connection to the gateway: the answer's first bytes, "" when none came within 10 s.
std::string RequestOn(int fd, const std::string& request) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The gateway's process is out of file descriptors when a request needs a new connection to its replica: the
// replica is not at fault, so the request waits (no 502) and is answered once descriptors are free again, on
// the client connection it came on.
TEST_F(GatewayFaultsTest, NewUpstreamConnectionAtTheFdLimitWaitsForAFreeDescriptor) {
  UpstreamServer a("A");
  table_->services.push_back(Svc("solo", {Rev("solo-1", {Ep(a)})}));
  gw_->UpdateRoutes(table_);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // Accepted, and answered by the gateway itself (no upstream connection exists yet).
  ASSERT_EQ(RequestOn(client, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").substr(0, 12), "HTTP/1.1 200");
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = std::min<rlim_t>(old.rlim_cur, 4096);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  ASSERT_EQ(errno, EMFILE);
  std::string answer;
  std::thread t([&] { answer = RequestOn(client, "GET /v2/models/solo/ready HTTP/1.1\r\nHost: x\r\n\r\n"); });
  std::this_thread::sleep_for(500ms);  // the gateway tried to connect, failed with EMFILE, and waits
  for (int i = 0; i < 8 && !filler.empty(); ++i) {  // a few descriptors free again
    ::close(filler.back());
    filler.pop_back();
  }
  t.join();
  for (int fd : filler) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &old);
  ::close(client);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_NE(answer.find("A|GET|/v2/models/solo/ready|"), std::string::npos) << answer;
  EXPECT_EQ(a.requests(), 1);
}

// Requests in flight when the replica dies may fail, and only they: the count of failures is at most the
// number in flight; the rest, sent meanwhile, reach the replacement.
TEST_F(GatewayFaultsTest, OnlyRequestsInFlightOnADyingReplicaFail) {
  auto a = std::make_unique<UpstreamServer>("A");
  table_->services.push_back(Svc("busy", {Rev("busy-1", {Ep(*a)})}));
  gw_->UpdateRoutes(table_);
  constexpr int kInFlight = 6, kLater = 6;
  std::vector<HttpResponse> got(kInFlight + kLater);
  std::vector<std::thread> clients;
  for (int i = 0; i < kInFlight; ++i) {
    clients.emplace_back([&, i] { got[i] = Get("/v2/models/busy/sleep/400"); });
  }
  for (int i = 0; i < 1000 && a->active() < kInFlight; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(a->active(), kInFlight);
  std::thread stopper([&] { a->Stop(); });  // cuts the connections of the requests it works on
  std::this_thread::sleep_for(50ms);
  for (int i = kInFlight; i < kInFlight + kLater; ++i) {
    clients.emplace_back([&, i] { got[i] = Get("/v2/models/busy/later"); });
  }
  stopper.join();
  std::this_thread::sleep_for(100ms);
  UpstreamServer b("B");
  table_->services[0].revisions[0].endpoints = {Ep(b)};
  gw_->UpdateRoutes(table_);
  for (auto& t : clients) t.join();
  int failed = 0;
  for (const auto& r : got) failed += r.status != 200;
  EXPECT_LE(failed, kInFlight);
  for (int i = kInFlight; i < kInFlight + kLater; ++i) {
    EXPECT_EQ(got[i].status, 200) << got[i].body;
    EXPECT_EQ(IdOf(got[i]), "B");
  }
}

// A replica restarted in place listens on the same Unix socket path before its route is published: a
// connection that reaches another process than the routed one treats the endpoint as gone.
TEST_F(GatewayFaultsTest, AnotherProcessOnTheReplicasSocketIsNotTheReplica) {
  char tmpl[] = "/tmp/inferd-gw-faults-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  UpstreamServer u("U", dir + "/r.sock");
  Endpoint e;
  e.http_port = 1;
  e.uds_path = dir + "/r.sock";
  e.pid = 1;  // the process routed to; the socket is served by this test process
  table_->services.push_back(Svc("moved", {Rev("moved-1", {e})}, 5000ms));
  gw_->UpdateRoutes(table_);
  auto stats = table_->services[0].revisions[0].stats;
  HttpResponse r;
  std::thread client([&] { r = Get("/v2/models/moved/infer"); });
  for (int i = 0; i < 1000 && stats->held.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(stats->held.load(), 1);
  EXPECT_EQ(u.requests(), 0);
  table_->services[0].revisions[0].endpoints[0].pid = static_cast<int>(::getpid());  // its route, published
  gw_->UpdateRoutes(table_);
  client.join();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(IdOf(r), "U");
  u.Stop();
  std::filesystem::remove_all(dir);
}

// A replica whose Unix socket file is gone (removed with its process) is gone: its share goes to the others.
TEST_F(GatewayFaultsTest, MissingSocketFileIsAGoneReplica) {
  UpstreamServer a("A");
  Endpoint missing;
  missing.http_port = 1;
  missing.uds_path = "/tmp/inferd-gw-faults-no-such-dir/r.sock";
  table_->services.push_back(Svc("pair", {Rev("pair-1", {missing, Ep(a)})}));
  gw_->UpdateRoutes(table_);
  for (int i = 0; i < 8; ++i) {
    auto r = Get("/v2/models/pair/infer");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(IdOf(r), "A");
  }
  EXPECT_EQ(table_->services[0].revisions[0].stats->errors.load(), 0u);
}

// A known service that no revision serves (not ready yet, or inferd serve just started) is 503 with
// Retry-After, never 404; unknown names stay 404.
TEST_F(GatewayFaultsTest, KnownServiceWithoutARevisionIs503) {
  ServiceRoute starting = Svc("starting", {});
  starting.unavailable = "service default/starting is not ready (Loading)";
  table_->services.push_back(starting);
  table_->services.push_back(Svc("bare", {}));
  gw_->UpdateRoutes(table_);
  for (const auto& [path, host] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/models/starting:predict", ""},
           {"/", "starting.default.example.com"},
           {"/serving/default/starting/v2/health/ready", ""}}) {
    auto r = Get(path, host.empty() ? std::vector<std::string>{} : std::vector<std::string>{"Host: " + host});
    EXPECT_EQ(r.status, 503) << path << " " << r.body;
    EXPECT_EQ(r.headers["retry-after"], "1") << path;
    EXPECT_NE(r.body.find("not ready (Loading)"), std::string::npos) << r.body;
  }
  auto r = Get("/v2/models/bare/infer");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("default/bare"), std::string::npos) << r.body;
  EXPECT_EQ(Get("/v2/models/nobody/infer").status, 404);
  EXPECT_EQ(Get("/", {"Host: nobody.default.example.com"}).status, 404);
}

// Health through the gateway is the named service's: proxied to its replica, 503 while it cannot serve,
// 404 for a host naming no service. Only a request naming no service gets the gateway's own answer.
TEST_F(GatewayFaultsTest, HealthIsTheHealthOfTheServiceNamed) {
  UpstreamServer a("A");
  table_->services.push_back(Svc("up", {Rev("up-1", {Ep(a)})}));
  table_->services.push_back(Svc("broken", {Rev("broken-1", {}, "revision broken-1 failed to load its model")}));
  table_->services.push_back(Svc("cold", {}));
  gw_->UpdateRoutes(table_);
  for (const char* path : {"/v2/health/ready", "/v2/health/live", "/"}) {
    auto own = Get(path, {"Host: 127.0.0.1:" + std::to_string(port_)});
    EXPECT_EQ(own.status, 200) << path;
    EXPECT_EQ(IdOf(own), "") << path;
    auto up = Get(path, {"Host: up.default.example.com"});
    EXPECT_EQ(up.status, 200) << path;
    EXPECT_EQ(IdOf(up), "A") << path;
    EXPECT_EQ(Get(path, {"Host: up-predictor.default.example.com"}).status, 200) << path;
    EXPECT_EQ(Get(path, {"Host: broken.default.example.com"}).status, 503) << path;
    EXPECT_EQ(Get(path, {"Host: cold.default.example.com"}).status, 503) << path;
    auto typo = Get(path, {"Host: upp.default.example.com"});
    EXPECT_EQ(typo.status, 404) << path << " " << typo.body;
    EXPECT_EQ(Get(path, {"Host: up.default.svc.cluster.local"}).status, 200) << path;  // loopback client
    EXPECT_EQ(Get(path, {"Host: upp.default.svc.cluster.local"}).status, 404) << path;
  }
  auto by_path = Get("/serving/default/up/v2/health/ready");
  EXPECT_EQ(by_path.status, 200);
  EXPECT_EQ(by_path.body, "A|GET|/v2/health/ready|");
  EXPECT_EQ(Get("/serving/default/upp/v2/health/ready").status, 404);
}

// networking.kserve.io/visibility: cluster-local: the service exists for clients on this machine only
// (loopback), like a KServe service that has a cluster-local route and no ingress; others get 404.
TEST_F(GatewayFaultsTest, ClusterLocalServicesAreRoutedForLoopbackClientsOnly) {
  std::string ip = ExternalIp();
  if (ip.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address to connect from";
  UpstreamServer a("A"), b("B");
  ServiceRoute internal = Svc("internal", {Rev("internal-1", {Ep(a)})});
  internal.cluster_local = true;
  table_->services.push_back(internal);
  table_->services.push_back(Svc("public", {Rev("public-1", {Ep(b)})}));
  gw_->UpdateRoutes(table_);
  struct Case {
    std::string host, path;
  };
  const std::vector<Case> internal_routes = {{"internal.default.example.com", "/v2/models/internal/infer"},
                                             {"internal.default.svc.cluster.local", "/v2/models/internal/infer"},
                                             {"internal-predictor.default.svc.cluster.local", "/"},
                                             {"gateway", "/v2/models/internal/infer"},
                                             {"gateway", "/v1/models/internal:predict"},
                                             {"gateway", "/serving/default/internal/v2/health/ready"},
                                             {"internal.default.example.com", "/v2/health/ready"}};
  for (const auto& c : internal_routes) {
    auto local = RawGet("127.0.0.1", port_, c.host, c.path);
    EXPECT_EQ(local.status, 200) << c.host << c.path << "\n" << local.text;
    EXPECT_NE(local.text.find("A|GET|"), std::string::npos) << local.text;
    auto outside = RawGet(ip, port_, c.host, c.path);
    EXPECT_EQ(outside.status, 404) << c.host << c.path << " from " << ip << "\n" << outside.text;
    EXPECT_EQ(outside.text.find("A|GET|"), std::string::npos) << outside.text;
  }
  // Public services are reachable from outside; cluster-local host names are not.
  auto pub = RawGet(ip, port_, "public.default.example.com", "/v2/models/public/infer");
  EXPECT_EQ(pub.status, 200) << pub.text;
  EXPECT_EQ(RawGet(ip, port_, "public.default.svc.cluster.local", "/").status, 404);
  EXPECT_EQ(RawGet("127.0.0.1", port_, "public.default.svc.cluster.local", "/").status, 200);
  EXPECT_EQ(RawGet(ip, port_, "gateway", "/v2/health/ready").status, 200);  // the gateway's own health
  EXPECT_EQ(a.requests(), static_cast<int>(internal_routes.size()));
}

// ---- gRPC ------------------------------------------------------------------------------------------------

// A replica: ModelInfer answers id "{replica}|{request id}"; ServerReady/ServerLive answer for it.
class GrpcReplica final : public inference::GRPCInferenceService::Service {
 public:
  explicit GrpcReplica(std::string id) : id_(std::move(id)) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(this);
    server_ = b.BuildAndStart();
  }
  ~GrpcReplica() override { Shutdown(); }
  void Shutdown() {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
  }
  int port() const { return port_; }
  int calls() const { return calls_.load(); }
  Endpoint Ep() const {
    Endpoint e;
    e.http_port = 1;
    e.grpc_port = port_;
    return e;
  }

  grpc::Status ModelInfer(grpc::ServerContext*, const inference::ModelInferRequest* req,
                          inference::ModelInferResponse* res) override {
    calls_++;
    res->set_id(id_ + "|" + req->id());
    return grpc::Status::OK;
  }
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* res) override {
    calls_++;
    res->set_ready(true);
    return grpc::Status::OK;
  }

 private:
  std::string id_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<int> calls_{0};
};

class GatewayFaultsGrpcTest : public GatewayFaultsTest {
 protected:
  std::unique_ptr<inference::GRPCInferenceService::Stub> Stub(const std::string& authority = "",
                                                               const std::string& ip = "127.0.0.1") {
    grpc::ChannelArguments args;
    if (!authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
    return inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
        ip + ":" + std::to_string(gw_->grpc_port()), grpc::InsecureChannelCredentials(), args));
  }
  static grpc::Status Infer(inference::GRPCInferenceService::Stub* stub, const std::string& model,
                            const std::string& id, inference::ModelInferResponse* res) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    inference::ModelInferRequest req;
    req.set_model_name(model);
    req.set_id(id);
    return stub->ModelInfer(&ctx, req, res);
  }
  static grpc::Status Ready(inference::GRPCInferenceService::Stub* stub, bool* ready) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    inference::ServerReadyResponse res;
    grpc::Status s = stub->ServerReady(&ctx, {}, &res);
    *ready = res.ready();
    return s;
  }
};

TEST_F(GatewayFaultsGrpcTest, CallsForAGoneReplicaWaitForItsReplacement) {
  GrpcReplica a("G1");
  table_->services.push_back(Svc("solo", {Rev("solo-1", {a.Ep()})}));
  gw_->UpdateRoutes(table_);
  auto stats = table_->services[0].revisions[0].stats;
  auto stub = Stub();
  inference::ModelInferResponse res;
  ASSERT_TRUE(Infer(stub.get(), "solo", "1", &res).ok());
  a.Shutdown();
  constexpr int kClients = 4;
  std::vector<grpc::Status> got(kClients);
  std::vector<std::string> ids(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      inference::ModelInferResponse r;
      got[i] = Infer(stub.get(), "solo", std::to_string(i), &r);
      ids[i] = r.id();
    });
  }
  for (int i = 0; i < 2000 && stats->held.load() < kClients; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(stats->held.load(), kClients);
  GrpcReplica b("G2");
  table_->services[0].revisions[0].endpoints = {b.Ep()};
  gw_->UpdateRoutes(table_);
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(got[i].ok()) << got[i].error_message();
    EXPECT_EQ(ids[i], "G2|" + std::to_string(i));
  }
  EXPECT_EQ(stats->errors.load(), 0u);
}

TEST_F(GatewayFaultsGrpcTest, ServerReadyByAuthorityAndKnownServicesWithoutARevision) {
  GrpcReplica a("G1");
  table_->services.push_back(Svc("up", {Rev("up-1", {a.Ep()})}));
  table_->services.push_back(Svc("cold", {}));
  gw_->UpdateRoutes(table_);
  bool ready = false;
  ASSERT_TRUE(Ready(Stub().get(), &ready).ok());  // the gateway's own
  EXPECT_TRUE(ready);
  EXPECT_EQ(a.calls(), 0);
  ready = false;
  grpc::Status s = Ready(Stub("up.default.example.com").get(), &ready);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(ready);
  EXPECT_EQ(a.calls(), 1);  // asked of the service's replica
  EXPECT_EQ(Ready(Stub("upp.default.example.com").get(), &ready).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Ready(Stub("cold.default.example.com").get(), &ready).error_code(), grpc::StatusCode::UNAVAILABLE);
  inference::ModelInferResponse res;
  s = Infer(Stub().get(), "cold", "1", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("default/cold"), std::string::npos) << s.error_message();
}

TEST_F(GatewayFaultsGrpcTest, ClusterLocalServicesAreRoutedForLoopbackClientsOnly) {
  std::string ip = ExternalIp();
  if (ip.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address to connect from";
  GrpcReplica a("G1");
  ServiceRoute internal = Svc("internal", {Rev("internal-1", {a.Ep()})});
  internal.cluster_local = true;
  table_->services.push_back(internal);
  gw_->UpdateRoutes(table_);
  inference::ModelInferResponse res;
  grpc::Status s = Infer(Stub().get(), "internal", "1", &res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(res.id(), "G1|1");
  s = Infer(Stub("internal.default.svc.cluster.local").get(), "internal", "2", &res);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Infer(Stub("", ip).get(), "internal", "3", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  s = Infer(Stub("internal.default.svc.cluster.local", ip).get(), "internal", "4", &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  bool ready = false;
  EXPECT_EQ(Ready(Stub("internal.default.example.com", ip).get(), &ready).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(a.calls(), 2);
}

}  // namespace
}  // namespace inferd::gateway
