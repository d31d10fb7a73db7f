// tests/supervisor/supervisor_test.cc: the replica supervisor against tests/supervisor/fake_replica.py.
#include "supervisor/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/test_util.h"

namespace inferd::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string FakeReplica() { return std::string(INFERD_SOURCE_DIR) + "/tests/supervisor/fake_replica.py"; }

ReplicaSpec FakeSpec(std::vector<std::string> args) {
  ReplicaSpec s;
  s.name = "test/fake";
  s.argv = {"/usr/bin/python3", FakeReplica()};
  s.argv.insert(s.argv.end(), args.begin(), args.end());
  s.initial_backoff = 50ms;
  s.max_backoff = 400ms;
  s.ready_probe_interval = 50ms;
  s.stop_grace = 3000ms;
  return s;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// True when no such process exists or it is a zombie (dead; its new parent has not reaped it yet).
bool ProcessGone(int pid) {
  if (pid <= 0) return true;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return true;
  size_t rp = stat.rfind(')');
  if (rp == std::string::npos || rp + 2 >= stat.size()) return true;
  char state = stat[rp + 2];
  return state == 'Z' || state == 'X';
}

// Records every on_change call.
struct Recorder {
  struct Event {
    Clock::time_point at;
    ReplicaStatus st;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Event> events;

  Supervisor::ChangeFn Fn() {
    return [this](const ReplicaStatus& s) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back({Clock::now(), s});
      cv.notify_all();
    };
  }
  std::vector<Event> Of(ReplicaId id, std::optional<Phase> phase = std::nullopt) {
    std::lock_guard<std::mutex> l(mu);
    std::vector<Event> out;
    for (const auto& e : events)
      if (e.st.id == id && (!phase || e.st.phase == *phase)) out.push_back(e);
    return out;
  }
  // Waits until `count` events of `phase` were seen for `id`.
  bool Wait(ReplicaId id, Phase phase, size_t count = 1, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, timeout, [&] {
      size_t n = 0;
      for (const auto& e : events) n += e.st.id == id && e.st.phase == phase;
      return n >= count;
    });
  }
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

int ParseGrandchild(const std::string& logs) {
  size_t p = logs.find("grandchild pid=");
  return p == std::string::npos ? 0 : std::atoi(logs.c_str() + p + 15);
}

TEST(SupervisorTest, PhaseNames) {
  EXPECT_EQ(PhaseName(Phase::kStarting), "Starting");
  EXPECT_EQ(PhaseName(Phase::kRunning), "Running");
  EXPECT_EQ(PhaseName(Phase::kReady), "Ready");
  EXPECT_EQ(PhaseName(Phase::kNotReady), "NotReady");
  EXPECT_EQ(PhaseName(Phase::kBackoff), "Backoff");
  EXPECT_EQ(PhaseName(Phase::kStopped), "Stopped");
}

TEST(SupervisorTest, StartBecomesReadyWithParsedPort) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto st0 = sup.Get(*id);
  ASSERT_TRUE(st0.has_value());
  EXPECT_GT(st0->pid, 0);  // Start returns once forked
  EXPECT_EQ(st0->name, "test/fake");
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady)) << sup.Logs(*id);
  auto st = sup.Get(*id);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->phase, Phase::kReady);
  EXPECT_GT(st->http_port, 0);
  EXPECT_EQ(st->grpc_port, 0);
  EXPECT_EQ(st->restarts, 0);
  EXPECT_EQ(st->reason, "");
  EXPECT_NE(sup.Logs(*id).find("listening http_port=" + std::to_string(st->http_port) + " grpc_port=0"),
            std::string::npos);
  EXPECT_EQ(testing::HttpGet(st->http_port, "/v2/health/ready").status, 200);
  // Time to ready: python's start-up plus a few ms of probing; generous bound.
  EXPECT_GE(st->ready_at, st->started_at);
  EXPECT_LT(st->ready_at - st->started_at, 5s);
  // Phases in order: Starting, Running, Ready.
  auto evs = rec.Of(*id);
  ASSERT_GE(evs.size(), 3u);
  EXPECT_EQ(evs[0].st.phase, Phase::kStarting);
  EXPECT_EQ(evs[1].st.phase, Phase::kRunning);
  EXPECT_EQ(evs[2].st.phase, Phase::kReady);
  ASSERT_EQ(sup.List().size(), 1u);
  EXPECT_EQ(sup.List()[0].id, *id);
}

TEST(SupervisorTest, SlowModelIsRunningBeforeReady) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({"--ready_after_ms", "300"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kRunning));
  EXPECT_EQ(sup.Get(*id)->phase, Phase::kRunning);  // 300 ms have not passed since python started
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  auto st = sup.Get(*id);
  EXPECT_GE(st->ready_at - st->started_at, 300ms);
  EXPECT_EQ(st->restarts, 0);
}

// A replica that announces readiness on stdout is probed at once: with a 20 s poll interval it is still
// seen Ready right after its announcement, while the same replica without the line waits for the next poll.
TEST(SupervisorTest, AnnouncedReadinessIsProbedAtOnce) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto quiet = FakeSpec({"--ready_after_ms", "1500"});
  quiet.probe_interval = 20s;
  auto announcing = FakeSpec({"--ready_after_ms", "1500", "--announce_ready"});
  announcing.probe_interval = 20s;
  auto q = sup.Start(quiet);
  auto a = sup.Start(announcing);
  ASSERT_TRUE(q.ok() && a.ok());
  ASSERT_TRUE(rec.Wait(*a, Phase::kReady, 1, 10s));
  auto st = sup.Get(*a);
  EXPECT_GE(st->ready_at - st->started_at, 1500ms);
  std::this_thread::sleep_for(500ms);  // the quiet one has been ready for a while: only a poll would see it
  EXPECT_EQ(sup.Get(*q)->phase, Phase::kRunning);
}

TEST(SupervisorTest, NeverReadyStaysRunning) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({"--never_ready"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kRunning));
  std::this_thread::sleep_for(300ms);
  auto st = sup.Get(*id);
  EXPECT_EQ(st->phase, Phase::kRunning);
  EXPECT_EQ(st->restarts, 0);
  EXPECT_GT(st->http_port, 0);
  EXPECT_EQ(testing::HttpGet(st->http_port, "/v2/health/ready").status, 503);
  EXPECT_TRUE(rec.Of(*id, Phase::kReady).empty());
}

// A running replica that is not ready is asked why (status_path), without anyone making an HTTP call.
TEST(SupervisorTest, NotReadyReasonComesFromTheStatusPath) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  ReplicaSpec spec = FakeSpec({"--never_ready", R"(--index=[{"name":"m","state":"UNAVAILABLE","reason":"bad file"}])"});
  spec.status_path = "/v2/repository/index";
  spec.status_probe_after = 100ms;
  spec.status_probe_interval = 200ms;
  std::vector<std::string> bodies;  // event-loop thread only while the replica runs
  std::mutex mu;
  spec.not_ready_reason = [&](std::string_view body) {
    std::lock_guard lock(mu);
    bodies.emplace_back(body);
    return body.find("UNAVAILABLE") != std::string_view::npos ? std::string("bad file") : std::string();
  };
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*id)->not_ready_reason == "bad file"; }));
  EXPECT_EQ(sup.Get(*id)->phase, Phase::kRunning);
  EXPECT_NE(sup.Logs(*id).find("POST /v2/repository/index {}"), std::string::npos);
  {
    std::lock_guard lock(mu);
    ASSERT_FALSE(bodies.empty());
    EXPECT_EQ(bodies[0], R"([{"name":"m","state":"UNAVAILABLE","reason":"bad file"}])");
  }
  // Reported like a phase change (on_change), so the control plane wakes for it.
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& e : rec.Of(*id, Phase::kRunning)) {
      if (e.st.not_ready_reason == "bad file") return true;
    }
    return false;
  }));
  sup.StopAndWait(*id);
}

TEST(SupervisorTest, ReadyReplicaIsNotAskedWhy) {
  Supervisor sup;
  ReplicaSpec spec = FakeSpec({});
  spec.status_path = "/v2/repository/index";
  spec.status_probe_after = 0ms;
  std::atomic<int> asked{0};
  spec.not_ready_reason = [&](std::string_view) {
    ++asked;
    return std::string("x");
  };
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*id)->phase == Phase::kReady; }));
  const int before = asked.load();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(asked.load(), before);
  EXPECT_EQ(sup.Get(*id)->not_ready_reason, "");
  sup.StopAndWait(*id);
}

TEST(SupervisorTest, CrashIsRestartedWithGrowingBackoff) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  // Never ready: a replica that was ready comes back at once after its first crash (see below).
  auto id = sup.Start(FakeSpec({"--print", "3", "--exit_after_ms", "0", "--exit_code", "3", "--never_ready"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff, 4)) << sup.Logs(*id);
  ASSERT_TRUE(rec.Wait(*id, Phase::kStarting, 5));
  auto backoffs = rec.Of(*id, Phase::kBackoff);
  auto starts = rec.Of(*id, Phase::kStarting);
  // First crash: Error; afterwards CrashLoopBackOff. Exit code and the last lines are in the status.
  EXPECT_EQ(backoffs[0].st.reason, "Error");
  for (size_t i = 1; i < backoffs.size(); ++i) EXPECT_EQ(backoffs[i].st.reason, "CrashLoopBackOff");
  for (size_t i = 0; i < 4; ++i) {
    const auto& st = backoffs[i].st;
    EXPECT_EQ(st.restarts, static_cast<int>(i));
    ASSERT_TRUE(st.last_exit_code.has_value());
    EXPECT_EQ(*st.last_exit_code, 3);
    EXPECT_FALSE(st.last_exit_signal.has_value());
    EXPECT_EQ(st.pid, 0);
    EXPECT_EQ(st.message.rfind("exit code 3", 0), 0u) << st.message;
    EXPECT_NE(st.message.find("line 2"), std::string::npos) << st.message;
    EXPECT_NE(st.message.find("exiting (code 3"), std::string::npos) << st.message;
  }
  // Backoff 50, 100, 200, 400 ms: the restart never comes earlier (small slack for callback dispatch).
  const int expected_ms[] = {50, 100, 200, 400};
  for (size_t i = 0; i < 4; ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(starts[i + 1].at - backoffs[i].at);
    EXPECT_GE(gap.count(), expected_ms[i] * 8 / 10) << "backoff " << i;
    EXPECT_LT(gap.count(), expected_ms[i] + 3000) << "backoff " << i;
  }
  // Logs are kept across restarts.
  std::string logs = sup.Logs(*id);
  size_t n = 0;
  for (size_t p = logs.find("listening http_port="); p != std::string::npos; p = logs.find("listening", p + 1)) ++n;
  EXPECT_GE(n, 4u);
}

TEST(SupervisorTest, KilledBySignal) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({"--exit_after_ms", "0", "--exit_signal", "9"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff));
  auto st = rec.Of(*id, Phase::kBackoff)[0].st;
  ASSERT_TRUE(st.last_exit_signal.has_value());
  EXPECT_EQ(*st.last_exit_signal, 9);
  EXPECT_FALSE(st.last_exit_code.has_value());
  EXPECT_EQ(st.message.rfind("killed by signal 9", 0), 0u) << st.message;
  EXPECT_EQ(st.reason, "Error");
}

TEST(SupervisorTest, BackoffCounterResetsAfterStayingUp) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--exit_after_ms", "150"});
  spec.backoff_reset = 100ms;  // every incarnation stays up > 150 ms
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff, 3));
  for (const auto& e : rec.Of(*id, Phase::kBackoff)) EXPECT_EQ(e.st.reason, "Error");
  EXPECT_GE(sup.Get(*id)->restarts, 2);
}

// A replica that was serving and died (killed, OOM) is started again at once the first time, whatever the
// backoff; a second crash soon after backs off.
TEST(SupervisorTest, ReadyReplicaThatDiesIsRestartedAtOnce) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({});
  spec.initial_backoff = spec.max_backoff = 20000ms;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  int pid = sup.Get(*id)->pid;
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(rec.Wait(*id, Phase::kStarting, 2, 8s)) << "not restarted before the 20 s backoff";
  auto backoff = rec.Of(*id, Phase::kBackoff).at(0).st;
  EXPECT_EQ(backoff.reason, "Error");
  EXPECT_TRUE(backoff.last_run_ready);
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady, 2));
  EXPECT_NE(sup.Get(*id)->pid, pid);
  EXPECT_EQ(sup.Get(*id)->restarts, 1);
  // Again, within the backoff reset (10 s): now it backs off (initial_backoff, 20 s here).
  ASSERT_EQ(kill(sup.Get(*id)->pid, SIGKILL), 0);
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff, 2));
  auto second = rec.Of(*id, Phase::kBackoff).at(1).st;
  EXPECT_EQ(second.reason, "CrashLoopBackOff");
  EXPECT_TRUE(second.last_run_ready);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sup.Get(*id)->phase, Phase::kBackoff);
  EXPECT_EQ(rec.Of(*id, Phase::kStarting).size(), 2u);
}

// Restart: the control plane's retry of a replica that runs but fails (its model did not load): stopped and
// started again without the crash backoff, counted in `restarts`.
TEST(SupervisorTest, RestartStartsTheReplicaAgainWithoutBackoff) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--never_ready"});
  spec.initial_backoff = spec.max_backoff = 20000ms;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kRunning));
  int pid = sup.Get(*id)->pid;
  sup.Restart(*id);
  ASSERT_TRUE(rec.Wait(*id, Phase::kRunning, 2, 8s));
  auto st = sup.Get(*id);
  ASSERT_TRUE(st.has_value());
  EXPECT_NE(st->pid, pid);
  EXPECT_GT(st->pid, 0);
  EXPECT_EQ(st->restarts, 1);
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(rec.Of(*id, Phase::kBackoff).empty());
  sup.Restart(12345);  // unknown: nothing happens
  sup.StopAndWait(*id);
  EXPECT_FALSE(sup.Get(*id).has_value());
}

TEST(SupervisorTest, ProbeFailureAfterReadyIsNotReadyThenRecovers) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--unready_after_ms", "400", "--unready_for_ms", "600"});
  spec.ready_probe_interval = 20ms;
  spec.failure_threshold = 3;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  int pid = sup.Get(*id)->pid;
  ASSERT_TRUE(rec.Wait(*id, Phase::kNotReady));
  auto nr = rec.Of(*id, Phase::kNotReady)[0].st;
  EXPECT_EQ(nr.reason, "ProbeFailed");
  EXPECT_NE(nr.message.find("HTTP 503"), std::string::npos) << nr.message;
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady, 2));  // not restarted: recovers in place
  auto st = sup.Get(*id);
  EXPECT_EQ(st->restarts, 0);
  EXPECT_EQ(st->pid, pid);
  EXPECT_EQ(st->reason, "");
}

TEST(SupervisorTest, LogsReturnWholeLinesAndIncludeStderr) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({"--print", "5", "--stderr"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  std::string full = sup.Logs(*id);
  for (int i = 0; i < 5; ++i) EXPECT_NE(full.find("line " + std::to_string(i) + "\n"), std::string::npos) << full;
  for (size_t k : {1, 10, 30, 70, 100, 1000}) {
    std::string tail = sup.Logs(*id, k);
    EXPECT_LE(tail.size(), k);
    ASSERT_LE(tail.size(), full.size());
    EXPECT_EQ(full.substr(full.size() - tail.size()), tail);
    if (!tail.empty() && tail.size() < full.size()) {
      EXPECT_EQ(full[full.size() - tail.size() - 1], '\n') << k;
    }
  }
  // LogsSince(0) returns everything at once, with the end offset.
  auto [all, off] = sup.LogsSince(*id, 0, 0ms);
  EXPECT_EQ(all, full);
  EXPECT_EQ(off, full.size());
  // Nothing new: waits for the timeout and returns the same offset.
  auto t0 = Clock::now();
  auto [none, off2] = sup.LogsSince(*id, off, 150ms);
  EXPECT_EQ(none, "");
  EXPECT_EQ(off2, off);
  EXPECT_GE(Clock::now() - t0, 140ms);
  // An offset past the end is clamped.
  EXPECT_EQ(sup.LogsSince(*id, off + 1000, 0ms).second, off);
  // Unknown replica.
  EXPECT_EQ(sup.Logs(*id + 100), "");
  EXPECT_EQ(sup.LogsSince(*id + 100, 0, 0ms).first, "");
}

TEST(SupervisorTest, LogsSinceFollowsAndWakesOnStop) {
  Supervisor sup;
  auto id = sup.Start(FakeSpec({"--tick_ms", "30"}));
  ASSERT_TRUE(id.ok());
  uint64_t off = 0;
  std::string followed;
  auto deadline = Clock::now() + 10s;
  while (followed.find("tick 2\n") == std::string::npos && Clock::now() < deadline) {
    auto [s, next] = sup.LogsSince(*id, off, 5s);
    EXPECT_EQ(next, off + s.size());
    followed += s;
    off = next;
  }
  EXPECT_NE(followed.find("tick 0\ntick 1\ntick 2\n"), std::string::npos) << followed;
  EXPECT_EQ(followed.substr(0, followed.size()), sup.LogsSince(*id, 0, 0ms).first.substr(0, followed.size()));

  // A quiet replica: a follower blocked in LogsSince returns when the replica is stopped.
  auto quiet = sup.Start(FakeSpec({}));
  ASSERT_TRUE(quiet.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*quiet)->phase == Phase::kReady; }));
  uint64_t end = sup.LogsSince(*quiet, 0, 0ms).second;
  std::thread follower([&] {
    auto t0 = Clock::now();
    auto r = sup.LogsSince(*quiet, end, 20s);
    EXPECT_LT(Clock::now() - t0, 10s);
    (void)r;
  });
  std::this_thread::sleep_for(50ms);
  sup.StopAndWait(*quiet);
  follower.join();
}

TEST(SupervisorTest, LogRingIsBounded) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--print", "3000"});
  spec.log_bytes = 4096;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  std::string logs = sup.Logs(*id, 1 << 20);
  EXPECT_LE(logs.size(), 4096u);
  EXPECT_GT(logs.size(), 3000u);
  EXPECT_NE(logs.find("line 2999\n"), std::string::npos);
  EXPECT_EQ(logs.find("line 0\n"), std::string::npos);
  EXPECT_EQ(logs.rfind("line ", 0), 0u) << logs.substr(0, 40);  // starts on a line boundary
  auto [since, off] = sup.LogsSince(*id, 0, 0ms);
  EXPECT_LE(since.size(), 4096u);
  EXPECT_GT(off, 20000u);  // the offset counts every byte ever written
  EXPECT_EQ(logs.substr(logs.size() - 100), since.substr(since.size() - 100));
}

TEST(SupervisorTest, LogSinkGetsLines) {
  std::mutex mu;
  std::vector<std::string> lines;
  Supervisor sup;
  auto spec = FakeSpec({"--print", "2"});
  spec.log_sink = [&](std::string_view l) {
    std::lock_guard<std::mutex> g(mu);
    lines.emplace_back(l);
  };
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> g(mu);
    return lines.size() >= 3;
  }));
  std::lock_guard<std::mutex> g(mu);
  EXPECT_EQ(lines[0], "line 0");
  EXPECT_EQ(lines[1], "line 1");
  EXPECT_EQ(lines[2].rfind("inferd model-server listening http_port=", 0), 0u) << lines[2];
}

TEST(SupervisorTest, StopAndWaitKillsTheWholeProcessGroup) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({"--grandchild"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  int gc = ParseGrandchild(sup.Logs(*id));
  int pid = sup.Get(*id)->pid;
  ASSERT_GT(gc, 0);
  ASSERT_FALSE(ProcessGone(gc));
  sup.StopAndWait(*id);
  EXPECT_FALSE(sup.Get(*id).has_value());
  EXPECT_TRUE(sup.List().empty());
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(ProcessGone(gc));
  auto stopped = rec.Of(*id, Phase::kStopped);
  ASSERT_EQ(stopped.size(), 1u);
  ASSERT_TRUE(stopped[0].st.last_exit_signal.has_value());
  EXPECT_EQ(*stopped[0].st.last_exit_signal, SIGTERM);
  EXPECT_EQ(sup.Logs(*id), "");
  sup.Stop(*id);  // unknown id: no-op
  sup.StopAndWait(*id);
}

TEST(SupervisorTest, CrashKillsTheRestOfTheGroupBeforeRestart) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--grandchild", "--exit_after_ms", "200"});
  spec.initial_backoff = spec.max_backoff = 5000ms;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff));
  int gc = ParseGrandchild(sup.Logs(*id));
  ASSERT_GT(gc, 0);
  EXPECT_TRUE(ProcessGone(gc));
}

TEST(SupervisorTest, StopIsAsynchronous) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  int pid = sup.Get(*id)->pid;
  sup.Stop(*id);
  ASSERT_TRUE(WaitFor([&] { return sup.List().empty(); }));
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_EQ(rec.Of(*id).back().st.phase, Phase::kStopped);
}

TEST(SupervisorTest, IgnoredSigtermIsKilledAfterGrace) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--ignore_sigterm"});
  spec.stop_grace = 300ms;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  int pid = sup.Get(*id)->pid;
  auto t0 = Clock::now();
  sup.StopAndWait(*id);
  auto took = Clock::now() - t0;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(ProcessGone(pid));
  auto stopped = rec.Of(*id, Phase::kStopped);
  ASSERT_EQ(stopped.size(), 1u);
  ASSERT_TRUE(stopped[0].st.last_exit_signal.has_value());
  EXPECT_EQ(*stopped[0].st.last_exit_signal, SIGKILL);
}

TEST(SupervisorTest, StopDuringBackoffIsImmediate) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--exit_after_ms", "0"});
  spec.initial_backoff = 10000ms;
  spec.max_backoff = 10000ms;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff));
  auto t0 = Clock::now();
  sup.StopAndWait(*id);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_FALSE(sup.Get(*id).has_value());
  EXPECT_EQ(rec.Of(*id).back().st.phase, Phase::kStopped);
}

TEST(SupervisorTest, WaitpidFallbackWithoutPidfd) {
  setenv("INFERD_SUPERVISOR_NO_PIDFD", "1", 1);
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto id = sup.Start(FakeSpec({"--exit_after_ms", "100", "--exit_code", "4"}));
  auto id2 = sup.Start(FakeSpec({"--grandchild"}));
  unsetenv("INFERD_SUPERVISOR_NO_PIDFD");
  ASSERT_TRUE(id.ok() && id2.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kBackoff));
  EXPECT_EQ(rec.Of(*id, Phase::kBackoff)[0].st.last_exit_code.value_or(-1), 4);
  ASSERT_TRUE(rec.Wait(*id, Phase::kStarting, 2));
  ASSERT_TRUE(rec.Wait(*id2, Phase::kReady));
  int gc = ParseGrandchild(sup.Logs(*id2));
  int pid = sup.Get(*id2)->pid;
  sup.StopAndWait(*id2);
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(ProcessGone(gc));
}

TEST(SupervisorTest, FixedPorts) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  int port = FreePort();
  auto spec = FakeSpec({"--http_port", std::to_string(port), "--no_listen_line"});
  spec.ports_from_stdout = false;
  spec.fixed_http_port = port;
  spec.fixed_grpc_port = 9999;
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady)) << sup.Logs(*id);
  auto st = sup.Get(*id);
  EXPECT_EQ(st->http_port, port);
  EXPECT_EQ(st->grpc_port, 9999);
  auto evs = rec.Of(*id);
  ASSERT_GE(evs.size(), 3u);
  EXPECT_EQ(evs[0].st.phase, Phase::kStarting);
  EXPECT_EQ(evs[1].st.phase, Phase::kRunning);
  EXPECT_EQ(evs[1].st.http_port, port);
}

TEST(SupervisorTest, EnvironmentCwdAndPathLookup) {
  setenv("INFERD_SUP_TEST", "parent", 1);
  setenv("INFERD_SUP_KEPT", "kept", 1);
  Recorder rec;
  Supervisor sup(rec.Fn());
  auto spec = FakeSpec({"--print_env", "INFERD_SUP_TEST"});
  spec.argv[0] = "python3";  // found on PATH
  spec.env = {{"INFERD_SUP_TEST", "first"}, {"INFERD_SUP_TEST", "child"}};
  spec.cwd = "/tmp";
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady)) << sup.Logs(*id);
  std::string logs = sup.Logs(*id);
  EXPECT_NE(logs.find("env INFERD_SUP_TEST=child\n"), std::string::npos) << logs;
  EXPECT_NE(logs.find("cwd=/tmp\n"), std::string::npos) << logs;
  unsetenv("INFERD_SUP_TEST");
  unsetenv("INFERD_SUP_KEPT");
}

TEST(SupervisorTest, BadSpecIsRejected) {
  Supervisor sup;
  auto expect_invalid = [&](ReplicaSpec s, const std::string& field) {
    auto id = sup.Start(std::move(s));
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(id.status().message().find(field), std::string::npos) << id.status().message();
  };
  ReplicaSpec empty;
  expect_invalid(empty, "argv");
  auto s = FakeSpec({});
  s.argv[0] = "/nonexistent/python3";
  expect_invalid(s, "argv[0]");
  s.argv[0] = "no-such-binary-for-inferd-tests";
  expect_invalid(s, "argv[0]");
  s = FakeSpec({});
  s.ports_from_stdout = false;
  expect_invalid(s, "fixed_http_port");
  s = FakeSpec({});
  s.cwd = "/nonexistent-dir";
  expect_invalid(s, "cwd");
  s = FakeSpec({});
  s.ready_path = "ready";
  expect_invalid(s, "ready_path");
  s = FakeSpec({});
  s.failure_threshold = 0;
  expect_invalid(s, "failure_threshold");
  EXPECT_TRUE(sup.List().empty());
}

TEST(SupervisorTest, ManyReplicasGetDistinctPorts) {
  Recorder rec;
  Supervisor sup(rec.Fn());
  std::vector<ReplicaId> ids;
  for (int i = 0; i < 4; ++i) {
    auto id = sup.Start(FakeSpec({}));
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  std::set<int> ports;
  for (auto id : ids) {
    ASSERT_TRUE(rec.Wait(id, Phase::kReady));
    ports.insert(sup.Get(id)->http_port);
  }
  EXPECT_EQ(ports.size(), 4u);
  EXPECT_EQ(sup.List().size(), 4u);
}

TEST(SupervisorTest, StartFromShortLivedThread) {
  // The replica is forked by the supervisor's own thread, so the caller's thread exiting (which would
  // fire PR_SET_PDEATHSIG if it had forked) does not kill it.
  Recorder rec;
  Supervisor sup(rec.Fn());
  StatusOr<ReplicaId> id = Status(StatusCode::kInternal, "not started");
  std::thread t([&] { id = sup.Start(FakeSpec({})); });
  t.join();
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(rec.Wait(*id, Phase::kReady));
  std::this_thread::sleep_for(200ms);
  auto st = sup.Get(*id);
  EXPECT_EQ(st->phase, Phase::kReady);
  EXPECT_EQ(st->restarts, 0);
  EXPECT_TRUE(rec.Of(*id, Phase::kBackoff).empty());
}

TEST(SupervisorTest, DestructorLeavesNoProcesses) {
  std::vector<int> pids;
  int gc = 0;
  auto t0 = Clock::now();
  {
    Recorder rec;
    Supervisor sup(rec.Fn());
    auto a = sup.Start(FakeSpec({"--grandchild"}));
    auto ignore = FakeSpec({"--ignore_sigterm"});
    ignore.stop_grace = 200ms;
    auto b = sup.Start(ignore);
    auto crash = FakeSpec({"--exit_after_ms", "0"});
    crash.initial_backoff = crash.max_backoff = 10000ms;
    auto c = sup.Start(crash);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    ASSERT_TRUE(rec.Wait(*a, Phase::kReady));
    ASSERT_TRUE(rec.Wait(*b, Phase::kReady));
    ASSERT_TRUE(rec.Wait(*c, Phase::kBackoff));
    pids = {sup.Get(*a)->pid, sup.Get(*b)->pid};
    gc = ParseGrandchild(sup.Logs(*a));
    ASSERT_GT(gc, 0);
    t0 = Clock::now();
  }
  EXPECT_LT(Clock::now() - t0, 5s);
  for (int pid : pids) EXPECT_TRUE(ProcessGone(pid)) << pid;
  EXPECT_TRUE(ProcessGone(gc));
  // Nothing left to reap either: the supervisor reaped its children.
  for (int pid : pids) EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
}

TEST(SupervisorTest, ReplicaDiesWhenSupervisorProcessIsKilled) {
  // A helper process runs a Supervisor, starts a replica, reports its pid and dies abruptly (no
  // destructor). PR_SET_PDEATHSIG must kill the replica. This test process becomes a child subreaper so
  // that the orphaned replica is reparented here and its fate can be read with waitpid.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t helper = fork();
  ASSERT_GE(helper, 0);
  if (helper == 0) {
    close(fds[0]);
    auto* sup = new Supervisor();  // deliberately leaked: the process dies without cleanup
    auto id = sup->Start(FakeSpec({}));
    if (!id.ok()) _exit(2);
    // Wait until the replica runs python (past the child's prctl) so that the kill is by PDEATHSIG.
    auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline && sup->Get(*id)->phase != Phase::kReady) std::this_thread::sleep_for(5ms);
    int pid = sup->Get(*id)->pid;
    if (write(fds[1], &pid, sizeof pid) != sizeof pid) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  int pid = 0;
  ASSERT_EQ(read(fds[0], &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
  close(fds[0]);
  int hst = 0;
  ASSERT_EQ(waitpid(helper, &hst, 0), helper);
  EXPECT_TRUE(WIFEXITED(hst) && WEXITSTATUS(hst) == 0);
  ASSERT_GT(pid, 0);
  int st = 0;
  pid_t w = 0;
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    w = waitpid(pid, &st, WNOHANG);
    if (w != 0) break;
    std::this_thread::sleep_for(5ms);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  ASSERT_EQ(w, pid) << "replica " << pid << " survived its supervisor";
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

}  // namespace
}  // namespace inferd::supervisor
