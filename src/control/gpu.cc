// control/gpu.cc: see gpu.h.
#include "control/gpu.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/logging.h"

extern char** environ;

namespace inferd::control {

namespace {

constexpr int kMaxDeclaredGpus = 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
         c == '.' || c == '-';
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Runs argv[0] from PATH with stdout captured (at most `max_bytes`), stderr and stdin on /dev/null, killed
// after `timeout`. NotFound when the program is absent. posix_spawn, not fork: `inferd serve` may have threads.
StatusOr<std::string> RunCaptured(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                  size_t max_bytes) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    if (rc == ENOENT) return NotFound(args[0] + ": not found");
    return Internal(args[0] + ": " + std::strerror(rc));
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false, too_big = false;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int pr = poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      timed_out = pr == 0;
      break;
    }
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      too_big = true;
      break;
    }
  }
  close(fds[0]);
  if (timed_out || too_big) kill(pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return DeadlineExceeded(args[0] + ": no answer within " + std::to_string(timeout.count()) + " ms");
  if (too_big) return Internal(args[0] + ": more output than expected");
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127) return NotFound(args[0] + ": not found");
    return Internal(args[0] + ": failed (" +
                    (WIFEXITED(wstatus) ? "exit " + std::to_string(WEXITSTATUS(wstatus))
                                        : "signal " + std::to_string(WTERMSIG(wstatus))) +
                    ")");
  }
  return out;
}

}  // namespace

StatusOr<std::optional<GpuInventory>> ParseGpusFlag(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.empty() || v == "auto") return std::optional<GpuInventory>();
  if (v == "none") return std::optional<GpuInventory>(GpuInventory{});
  if (AllDigits(v)) {
    if (v.size() > 4 || std::stoi(std::string(v)) > kMaxDeclaredGpus)
      return InvalidArgument("--gpus: at most " + std::to_string(kMaxDeclaredGpus) + " devices, got " + std::string(v));
    GpuInventory inv;
    for (int i = 0, n = std::stoi(std::string(v)); i < n; ++i) inv.push_back({std::to_string(i), "", 0});
    return std::optional<GpuInventory>(std::move(inv));
  }
  GpuInventory inv;
  std::set<std::string> seen;
  for (std::string_view part : Split(v, ',')) {
    part = Trim(part);
    // Starting alphanumeric: "-1" would hide every device from CUDA.
    if (part.empty() || part.size() > 128 || !std::isalnum(static_cast<unsigned char>(part.front())) ||
        !std::all_of(part.begin(), part.end(), IdChar))
      return InvalidArgument("--gpus: \"" + std::string(value.substr(0, 200)) +
                             "\" is not auto, none, a count or a comma list of device ids (0,1 or GPU-... UUIDs)");
    if (!seen.insert(std::string(part)).second)
      return InvalidArgument("--gpus: device " + std::string(part) + " is listed twice");
    if (inv.size() == kMaxDeclaredGpus) return InvalidArgument("--gpus: at most 1024 devices");
    inv.push_back({std::string(part), "", 0});
  }
  return std::optional<GpuInventory>(std::move(inv));
}

StatusOr<GpuInventory> ParseNvidiaSmiCsv(std::string_view text) {
  GpuInventory inv;
  std::set<std::string> seen;
  for (std::string_view line : Split(text, '\n')) {
    if (Trim(line).empty()) continue;
    auto f = Split(line, ',');
    const std::string shown(Trim(line).substr(0, 200));
    if (f.size() != 3) return InvalidArgument("nvidia-smi: unexpected line \"" + shown + "\"");
    std::string_view index = Trim(f[0]), uuid = Trim(f[1]), mem = Trim(f[2]);
    if (!AllDigits(index) || uuid.empty() || uuid.size() > 128 || !std::all_of(uuid.begin(), uuid.end(), IdChar))
      return InvalidArgument("nvidia-smi: unexpected line \"" + shown + "\"");
    if (!seen.insert(std::string(uuid)).second) return InvalidArgument("nvidia-smi: device " + std::string(uuid) + " twice");
    GpuDevice d;
    d.id = d.uuid = std::string(uuid);
    if (mem.ends_with("MiB")) mem = Trim(mem.substr(0, mem.size() - 3));
    if (AllDigits(mem) && mem.size() < 12) d.memory_mib = std::stoll(std::string(mem));  // else "[N/A]": unknown
    inv.push_back(std::move(d));
    if (inv.size() > kMaxDeclaredGpus) return InvalidArgument("nvidia-smi: more than 1024 devices");
  }
  return inv;
}

StatusOr<GpuInventory> DetectGpus(std::chrono::milliseconds timeout) {
  auto out = RunCaptured({"nvidia-smi", "--query-gpu=index,uuid,memory.total", "--format=csv,noheader"}, timeout,
                         1 << 20);
  if (!out.ok()) {
    if (out.status().code() == StatusCode::kNotFound) return GpuInventory{};
    return out.status();
  }
  return ParseNvidiaSmiCsv(*out);
}

StatusOr<GpuInventory> ResolveGpuInventory(std::string_view flag, std::string* source) {
  auto declared = ParseGpusFlag(flag);
  if (!declared.ok()) return declared.status();
  if (declared->has_value()) {
    *source = "--gpus";
    return std::move(**declared);
  }
  *source = "nvidia-smi";
  auto found = DetectGpus(std::chrono::seconds(10));
  if (!found.ok()) {
    LOG_WARN("GPU detection: {}; running without GPUs (give them with --gpus)", found.status().message());
    *source = "none detected";
    return GpuInventory{};
  }
  return found;
}

GpuAllocation AllocateGpus(size_t devices, const std::set<size_t>& busy, const std::vector<int>& claims) {
  GpuAllocation out;
  std::vector<bool> taken(devices, false);
  for (size_t b : busy) {
    if (b < devices) taken[b] = true;
  }
  for (int want : claims) {
    std::vector<size_t> grant;
    if (want > 0) {
      for (size_t i = 0; i < devices && grant.size() < static_cast<size_t>(want); ++i) {
        if (!taken[i]) grant.push_back(i);
      }
      if (grant.size() < static_cast<size_t>(want)) {
        grant.clear();
        ++out.pending;
      }
      for (size_t i : grant) taken[i] = true;
    }
    out.grants.push_back(std::move(grant));
  }
  return out;
}

std::set<size_t> GpuLedger::Busy() const {
  std::set<size_t> busy;
  for (const auto& [holder, devices] : held_) busy.insert(devices.begin(), devices.end());
  return busy;
}

void GpuLedger::Grant(uint64_t holder, std::vector<size_t> devices) {
  if (devices.empty()) {
    held_.erase(holder);
  } else {
    held_[holder] = std::move(devices);
  }
}

void GpuLedger::Release(uint64_t holder) { held_.erase(holder); }

const std::vector<size_t>* GpuLedger::Of(uint64_t holder) const {
  auto it = held_.find(holder);
  return it == held_.end() ? nullptr : &it->second;
}

std::string GpuList(const GpuInventory& inventory, const std::vector<size_t>& devices) {
  std::string out;
  for (size_t i : devices) {
    if (i >= inventory.size()) continue;
    out += (out.empty() ? "" : ",") + inventory[i].id;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> GpuEnv(const GpuInventory& inventory,
                                                         const std::vector<size_t>& devices) {
  if (inventory.empty()) return {};
  const std::string list = GpuList(inventory, devices);
  return {{"CUDA_VISIBLE_DEVICES", list}, {"NVIDIA_VISIBLE_DEVICES", list.empty() ? "void" : list}};
}

}  // namespace inferd::control
