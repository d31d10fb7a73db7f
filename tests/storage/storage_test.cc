// tests/storage/storage_test.cc: Storage::Fetch against real local servers.
//
// One fake object store (tests/storage/fake_object_store.py, run with /usr/bin/python3) serves plain HTTP
// files, an S3 API that verifies every request's SigV4 signature, and a GCS JSON API subset; it lists two
// objects per page so listings paginate. Archives are written with libarchive here, including the
// hostile ones (a '..' entry, an absolute path, escaping links) that a normal tar tool would refuse.
#include "storage/storage.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "storage/internal.h"
#include "util/test_util.h"

namespace inferd::storage {
namespace {

namespace fs = std::filesystem;

constexpr char kAccessKey[] = "AKIDTESTKEY";
constexpr char kSecret[] = "test/secret+KEY=value";
constexpr char kRegion[] = "eu-west-1";
constexpr char kGcsToken[] = "ya29.test-token";
constexpr char kGcsSaToken[] = "ya29.service-account-token";  // what the store's /token hands out

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << data;
}

// ---- the fake object store, one per test binary -----------------------------------------------------
class FakeStore : public ::testing::Environment {
 public:
  static FakeStore* instance;
  std::string root;
  int port = 0;
  pid_t pid = -1;

  void SetUp() override {
    char tmpl[] = "/tmp/inferd-storage-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root = tmpl;
    std::string script = std::string(INFERD_SOURCE_DIR) + "/tests/storage/fake_object_store.py";
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      execl("/usr/bin/python3", "python3", script.c_str(), "--root", root.c_str(), "--access-key", kAccessKey,
            "--secret", kSecret, "--region", kRegion, "--page-size", "2", "--gcs-private",
            (std::string("privbucket=") + kGcsToken).c_str(), "--gcs-private",
            (std::string("saprivbucket=") + kGcsSaToken).c_str(), "--gcs-sa-token", kGcsSaToken,
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    close(fds[0]);
    port = atoi(line.c_str());
    ASSERT_GT(port, 0) << "fake_object_store.py did not print its port";
    instance = this;
  }

  void TearDown() override {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    std::error_code ec;
    if (!root.empty()) fs::remove_all(root, ec);
  }

  int Requests() {
    auto r = inferd::testing::HttpGet(port, "/__stats");
    size_t p = r.body.find("\"requests\": ");
    return p == std::string::npos ? -1 : atoi(r.body.c_str() + p + 12);
  }
  std::string RequestLog() { return inferd::testing::HttpGet(port, "/__stats").body; }
  void Reset() { inferd::testing::HttpGet(port, "/__reset"); }
  std::string Url(const std::string& rel) { return "http://127.0.0.1:" + std::to_string(port) + "/http/" + rel; }
};
FakeStore* FakeStore::instance = nullptr;

// ---- archives ---------------------------------------------------------------------------------------
struct Entry {
  enum Kind { kFile, kDir, kSymlink, kHardlink, kFifo } kind = kFile;
  std::string name;
  std::string data;  // file contents, or the link target
};

// kind: "tar", "tar.gz" (also .tgz) or "zip".
void WriteArchive(const std::string& path, const std::string& kind, const std::vector<Entry>& entries) {
  fs::create_directories(fs::path(path).parent_path());
  archive* a = archive_write_new();
  if (kind == "zip") {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    if (kind == "tar.gz") archive_write_add_filter_gzip(a);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_mtime(entry, 1700000000, 0);
    switch (e.kind) {
      case Entry::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
        break;
      case Entry::kDir:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case Entry::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_perm(entry, 0777);
        archive_entry_set_symlink(entry, e.data.c_str());
        break;
      case Entry::kHardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_hardlink(entry, e.data.c_str());
        archive_entry_set_size(entry, 0);
        break;
      case Entry::kFifo:
        archive_entry_set_filetype(entry, AE_IFIFO);
        archive_entry_set_perm(entry, 0644);
        break;
    }
    ASSERT_GE(archive_write_header(a, entry), ARCHIVE_WARN) << e.name << ": " << archive_error_string(a);
    if (e.kind == Entry::kFile && !e.data.empty()) {
      ASSERT_EQ(archive_write_data(a, e.data.data(), e.data.size()), static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::vector<std::string> ListTree(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    out.push_back(it->path().lexically_relative(dir).string() + (it->is_directory() && !it->is_symlink() ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---- fixture: a fresh cache per test ------------------------------------------------------------------
class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = FakeStore::instance;
    ASSERT_NE(store_, nullptr);
    char tmpl[] = "/tmp/inferd-storage-cache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    work_ = tmpl;
    cache_ = work_ + "/cache";
    store_->Reset();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  StorageOptions Options(const std::string& secret = kSecret) {
    StorageOptions o;
    o.cache_dir = cache_;
    o.pvc_root = work_ + "/pvc";
    std::string ep = "127.0.0.1:" + std::to_string(store_->port);
    o.env = {{"S3_ENDPOINT", ep},
             {"S3_USE_HTTPS", "0"},
             {"AWS_ACCESS_KEY_ID", kAccessKey},
             {"AWS_SECRET_ACCESS_KEY", secret},
             {"AWS_REGION", kRegion},
             {"GCS_ENDPOINT", "http://" + ep}};
    return o;
  }

  // Entries of the cache directory (nothing after a failed fetch).
  std::vector<std::string> CacheEntries() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(cache_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      out.push_back(it->path().filename().string());
    }
    return out;
  }

  FakeStore* store_ = nullptr;
  std::string work_, cache_;
};

// ---- local, file://, pvc://, schemes -------------------------------------------------------------------
TEST_F(StorageTest, LocalPathAndFileUriAreUsedInPlace) {
  std::string dir = work_ + "/models/m1";
  WriteFile(dir + "/model.json", "{}");
  Storage s(Options());
  auto r = s.Fetch(dir);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->local_path, dir);
  EXPECT_FALSE(r->cached);
  EXPECT_EQ(r->bytes, 0u);
  auto f = s.Fetch("file://" + dir);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->local_path, dir);
  auto lh = s.Fetch("file://localhost" + dir);
  ASSERT_TRUE(lh.ok()) << lh.status().ToString();
  EXPECT_EQ(lh->local_path, dir);
  EXPECT_TRUE(CacheEntries().empty());  // nothing copied
}

TEST_F(StorageTest, MissingLocalPathIsNotFound) {
  Storage s(Options());
  for (const std::string& uri : {work_ + "/nope", "file://" + work_ + "/nope"}) {
    auto r = s.Fetch(uri);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
    EXPECT_NE(r.status().message().find(uri), std::string::npos) << r.status().message();
  }
}

TEST_F(StorageTest, PvcMapsUnderPvcRoot) {
  WriteFile(work_ + "/pvc/claim1/models/iris/model.bst", "x");
  Storage s(Options());
  auto r = s.Fetch("pvc://claim1/models/iris");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->local_path, work_ + "/pvc/claim1/models/iris");
  auto missing = s.Fetch("pvc://claim1/models/none");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto escape = s.Fetch("pvc://claim1/../../etc");
  EXPECT_EQ(escape.status().code(), StatusCode::kInvalidArgument) << escape.status().ToString();
  StorageOptions no_root = Options();
  no_root.pvc_root.clear();
  EXPECT_EQ(Storage(no_root).Fetch("pvc://claim1/models/iris").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StorageTest, UnsupportedSchemeAndIsSupportedUri) {
  Storage s(Options());
  auto r = s.Fetch("hdfs://namenode/models/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("hdfs://namenode/models/x"), std::string::npos);
  EXPECT_EQ(s.Fetch("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Fetch("s3:///key").status().code(), StatusCode::kInvalidArgument);

  for (const char* ok : {"/mnt/models", "relative/dir", "file:///mnt/models", "http://h/m.bst", "https://h/m.tgz",
                         "s3://bucket/prefix", "s3://bucket", "gs://bucket/obj", "pvc://claim/path", "S3://b/k"}) {
    EXPECT_TRUE(IsSupportedUri(ok)) << ok;
  }
  for (const char* bad : {"", "hdfs://x/y", "ftp://h/f", "s3://", "gs:///obj", "pvc://", "http://", "oci://img"}) {
    EXPECT_FALSE(IsSupportedUri(bad)) << bad;
  }
}

TEST_F(StorageTest, CachePathIsSha256OfUri) {
  Storage s(Options());
  std::string uri = "s3://bucket/models/a";
  EXPECT_EQ(s.CachePath(uri), cache_ + "/" + internal::Sha256Hex(uri));
  EXPECT_EQ(internal::Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(s.CachePath("s3://bucket/models/b"), s.CachePath(uri));
}

TEST_F(StorageTest, RemoteWithoutCacheDirIsInvalid) {
  StorageOptions o = Options();
  o.cache_dir.clear();
  auto r = Storage(o).Fetch(store_->Url("x.bin"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
}

// ---- http(s) ------------------------------------------------------------------------------------------
TEST_F(StorageTest, HttpSingleFileKeepsItsName) {
  WriteFile(store_->root + "/http/models/model.bst", "booster-bytes");
  Storage s(Options());
  std::vector<Progress> calls;
  auto r = s.Fetch(store_->Url("models/model.bst?token=abc"), [&](const Progress& p) { calls.push_back(p); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->cached);
  EXPECT_EQ(r->bytes, 13u);
  EXPECT_EQ(r->local_path, s.CachePath(store_->Url("models/model.bst?token=abc")));
  EXPECT_EQ(ListTree(r->local_path), std::vector<std::string>{"model.bst"});
  EXPECT_EQ(ReadFile(r->local_path + "/model.bst"), "booster-bytes");
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().bytes_done, 13u);
  EXPECT_EQ(calls.back().bytes_total, 13u);
  EXPECT_EQ(calls.back().current, "model.bst");
  // Only the entry itself is left in the cache (no temporary directory).
  EXPECT_EQ(CacheEntries().size(), 1u);
}

TEST_F(StorageTest, HttpFollowsRedirects) {
  WriteFile(store_->root + "/http/r/model.txt", "redirected");
  Storage s(Options());
  auto r = s.Fetch(store_->Url("__redirect/r/model.txt"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(r->local_path + "/model.txt"), "redirected");
}

TEST_F(StorageTest, HttpErrorsMapToCodes) {
  Storage s(Options());
  auto nf = s.Fetch(store_->Url("missing/model.bst"));
  ASSERT_FALSE(nf.ok());
  EXPECT_EQ(nf.status().code(), StatusCode::kNotFound) << nf.status().ToString();
  EXPECT_NE(nf.status().message().find(store_->Url("missing/model.bst")), std::string::npos);
  auto unavailable = s.Fetch(store_->Url("__500"));
  EXPECT_EQ(unavailable.status().code(), StatusCode::kUnavailable) << unavailable.status().ToString();
  // Nothing listens on port 1.
  auto refused = s.Fetch("http://127.0.0.1:1/model.bst");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  auto noname = s.Fetch("http://127.0.0.1:" + std::to_string(store_->port) + "/");
  EXPECT_EQ(noname.status().code(), StatusCode::kInvalidArgument) << noname.status().ToString();
  EXPECT_TRUE(CacheEntries().empty()) << ::testing::PrintToString(CacheEntries());
}

TEST_F(StorageTest, HttpArchivesAreUnpacked) {
  std::vector<Entry> entries = {{Entry::kDir, "model/", ""},
                                {Entry::kFile, "model/config.json", "{\"a\":1}"},
                                {Entry::kFile, "model/weights/w.bin", std::string(5000, 'w')},
                                {Entry::kSymlink, "model/latest", "weights/w.bin"},
                                {Entry::kFile, "./top.txt", "top"}};
  WriteArchive(store_->root + "/http/a/m.tar.gz", "tar.gz", entries);
  WriteArchive(store_->root + "/http/a/m.tgz", "tar.gz", entries);
  WriteArchive(store_->root + "/http/a/m.tar", "tar", entries);
  WriteArchive(store_->root + "/http/a/m.zip", "zip", entries);
  Storage s(Options());
  for (const char* name : {"m.tar.gz", "m.tgz", "m.tar", "m.zip"}) {
    SCOPED_TRACE(name);
    auto r = s.Fetch(store_->Url(std::string("a/") + name));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->bytes, 0u);
    EXPECT_EQ(ListTree(r->local_path), (std::vector<std::string>{"model/", "model/config.json", "model/latest",
                                                                 "model/weights/", "model/weights/w.bin",
                                                                 "top.txt"}));
    EXPECT_EQ(ReadFile(r->local_path + "/model/config.json"), "{\"a\":1}");
    EXPECT_EQ(ReadFile(r->local_path + "/model/latest"), std::string(5000, 'w'));
  }
  // Four entries, no scratch archive or temporary directory left.
  EXPECT_EQ(CacheEntries().size(), 4u) << ::testing::PrintToString(CacheEntries());
}

struct UnsafeCase {
  const char* label;
  std::vector<Entry> entries;
  const char* entry_named;
};

TEST_F(StorageTest, UnsafeArchivesAreRefusedAndLeaveNothing) {
  std::vector<UnsafeCase> cases = {
      {"dotdot", {{Entry::kFile, "ok.txt", "fine"}, {Entry::kFile, "sub/../../evil.txt", "evil"}}, "../evil.txt"},
      {"absolute", {{Entry::kFile, "ok.txt", "fine"}, {Entry::kFile, "/tmp/inferd-evil-abs.txt", "evil"}},
       "/tmp/inferd-evil-abs.txt"},
      {"symlink", {{Entry::kFile, "ok.txt", "fine"}, {Entry::kSymlink, "dir/link", "../../etc"}}, "dir/link"},
      {"abs-symlink", {{Entry::kSymlink, "passwd", "/etc/passwd"}}, "passwd"},
      {"hardlink", {{Entry::kFile, "ok.txt", "fine"}, {Entry::kHardlink, "h", "../outside.txt"}}, "\"h\""},
      {"link-chain",
       {{Entry::kSymlink, "a/b/up", "../.."}, {Entry::kDir, "c", ""}, {Entry::kSymlink, "c/x", "../a/b/up/.."}},
       "c/x"},
      {"fifo", {{Entry::kFifo, "pipe", ""}}, "pipe"},
  };
  Storage s(Options());
  for (const char* kind : {"tar.gz", "zip"}) {
    for (const UnsafeCase& c : cases) {
      if (std::string(kind) == "zip" && (std::string(c.label) == "fifo" || std::string(c.label) == "hardlink")) {
        continue;  // zip has no FIFOs or hard links
      }
      SCOPED_TRACE(std::string(c.label) + "." + kind);
      std::string rel = std::string("bad/") + c.label + "." + kind;
      WriteArchive(store_->root + "/http/" + rel, kind, c.entries);
      auto r = s.Fetch(store_->Url(rel));
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
      EXPECT_NE(r.status().message().find(c.entry_named), std::string::npos) << r.status().message();
      EXPECT_NE(r.status().message().find(store_->Url(rel)), std::string::npos) << r.status().message();
      EXPECT_TRUE(CacheEntries().empty()) << ::testing::PrintToString(CacheEntries());
      EXPECT_FALSE(fs::exists(work_ + "/evil.txt"));
      EXPECT_FALSE(fs::exists(cache_ + "/evil.txt"));
      EXPECT_FALSE(fs::exists("/tmp/inferd-evil-abs.txt"));
    }
  }
}

TEST_F(StorageTest, CorruptArchiveIsInvalid) {
  WriteFile(store_->root + "/http/c/broken.tar.gz", "this is not gzip at all, just text of some length");
  Storage s(Options());
  auto r = s.Fetch(store_->Url("c/broken.tar.gz"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_TRUE(CacheEntries().empty());
}

TEST_F(StorageTest, SecondFetchUsesTheCacheWithoutRequests) {
  WriteFile(store_->root + "/http/cache/model.bin", "cached-model");
  Storage s(Options());
  std::string uri = store_->Url("cache/model.bin");
  auto first = s.Fetch(uri);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->cached);
  EXPECT_EQ(store_->Requests(), 1);
  auto second = s.Fetch(uri);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(second->bytes, 0u);
  EXPECT_EQ(second->local_path, first->local_path);
  // A second Storage on the same cache directory (another service) shares the copy.
  auto other = Storage(Options()).Fetch(uri);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->cached);
  EXPECT_EQ(store_->Requests(), 1) << store_->RequestLog();
}

TEST_F(StorageTest, ConcurrentFetchesOfOneUriDownloadOnce) {
  WriteFile(store_->root + "/http/conc/big.bin", std::string(4 << 20, 'z'));
  Storage s(Options());
  std::string uri = store_->Url("conc/big.bin");
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<StatusOr<FetchResult>> results(kThreads, Status(StatusCode::kInternal, "not run"));
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = s.Fetch(uri); });
  }
  for (auto& t : threads) t.join();
  int downloaded = 0;
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->local_path, s.CachePath(uri));
    if (!r->cached) ++downloaded;
  }
  EXPECT_EQ(downloaded, 1);
  EXPECT_EQ(store_->Requests(), 1) << store_->RequestLog();
  EXPECT_EQ(fs::file_size(s.CachePath(uri) + "/big.bin"), 4u << 20);
}

TEST_F(StorageTest, ProgressIsThrottledMonotonicAndFinal) {
  constexpr size_t kSize = 6 << 20;
  WriteFile(store_->root + "/http/prog/large.bin", std::string(kSize, 'p'));
  Storage s(Options());
  std::vector<Progress> calls;
  auto r = s.Fetch(store_->Url("prog/large.bin"), [&](const Progress& p) { calls.push_back(p); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_LE(calls.size(), kSize / (1 << 20) + 40);  // throttled: not one call per curl chunk
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_GE(calls[i].bytes_done, calls[i - 1].bytes_done);
  EXPECT_EQ(calls.back().bytes_done, kSize);
  EXPECT_EQ(calls.back().bytes_total, kSize);
}

TEST_F(StorageTest, ThrowingProgressCallbackFailsTheFetchCleanly) {
  WriteFile(store_->root + "/http/throw/m.bin", std::string(3 << 20, 't'));
  Storage s(Options());
  auto r = s.Fetch(store_->Url("throw/m.bin"), [](const Progress&) { throw std::runtime_error("boom"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(CacheEntries().empty());
}

TEST_F(StorageTest, MaxBytesIsEnforced) {
  WriteFile(store_->root + "/http/big/model.bin", std::string(100000, 'b'));
  StorageOptions o = Options();
  o.max_bytes = 50000;
  Storage s(o);
  auto r = s.Fetch(store_->Url("big/model.bin"));
  EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge) << r.status().ToString();
  // An archive within the limit that unpacks beyond it (a zip bomb in miniature).
  WriteArchive(store_->root + "/http/big/bomb.tar.gz", "tar.gz", {{Entry::kFile, "zeros", std::string(200000, '\0')}});
  auto bomb = s.Fetch(store_->Url("big/bomb.tar.gz"));
  EXPECT_EQ(bomb.status().code(), StatusCode::kPayloadTooLarge) << bomb.status().ToString();
  // S3 objects whose listed sizes exceed it.
  WriteFile(store_->root + "/s3/bigbucket/m/a.bin", std::string(30000, 'a'));
  WriteFile(store_->root + "/s3/bigbucket/m/b.bin", std::string(30000, 'b'));
  auto listed = s.Fetch("s3://bigbucket/m");
  EXPECT_EQ(listed.status().code(), StatusCode::kPayloadTooLarge) << listed.status().ToString();
  EXPECT_TRUE(CacheEntries().empty()) << ::testing::PrintToString(CacheEntries());
}

// ---- s3:// ----------------------------------------------------------------------------------------------
TEST_F(StorageTest, S3SingleObject) {
  WriteFile(store_->root + "/s3/models/iris/model.bst", "s3-model");
  WriteFile(store_->root + "/s3/models/iris/model.bst.sig", "other");  // shares the prefix, not fetched
  Storage s(Options());
  auto r = s.Fetch("s3://models/iris/model.bst");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ListTree(r->local_path), std::vector<std::string>{"model.bst"});
  EXPECT_EQ(ReadFile(r->local_path + "/model.bst"), "s3-model");
  EXPECT_EQ(r->bytes, 8u);
}

TEST_F(StorageTest, S3PrefixWithNestedKeysAndPagination) {
  const std::map<std::string, std::string> files = {{"a.txt", "A"},
                                                    {"sub/b.txt", "BB"},
                                                    {"sub/deep/c.txt", "CCC"},
                                                    {"sub/deep/d e+f.txt", "spaces and plus"},
                                                    {"z/last.bin", "Z"}};
  for (const auto& [k, v] : files) WriteFile(store_->root + "/s3/models/resnet/" + k, v);
  WriteFile(store_->root + "/s3/models/resnet-other/x.txt", "not under resnet/");
  Storage s(Options());
  std::vector<Progress> calls;
  auto r = s.Fetch("s3://models/resnet", [&](const Progress& p) { calls.push_back(p); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ListTree(r->local_path),
            (std::vector<std::string>{"a.txt", "sub/", "sub/b.txt", "sub/deep/", "sub/deep/c.txt",
                                      "sub/deep/d e+f.txt", "z/", "z/last.bin"}));
  for (const auto& [k, v] : files) EXPECT_EQ(ReadFile(r->local_path + "/" + k), v) << k;
  // 6 keys match the prefix "resnet", 2 per page: 3 list requests, then 5 GETs.
  std::string log = store_->RequestLog();
  EXPECT_EQ(store_->Requests(), 3 + 5) << log;
  EXPECT_NE(log.find("continuation-token="), std::string::npos) << log;
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().bytes_done, 1u + 2 + 3 + 15 + 1);
  EXPECT_EQ(calls.back().bytes_total, 1u + 2 + 3 + 15 + 1);

  // A trailing slash and the bucket root work as prefixes too.
  auto slash = s.Fetch("s3://models/resnet/sub/");
  ASSERT_TRUE(slash.ok()) << slash.status().ToString();
  EXPECT_EQ(ListTree(slash->local_path),
            (std::vector<std::string>{"b.txt", "deep/", "deep/c.txt", "deep/d e+f.txt"}));
  WriteFile(store_->root + "/s3/tiny/one.txt", "1");
  auto bucket = s.Fetch("s3://tiny");
  ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
  EXPECT_EQ(ListTree(bucket->local_path), std::vector<std::string>{"one.txt"});
}

TEST_F(StorageTest, S3WrongSecretIsUnauthenticated) {
  WriteFile(store_->root + "/s3/models/secret/model.bst", "x");
  Storage s(Options("not-the-secret"));
  for (const char* uri : {"s3://models/secret/model.bst", "s3://models/secret/"}) {
    auto r = s.Fetch(uri);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().ToString();
    EXPECT_NE(r.status().message().find("SignatureDoesNotMatch"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(uri), std::string::npos);
  }
  // Without credentials the requests go unsigned, which this store refuses.
  StorageOptions anon = Options();
  anon.env.erase("AWS_ACCESS_KEY_ID");
  anon.env.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(Storage(anon).Fetch("s3://models/secret/model.bst").status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(CacheEntries().empty());
  // The right secret works.
  auto ok = Storage(Options()).Fetch("s3://models/secret/model.bst");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST_F(StorageTest, S3MissingKeyOrBucketIsNotFound) {
  WriteFile(store_->root + "/s3/models/present.txt", "x");
  Storage s(Options());
  auto key = s.Fetch("s3://models/absent/model.bst");
  EXPECT_EQ(key.status().code(), StatusCode::kNotFound) << key.status().ToString();
  auto bucket = s.Fetch("s3://nobucket/model.bst");
  EXPECT_EQ(bucket.status().code(), StatusCode::kNotFound) << bucket.status().ToString();
  EXPECT_TRUE(CacheEntries().empty());
}

TEST_F(StorageTest, S3EndpointAsUrl) {
  WriteFile(store_->root + "/s3/urlbucket/m.txt", "via url");
  StorageOptions o = Options();
  o.env["S3_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(store_->port) + "/";
  o.env["S3_USE_HTTPS"] = "1";  // the URL's scheme wins
  auto r = Storage(o).Fetch("s3://urlbucket/m.txt");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(r->local_path + "/m.txt"), "via url");
}

// ---- gs:// ----------------------------------------------------------------------------------------------
TEST_F(StorageTest, GcsPublicObjectAndPrefix) {
  WriteFile(store_->root + "/gcs/pub/models/lgb/model.txt", "lightgbm");
  WriteFile(store_->root + "/gcs/pub/models/lgb/extra/meta.json", "{}");
  WriteFile(store_->root + "/gcs/pub/models/lgb/extra/notes.md", "notes");
  WriteFile(store_->root + "/gcs/pub/models/lgbm2/x", "not under lgb/");
  Storage s(Options());
  auto one = s.Fetch("gs://pub/models/lgb/model.txt");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(ListTree(one->local_path), std::vector<std::string>{"model.txt"});
  EXPECT_EQ(ReadFile(one->local_path + "/model.txt"), "lightgbm");

  store_->Reset();
  auto dir = s.Fetch("gs://pub/models/lgb");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(ListTree(dir->local_path),
            (std::vector<std::string>{"extra/", "extra/meta.json", "extra/notes.md", "model.txt"}));
  EXPECT_EQ(ReadFile(dir->local_path + "/extra/notes.md"), "notes");
  // 4 names under the prefix "models/lgb", 2 per page: 2 list requests, then 3 media GETs.
  EXPECT_EQ(store_->Requests(), 2 + 3) << store_->RequestLog();

  auto missing = s.Fetch("gs://pub/models/nothing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
}

TEST_F(StorageTest, GcsBearerToken) {
  WriteFile(store_->root + "/gcs/privbucket/m/model.txt", "private");
  auto anon = Storage(Options()).Fetch("gs://privbucket/m/model.txt");
  EXPECT_EQ(anon.status().code(), StatusCode::kUnauthenticated) << anon.status().ToString();
  StorageOptions o = Options();
  o.env["GOOGLE_OAUTH_ACCESS_TOKEN"] = kGcsToken;
  auto r = Storage(o).Fetch("gs://privbucket/m/model.txt");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(r->local_path + "/model.txt"), "private");
}

// ---- archive bounds ---------------------------------------------------------------------------------------
// A gzip bomb: one entry of `size` zero bytes, streamed into a tar.gz (or a zip) of a few hundred KiB.
void WriteZeroBomb(const std::string& path, const std::string& kind, uint64_t size) {
  fs::create_directories(fs::path(path).parent_path());
  archive* a = archive_write_new();
  if (kind == "zip") {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "model.bin");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, static_cast<la_int64_t>(size));
  ASSERT_GE(archive_write_header(a, entry), ARCHIVE_WARN) << archive_error_string(a);
  const std::string zeros(1 << 20, '\0');
  for (uint64_t done = 0; done < size; done += zeros.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), size - done));
    ASSERT_EQ(archive_write_data(a, zeros.data(), n), static_cast<la_ssize_t>(n));
  }
  archive_entry_free(entry);
  archive_write_close(a);
  archive_write_free(a);
}

TEST_F(StorageTest, GzipBombIsRefusedAtTheUnpackedBoundAndLeavesNothing) {
  constexpr uint64_t kBomb = 256ull << 20;  // 256 MiB of zeros
  for (const std::string& kind : {std::string("tar.gz"), std::string("zip")}) {
    const std::string rel = "bomb/zeros." + kind;
    WriteZeroBomb(store_->root + "/http/" + rel, kind, kBomb);
    const uint64_t packed = fs::file_size(store_->root + "/http/" + rel);
    ASSERT_LT(packed, 2u << 20) << kind << ": the bomb should be small";
    StorageOptions o = Options();
    o.max_unpacked_bytes = 8 << 20;
    o.max_unpacked_bytes_source = "--storage_max_unpacked_bytes";
    Storage s(o);
    auto r = s.Fetch(store_->Url(rel));
    ASSERT_FALSE(r.ok()) << kind;
    EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge) << r.status().ToString();
    EXPECT_NE(r.status().message().find("8.0 MiB"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("--storage_max_unpacked_bytes"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("model.bin"), std::string::npos) << r.status().message();
    // The partial directory and the downloaded archive are gone; nothing was kept.
    EXPECT_TRUE(CacheEntries().empty()) << ::testing::PrintToString(CacheEntries());
  }
}

TEST_F(StorageTest, DefaultUnpackedBoundFollowsMaxBytesAndFreeSpace) {
  EXPECT_EQ(DefaultMaxUnpackedBytes(20ull << 30, 100ull << 30), 20ull << 30);
  EXPECT_EQ(DefaultMaxUnpackedBytes(20ull << 30, 10ull << 30), 5ull << 30);
  EXPECT_EQ(DefaultMaxUnpackedBytes(20ull << 30, 0), 0u);
  auto space = DiskSpaceAt("/tmp");
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->free_bytes, space->total_bytes);

  WriteZeroBomb(store_->root + "/http/bomb2/z.tgz", "tar.gz", 16ull << 20);
  StorageOptions o = Options();
  o.max_bytes = 4 << 20;  // the archive itself fits; what it unpacks to does not
  Storage s(o);
  auto r = s.Fetch(store_->Url("bomb2/z.tgz"));
  EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge) << r.status().ToString();
  EXPECT_NE(r.status().message().find("half the space free"), std::string::npos) << r.status().message();
  EXPECT_TRUE(CacheEntries().empty());
}

TEST_F(StorageTest, ArchiveEntryCountIsBounded) {
  std::vector<Entry> many;
  for (int i = 0; i < 50; ++i) many.push_back({Entry::kFile, "f" + std::to_string(i), "x"});
  WriteArchive(store_->root + "/http/many/files.tar", "tar", many);
  StorageOptions o = Options();
  o.max_archive_entries = 10;
  o.max_archive_entries_source = "--storage_max_archive_entries";
  auto r = Storage(o).Fetch(store_->Url("many/files.tar"));
  EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge) << r.status().ToString();
  EXPECT_NE(r.status().message().find("more than 10 entries"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("--storage_max_archive_entries"), std::string::npos);
  EXPECT_TRUE(CacheEntries().empty());
  o.max_archive_entries = 50;
  auto ok = Storage(o).Fetch(store_->Url("many/files.tar"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ListTree(ok->local_path).size(), 50u);
}

// ---- per-fetch credentials ---------------------------------------------------------------------------------
Credentials S3Credentials(int port, const std::string& secret) {
  Credentials c;
  c.identity = "default/s3creds";
  c.env = {{"S3_ENDPOINT", "127.0.0.1:" + std::to_string(port)},
           {"S3_USE_HTTPS", "0"},
           {"AWS_ACCESS_KEY_ID", kAccessKey},
           {"AWS_SECRET_ACCESS_KEY", secret},
           {"AWS_DEFAULT_REGION", kRegion}};
  return c;
}

TEST_F(StorageTest, CredentialsReplaceTheEnvironmentAndKeyTheCache) {
  WriteFile(store_->root + "/s3/creds/m/model.bst", "with creds");
  StorageOptions o = Options("not-the-secret");  // the process-level settings are wrong ...
  Storage s(o);
  EXPECT_EQ(s.Fetch("s3://creds/m/model.bst").status().code(), StatusCode::kUnauthenticated);
  Credentials good = S3Credentials(store_->port, kSecret);  // ... the service's own are right
  auto r = s.Fetch("s3://creds/m/model.bst", nullptr, &good);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(r->local_path + "/model.bst"), "with creds");
  EXPECT_EQ(r->local_path, s.CachePath("s3://creds/m/model.bst", &good));
  EXPECT_NE(s.CachePath("s3://creds/m/model.bst", &good), s.CachePath("s3://creds/m/model.bst"));
  EXPECT_EQ(Storage::CacheKey("s3://x/y", &good).size(), 64u);
  // Other credentials for the same URI never reuse that entry.
  Credentials other = S3Credentials(store_->port, "wrong");
  other.identity = "default/other";
  auto bad = s.Fetch("s3://creds/m/model.bst", nullptr, &other);
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated) << bad.status().ToString();
  // Neither the secret nor the key id appear in the error.
  EXPECT_EQ(bad.status().message().find("wrong"), std::string::npos) << bad.status().message();
  // awsAnonymousCredential: unsigned requests even with keys (this store refuses them).
  Credentials anon = good;
  anon.identity = "default/anon";
  anon.env["awsAnonymousCredential"] = "true";
  auto a = s.Fetch("s3://creds/m/model.bst", nullptr, &anon);
  EXPECT_EQ(a.status().code(), StatusCode::kUnauthenticated) << a.status().ToString();
  EXPECT_NE(a.status().message().find("anonymous"), std::string::npos) << a.status().message();
}

TEST_F(StorageTest, MalformedS3ListingFailsTheFetch) {
  WriteFile(store_->root + "/s3/malformed/m/a.bin", "a");
  auto r = Storage(Options()).Fetch("s3://malformed/m");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("cut short"), std::string::npos) << r.status().message();
  EXPECT_TRUE(CacheEntries().empty());
}

// A fresh RSA key as PEM (private, public).
std::pair<std::string, std::string> NewRsaKey() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  EXPECT_NE(key, nullptr);
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  auto out = std::make_pair(pem(true), pem(false));
  EVP_PKEY_free(key);
  return out;
}

std::string ServiceAccountJson(const std::string& private_pem, const std::string& token_uri,
                               const std::string& type = "service_account") {
  std::string escaped;
  for (char c : private_pem) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  return R"({"type": ")" + type + R"(", "project_id": "p", "private_key_id": "k1", "private_key": ")" + escaped +
         R"(", "client_email": "loader@p.iam.gserviceaccount.com", "token_uri": ")" + token_uri + R"("})";
}

TEST_F(StorageTest, GcsServiceAccountKeyIsExchangedForAToken) {
  auto [priv, pub] = NewRsaKey();
  WriteFile(store_->root + "/gcs-sa/pubkey.pem", pub);
  WriteFile(store_->root + "/gcs/saprivbucket/m/model.txt", "sa-private");
  const std::string token_uri = "http://127.0.0.1:" + std::to_string(store_->port) + "/token";
  Storage s(Options());
  EXPECT_EQ(s.Fetch("gs://saprivbucket/m/model.txt").status().code(), StatusCode::kUnauthenticated);

  Credentials c;
  c.identity = "default/gcs-sa";
  c.env["GOOGLE_SERVICE_ACCOUNT_KEY_JSON"] = ServiceAccountJson(priv, token_uri);
  auto r = s.Fetch("gs://saprivbucket/m/model.txt", nullptr, &c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(r->local_path + "/model.txt"), "sa-private");
  EXPECT_NE(store_->RequestLog().find("/token"), std::string::npos);

  // A key the token endpoint does not know: refused, and the message carries neither key nor assertion.
  auto [other_priv, other_pub] = NewRsaKey();
  Credentials wrong;
  wrong.identity = "default/gcs-other";
  wrong.env["GOOGLE_SERVICE_ACCOUNT_KEY_JSON"] = ServiceAccountJson(other_priv, token_uri);
  auto w = s.Fetch("gs://saprivbucket/m/model.txt", nullptr, &wrong);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kUnauthenticated) << w.status().ToString();
  EXPECT_NE(w.status().message().find("token exchange"), std::string::npos) << w.status().message();
  EXPECT_EQ(w.status().message().find("PRIVATE KEY"), std::string::npos) << w.status().message();
  EXPECT_EQ(w.status().message().find("eyJ"), std::string::npos) << w.status().message();  // no JWT

  // Keys inferd cannot use are refused clearly.
  Credentials user;
  user.identity = "default/gcs-user";
  user.env["GOOGLE_SERVICE_ACCOUNT_KEY_JSON"] = ServiceAccountJson(priv, token_uri, "authorized_user");
  auto u = s.Fetch("gs://saprivbucket/m/model.txt", nullptr, &user);
  EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument) << u.status().ToString();
  EXPECT_NE(u.status().message().find("authorized_user"), std::string::npos) << u.status().message();
  for (const std::string& bad : {std::string("not json"), std::string(R"({"type":"service_account"})"),
                                ServiceAccountJson("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                                   token_uri)}) {
    Credentials b;
    b.identity = "default/bad";
    b.env["GOOGLE_SERVICE_ACCOUNT_KEY_JSON"] = bad;
    auto br = s.Fetch("gs://saprivbucket/m/model.txt", nullptr, &b);
    EXPECT_EQ(br.status().code(), StatusCode::kInvalidArgument) << br.status().ToString();
  }
  EXPECT_EQ(CacheEntries().size(), 1u) << ::testing::PrintToString(CacheEntries());
}

TEST(StorageInternals, ServiceAccountJwtIsThreeSignedParts) {
  auto [priv, pub] = NewRsaKey();
  auto jwt = internal::GcsServiceAccountJwt(ServiceAccountJson(priv, "https://oauth2.example/token"), 1700000000);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  size_t d1 = jwt->find('.'), d2 = jwt->rfind('.');
  ASSERT_NE(d1, std::string::npos);
  ASSERT_NE(d1, d2);
  EXPECT_EQ(jwt->find_first_of("+/="), std::string::npos);  // base64url, unpadded
  // Verify the signature with the public key.
  BIO* bio = BIO_new_mem_buf(pub.data(), static_cast<int>(pub.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  std::string sig_b64 = jwt->substr(d2 + 1);
  for (char& c : sig_b64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (sig_b64.size() % 4) sig_b64 += '=';
  std::string sig(sig_b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(sig.data()),
                          reinterpret_cast<const unsigned char*>(sig_b64.data()), static_cast<int>(sig_b64.size()));
  ASSERT_GT(n, 0);
  sig.resize(256);  // RSA-2048
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  std::string input = jwt->substr(0, d2);
  EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
}

// ---- helpers --------------------------------------------------------------------------------------------
TEST(StorageInternals, UriParsingAndPaths) {
  using namespace internal;
  auto s3 = ParseUri("s3://bucket/a/b/c");
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->scheme, Scheme::kS3);
  EXPECT_EQ(s3->bucket, "bucket");
  EXPECT_EQ(s3->path, "a/b/c");
  EXPECT_EQ(PercentEncode("a b/c+d~", true), "a%20b/c%2Bd~");
  EXPECT_EQ(PercentEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(PercentDecode("a%20b%2"), "a b%2");
  EXPECT_EQ(*FileNameFromUrl("https://h/x/model%20v1.bst?sig=1#frag"), "model v1.bst");
  EXPECT_FALSE(FileNameFromUrl("https://h").ok());
  EXPECT_TRUE(IsArchiveName("m.TGZ"));
  EXPECT_TRUE(IsArchiveName("m.tar.gz"));
  EXPECT_FALSE(IsArchiveName("m.gz"));
  EXPECT_FALSE(IsArchiveName(".zip"));
  EXPECT_TRUE(CheckRelativePath("./a/b", "x").ok());
  EXPECT_FALSE(CheckRelativePath("a/../../b", "x").ok());
  EXPECT_FALSE(CheckRelativePath("/a", "x").ok());
  auto sel = SelectObjects({{"p/a", 1}, {"p/", 0}, {"p/d/b", 2}, {"pq/c", 3}}, "p");
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), 2u);
  EXPECT_EQ((*sel)[0].second, "a");
  EXPECT_EQ((*sel)[1].second, "d/b");
  EXPECT_EQ(SelectObjects({{"p/../x", 1}}, "p").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inferd::storage

// gtest_main runs the tests; the fake store is registered before main through a static initializer.
static ::testing::Environment* const kFakeStore = ::testing::AddGlobalTestEnvironment(new inferd::storage::FakeStore);
