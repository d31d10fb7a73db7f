// storage/gcs.cc: gs://bucket/object-or-prefix over the Cloud Storage JSON API.
//
// Listing: GET <endpoint>/storage/v1/b/<bucket>/o?prefix=<key>[&pageToken=...]; download: GET
// <endpoint>/storage/v1/b/<bucket>/o/<object, '/' encoded>?alt=media. The endpoint is
// https://storage.googleapis.com unless GCS_ENDPOINT overrides it (tests). Authorization, the first that is
// set: GOOGLE_OAUTH_ACCESS_TOKEN (a bearer token as is), GOOGLE_SERVICE_ACCOUNT_KEY_JSON (a service-account
// key's JSON, as KServe's GCS secret holds it), GOOGLE_APPLICATION_CREDENTIALS (a file with such a key);
// a key is exchanged for a token once per fetch (gcs_auth.cc). None: anonymous (public objects). As for
// S3, an object named exactly like the key is fetched alone, else everything under "<key>/"; a refused
// listing falls back to fetching the key as one object (a public object in a bucket that does not allow
// anonymous listing).
#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

struct GcsConfig {
  std::string endpoint;
  std::string token;
};

HttpRequest Request(const GcsConfig& c, std::string url) {
  HttpRequest r;
  r.url = std::move(url);
  if (!c.token.empty()) r.headers.push_back("Authorization: Bearer " + c.token);
  return r;
}

StatusOr<std::vector<RemoteObject>> List(const GcsConfig& c, const std::string& bucket, const std::string& prefix) {
  return ListAllPages([&](const std::string& token) -> StatusOr<ListPage> {
    std::string url = c.endpoint + "/storage/v1/b/" + PercentEncode(bucket, false) +
                      "/o?prefix=" + PercentEncode(prefix, false);
    if (!token.empty()) url += "&pageToken=" + PercentEncode(token, false);
    ASSIGN_OR_RETURN(std::string body, HttpGetString(Request(c, url)));
    auto page = ParseGcsListPage(body);
    if (!page.ok()) return page.status().WithPrefix("GET " + url);
    return page;
  });
}

StatusOr<std::string> TokenFor(const Env& env) {
  std::string token = env.Get("GOOGLE_OAUTH_ACCESS_TOKEN");
  if (!token.empty()) return token;
  std::string key = env.Get("GOOGLE_SERVICE_ACCOUNT_KEY_JSON");
  std::string source = "GOOGLE_SERVICE_ACCOUNT_KEY_JSON";
  if (key.empty()) {
    std::string path = env.Get("GOOGLE_APPLICATION_CREDENTIALS");
    if (path.empty()) return std::string();  // anonymous
    std::ifstream in(path, std::ios::binary);
    if (!in) return InvalidArgument("GOOGLE_APPLICATION_CREDENTIALS: cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    key = ss.str();
    source = "GOOGLE_APPLICATION_CREDENTIALS (" + path + ")";
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto t = GcsAccessTokenFromServiceAccount(key, now);
  if (!t.ok()) return t.status().WithPrefix("the service-account key in " + source);
  return std::move(*t);
}

}  // namespace

StatusOr<ListPage> ParseGcsListPage(std::string_view json) {
  const auto bad = [](const std::string& what) { return Unavailable("a malformed listing: " + what); };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return bad("not JSON");
  if (!doc.is_object()) return bad("not a JSON object");
  ListPage page;
  simdjson::dom::element items_el;
  if (doc["items"].get(items_el) == simdjson::SUCCESS) {
    simdjson::dom::array items;
    if (items_el.get_array().get(items) != simdjson::SUCCESS) return bad("\"items\" is not an array");
    for (simdjson::dom::element item : items) {
      std::string_view name, size;
      if (item["name"].get_string().get(name) != simdjson::SUCCESS) return bad("an item without a name");
      RemoteObject o;
      o.name = std::string(name);
      std::string shown = "\"" + o.name.substr(0, 200) + "\"";
      // The JSON API writes sizes as strings (uint64 in JSON); a number is accepted too.
      uint64_t n = 0;
      if (item["size"].get_string().get(size) == simdjson::SUCCESS) {
        if (!ParseObjectSize(size, &o.size)) return bad("object " + shown + " has the size \"" + std::string(size.substr(0, 40)) + "\"");
      } else if (item["size"].get_uint64().get(n) == simdjson::SUCCESS) {
        if (!ParseObjectSize(std::to_string(n), &o.size)) return bad("object " + shown + " has the size " + std::to_string(n));
      } else {
        return bad("object " + shown + " has no size");
      }
      page.objects.push_back(std::move(o));
    }
  }
  simdjson::dom::element next_el;
  if (doc["nextPageToken"].get(next_el) == simdjson::SUCCESS && !next_el.is_null()) {
    std::string_view next;
    if (next_el.get_string().get(next) != simdjson::SUCCESS) return bad("\"nextPageToken\" is not a string");
    page.next_token = std::string(next);
  }
  return page;
}

Status FetchGcs(const ParsedUri& u, const FetchContext& ctx) {
  GcsConfig c;
  c.endpoint = ctx.env->Get("GCS_ENDPOINT", "https://storage.googleapis.com");
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  ASSIGN_OR_RETURN(c.token, TokenFor(*ctx.env));
  auto request_for = [&](const std::string& name) {
    return Request(c, c.endpoint + "/storage/v1/b/" + PercentEncode(u.bucket, false) + "/o/" +
                          PercentEncode(name, false) + "?alt=media");
  };
  StatusOr<std::vector<RemoteObject>> listing = List(c, u.bucket, u.path);
  if (!listing.ok()) {
    bool single = !u.path.empty() && u.path.back() != '/';
    if (listing.status().code() != StatusCode::kUnauthenticated || !single) return listing.status();
    std::string base = u.path.substr(u.path.rfind('/') + 1);
    RETURN_IF_ERROR(CheckRelativePath(base, "object"));
    return DownloadObjects({{RemoteObject{u.path, 0}, base}}, ctx, request_for);
  }
  ASSIGN_OR_RETURN(auto objects, SelectObjects(*listing, u.path));
  return DownloadObjects(objects, ctx, request_for);
}

}  // namespace inferd::storage::internal
