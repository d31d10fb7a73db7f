// kube/config.cc: kubeconfig and in-cluster configuration (contract in kube/client.h).
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "kube/client.h"
#include "resources/secrets.h"

namespace inferd::kube {
namespace {

StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = 4u << 20) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::string out(max_bytes + 1, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  if (out.size() > max_bytes) return InvalidArgument(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  return out;
}

std::string Resolve(std::string_view base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return std::string(base_dir) + "/" + path;
}

// The entry named `name` of a kubeconfig list (clusters, users, contexts): its `field` object.
StatusOr<Json> NamedEntry(const Json& cfg, const char* list, const char* field, const std::string& name) {
  auto it = cfg.find(list);
  if (it != cfg.end() && it->is_array()) {
    for (const Json& e : *it) {
      if (StringField(e, "name") == name) {
        auto f = e.find(field);
        if (f != e.end() && f->is_object()) return *f;
        return Json::object();
      }
    }
  }
  return NotFound(std::string("kubeconfig: ") + list + ": no entry named \"" + name + "\"");
}

std::string Str(const Json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Bool(const Json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  return it->is_string() && it->get<std::string>() == "true";
}

StatusOr<std::string> DecodeData(const Json& o, const char* key) {
  const std::string text = Str(o, key);
  if (text.empty()) return std::string();
  StatusOr<std::string> pem = resources::Base64Decode(text);
  if (!pem.ok()) return InvalidArgument(std::string("kubeconfig: ") + key + ": not base64");
  return pem;
}

Status ApplyCluster(const Json& cluster, std::string_view base_dir, KubeConfig& out) {
  out.server = Str(cluster, "server");
  if (out.server.empty()) return InvalidArgument("kubeconfig: cluster.server: Required value");
  if (out.server.rfind("https://", 0) != 0 && out.server.rfind("http://", 0) != 0) {
    return InvalidArgument("kubeconfig: cluster.server: must start with https:// or http://: " + out.server);
  }
  while (out.server.size() > 8 && out.server.back() == '/') out.server.pop_back();
  out.insecure_skip_tls_verify = Bool(cluster, "insecure-skip-tls-verify");
  out.ca_file = Resolve(base_dir, Str(cluster, "certificate-authority"));
  ASSIGN_OR_RETURN(out.ca_data, DecodeData(cluster, "certificate-authority-data"));
  if (out.insecure_skip_tls_verify && (!out.ca_file.empty() || !out.ca_data.empty())) {
    return InvalidArgument(
        "kubeconfig: specifying a root certificates file with the insecure flag is not allowed "
        "(certificate-authority and insecure-skip-tls-verify)");
  }
  if (!Str(cluster, "tls-server-name").empty()) {
    return InvalidArgument("kubeconfig: cluster.tls-server-name is not supported by inferd's client");
  }
  if (!Str(cluster, "proxy-url").empty()) return InvalidArgument("kubeconfig: cluster.proxy-url is not supported");
  return Status::Ok();
}

Status ApplyUser(const Json& user, std::string_view base_dir, KubeConfig& out) {
  for (const char* unsupported : {"exec", "auth-provider", "username", "password", "as"}) {
    if (user.contains(unsupported)) {
      return InvalidArgument(std::string("kubeconfig: user.") + unsupported +
                             " is not supported by inferd's client (use a token, tokenFile or client certificate)");
    }
  }
  out.token = Str(user, "token");
  out.token_file = Resolve(base_dir, Str(user, "tokenFile"));
  out.client_cert_file = Resolve(base_dir, Str(user, "client-certificate"));
  out.client_key_file = Resolve(base_dir, Str(user, "client-key"));
  ASSIGN_OR_RETURN(out.client_cert_data, DecodeData(user, "client-certificate-data"));
  ASSIGN_OR_RETURN(out.client_key_data, DecodeData(user, "client-key-data"));
  const bool has_cert = !out.client_cert_file.empty() || !out.client_cert_data.empty();
  const bool has_key = !out.client_key_file.empty() || !out.client_key_data.empty();
  if (has_cert != has_key) return InvalidArgument("kubeconfig: a client certificate needs its key (and the reverse)");
  return Status::Ok();
}

}  // namespace

StatusOr<KubeConfig> ParseKubeConfig(std::string_view yaml, std::string_view context, std::string_view base_dir) {
  ASSIGN_OR_RETURN(std::vector<Json> docs, resources::ParseYamlDocuments(yaml, "kubeconfig"));
  if (docs.size() != 1 || !docs[0].is_object()) return InvalidArgument("kubeconfig: expected one YAML mapping");
  const Json& cfg = docs[0];
  std::string ctx_name = context.empty() ? Str(cfg, "current-context") : std::string(context);
  if (ctx_name.empty()) return InvalidArgument("kubeconfig: no current-context and no context given");
  ASSIGN_OR_RETURN(Json ctx, NamedEntry(cfg, "contexts", "context", ctx_name));
  const std::string cluster_name = Str(ctx, "cluster");
  if (cluster_name.empty()) return InvalidArgument("kubeconfig: context \"" + ctx_name + "\" names no cluster");
  ASSIGN_OR_RETURN(Json cluster, NamedEntry(cfg, "clusters", "cluster", cluster_name));
  KubeConfig out;
  RETURN_IF_ERROR(ApplyCluster(cluster, base_dir, out));
  const std::string user_name = Str(ctx, "user");
  if (!user_name.empty()) {
    ASSIGN_OR_RETURN(Json user, NamedEntry(cfg, "users", "user", user_name));
    RETURN_IF_ERROR(ApplyUser(user, base_dir, out));
  }
  const std::string ns = Str(ctx, "namespace");
  if (!ns.empty()) out.namespace_name = ns;
  return out;
}

StatusOr<KubeConfig> LoadKubeConfigFile(const std::string& path_in, std::string_view context) {
  std::string path = path_in;
  if (path.empty()) {
    const char* env = std::getenv("KUBECONFIG");
    if (env && *env) {
      path = env;
      path = path.substr(0, path.find(':'));  // the first file of a list (merging is not supported)
    } else if (const char* home = std::getenv("HOME")) {
      path = std::string(home) + "/.kube/config";
    } else {
      return NotFound("no kubeconfig: neither KUBECONFIG nor HOME is set");
    }
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  StatusOr<KubeConfig> cfg = ParseKubeConfig(text, context, dir);
  if (!cfg.ok()) return cfg.status().WithPrefix(path);
  return cfg;
}

StatusOr<KubeConfig> InClusterConfig(const InClusterSource& source) {
  auto env = [&](const char* name) -> std::string {
    const char* v = source.getenv ? source.getenv(name) : std::getenv(name);
    return v ? v : "";
  };
  const std::string host = env("KUBERNETES_SERVICE_HOST");
  const std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Unavailable("not in cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  KubeConfig out;
  // An IPv6 service host needs brackets in the URL (client-go uses net.JoinHostPort).
  out.server = "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  out.token_file = source.sa_dir + "/token";
  StatusOr<std::string> token = ReadFile(out.token_file, 1u << 20);
  if (!token.ok()) return Unavailable("not in cluster: " + token.status().message());
  out.ca_file = source.sa_dir + "/ca.crt";
  if (!ReadFile(out.ca_file).ok()) out.ca_file.clear();  // client-go logs and goes on with the system roots
  if (StatusOr<std::string> ns = ReadFile(source.sa_dir + "/namespace", 4096); ns.ok()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    if (!n.empty()) out.namespace_name = n;
  }
  return out;
}

}  // namespace inferd::kube
