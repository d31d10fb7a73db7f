#include "pipeline/predictor_client.h"

#include <grpcpp/grpcpp.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include <nlohmann/json.hpp>

#include "inference.grpc.pb.h"
#include "net/http_client.h"

namespace inferd::pipeline {

namespace {

// Readiness probes wait at most this long (or the call timeout when shorter): a probe must not hold a
// front-end thread for the 600 s an inference may take.
constexpr double kProbeTimeoutS = 5;

constexpr std::string_view kForwardable[] = {"x-request-id", "x-b3-traceid", "authorization"};

bool IsLocalOrIp(std::string_view host) {
  if (host.empty() || host == "localhost" || host.starts_with('[')) return true;
  bool ipv4 = true;
  for (char c : host) ipv4 = ipv4 && ((c >= '0' && c <= '9') || c == '.');
  return ipv4 || host.find(':') != std::string_view::npos;  // an IPv6 literal without brackets
}

// host[:port] -> (host, port or "").
std::pair<std::string_view, std::string_view> SplitHostPort(std::string_view hp) {
  if (hp.starts_with('[')) {
    size_t end = hp.find(']');
    if (end == std::string_view::npos) return {hp, {}};
    std::string_view rest = hp.substr(end + 1);
    return {hp.substr(0, end + 1), rest.starts_with(':') ? rest.substr(1) : std::string_view{}};
  }
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos || hp.find(':') != colon) return {hp, {}};
  return {hp.substr(0, colon), hp.substr(colon + 1)};
}

std::string_view ReasonPhrase(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 500 ? "Server Error" : "Client Error";
  }
}

// KServe's message for a non-2xx answer (inference_client.py `_construct_http_status_error`).
Status HttpStatusError(long status, const std::string& body, const std::string& content_type, const std::string& url) {
  std::string detail;
  if (content_type.starts_with("application/json")) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error")) {
      detail = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
    } else if (!j.is_discarded()) {
      detail = j.dump();
    }
  }
  if (detail.size() > 4096) detail.resize(4096);
  return Internal("HTTPStatusError : " + detail + ", '" + std::to_string(status) + " " +
                  std::string(ReasonPhrase(status)) + "' for url '" + url + "'");
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

}  // namespace

StatusOr<PredictorProtocol> ParsePredictorProtocol(std::string_view s) {
  if (s == "v1") return PredictorProtocol::kRestV1;
  if (s == "v2") return PredictorProtocol::kRestV2;
  if (s == "grpc-v2") return PredictorProtocol::kGrpcV2;
  return InvalidArgument("predictor protocol '" + std::string(s) + "': expected v1, v2 or grpc-v2");
}

std::string_view PredictorProtocolName(PredictorProtocol p) {
  switch (p) {
    case PredictorProtocol::kRestV1: return "v1";
    case PredictorProtocol::kRestV2: return "v2";
    case PredictorProtocol::kGrpcV2: return "grpc-v2";
  }
  return "v1";
}

PredictorConfig PredictorConfig::WithGatewayFromEnv() const {
  PredictorConfig c = *this;
  if (c.gateway_http.empty()) {
    if (const char* g = std::getenv("INFERD_GATEWAY")) c.gateway_http = g;
  }
  if (c.gateway_grpc.empty()) {
    if (const char* g = std::getenv("INFERD_GATEWAY_GRPC")) c.gateway_grpc = g;
  }
  return c;
}

PredictorRoute RouteFor(std::string_view predictor_host, std::string_view gateway, bool grpc, bool use_ssl) {
  auto [host, port] = SplitHostPort(predictor_host);
  PredictorRoute r;
  if (!gateway.empty() && !IsLocalOrIp(host)) {
    r.connect = std::string(gateway);
    r.authority = std::string(host);
    return r;
  }
  r.connect = std::string(predictor_host);
  if (grpc && port.empty()) r.connect += use_ssl ? ":443" : ":80";
  return r;
}

long PredictorClient::HttpStatusOf(const Status& st) {
  const std::string& m = st.message();
  if (!m.starts_with("HTTPStatusError : ")) return 0;
  size_t at = m.rfind("' for url '");
  if (at == std::string::npos) return 0;
  size_t quote = m.rfind(", '", at);
  if (quote == std::string::npos) return 0;
  long status = 0;
  const char* b = m.data() + quote + 3;
  std::from_chars(b, m.data() + at, status);
  return status;
}

struct PredictorClient::Impl {
  PredictorConfig config;
  PredictorRoute http_route, grpc_route;
  std::string base_url;     // scheme://connect
  std::string host_header;  // "Host: <authority>" or ""
  net::ConnectionShare share;
  std::once_flag channel_once;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;

  inference::GRPCInferenceService::Stub* Stub() {
    std::call_once(channel_once, [this] {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(-1);
      args.SetMaxSendMessageSize(-1);
      if (!grpc_route.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, grpc_route.authority);
      if (config.retries > 0) {
        args.SetServiceConfigJSON(
            R"({"methodConfig":[{"name":[{"service":"inference.GRPCInferenceService"}],"retryPolicy":{)"
            R"("maxAttempts":)" + std::to_string(std::min(config.retries + 1, 5)) +
            R"(,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,)"
            R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");
      }
      auto creds = config.use_ssl ? grpc::SslCredentials(grpc::SslCredentialsOptions{})
                                  : grpc::InsecureChannelCredentials();
      channel = grpc::CreateCustomChannel(grpc_route.connect, creds, args);
      stub = inference::GRPCInferenceService::NewStub(channel);
    });
    return stub.get();
  }

  void AddForwarded(const HeaderList* incoming, std::vector<std::string>* out) const {
    if (!host_header.empty()) out->push_back(host_header);
    if (!incoming) return;
    for (const auto& [k, v] : *incoming) {
      for (std::string_view f : kForwardable) {
        if (k == f && v.find_first_of("\r\n") == std::string::npos) out->push_back(k + ": " + v);
      }
    }
  }

  StatusOr<PredictorReply> Post(const std::string& path, std::string_view body, std::vector<std::string> headers,
                                const char* method = "POST", double timeout_s = 0) const {
    net::ClientRequest req;
    req.method = method;
    req.url = base_url + path;
    req.headers = std::move(headers);
    if (std::string_view(method) == "POST") req.body.assign(body);
    long timeout = static_cast<long>((timeout_s > 0 ? timeout_s : config.timeout_s) + 0.999);
    req.timeout_s = timeout > 0 ? timeout : 0;
    req.connect_timeout_s = std::min<long>(req.timeout_s > 0 ? req.timeout_s : 30, 30);
    req.collect_all_headers = true;
    req.share = &share;
    PredictorReply reply;
    bool too_large = false;
    net::ClientResult r = net::Fetch(req, [&](std::string_view data, const net::ResponseHead&) {
      if (static_cast<int64_t>(reply.body.size() + data.size()) > config.max_response_bytes) {
        too_large = true;
        return false;
      }
      reply.body.append(data);
      return true;
    });
    if (too_large) {
      return Internal("ResponseTooLarge : the answer of predictor " + config.host + " exceeds " +
                      std::to_string(config.max_response_bytes) + " bytes");
    }
    if (r.transport != net::Transport::kOk) {
      bool timed_out = r.error.find("imed out") != std::string::npos || r.error.find("imeout") != std::string::npos;
      return Internal(std::string(timed_out ? "ReadTimeout : " : "ConnectError : ") + r.error + " (predictor " +
                      config.host + ", url '" + req.url + "')");
    }
    std::string content_type;
    for (auto& [k, v] : r.headers) {
      if (k == "content-length") continue;
      if (k == "content-type") content_type = v;
      if (k == "inference-header-content-length") {
        int64_t n = -1;
        std::from_chars(v.data(), v.data() + v.size(), n);
        reply.json_length = n;
      }
      reply.headers.emplace_back(std::move(k), std::move(v));
    }
    reply.status = r.status;
    if (r.status < 200 || r.status > 299) return HttpStatusError(r.status, reply.body, content_type, req.url);
    return reply;
  }
};

PredictorClient::PredictorClient(PredictorConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  const auto& c = impl_->config;
  impl_->http_route = RouteFor(c.host, c.gateway_http, false, c.use_ssl);
  impl_->grpc_route = RouteFor(c.host, c.gateway_grpc, true, c.use_ssl);
  impl_->base_url = std::string(c.use_ssl ? "https://" : "http://") + impl_->http_route.connect;
  if (!impl_->http_route.authority.empty()) impl_->host_header = "Host: " + impl_->http_route.authority;
}

PredictorClient::~PredictorClient() = default;

const PredictorConfig& PredictorClient::config() const { return impl_->config; }

StatusOr<PredictorReply> PredictorClient::PredictV1(std::string_view model, std::string_view json,
                                                    const HeaderList* incoming) const {
  std::vector<std::string> h{"Content-Type: application/json"};
  impl_->AddForwarded(incoming, &h);
  return impl_->Post("/v1/models/" + std::string(model) + ":predict", json, std::move(h));
}

StatusOr<PredictorReply> PredictorClient::InferV2(std::string_view model, std::string_view body, size_t json_length,
                                                  const HeaderList* incoming) const {
  std::vector<std::string> h;
  if (json_length < body.size()) {
    h.push_back("Content-Type: application/octet-stream");
    h.push_back("Inference-Header-Content-Length: " + std::to_string(json_length));
  } else {
    h.push_back("Content-Type: application/json");
  }
  impl_->AddForwarded(incoming, &h);
  return impl_->Post("/v2/models/" + std::string(model) + "/infer", body, std::move(h));
}

namespace {
Status GrpcError(const grpc::Status& s, const std::string& host) {
  return Internal("AioRpcError : " + std::to_string(static_cast<int>(s.error_code())) + ": " + s.error_message() +
                  " (predictor " + host + ")");
}

void SetGrpcContext(const PredictorConfig& c, const HeaderList* incoming, grpc::ClientContext* ctx,
                    double timeout_s = 0) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>((timeout_s > 0 ? timeout_s : c.timeout_s) * 1000)));
  ctx->AddMetadata("request_type", "grpc_v2");
  ctx->AddMetadata("response_type", "grpc_v2");
  if (!incoming) return;
  for (const auto& [k, v] : *incoming) {
    for (std::string_view f : kForwardable) {
      if (k == f) ctx->AddMetadata(Lower(k), v);
    }
  }
}
}  // namespace

Status PredictorClient::InferGrpc(const inference::ModelInferRequest& request, inference::ModelInferResponse* response,
                                  const HeaderList* incoming) const {
  grpc::ClientContext ctx;
  SetGrpcContext(impl_->config, incoming, &ctx);
  grpc::Status s = impl_->Stub()->ModelInfer(&ctx, request, response);
  if (!s.ok()) return GrpcError(s, impl_->config.host);
  return Status::Ok();
}

Status PredictorClient::ServerReady() const {
  const auto& c = impl_->config;
  if (c.protocol == PredictorProtocol::kGrpcV2) {
    grpc::ClientContext ctx;
    SetGrpcContext(c, nullptr, &ctx, kProbeTimeoutS);
    inference::ServerReadyRequest req;
    inference::ServerReadyResponse resp;
    grpc::Status s = impl_->Stub()->ServerReady(&ctx, req, &resp);
    if (!s.ok() || !resp.ready()) return Unavailable("predictor " + c.host + " is not ready: " + s.error_message());
    return Status::Ok();
  }
  std::vector<std::string> h;
  impl_->AddForwarded(nullptr, &h);
  auto r = impl_->Post(c.protocol == PredictorProtocol::kRestV1 ? "/" : "/v2/health/ready", {}, std::move(h), "GET",
                       kProbeTimeoutS);
  if (!r.ok()) return Unavailable("predictor " + c.host + " is not ready: " + r.status().message());
  return Status::Ok();
}

Status PredictorClient::ModelReady(std::string_view model) const {
  const auto& c = impl_->config;
  if (c.protocol == PredictorProtocol::kGrpcV2) {
    grpc::ClientContext ctx;
    SetGrpcContext(c, nullptr, &ctx, kProbeTimeoutS);
    inference::ModelReadyRequest req;
    req.set_name(std::string(model));
    inference::ModelReadyResponse resp;
    grpc::Status s = impl_->Stub()->ModelReady(&ctx, req, &resp);
    if (!s.ok() || !resp.ready()) {
      return Unavailable("model '" + std::string(model) + "' of predictor " + c.host + " is not ready");
    }
    return Status::Ok();
  }
  std::vector<std::string> h;
  impl_->AddForwarded(nullptr, &h);
  std::string path = c.protocol == PredictorProtocol::kRestV1 ? "/v1/models/" + std::string(model)
                                                              : "/v2/models/" + std::string(model) + "/ready";
  auto r = impl_->Post(path, {}, std::move(h), "GET", kProbeTimeoutS);
  if (!r.ok()) return Unavailable("model '" + std::string(model) + "' of predictor " + c.host + " is not ready: " +
                                  r.status().message());
  return Status::Ok();
}

}  // namespace inferd::pipeline
