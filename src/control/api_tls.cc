#include "control/api_tls.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>

#include <boost/asio/ip/address.hpp>

#include "net/tls.h"
#include "resources/secrets.h"

namespace inferd::control {

namespace {

bool IsWildcard(const std::string& host) { return host == "0.0.0.0" || host == "::" || host.empty(); }

}  // namespace

std::string ApiUrlHost(const std::string& api_host) {
  if (IsWildcard(api_host)) return "127.0.0.1";
  if (api_host.find(':') != std::string::npos) return "[" + api_host + "]";
  return api_host;
}

bool ApiReachedOverLoopback(const std::string& api_host) {
  if (IsWildcard(api_host) || api_host == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(api_host, ec);
  return !ec && net::PlainHttpAllowed(a);
}

std::vector<std::string> ApiCertSans(const std::string& api_host, const std::vector<std::string>& local_addrs) {
  std::vector<std::string> out = {"localhost", "127.0.0.1", "::1"};
  auto add = [&out](const std::string& s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  if (IsWildcard(api_host)) {
    for (const std::string& a : local_addrs) add(a);
  } else {
    add(api_host);
  }
  return out;
}

resources::Json KubeconfigFor(const KubeconfigInput& in) {
  using resources::Json;
  return Json{
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", Json::array({Json{{"name", "inferd"},
                                     {"cluster", Json{{"server", in.server},
                                                      {"certificate-authority-data",
                                                       resources::Base64Encode(in.ca_pem)}}}}})},
      {"users", Json::array({Json{{"name", "inferd"}, {"user", Json{{"token", in.token}}}}})},
      {"contexts", Json::array({Json{{"name", "inferd"},
                                     {"context", Json{{"cluster", "inferd"}, {"user", "inferd"}, {"namespace", in.ns}}}}})},
      {"current-context", "inferd"},
      {"preferences", Json::object()},
  };
}

StatusOr<net::ServingCerts> SetUpApiCerts(const std::string& data_dir, const ApiTlsFlags& flags,
                                          const std::string& api_host, int64_t now_s) {
  if (flags.cert_file.empty() != flags.key_file.empty()) {
    return InvalidArgument("--tls_cert_file and --tls_private_key_file go together: give both or neither");
  }
  if (!flags.cert_file.empty()) return net::LoadServingCerts(flags.cert_file, flags.key_file, now_s);
  const std::string host = api_host == "localhost" ? "127.0.0.1" : api_host;
  return net::EnsureServingCerts(data_dir + "/pki", ApiCertSans(host, IsWildcard(host) ? LocalAddresses()
                                                                                        : std::vector<std::string>{}),
                                 now_s);
}

StatusOr<std::string> WriteKubeconfig(const std::string& data_dir, const KubeconfigInput& in) {
  const std::string path = data_dir + "/kubeconfig";
  RETURN_IF_ERROR(net::WriteFileReplacing(path, resources::ToYaml(KubeconfigFor(in)), 0600));
  return path;
}

std::vector<std::string> LocalAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const int family = a->ifa_addr->sa_family;
    const void* raw = nullptr;
    if (family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr;
    } else if (family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;  // needs a zone: not usable in a URL's host
      raw = &in6->sin6_addr;
    }
    if (raw != nullptr && ::inet_ntop(family, raw, text, sizeof text) != nullptr) out.emplace_back(text);
  }
  ::freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace inferd::control
