// cli/api_client.h: how the CLI finds and talks to `inferd serve`'s API (libcurl, blocking, main thread).
//
// Finding the server: --server URL / $INFERD_SERVER, and --token T / $INFERD_TOKEN; otherwise the local
// default: DATA_DIR/serve.json (written by `inferd serve`) for the API URL and the gateway, and
// DATA_DIR/token, where DATA_DIR is --data_dir, $INFERD_DATA_DIR or the default data dir.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"

namespace inferd::cli {

using Json = nlohmann::ordered_json;

struct ClientFlags {
  std::string server, token, data_dir, gateway;
  void Add(CLI::App* cmd);  // --server --token --data_dir --gateway
};

struct ApiClient {
  std::string server;   // http://127.0.0.1:8090
  std::string token;
  std::string gateway;  // http://127.0.0.1:8080 (for predict)
  std::string domain = "example.com";

  struct Result {
    long code = 0;  // 0: transport error (body holds curl's message)
    std::string body;
    std::vector<std::string> warnings;  // the texts of the answer's Warning headers (the API's unknown fields)
  };
  Result Call(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& content_type = "application/json") const;
  // Streams a GET; `on_data` returns false to stop. Returns the HTTP code (0: transport error).
  long Stream(const std::string& path, const std::function<bool(std::string_view)>& on_data) const;
  // POST to the gateway (absolute URL); headers like "Host: x".
  Result Post(const std::string& url, const std::string& body, const std::vector<std::string>& headers) const;
};

StatusOr<ApiClient> MakeClient(const ClientFlags& flags);

// The texts of a Warning header value as Kubernetes writes it: `299 - "text", 299 - "te\"xt"` (RFC 7234
// warning-values, comma-separated; quoted-pair escapes undone). A value that is not in that form is one text.
std::vector<std::string> ParseWarningHeader(std::string_view value);

// The message of a Kubernetes Status error body (or the body itself).
std::string ErrorMessage(const ApiClient::Result& r);

// A server's answer (or serve.json) as JSON; a discarded value (is_discarded()) when it is not JSON or is
// nested deeper than kMaxJsonDepth (core/json_depth.h), so no printer walks an unbounded tree.
Json ParseAnswer(std::string_view text);

}  // namespace inferd::cli
