// webui/assets.h: the web app's files, compiled into the binary, and how /ui/... answers them
// (docs/webapp.md, "Assets").
//
// Contract:
// - EmbeddedAssets() is every file under web/dist/ at build time (cmake/embed_web.py generates it): path
//   relative to dist ("index.html", "assets/app-3KX7ZQ2A.js"), content type, bytes, gzip bytes ("" when
//   gzip would not be smaller or the type is already compressed), strong ETag (quoted hash of the bytes), and
//   whether the name carries esbuild's content hash (then it can be cached for ever).
// - ResolveAsset(assets, rel): the file at `rel` (the path after "/ui/"); "" and any path that is not a file
//   and whose last segment has no '.' give index.html (client-side routes such as ns/default/isvc/x/overview);
//   anything else nullptr (404). Pure.
// - ServeAsset(assets, req): the whole answer to GET/HEAD /ui/... : 200 with the bytes (gzip when the request's
//   Accept-Encoding takes it, with `Vary: Accept-Encoding`), 304 when If-None-Match names the ETag, 404 for no
//   such file, 405 for other methods; Cache-Control `no-cache` for index.html and unhashed files, `public,
//   max-age=31536000, immutable` for hashed ones; the security headers (SecurityHeaders) on every answer.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api_server.h"

namespace inferd::webui {

struct Asset {
  std::string_view path, content_type, etag, bytes, gzip;
  bool immutable;
};

std::span<const Asset> EmbeddedAssets();

const Asset* ResolveAsset(std::span<const Asset> assets, std::string_view rel);

// Whether an Accept-Encoding value accepts gzip (a "gzip" coding with q > 0, or "*" with q > 0).
bool AcceptsGzip(std::string_view accept_encoding);
// Whether an If-None-Match value ("*", or a list of entity tags, weak ones compared weakly) names `etag`.
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

// The headers every /ui answer carries: Content-Security-Policy (no inline script), nosniff, no referrer.
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

api::ApiReply ServeAsset(std::span<const Asset> assets, const api::ApiRequest& req);

}  // namespace inferd::webui
