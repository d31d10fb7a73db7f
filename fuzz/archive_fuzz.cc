// fuzz/archive_fuzz.cc: unpacking a downloaded archive (storage ExtractArchive: .tar, .tar.gz, .zip through
// libarchive, with inferd's checks of every entry). The input is written to a file and unpacked into
// <scratch>/sandbox/a/b/dest, so that an entry climbing one or two levels lands where it can be seen.
// Invariants, whether the archive is accepted or refused:
// - nothing is created outside dest (the sandbox holds only a/b/dest, the scratch dir only the input);
// - every symlink left in dest resolves inside dest;
// - the regular files in dest add up to at most max_bytes (apparent size, each inode once: a sparse entry
//   counts what it claims).
// scripts/fuzz.sh runs this target as `nobody` when started as root: a bug here writes files.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "fuzz_check.h"
#include "storage/internal.h"

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxBytes = 1 << 20;

fs::path g_scratch;

// Makes every directory under p writable and searchable again (an entry may have mode 000), then removes it.
void ForceRemove(const fs::path& p) {
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(p, ec))) {
    fs::permissions(p, fs::perms::owner_all, fs::perm_options::add, ec);
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) ForceRemove(it->path());
  }
  fs::remove_all(p, ec);
}

bool Inside(const fs::path& p, const fs::path& root) {
  auto rel = p.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

void CheckTree(const fs::path& dest) {
  std::error_code ec;
  fs::path root = fs::canonical(dest, ec);
  FUZZ_CHECK(!ec, "destination vanished");
  std::set<std::pair<dev_t, ino_t>> seen;
  uint64_t total = 0;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      fs::path resolved = fs::weakly_canonical(it->path(), ec);
      FUZZ_CHECK(ec || resolved == root || Inside(resolved, root),
                 "symlink " + it->path().string() + " resolves to " + resolved.string());
      ec.clear();
    } else if (S_ISREG(st.st_mode) && seen.insert({st.st_dev, st.st_ino}).second) {
      total += static_cast<uint64_t>(st.st_size);
    }
  }
  FUZZ_CHECK(total <= kMaxBytes, "unpacked " + std::to_string(total) + " bytes, more than max_bytes");
}

void CheckNothingEscaped(const fs::path& input) {
  std::error_code ec;
  for (fs::directory_iterator it(g_scratch, ec), end; !ec && it != end; it.increment(ec)) {
    FUZZ_CHECK(it->path() == input || it->path() == g_scratch / "sandbox",
               "archive wrote " + it->path().string());
  }
  const fs::path allowed[] = {g_scratch / "sandbox" / "a", g_scratch / "sandbox" / "a" / "b",
                              g_scratch / "sandbox" / "a" / "b" / "dest"};
  for (fs::recursive_directory_iterator it(g_scratch / "sandbox", fs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->path() == allowed[2]) {
      it.disable_recursion_pending();
      continue;
    }
    FUZZ_CHECK(it->path() == allowed[0] || it->path() == allowed[1], "archive wrote " + it->path().string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/inferd-archive-fuzz-XXXXXX";
  if (!::mkdtemp(templ.data())) std::abort();
  g_scratch = templ;
  std::atexit([] { ForceRemove(g_scratch); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path input = g_scratch / "input";
  const fs::path dest = g_scratch / "sandbox" / "a" / "b" / "dest";
  {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::error_code ec;
  fs::create_directories(dest, ec);
  FUZZ_CHECK(!ec, "cannot create " + dest.string());
  inferd::Status st = inferd::storage::internal::ExtractArchive(
      input.string(), dest.string(), {kMaxBytes, 10000, "max_bytes", "max_entries"});
  CheckNothingEscaped(input);
  if (st.ok()) CheckTree(dest);
  ForceRemove(g_scratch / "sandbox");
  return 0;
}
