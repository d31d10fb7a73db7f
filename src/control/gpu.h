// control/gpu.h: the GPUs of the machine `inferd serve` runs on, and which replica holds which: the one-machine
// stand-in for Kubernetes' device plugin and scheduler for resources.limits["nvidia.com/gpu"].
//
// Contract:
// - Inventory: from `--gpus` (ParseGpusFlag: "none"; a count "4" = devices 0..3; or a comma list of device ids
//   or UUIDs "0,2" / "GPU-8f..."), else from nvidia-smi's CSV (ParseNvidiaSmiCsv; a device is named by its UUID,
//   which CUDA accepts in CUDA_VISIBLE_DEVICES whatever its device order). DetectGpus runs nvidia-smi with a
//   timeout: the only I/O here (ResolveGpuInventory: an explicit flag wins; "auto" detects).
// - Allocation (AllocateGpus) is pure and deterministic: a device that is busy is never granted (no
//   over-commit), each claim in order takes the lowest-numbered free devices, and a claim that does not fit
//   takes none (it is pending; a later, smaller claim may still fit, as the Kubernetes scheduler places any pod
//   that fits). No fairness between claimants beyond their order.
// - GpuLedger: which holder (a replica) has which devices; a holder's devices are released only when the
//   caller says its process is gone (the reconciler asks the supervisor), so a replica that is draining keeps
//   them.
// - GpuEnv: what a replica's environment gets, as the NVIDIA container runtime sets it: CUDA_VISIBLE_DEVICES
//   and NVIDIA_VISIBLE_DEVICES name its devices; a replica without GPUs on a machine with an inventory sees
//   none ("" and "void"), as a pod without a GPU limit does.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace inferd::control {

struct GpuDevice {
  std::string id;          // what CUDA_VISIBLE_DEVICES gets: an index ("0") or a UUID ("GPU-...")
  std::string uuid;        // from nvidia-smi ("" when declared)
  int64_t memory_mib = 0;  // from nvidia-smi (0 when declared)
};
using GpuInventory = std::vector<GpuDevice>;

// `--gpus`: "auto" (or "") -> nullopt (detect); "none" or "0" -> no GPUs; "N" -> devices 0..N-1 (N <= 1024);
// "a,b,c" -> those ids (distinct, non-empty, [A-Za-z0-9_:.-] only). Errors name the flag.
StatusOr<std::optional<GpuInventory>> ParseGpusFlag(std::string_view value);

// `nvidia-smi --query-gpu=index,uuid,memory.total --format=csv,noheader` output, e.g.
// "0, GPU-3a5c..., 81559 MiB". Blank lines are skipped; a malformed line is an error naming it.
StatusOr<GpuInventory> ParseNvidiaSmiCsv(std::string_view text);

// Runs nvidia-smi (from PATH) with `timeout`. Absent: an empty inventory. Failed, timed out or unreadable
// output: an error (the caller decides; serve warns and runs without GPUs).
StatusOr<GpuInventory> DetectGpus(std::chrono::milliseconds timeout);

// The flag's inventory, or the detected one for "auto" (a detection error gives none, logged).
// `source` says where it came from, for the log ("--gpus", "nvidia-smi", ...).
StatusOr<GpuInventory> ResolveGpuInventory(std::string_view flag, std::string* source);

// ---- allocation (pure) ----

struct GpuAllocation {
  std::vector<std::vector<size_t>> grants;  // per claim: device indices into the inventory, ascending; {} = pending
  int pending = 0;                          // claims (of > 0 devices) that got none
};
// `devices`: the inventory's size; `busy`: indices held already (out-of-range ones are ignored); `claims`:
// devices per claim (<= 0: needs none, granted {}).
GpuAllocation AllocateGpus(size_t devices, const std::set<size_t>& busy, const std::vector<int>& claims);

class GpuLedger {
 public:
  std::set<size_t> Busy() const;
  void Grant(uint64_t holder, std::vector<size_t> devices);  // replaces the holder's devices
  void Release(uint64_t holder);
  const std::vector<size_t>* Of(uint64_t holder) const;  // null: holds none
  const std::map<uint64_t, std::vector<size_t>>& holders() const { return held_; }

 private:
  std::map<uint64_t, std::vector<size_t>> held_;
};

// The environment of a replica holding `devices` (indices into `inventory`); nothing when the inventory is empty.
std::vector<std::pair<std::string, std::string>> GpuEnv(const GpuInventory& inventory,
                                                         const std::vector<size_t>& devices);

// The devices as CUDA_VISIBLE_DEVICES writes them ("0,1").
std::string GpuList(const GpuInventory& inventory, const std::vector<size_t>& devices);

// The Kubernetes scheduler's words for a pod no node can take for want of GPUs (one node: this machine).
inline constexpr char kInsufficientGpuMessage[] = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.";
inline constexpr char kUnschedulableReason[] = "Unschedulable";

}  // namespace inferd::control
