// Tests of archive unpacking on its own (storage/internal.h ExtractArchive): the unpacked-size bound against
// archives whose entries claim more than their data (storage_test.cc covers the rest through Storage::Fetch).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

namespace fs = std::filesystem;

ArchiveLimits Bytes(uint64_t max_bytes) {
  return ArchiveLimits{max_bytes, 1000, "the test's max_bytes", "the test's max_entries"};
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inferd_archive_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "src");
    fs::create_directories(dir_ / "dest");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A file of `size` bytes that is a hole apart from its last 3 bytes, packed with GNU tar's --sparse.
  std::string SparseTgz(uint64_t size) {
    const fs::path file = dir_ / "src" / "model.bin";
    {
      std::ofstream out(file, std::ios::binary);
      out.seekp(static_cast<std::streamoff>(size - 3));
      out.write("end", 3);
    }
    const fs::path tgz = dir_ / "sparse.tgz";
    std::string cmd = "tar -C '" + (dir_ / "src").string() + "' --sparse -czf '" + tgz.string() + "' model.bin";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return tgz.string();
  }
  fs::path dir_;
};

// Found by fuzz/archive_fuzz: the holes of a sparse entry were not counted, so a .tgz of a few hundred bytes
// unpacked to any apparent size past max_bytes (and a model loader then read all those zeros).
TEST_F(ArchiveTest, SparseEntriesCountTheirApparentSize) {
  std::string tgz = SparseTgz(8 << 20);
  EXPECT_LT(fs::file_size(tgz), 4096u);
  Status st = ExtractArchive(tgz, (dir_ / "dest").string(), Bytes(1 << 20));
  EXPECT_EQ(st.code(), StatusCode::kPayloadTooLarge) << st.ToString();
  // Within the limit it unpacks, with its apparent size.
  fs::remove_all(dir_ / "dest");
  fs::create_directories(dir_ / "dest");
  st = ExtractArchive(tgz, (dir_ / "dest").string(), Bytes(16 << 20));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(fs::file_size(dir_ / "dest" / "model.bin"), 8u << 20);
}

TEST_F(ArchiveTest, ManySmallSparseEntriesAddUp) {
  // Four entries of 400 KiB apparent size each: each fits 1 MiB, together they do not.
  const fs::path src = dir_ / "src";
  for (int i = 0; i < 4; ++i) {
    std::ofstream out(src / ("m" + std::to_string(i)), std::ios::binary);
    out.seekp((400 << 10) - 1);
    out.put('x');
  }
  std::string cmd = "tar -C '" + src.string() + "' --sparse -czf '" + (dir_ / "four.tgz").string() + "' m0 m1 m2 m3";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  Status st = ExtractArchive((dir_ / "four.tgz").string(), (dir_ / "dest").string(), Bytes(1 << 20));
  EXPECT_EQ(st.code(), StatusCode::kPayloadTooLarge) << st.ToString();
}

}  // namespace
}  // namespace inferd::storage::internal
