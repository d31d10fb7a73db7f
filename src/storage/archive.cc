// storage/archive.cc: unpacking a downloaded .zip/.tar/.tar.gz/.tgz with libarchive, refusing unsafe entries.
//
// Every entry is checked before anything of it is written: an absolute path, a '..' component, a
// symlink whose target (resolved against the link's directory) leaves the destination, a hard link to a
// path outside it, and device files / FIFOs / sockets fail the whole archive with InvalidArgument naming
// the entry. Bounds (ArchiveLimits): the entry count, and the bytes unpacked, counted from each entry's
// declared size before anything of it is written (so a 1 GiB entry in a 1 MB archive is refused without
// writing it) and from the bytes actually written (headers can lie, or give no size). libarchive's SECURE_NODOTDOT/SECURE_SYMLINKS flags stay on as a second line (they also refuse to write through a
// symlink an earlier entry created), and a final walk resolves every symlink on disk, which catches
// chains the lexical check cannot see (a link to a link). The caller removes the directory on failure.
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

namespace fs = std::filesystem;

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};

std::string EntryName(archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  if (!p) p = archive_entry_pathname_utf8(e);
  return p ? p : "";
}

std::string ErrorOf(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

Status TooManyBytes(const ArchiveLimits& l, const std::string& name) {
  return PayloadTooLarge("archive unpacks to more than " + HumanBytes(l.max_bytes) + " (at entry \"" + name +
                         "\"); the bound is set by " + l.bytes_source);
}

std::string Unsafe(const std::string& name, const std::string& why) {
  return "unsafe archive entry \"" + name + "\": " + why;
}

// Resolves `target` lexically from the directory holding `rel`; false when it climbs above the root.
bool TargetStaysInside(const std::string& rel, const std::string& target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<std::string> parts = SplitPath(rel);
  if (!parts.empty()) parts.pop_back();  // the link's own name
  for (const std::string& p : SplitPath(target)) {
    if (p == "..") {
      if (parts.empty()) return false;
      parts.pop_back();
    } else {
      parts.push_back(p);
    }
  }
  return true;
}

bool IsInside(const fs::path& p, const fs::path& root) {
  auto rit = root.begin();
  auto pit = p.begin();
  for (; rit != root.end(); ++rit, ++pit) {
    if (pit == p.end() || *pit != *rit) return false;
  }
  return true;
}

Status CheckSymlinksOnDisk(const std::string& dest) {
  std::error_code ec;
  fs::path root = fs::canonical(dest, ec);
  if (ec) return Internal("cannot resolve " + dest + ": " + ec.message());
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return Internal("cannot list " + dest + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal("cannot list " + dest + ": " + ec.message());
    if (!it->is_symlink(ec)) continue;
    std::string rel = it->path().lexically_relative(root).string();
    fs::path resolved = fs::weakly_canonical(it->path(), ec);
    if (ec) return InvalidArgument(Unsafe(rel, "symlink cannot be resolved (" + ec.message() + ")"));
    if (!IsInside(resolved, root)) return InvalidArgument(Unsafe(rel, "symlink target leaves the archive"));
  }
  return Status::Ok();
}

}  // namespace

Status ExtractArchive(const std::string& archive_path, const std::string& dest_dir, const ArchiveLimits& limits) {
  // Entries are written at absolute paths under the canonical destination (libarchive's SECURE_SYMLINKS
  // check walks the whole path, so a symlink in the cache directory's own path would trip it).
  std::error_code ec;
  std::string dest = fs::canonical(dest_dir, ec).string();
  if (ec) return Internal("cannot resolve " + dest_dir + ": " + ec.message());
  std::unique_ptr<archive, ReadCloser> in(archive_read_new());
  std::unique_ptr<archive, WriteCloser> out(archive_write_disk_new());
  if (!in || !out) return Internal("libarchive: out of memory");
  archive_read_support_format_tar(in.get());
  archive_read_support_format_zip(in.get());
  archive_read_support_filter_all(in.get());
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  if (archive_read_open_filename(in.get(), archive_path.c_str(), 64 << 10) != ARCHIVE_OK) {
    return InvalidArgument(std::string("cannot open archive: ") + ErrorOf(in.get()));
  }
  uint64_t written = 0;   // apparent bytes unpacked (sparse holes included)
  uint64_t declared = 0;  // sum of the entries' declared sizes
  uint64_t headers = 0;   // every entry read (the bound)
  uint64_t entries = 0;   // entries unpacked
  while (true) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return InvalidArgument("corrupt archive: " + ErrorOf(in.get()));
    }
    std::string name = EntryName(entry);
    if (++headers > limits.max_entries) {
      return PayloadTooLarge("archive has more than " + std::to_string(limits.max_entries) +
                             " entries; the bound is set by " + limits.entries_source);
    }
    if (name.empty()) return InvalidArgument("archive entry without a name");
    if (name.front() == '/') return InvalidArgument(Unsafe(name, "absolute path"));
    std::vector<std::string> parts = SplitPath(name);
    if (parts.empty()) {  // "./": the archive's root directory
      archive_read_data_skip(in.get());
      continue;
    }
    RETURN_IF_ERROR(CheckRelativePath(name, "unsafe archive entry"));
    std::string rel;
    for (const std::string& p : parts) rel += (rel.empty() ? "" : "/") + p;

    const char* hardlink = archive_entry_hardlink(entry);
    mode_t type = archive_entry_filetype(entry);
    if (hardlink) {
      std::string target = hardlink;
      if (target.empty() || target.front() == '/' || !CheckRelativePath(target, "link").ok()) {
        return InvalidArgument(Unsafe(name, "hard link to \"" + target + "\" leaves the archive"));
      }
      std::string norm;
      for (const std::string& p : SplitPath(target)) norm += (norm.empty() ? "" : "/") + p;
      archive_entry_set_hardlink(entry, (dest + "/" + norm).c_str());
    } else if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(entry);
      std::string target = t ? t : "";
      if (!TargetStaysInside(rel, target)) {
        return InvalidArgument(Unsafe(name, "symlink to \"" + target + "\" leaves the archive"));
      }
    } else if (type != AE_IFREG && type != AE_IFDIR) {
      return InvalidArgument(Unsafe(name, "device files, FIFOs and sockets are not allowed"));
    }
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      uint64_t size = static_cast<uint64_t>(archive_entry_size(entry));
      declared = size > UINT64_MAX - declared ? UINT64_MAX : declared + size;
      if (declared > limits.max_bytes) return TooManyBytes(limits, name);
    }
    ++entries;
    archive_entry_set_pathname(entry, (dest + "/" + rel).c_str());
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) {
      return InvalidArgument(Unsafe(name, std::string("cannot extract: ") + ErrorOf(out.get())));
    }
    if (archive_entry_size(entry) > 0 || type == AE_IFREG) {
      // The unpacked size is the files' apparent size: a sparse entry (GNU/pax sparse tar) holds a few bytes of
      // data and its holes read back as zeros, so a block counts up to where it ends (offset + size), beside
      // the declared sizes counted above. Found by fuzz/archive_fuzz (a 200-byte .tgz unpacked to 8 MiB past a
      // max_bytes of 1 MiB).
      uint64_t reach = 0;  // apparent size of this entry so far
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        if (offset < 0) return InvalidArgument("corrupt archive entry \"" + name + "\": negative offset");
        reach = std::max(reach, static_cast<uint64_t>(offset) + size);
        if (reach > limits.max_bytes - written) return TooManyBytes(limits, name);
        if (archive_write_data_block(out.get(), buf, size, offset) < ARCHIVE_WARN) {
          return Internal("cannot write \"" + name + "\": " + ErrorOf(out.get()));
        }
      }
      written += reach;
      if (r != ARCHIVE_EOF) {
        return InvalidArgument("corrupt archive entry \"" + name + "\": " + ErrorOf(in.get()));
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return Internal("cannot finish \"" + name + "\": " + ErrorOf(out.get()));
    }
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN) {
    return Internal(std::string("cannot finish unpacking: ") + ErrorOf(out.get()));
  }
  if (entries == 0) return InvalidArgument("the archive is empty");
  return CheckSymlinksOnDisk(dest);
}

}  // namespace inferd::storage::internal
