// storage/s3.cc: s3://bucket/key-or-prefix over the S3 REST API, path-style, SigV4-signed by libcurl.
//
// Configuration (KServe's variables): AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (absent: unsigned requests,
// for public buckets), AWS_SESSION_TOKEN (sent as x-amz-security-token, which curl signs with the other
// headers), AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1), S3_ENDPOINT (else AWS_ENDPOINT_URL;
// host[:port] or a URL; default s3[.<region>].amazonaws.com), S3_USE_HTTPS (default 1; a URL's scheme
// wins), S3_VERIFY_SSL (default 1).
//
// The key is first listed as a prefix (ListObjectsV2): an object named exactly like the key is fetched
// alone, else everything under "<key>/". When listing is refused (a credential allowed GetObject but not
// ListBucket), a key that does not end in '/' is fetched as one object.
//
// Why no XML library: the module needs four fields of one fixed, flat response (<Key>, <Size>,
// <IsTruncated>, <NextContinuationToken>). S3 writes them as plain elements without attributes, CDATA or
// namespaces on them, and escapes text with the five predefined entities; a substring scan plus entity
// decoding reads them exactly, without adding libxml2/expat to the build for one response.
#include <charconv>
#include <string>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

struct S3Config {
  std::string base_url;  // scheme://host[:port], no trailing '/'
  std::string region;
  std::string access_key, secret_key, session_token;
  bool verify_tls = true;
};

bool Truthy(const std::string& v, bool fallback) {
  if (v.empty()) return fallback;
  return !(v == "0" || v == "false" || v == "False" || v == "FALSE" || v == "no" || v == "off");
}

S3Config ConfigFromEnv(const Env& env) {
  S3Config c;
  c.region = env.Get("AWS_REGION", env.Get("AWS_DEFAULT_REGION", "us-east-1"));
  c.access_key = env.Get("AWS_ACCESS_KEY_ID");
  c.secret_key = env.Get("AWS_SECRET_ACCESS_KEY");
  c.session_token = env.Get("AWS_SESSION_TOKEN");
  c.verify_tls = Truthy(env.Get("S3_VERIFY_SSL"), true);
  std::string endpoint = env.Get("S3_ENDPOINT", env.Get("AWS_ENDPOINT_URL"));
  if (endpoint.empty()) endpoint = c.region == "us-east-1" ? "s3.amazonaws.com" : "s3." + c.region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.find("://") == std::string::npos) {
    endpoint = (Truthy(env.Get("S3_USE_HTTPS"), true) ? "https://" : "http://") + endpoint;
  }
  c.base_url = endpoint;
  return c;
}

HttpRequest Request(const S3Config& c, std::string url) {
  HttpRequest r;
  r.url = std::move(url);
  r.verify_tls = c.verify_tls;
  r.follow_redirects = false;  // a redirect would need a new signature; S3 answers path-style requests directly
  if (!c.access_key.empty()) {
    r.aws_sigv4 = "aws:amz:" + c.region + ":s3";
    r.user = c.access_key;
    r.password = c.secret_key;
    // S3 requires the payload hash header. curl 8.x adds it itself for the "s3" service, 7.x does not;
    // given here, both versions sign it and take the payload hash from it (a GET has an empty body).
    r.headers.push_back("x-amz-content-sha256: " + Sha256Hex(""));
    if (!c.session_token.empty()) r.headers.push_back("x-amz-security-token: " + c.session_token);
  }
  return r;
}

std::string ObjectUrl(const S3Config& c, const std::string& bucket, const std::string& key) {
  return c.base_url + "/" + PercentEncode(bucket, false) + "/" + PercentEncode(key, true);
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    std::string rep;
    if (ent == "amp") rep = "&";
    else if (ent == "lt") rep = "<";
    else if (ent == "gt") rep = ">";
    else if (ent == "quot") rep = "\"";
    else if (ent == "apos") rep = "'";
    else if (ent.size() > 1 && ent[0] == '#') {
      unsigned cp = 0;
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || cp > 0x10FFFF) {
        out.push_back('&');
        continue;
      }
      if (cp < 0x80) {  // UTF-8 encode
        rep.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        rep.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        rep.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        rep.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        rep.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        rep.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        rep.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        rep.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        rep.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        rep.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.push_back('&');
      continue;
    }
    out += rep;
    i = semi;
  }
  return out;
}

// The text of the first <tag>...</tag> in [from, to) of doc; npos-safe. found=false when absent.
std::string Element(std::string_view doc, std::string_view tag, bool* found = nullptr) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t b = doc.find(open);
  size_t e = b == std::string_view::npos ? b : doc.find(close, b + open.size());
  if (found) *found = e != std::string_view::npos;
  if (e == std::string_view::npos) return "";
  return XmlUnescape(doc.substr(b + open.size(), e - b - open.size()));
}

}  // namespace

StatusOr<ListPage> ParseS3ListPage(std::string_view xml) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) {
    return Unavailable("ListObjectsV2 answered something that is not a ListBucketResult");
  }
  ListPage page;
  size_t pos = 0;
  while (true) {
    size_t b = xml.find("<Contents>", pos);
    if (b == std::string_view::npos) break;
    size_t e = xml.find("</Contents>", b);
    if (e == std::string_view::npos) return Unavailable("ListObjectsV2: truncated <Contents>");
    std::string_view item = xml.substr(b, e - b);
    RemoteObject o;
    bool has_key = false;
    o.name = Element(item, "Key", &has_key);
    if (!has_key) return Unavailable("ListObjectsV2: <Contents> without <Key>");
    std::string size = Element(item, "Size");
    std::from_chars(size.data(), size.data() + size.size(), o.size);
    page.objects.push_back(std::move(o));
    pos = e + 11;
  }
  // The page-level fields follow the <Contents> (S3 puts them first; either order works).
  std::string rest = std::string(xml.substr(0, xml.find("<Contents>"))) + std::string(xml.substr(pos));
  page.truncated = Element(rest, "IsTruncated") == "true";
  page.next_token = Element(rest, "NextContinuationToken");
  if (page.truncated && page.next_token.empty()) {
    return Unavailable("ListObjectsV2: IsTruncated without a NextContinuationToken");
  }
  return page;
}

namespace {

StatusOr<std::vector<RemoteObject>> List(const S3Config& c, const std::string& bucket, const std::string& prefix) {
  constexpr size_t kMaxObjects = 1'000'000;
  std::vector<RemoteObject> all;
  std::string token;
  while (true) {
    // SigV4 signs the query as sent: parameters sorted by name and every value percent-encoded.
    std::string query;
    if (!token.empty()) query += "continuation-token=" + PercentEncode(token, false) + "&";
    query += "list-type=2&prefix=" + PercentEncode(prefix, false);
    HttpRequest req = Request(c, c.base_url + "/" + PercentEncode(bucket, false) + "?" + query);
    ASSIGN_OR_RETURN(std::string body, HttpGetString(req));
    ASSIGN_OR_RETURN(ListPage page, ParseS3ListPage(body));
    for (RemoteObject& o : page.objects) all.push_back(std::move(o));
    if (!page.truncated) break;
    if (page.next_token == token) return Unavailable("ListObjectsV2 repeated its continuation token");
    if (all.size() > kMaxObjects) return InvalidArgument("more than 1000000 objects under the prefix");
    token = page.next_token;
  }
  return all;
}

}  // namespace

Status FetchS3(const ParsedUri& u, const FetchContext& ctx) {
  S3Config c = ConfigFromEnv(*ctx.env);
  auto request_for = [&](const std::string& key) { return Request(c, ObjectUrl(c, u.bucket, key)); };
  StatusOr<std::vector<RemoteObject>> listing = List(c, u.bucket, u.path);
  if (!listing.ok()) {
    bool single = !u.path.empty() && u.path.back() != '/';
    if (listing.status().code() != StatusCode::kUnauthenticated || !single) return listing.status();
    // No ListBucket permission: try the key as one object (its error, if any, is the answer).
    RemoteObject o{u.path, 0};
    std::string base = u.path.substr(u.path.rfind('/') + 1);
    RETURN_IF_ERROR(CheckRelativePath(base, "object"));
    return DownloadObjects({{o, base}}, ctx, request_for);
  }
  ASSIGN_OR_RETURN(auto objects, SelectObjects(*listing, u.path));
  return DownloadObjects(objects, ctx, request_for);
}

}  // namespace inferd::storage::internal
