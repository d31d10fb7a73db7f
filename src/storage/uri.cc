// storage/uri.cc: storage URI parsing and the path helpers shared by the fetchers.
#include <cctype>
#include <string>

#include "storage/internal.h"
#include "storage/storage.h"

namespace inferd::storage {
namespace internal {
namespace {

bool HasControlChars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// "bucket/rest" -> bucket, rest (rest without the separating '/').
Status SplitBucket(std::string_view rest, std::string_view scheme, std::string* bucket, std::string* path) {
  size_t slash = rest.find('/');
  *bucket = std::string(rest.substr(0, slash));
  *path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
  if (bucket->empty()) return InvalidArgument(std::string(scheme) + ":// URI without a bucket");
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SplitPath(std::string_view p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view part = p.substr(i, j - i);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    i = j + 1;
  }
  return parts;
}

Status CheckRelativePath(std::string_view rel, std::string_view what) {
  std::string name = "\"" + std::string(rel) + "\"";
  if (rel.empty()) return InvalidArgument(std::string(what) + " has an empty path");
  if (rel.front() == '/') return InvalidArgument(std::string(what) + " " + name + " has an absolute path");
  if (rel.find('\0') != std::string_view::npos || HasControlChars(rel)) {
    return InvalidArgument(std::string(what) + " " + name + " has control characters in its path");
  }
  for (const std::string& part : SplitPath(rel)) {
    if (part == "..") return InvalidArgument(std::string(what) + " " + name + " has a '..' path component");
  }
  if (SplitPath(rel).empty()) return InvalidArgument(std::string(what) + " " + name + " names no file");
  return Status::Ok();
}

StatusOr<std::string> FileNameFromUrl(const std::string& url) {
  std::string_view u = url;
  size_t cut = u.find_first_of("?#");
  if (cut != std::string_view::npos) u = u.substr(0, cut);
  size_t scheme_end = u.find("://");
  std::string_view after = scheme_end == std::string_view::npos ? u : u.substr(scheme_end + 3);
  size_t path_start = after.find('/');
  std::string_view path = path_start == std::string_view::npos ? std::string_view() : after.substr(path_start);
  size_t last = path.rfind('/');
  std::string name = PercentDecode(last == std::string_view::npos ? path : path.substr(last + 1));
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      HasControlChars(name) || name.find('\0') != std::string::npos) {
    return InvalidArgument("the URL names no file (its path must end in a file name)");
  }
  return name;
}

bool IsArchiveName(std::string_view name) {
  auto ends = [&](std::string_view suffix) {
    if (name.size() <= suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(name[name.size() - suffix.size() + i])) != suffix[i]) return false;
    }
    return true;
  };
  return ends(".zip") || ends(".tar") || ends(".tar.gz") || ends(".tgz");
}

StatusOr<ParsedUri> ParseUri(const std::string& uri) {
  if (uri.empty()) return InvalidArgument("empty storage URI");
  if (HasControlChars(uri)) return InvalidArgument("storage URI has control characters");
  ParsedUri out;
  size_t sep = uri.find("://");
  if (sep == std::string::npos) {
    out.scheme = Scheme::kLocal;
    out.path = uri;
    return out;
  }
  std::string scheme = uri.substr(0, sep);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = std::string_view(uri).substr(sep + 3);
  if (scheme == "file") {
    out.scheme = Scheme::kFile;
    if (rest.substr(0, 10) == "localhost/") rest.remove_prefix(9);
    out.path = std::string(rest);
    if (out.path.empty()) return InvalidArgument("file:// URI without a path");
    return out;
  }
  if (scheme == "http" || scheme == "https") {
    out.scheme = Scheme::kHttp;
    out.url = uri;
    std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (host.empty()) return InvalidArgument(scheme + ":// URI without a host");
    return out;
  }
  if (scheme == "s3" || scheme == "gs") {
    out.scheme = scheme == "s3" ? Scheme::kS3 : Scheme::kGs;
    RETURN_IF_ERROR(SplitBucket(rest, scheme, &out.bucket, &out.path));
    return out;
  }
  if (scheme == "pvc") {
    out.scheme = Scheme::kPvc;
    RETURN_IF_ERROR(SplitBucket(rest, scheme, &out.bucket, &out.path));
    if (out.bucket == "." || out.bucket == "..") return InvalidArgument("pvc:// claim name \"" + out.bucket + "\"");
    for (const std::string& part : SplitPath(out.path)) {
      if (part == "..") return InvalidArgument("pvc:// path has a '..' component");
    }
    return out;
  }
  return InvalidArgument("unsupported storage URI scheme \"" + scheme +
                         "://\" (supported: local path, file://, http://, https://, s3://, gs://, pvc://)");
}

}  // namespace internal

bool IsSupportedUri(const std::string& uri) { return internal::ParseUri(uri).ok(); }

bool IsLocalUri(const std::string& uri) {
  auto p = internal::ParseUri(uri);
  return p.ok() && (p->scheme == internal::Scheme::kLocal || p->scheme == internal::Scheme::kFile ||
                    p->scheme == internal::Scheme::kPvc);
}

}  // namespace inferd::storage
