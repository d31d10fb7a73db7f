// storage/gcs.cc: gs://bucket/object-or-prefix over the Cloud Storage JSON API.
//
// Listing: GET <endpoint>/storage/v1/b/<bucket>/o?prefix=<key>[&pageToken=...]; download: GET
// <endpoint>/storage/v1/b/<bucket>/o/<object, '/' encoded>?alt=media. The endpoint is
// https://storage.googleapis.com unless GCS_ENDPOINT overrides it (tests); GOOGLE_OAUTH_ACCESS_TOKEN, when
// set, is sent as a bearer token (public objects need none). As for S3, an object named exactly like the
// key is fetched alone, else everything under "<key>/"; a refused listing falls back to fetching the key
// as one object (a public object in a bucket that does not allow anonymous listing).
#include <simdjson.h>

#include <charconv>

#include "storage/internal.h"

namespace inferd::storage::internal {

StatusOr<ListPage> ParseGcsListPage(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return Unavailable("not JSON");
  ListPage page;
  simdjson::dom::array items;
  if (doc["items"].get_array().get(items) == simdjson::SUCCESS) {
    for (simdjson::dom::element item : items) {
      std::string_view name, size;
      if (item["name"].get_string().get(name) != simdjson::SUCCESS) return Unavailable("an item without a name");
      RemoteObject o;
      o.name = std::string(name);
      if (item["size"].get_string().get(size) == simdjson::SUCCESS) {
        std::from_chars(size.data(), size.data() + size.size(), o.size);
      }
      page.objects.push_back(std::move(o));
    }
  }
  std::string_view next;
  if (doc["nextPageToken"].get_string().get(next) == simdjson::SUCCESS && !next.empty()) {
    page.truncated = true;
    page.next_token = std::string(next);
  }
  return page;
}

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
  constexpr size_t kMaxObjects = 1'000'000;
  std::vector<RemoteObject> all;
  std::string token;
  while (true) {
    std::string url = c.endpoint + "/storage/v1/b/" + PercentEncode(bucket, false) +
                      "/o?prefix=" + PercentEncode(prefix, false);
    if (!token.empty()) url += "&pageToken=" + PercentEncode(token, false);
    ASSIGN_OR_RETURN(std::string body, HttpGetString(Request(c, url)));
    StatusOr<ListPage> page = ParseGcsListPage(body);
    if (!page.ok()) return Unavailable("GET " + url + ": " + page.status().message());
    for (RemoteObject& o : page->objects) all.push_back(std::move(o));
    if (!page->truncated) break;
    if (page->next_token == token) return Unavailable("GET " + url + ": the listing repeated its page token");
    if (all.size() > kMaxObjects) return InvalidArgument("more than 1000000 objects under the prefix");
    token = page->next_token;
  }
  return all;
}

}  // namespace

Status FetchGcs(const ParsedUri& u, const FetchContext& ctx) {
  GcsConfig c;
  c.endpoint = ctx.env->Get("GCS_ENDPOINT", "https://storage.googleapis.com");
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  c.token = ctx.env->Get("GOOGLE_OAUTH_ACCESS_TOKEN");
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
