// storage/http_fetch.cc: http(s):// fetches (one file, or an archive unpacked) and the object-list
// download shared by s3:// and gs://.
#include <stdlib.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/logging.h"
#include "storage/internal.h"

namespace inferd::storage::internal {

namespace fs = std::filesystem;

Status FetchHttp(const ParsedUri& u, const FetchContext& ctx) {
  ASSIGN_OR_RETURN(std::string name, FileNameFromUrl(u.url));
  HttpRequest req;
  req.url = u.url;
  ctx.transfer->BeginObject(name);
  if (!IsArchiveName(name)) return HttpDownload(req, ctx.model_dir + "/" + name, ctx.transfer);

  // An archive: download it next to the temporary directory (named after it, so that the cache collector
  // knows it belongs to a download in progress), unpack into it, drop the archive.
  std::string scratch = ctx.model_dir + ".archive-XXXXXX";
  int fd = mkstemp(scratch.data());
  if (fd < 0) return Internal("cannot create a scratch file in " + ctx.cache_dir);
  close(fd);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove{scratch};
  RETURN_IF_ERROR(HttpDownload(req, scratch, ctx.transfer));
  LOG_INFO("storage: {}: unpacking {} ({})", ctx.uri, name, HumanBytes(ctx.transfer->bytes_done()));
  // A gzip'd tar's name says .tar.gz; libarchive detects the format from the content either way.
  return ExtractArchive(scratch, ctx.model_dir, ctx.archive).WithPrefix(name);
}

bool ParseObjectSize(std::string_view text, uint64_t* out) {
  constexpr uint64_t kMaxSize = 1ull << 53;
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size() && *out <= kMaxSize;
}

StatusOr<std::vector<RemoteObject>> ListAllPages(const std::function<StatusOr<ListPage>(const std::string&)>& fetch_page,
                                                 const ListLimits& limits) {
  constexpr size_t kMaxTokenBytes = 4096;  // S3's and GCS's are a few hundred
  std::vector<RemoteObject> all;
  std::set<std::string> tokens;  // every token seen: a listing that comes back to one loops
  std::string token;
  for (size_t pages = 1;; ++pages) {
    ASSIGN_OR_RETURN(ListPage page, fetch_page(token));
    if (page.objects.size() > limits.max_objects - all.size()) {
      return InvalidArgument("more than " + std::to_string(limits.max_objects) + " objects under the prefix");
    }
    for (RemoteObject& o : page.objects) all.push_back(std::move(o));
    if (page.next_token.empty()) break;
    if (page.next_token.size() > kMaxTokenBytes) {
      return Unavailable("the listing's continuation token is longer than " + std::to_string(kMaxTokenBytes) +
                         " bytes");
    }
    if (!tokens.insert(page.next_token).second) return Unavailable("the listing repeated a continuation token");
    if (pages >= limits.max_pages) {
      return InvalidArgument("the listing did not end after " + std::to_string(limits.max_pages) + " pages");
    }
    token = std::move(page.next_token);
  }
  return all;
}

StatusOr<std::vector<std::pair<RemoteObject, std::string>>> SelectObjects(const std::vector<RemoteObject>& listing,
                                                                          const std::string& key) {
  std::vector<std::pair<RemoteObject, std::string>> out;
  for (const RemoteObject& o : listing) {
    if (!key.empty() && key.back() != '/' && o.name == key) {
      std::string base = key.substr(key.rfind('/') + 1);
      RETURN_IF_ERROR(CheckRelativePath(base, "object"));
      out.clear();
      out.emplace_back(o, base);
      return out;
    }
  }
  std::string prefix = key.empty() || key.back() == '/' ? key : key + "/";
  std::set<std::string> seen;
  for (const RemoteObject& o : listing) {
    if (o.name.size() <= prefix.size() || o.name.compare(0, prefix.size(), prefix) != 0) continue;
    if (o.name.back() == '/') continue;  // a "directory" marker
    std::string rel = o.name.substr(prefix.size());
    RETURN_IF_ERROR(CheckRelativePath(rel, "object"));
    std::string norm;
    for (const std::string& p : SplitPath(rel)) norm += (norm.empty() ? "" : "/") + p;
    if (!seen.insert(norm).second) continue;
    out.emplace_back(o, norm);
  }
  if (out.empty()) return NotFound("no object named or under \"" + key + "\"");
  return out;
}

Status DownloadObjects(const std::vector<std::pair<RemoteObject, std::string>>& objects, const FetchContext& ctx,
                       const std::function<HttpRequest(const std::string& name)>& request_for) {
  uint64_t total = 0;
  for (const auto& [o, rel] : objects) total = o.size > UINT64_MAX - total ? UINT64_MAX : total + o.size;
  if (total > ctx.transfer->max_bytes()) {
    return PayloadTooLarge(std::to_string(objects.size()) + " objects of " + HumanBytes(total) +
                           " exceed the limit of " + HumanBytes(ctx.transfer->max_bytes()) + " (max_bytes)");
  }
  if (total > 0) ctx.transfer->SetTotal(total);  // the listing's sizes; Content-Length no longer adds
  LOG_INFO("storage: {}: {} object(s), {}", ctx.uri, objects.size(), HumanBytes(total));
  for (const auto& [o, rel] : objects) {
    fs::path dest = fs::path(ctx.model_dir) / rel;
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return Internal("cannot create " + dest.parent_path().string() + ": " + ec.message());
    if (fs::is_directory(dest, ec)) {
      return InvalidArgument("object \"" + o.name + "\" collides with a directory of other objects");
    }
    ctx.transfer->BeginObject(o.name);
    RETURN_IF_ERROR(HttpDownload(request_for(o.name), dest.string(), ctx.transfer));
  }
  return Status::Ok();
}

}  // namespace inferd::storage::internal
