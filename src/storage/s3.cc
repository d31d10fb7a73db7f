// storage/s3.cc: s3://bucket/key-or-prefix over the S3 REST API, path-style, SigV4-signed by libcurl.
//
// Configuration (KServe's variables): AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (absent: unsigned requests,
// for public buckets), AWS_SESSION_TOKEN (sent as x-amz-security-token, which curl signs with the other
// headers), AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1), S3_ENDPOINT (else AWS_ENDPOINT_URL;
// host[:port] or a URL; default s3[.<region>].amazonaws.com), S3_USE_HTTPS (default 1; a URL's scheme
// wins), S3_VERIFY_SSL (default 1), AWS_CA_BUNDLE (a PEM file to verify the endpoint with),
// awsAnonymousCredential ("true": unsigned requests even when keys are set, as KServe's storage initializer).
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
  std::string ca_file;
};

bool Truthy(const std::string& v, bool fallback) {
  if (v.empty()) return fallback;
  return !(v == "0" || v == "false" || v == "False" || v == "FALSE" || v == "no" || v == "off");
}

S3Config ConfigFromEnv(const Env& env) {
  S3Config c;
  c.region = env.Get("AWS_REGION", env.Get("AWS_DEFAULT_REGION", "us-east-1"));
  if (!Truthy(env.Get("awsAnonymousCredential"), false)) {
    c.access_key = env.Get("AWS_ACCESS_KEY_ID");
    c.secret_key = env.Get("AWS_SECRET_ACCESS_KEY");
    c.session_token = env.Get("AWS_SESSION_TOKEN");
  }
  c.verify_tls = Truthy(env.Get("S3_VERIFY_SSL"), true);
  c.ca_file = env.Get("AWS_CA_BUNDLE");
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
  r.ca_file = c.ca_file;
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

StatusOr<std::vector<RemoteObject>> List(const S3Config& c, const std::string& bucket, const std::string& prefix) {
  return ListAllPages([&](const std::string& token) -> StatusOr<ListPage> {
    // SigV4 signs the query as sent: parameters sorted by name and every value percent-encoded.
    std::string query;
    if (!token.empty()) query += "continuation-token=" + PercentEncode(token, false) + "&";
    query += "list-type=2&prefix=" + PercentEncode(prefix, false);
    HttpRequest req = Request(c, c.base_url + "/" + PercentEncode(bucket, false) + "?" + query);
    ASSIGN_OR_RETURN(std::string body, HttpGetString(req));
    return ParseS3ListPage(body);
  });
}

}  // namespace

StatusOr<ListPage> ParseS3ListPage(std::string_view xml) {
  const auto bad = [](const std::string& what) { return Unavailable("ListObjectsV2 answered a malformed listing: " + what); };
  size_t root = xml.find("<ListBucketResult");
  if (root == std::string_view::npos) return bad("not a ListBucketResult");
  size_t root_end = xml.rfind("</ListBucketResult>");
  if (root_end == std::string_view::npos || root_end < root) return bad("the document is cut short");
  xml = xml.substr(root, root_end - root);
  ListPage page;
  std::string page_fields;  // the text outside <Contents>, where the page-level elements are
  size_t pos = 0;
  while (true) {
    size_t b = xml.find("<Contents>", pos);
    page_fields.append(xml.substr(pos, b == std::string_view::npos ? std::string_view::npos : b - pos));
    if (b == std::string_view::npos) break;
    size_t e = xml.find("</Contents>", b);
    if (e == std::string_view::npos) return bad("a <Contents> is cut short");
    std::string_view item = xml.substr(b + 10, e - b - 10);
    if (item.find("<Contents>") != std::string_view::npos) return bad("a <Contents> is cut short");
    RemoteObject o;
    bool has_key = false, has_size = false;
    o.name = Element(item, "Key", &has_key);
    if (!has_key) return bad("a <Contents> without <Key>");
    std::string size = Element(item, "Size", &has_size);
    if (!has_size) return bad("object \"" + o.name.substr(0, 200) + "\" has no <Size>");
    if (!ParseObjectSize(size, &o.size)) return bad("object \"" + o.name.substr(0, 200) + "\" has the size \"" + size.substr(0, 40) + "\"");
    page.objects.push_back(std::move(o));
    pos = e + 11;
  }
  bool has_truncated = false;
  std::string truncated = Element(page_fields, "IsTruncated", &has_truncated);
  if (has_truncated && truncated != "true" && truncated != "false") {
    return bad("<IsTruncated> is \"" + truncated.substr(0, 40) + "\"");
  }
  if (truncated == "true") {
    page.next_token = Element(page_fields, "NextContinuationToken");
    if (page.next_token.empty()) return bad("IsTruncated without a NextContinuationToken");
  }
  return page;
}

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
