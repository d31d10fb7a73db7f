// Tests of control/gpu.h: the --gpus flag, nvidia-smi's CSV and a fake nvidia-smi on PATH, and the allocator
// (exhaustive over small inventories: never a busy or doubly granted device, first fit, deterministic).
#include "control/gpu.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace inferd::control {
namespace {

std::vector<std::string> Ids(const GpuInventory& inv) {
  std::vector<std::string> out;
  for (const auto& d : inv) out.push_back(d.id);
  return out;
}

TEST(GpusFlag, Forms) {
  auto a = ParseGpusFlag("auto");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_value());
  EXPECT_FALSE(ParseGpusFlag("")->has_value());
  auto none = ParseGpusFlag("none");
  ASSERT_TRUE(none.ok() && none->has_value());
  EXPECT_TRUE((*none)->empty());
  EXPECT_TRUE((*ParseGpusFlag("0"))->empty());
  EXPECT_EQ(Ids(**ParseGpusFlag("4")), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(Ids(**ParseGpusFlag("0,1,2,3")), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(Ids(**ParseGpusFlag("2, 5")), (std::vector<std::string>{"2", "5"}));
  EXPECT_EQ(Ids(**ParseGpusFlag("GPU-3a5c1f2e-aaaa,MIG-1")), (std::vector<std::string>{"GPU-3a5c1f2e-aaaa", "MIG-1"}));
}

TEST(GpusFlag, RefusesBadValues) {
  for (const char* bad : {"1,1", "a b", "0,,1", ",", "-1", "99999", "2000", "x;rm", "GPU-$(id)"}) {
    auto r = ParseGpusFlag(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("--gpus: ", 0), 0u) << r.status().message();
  }
}

TEST(NvidiaSmi, ParsesCsv) {
  auto inv = ParseNvidiaSmiCsv("0, GPU-aaaa, 81559 MiB\n1, GPU-bbbb, [N/A]\n\n");
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  ASSERT_EQ(inv->size(), 2u);
  EXPECT_EQ((*inv)[0].id, "GPU-aaaa");  // UUIDs: CUDA's device order cannot make them name another device
  EXPECT_EQ((*inv)[0].memory_mib, 81559);
  EXPECT_EQ((*inv)[1].memory_mib, 0);
  EXPECT_TRUE(ParseNvidiaSmiCsv("")->empty());
  EXPECT_FALSE(ParseNvidiaSmiCsv("No devices were found\n").ok());
  EXPECT_FALSE(ParseNvidiaSmiCsv("0, GPU-a, 1 MiB\n1, GPU-a, 1 MiB\n").ok());
  EXPECT_FALSE(ParseNvidiaSmiCsv("x, GPU-a, 1 MiB\n").ok());
}

// A fake nvidia-smi first on PATH (the real one is absent here).
class FakeSmi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gpu_test." + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    old_path_ = std::getenv("PATH") ? std::getenv("PATH") : "";
    setenv("PATH", (dir_.string() + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    std::filesystem::remove_all(dir_);
  }
  void Script(const std::string& body) {
    const auto p = dir_ / "nvidia-smi";
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    chmod(p.c_str(), 0755);
  }
  std::filesystem::path dir_;
  std::string old_path_;
};

TEST_F(FakeSmi, DetectsWhatItPrints) {
  Script("[ \"$1\" = --query-gpu=index,uuid,memory.total ] && [ \"$2\" = --format=csv,noheader ] || exit 3\n"
         "echo '0, GPU-1111, 16384 MiB'\necho '1, GPU-2222, 16384 MiB'");
  auto inv = DetectGpus(std::chrono::seconds(20));
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  EXPECT_EQ(Ids(*inv), (std::vector<std::string>{"GPU-1111", "GPU-2222"}));
  std::string source;
  auto resolved = ResolveGpuInventory("auto", &source);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->size(), 2u);
  EXPECT_EQ(source, "nvidia-smi");
  // An explicit flag wins over detection.
  resolved = ResolveGpuInventory("1", &source);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(Ids(*resolved), (std::vector<std::string>{"0"}));
  EXPECT_EQ(source, "--gpus");
}

TEST_F(FakeSmi, FailureTimeoutAndAbsence) {
  Script("echo 'NVIDIA-SMI has failed' >&2; exit 9");
  auto failed = DetectGpus(std::chrono::seconds(20));
  EXPECT_FALSE(failed.ok());
  std::string source;
  auto resolved = ResolveGpuInventory("auto", &source);  // serve runs on without GPUs
  ASSERT_TRUE(resolved.ok());
  EXPECT_TRUE(resolved->empty());

  Script("exec sleep 30");
  auto slow = DetectGpus(std::chrono::milliseconds(300));
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded);

  std::filesystem::remove(dir_ / "nvidia-smi");
  setenv("PATH", dir_.c_str(), 1);  // nothing else: nvidia-smi cannot be found
  auto absent = DetectGpus(std::chrono::seconds(5));
  ASSERT_TRUE(absent.ok()) << absent.status().message();
  EXPECT_TRUE(absent->empty());
}

// Every inventory of 0..4 devices, every busy subset, every sequence of up to 3 claims of 0..3 devices: no
// grant touches a busy device or another grant, a grant is exactly its claim's size, a claim is pending only
// when fewer devices were free at its turn, grants take the lowest free devices, and the result is the same
// when computed again.
TEST(AllocateGpus, ExhaustiveSmallCases) {
  int cases = 0;
  for (size_t n = 0; n <= 4; ++n) {
    for (unsigned mask = 0; mask < (1u << n); ++mask) {
      std::set<size_t> busy;
      for (size_t i = 0; i < n; ++i) {
        if (mask & (1u << i)) busy.insert(i);
      }
      for (int len = 0; len <= 3; ++len) {
        int combos = 1;
        for (int i = 0; i < len; ++i) combos *= 4;
        for (int c = 0; c < combos; ++c) {
          std::vector<int> claims;
          for (int i = 0, x = c; i < len; ++i, x /= 4) claims.push_back(x % 4);
          const GpuAllocation a = AllocateGpus(n, busy, claims);
          ASSERT_EQ(a.grants.size(), claims.size());
          std::set<size_t> taken = busy;
          int pending = 0;
          for (size_t k = 0; k < claims.size(); ++k) {
            const auto& g = a.grants[k];
            std::vector<size_t> free;
            for (size_t i = 0; i < n; ++i) {
              if (!taken.count(i)) free.push_back(i);
            }
            if (claims[k] > 0 && free.size() < static_cast<size_t>(claims[k])) {
              EXPECT_TRUE(g.empty());
              ++pending;
              continue;
            }
            ASSERT_EQ(g.size(), static_cast<size_t>(std::max(0, claims[k])));
            for (size_t j = 0; j < g.size(); ++j) {
              EXPECT_LT(g[j], n);
              EXPECT_EQ(g[j], free[j]);  // the lowest free ones, ascending
              EXPECT_TRUE(taken.insert(g[j]).second) << "device " << g[j] << " granted twice";
            }
          }
          EXPECT_EQ(a.pending, pending);
          const GpuAllocation again = AllocateGpus(n, busy, claims);
          EXPECT_EQ(again.grants, a.grants);
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 1000);
}

TEST(AllocateGpus, LaterSmallerClaimsStillFit) {
  const GpuAllocation a = AllocateGpus(3, {1}, {3, 1, 2});
  EXPECT_TRUE(a.grants[0].empty());
  EXPECT_EQ(a.grants[1], (std::vector<size_t>{0}));
  EXPECT_TRUE(a.grants[2].empty());
  EXPECT_EQ(a.pending, 2);
  EXPECT_TRUE(AllocateGpus(0, {}, {1}).grants[0].empty());  // no inventory: never granted
  EXPECT_EQ(AllocateGpus(2, {5}, {2}).grants[0], (std::vector<size_t>{0, 1}));  // out-of-range busy ignored
}

// Replicas come and go at random (seeded): the ledger never holds a device twice, a released device is
// used again, and a start fails only when too few devices are free.
TEST(GpuLedger, ReleaseAndReuseNeverOvercommit) {
  std::mt19937 rng(14);
  GpuLedger ledger;
  const size_t n = 4;
  uint64_t next = 0;
  bool reused = false;
  std::set<size_t> ever_released;
  for (int step = 0; step < 5000; ++step) {
    if (rng() % 3 != 0 || ledger.holders().empty()) {
      int want = 1 + static_cast<int>(rng() % 3);
      const std::set<size_t> busy = ledger.Busy();
      GpuAllocation a = AllocateGpus(n, busy, {want});
      ASSERT_EQ(a.pending == 1, n - busy.size() < static_cast<size_t>(want));
      if (a.pending) continue;
      for (size_t d : a.grants[0]) reused |= ever_released.count(d) > 0;
      ledger.Grant(++next, a.grants[0]);
    } else {
      auto it = ledger.holders().begin();
      std::advance(it, static_cast<long>(rng() % ledger.holders().size()));
      const uint64_t holder = it->first;
      ever_released.insert(it->second.begin(), it->second.end());
      ledger.Release(holder);
      EXPECT_EQ(ledger.Of(holder), nullptr);
    }
    size_t total = 0;
    for (const auto& [h, d] : ledger.holders()) total += d.size();
    ASSERT_EQ(total, ledger.Busy().size()) << "a device is held twice";
    ASSERT_LE(total, n);
  }
  EXPECT_TRUE(reused);
}

TEST(GpuEnv, NamesTheDevicesOrNone) {
  const GpuInventory inv = **ParseGpusFlag("GPU-a,GPU-b,GPU-c");
  auto env = GpuEnv(inv, {0, 2});
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0], (std::pair<std::string, std::string>{"CUDA_VISIBLE_DEVICES", "GPU-a,GPU-c"}));
  EXPECT_EQ(env[1], (std::pair<std::string, std::string>{"NVIDIA_VISIBLE_DEVICES", "GPU-a,GPU-c"}));
  // A replica without GPUs on a machine with some sees none, as a pod without a GPU limit.
  env = GpuEnv(inv, {});
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0].second, "");
  EXPECT_EQ(env[1].second, "void");
  EXPECT_TRUE(GpuEnv({}, {}).empty());  // no inventory: the environment is left alone
}

}  // namespace
}  // namespace inferd::control
