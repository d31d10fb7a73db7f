// tests/supervisor/zygote_test.cc: replica templates (supervisor/zygote.h) with the real inferd binary: replicas
// forked from `inferd __replica_template` load a real model and answer, get distinct pids and ports, are the
// template's children, stop cleanly; a killed template takes its replicas with it and they come back by exec.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "supervisor/supervisor.h"
#include "util/test_util.h"

namespace inferd::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kTemplate = "native";
// One row of the breast-cancer data (30 features) the LightGBM model was trained on.
constexpr const char* kRow =
    "{\"instances\": [[12.47,18.6,81.09,481.9,0.09965,0.1058,0.08005,0.03821,0.1925,0.06373,0.3961,1.044,2.497,"
    "30.29,0.006953,0.01911,0.02701,0.01037,0.01782,0.003586,14.97,24.64,96.05,677.9,0.1426,0.2378,0.2671,0.1015,"
    "0.3014,0.0875]]}";

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

int ParentOf(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(f, stat);
  size_t rp = stat.rfind(')');
  if (rp == std::string::npos) return -1;
  char state;
  int ppid = -1;
  std::istringstream(stat.substr(rp + 1)) >> state >> ppid;
  return ppid;
}

// True while the process exists and is not a zombie (a replica killed with its template is reparented, and
// its new parent may be slow to reap it).
bool Alive(int pid) {
  if (pid <= 0) return false;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return false;
  size_t rp = stat.rfind(')');
  return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z' && stat[rp + 2] != 'X';
}

class ZygoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("inferd-zygote-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    fs::copy_file(std::string(INFERD_SOURCE_DIR) + "/tests/data/lightgbm/lg_breast_cancer.txt", dir_ / "model.txt",
                  fs::copy_options::overwrite_existing);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ReplicaSpec Spec(const std::string& name) const {
    ReplicaSpec s;
    s.name = "test/" + name;
    s.argv = {INFERD_BIN, "model-server", "--model_name", "m", "--model_dir", dir_.string(), "--http_port", "0",
              "--grpc_port", "0", "--host", "127.0.0.1"};
    s.env = {{"INFERD_TEST_MARK", name}};
    s.template_name = kTemplate;
    s.initial_backoff = 50ms;
    s.ready_probe_interval = 50ms;
    return s;
  }

  static std::string Predict(int port) {
    auto r = inferd::testing::HttpPost(port, "/v1/models/m:predict", kRow);
    return r.status == 200 ? r.body : "status " + std::to_string(r.status) + ": " + r.body;
  }

  fs::path dir_;
};

TEST_F(ZygoteTest, ForkedReplicasAnswerWithTheirOwnPidsAndPorts) {
  Supervisor sup;
  ASSERT_TRUE(sup.AddTemplate(kTemplate, {INFERD_BIN, "__replica_template"}).ok());
  ASSERT_TRUE(WaitFor([&] { return sup.TemplateReady(kTemplate); }));
  const int tpid = sup.TemplatePid(kTemplate);
  ASSERT_GT(tpid, 0);

  auto a = sup.Start(Spec("a"));
  auto b = sup.Start(Spec("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*a)->phase == Phase::kReady && sup.Get(*b)->phase == Phase::kReady; }))
      << sup.Logs(*a) << sup.Logs(*b);
  ReplicaStatus sa = *sup.Get(*a), sb = *sup.Get(*b);
  EXPECT_TRUE(sa.forked);
  EXPECT_TRUE(sb.forked);
  EXPECT_NE(sa.pid, sb.pid);
  EXPECT_NE(sa.http_port, sb.http_port);
  EXPECT_EQ(ParentOf(sa.pid), tpid);  // forked by the template, not exec'd by us
  EXPECT_EQ(ParentOf(sb.pid), tpid);
  std::string pa = Predict(sa.http_port), pb = Predict(sb.http_port);
  EXPECT_NE(pa.find("predictions"), std::string::npos) << pa;
  EXPECT_EQ(pa, pb);
  // The replica's own output reaches its log (not the template's).
  EXPECT_NE(sup.Logs(*a).find("inferd model-server ready"), std::string::npos) << sup.Logs(*a);

  sup.StopAndWait(*a);
  EXPECT_FALSE(sup.Get(*a).has_value());
  EXPECT_TRUE(WaitFor([&] { return !Alive(sa.pid); }));
  EXPECT_EQ(Predict(sb.http_port), pb);  // the other one is untouched
  EXPECT_EQ(sup.TemplatePid(kTemplate), tpid);
}

TEST_F(ZygoteTest, CrashOfAForkedReplicaIsReportedAndRestarted) {
  Supervisor sup;
  ASSERT_TRUE(sup.AddTemplate(kTemplate, {INFERD_BIN, "__replica_template"}).ok());
  ASSERT_TRUE(WaitFor([&] { return sup.TemplateReady(kTemplate); }));
  auto id = sup.Start(Spec("crash"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*id)->phase == Phase::kReady; })) << sup.Logs(*id);
  int pid = sup.Get(*id)->pid;
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitFor([&] {
    auto s = sup.Get(*id);
    return s->restarts >= 1 && s->phase == Phase::kReady && s->pid != pid;
  })) << sup.Logs(*id);
  auto s = *sup.Get(*id);
  ASSERT_TRUE(s.last_exit_signal.has_value());  // the template reported how it ended
  EXPECT_EQ(*s.last_exit_signal, SIGKILL);
  EXPECT_TRUE(s.forked);  // the template is still there: forked again
  EXPECT_NE(Predict(s.http_port).find("predictions"), std::string::npos);
}

TEST_F(ZygoteTest, KilledTemplateFallsBackToExec) {
  Supervisor sup;
  ASSERT_TRUE(sup.AddTemplate(kTemplate, {INFERD_BIN, "__replica_template"}).ok());
  ASSERT_TRUE(WaitFor([&] { return sup.TemplateReady(kTemplate); }));
  const int tpid = sup.TemplatePid(kTemplate);
  auto id = sup.Start(Spec("fallback"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*id)->phase == Phase::kReady; })) << sup.Logs(*id);
  const int pid = sup.Get(*id)->pid;
  ASSERT_TRUE(sup.Get(*id)->forked);

  ASSERT_EQ(kill(tpid, SIGKILL), 0);
  // The replica dies with its template, and comes back at once (it was healthy), by exec.
  ASSERT_TRUE(WaitFor([&] {
    auto s = sup.Get(*id);
    return s->phase == Phase::kReady && s->pid != pid;
  })) << sup.Logs(*id);
  auto s = *sup.Get(*id);
  EXPECT_FALSE(s.forked);
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, 5s));
  EXPECT_EQ(ParentOf(s.pid), getpid());
  EXPECT_NE(Predict(s.http_port).find("predictions"), std::string::npos);
  // The template itself is started again (after its backoff), with a new pid.
  EXPECT_TRUE(WaitFor([&] { return sup.TemplateReady(kTemplate) && sup.TemplatePid(kTemplate) != tpid; }));
}

TEST_F(ZygoteTest, UnknownOrUnreadyTemplateMeansExec) {
  Supervisor sup;
  ReplicaSpec spec = Spec("exec");
  spec.template_name = "no-such-template";
  auto id = sup.Start(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*id)->phase == Phase::kReady; })) << sup.Logs(*id);
  EXPECT_FALSE(sup.Get(*id)->forked);
  EXPECT_FALSE(sup.AddTemplate("", {INFERD_BIN}).ok());
  EXPECT_FALSE(sup.AddTemplate("x", {}).ok());
  EXPECT_FALSE(sup.AddTemplate("x", {"/no/such/binary"}).ok());
  ASSERT_TRUE(sup.AddTemplate("x", {INFERD_BIN, "__replica_template"}).ok());
  EXPECT_FALSE(sup.AddTemplate("x", {INFERD_BIN, "__replica_template"}).ok());
}

TEST_F(ZygoteTest, TemplateOnFirstUseStartsWhenAReplicaNamesIt) {
  Supervisor sup;
  ASSERT_TRUE(sup.AddTemplate(kTemplate, {INFERD_BIN, "__replica_template"}, {}, /*on_first_use=*/true).ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sup.TemplatePid(kTemplate), 0);  // nobody asked for it yet
  auto first = sup.Start(Spec("first"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*first)->phase == Phase::kReady; })) << sup.Logs(*first);
  EXPECT_FALSE(sup.Get(*first)->forked);  // exec'd: the template was not there yet
  ASSERT_TRUE(WaitFor([&] { return sup.TemplateReady(kTemplate); }));
  auto second = sup.Start(Spec("second"));
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(WaitFor([&] { return sup.Get(*second)->phase == Phase::kReady; })) << sup.Logs(*second);
  EXPECT_TRUE(sup.Get(*second)->forked);
}

TEST_F(ZygoteTest, DestructorLeavesNoTemplateOrReplica) {
  int tpid = 0, pid = 0;
  {
    Supervisor sup;
    ASSERT_TRUE(sup.AddTemplate(kTemplate, {INFERD_BIN, "__replica_template"}).ok());
    ASSERT_TRUE(WaitFor([&] { return sup.TemplateReady(kTemplate); }));
    tpid = sup.TemplatePid(kTemplate);
    auto id = sup.Start(Spec("dtor"));
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(WaitFor([&] { return sup.Get(*id)->phase == Phase::kReady; }));
    pid = sup.Get(*id)->pid;
  }
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid) && !Alive(tpid); }, 5s));
}

}  // namespace
}  // namespace inferd::supervisor
