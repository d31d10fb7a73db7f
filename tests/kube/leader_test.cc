// Lease leader election: the pure decision (table-driven), MicroTime, and two electors against the fake
// API server on a ManualClock.
#include "kube/leader.h"

#include <gtest/gtest.h>

#include "kube/fake_api_server.h"

namespace inferd::kube {
namespace {

using std::chrono::seconds;
using testing::FakeApiServer;

constexpr int64_t kSec = 1'000'000'000;

TEST(MicroTime, FormatAndParse) {
  const WallTime t = WallTime(std::chrono::microseconds(1700000000123456LL));
  EXPECT_EQ(FormatMicroTime(t), "2023-11-14T22:13:20.123456Z");
  auto back = ParseMicroTime("2023-11-14T22:13:20.123456Z");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, t);
  EXPECT_EQ(ParseMicroTime("2023-11-14T22:13:20Z"), WallTime(seconds(1700000000)));
  EXPECT_EQ(ParseMicroTime("2023-11-14T23:13:20+01:00"), WallTime(seconds(1700000000)));
  EXPECT_EQ(ParseMicroTime("2023-11-14T22:13:20.5Z"), WallTime(std::chrono::milliseconds(1700000000500LL)));
  for (const char* bad : {"", "yesterday", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20", "2023-11-14T22:13:20.Z",
                          "2023-11-14T22:13:20Zjunk", "2023-11-14 22:13:20Z"}) {
    EXPECT_FALSE(ParseMicroTime(bad).has_value()) << bad;
  }
}

LeaderConfig Cfg(const std::string& id) {
  LeaderConfig c;
  c.identity = id;
  return c;  // 15 s / 10 s / 2 s
}

LeaseRecord Held(const std::string& holder, int transitions = 0, const std::string& renew = "2026-01-01T00:00:00.000000Z") {
  return LeaseRecord{holder, 15, "2026-01-01T00:00:00.000000Z", renew, transitions, "7"};
}

struct Case {
  const char* name;
  std::optional<LeaseRecord> current;
  LeaseObservation observation;
  int64_t now_ns;
  LeaseAction want;
  int want_transitions;
  const char* want_holder;
};

TEST(DecideLease, Table) {
  const WallTime wall = WallTime(seconds(1800000000));
  const std::string now = FormatMicroTime(wall);
  const LeaseRecord other = Held("other", 3);
  const std::vector<Case> cases = {
      {"missing lease: create", std::nullopt, {}, 100 * kSec, LeaseAction::kCreate, 0, "me"},
      {"mine: renew", Held("me", 2), {Held("me", 2), 1 * kSec}, 100 * kSec, LeaseAction::kRenew, 2, "me"},
      {"other, just observed: wait", other, {other, 100 * kSec}, 100 * kSec, LeaseAction::kWait, 3, "other"},
      {"other, unchanged 14.9 s: wait", other, {other, 100 * kSec}, 100 * kSec + 14'900'000'000, LeaseAction::kWait, 3,
       "other"},
      {"other, unchanged 15 s: take over", other, {other, 100 * kSec}, 115 * kSec, LeaseAction::kTakeOver, 4, "me"},
      // The record changed since the observation (a renew we had not seen): its clock restarts now.
      {"other, renewed since observed: wait", Held("other", 3, "2026-01-01T00:00:09.000000Z"), {other, 1 * kSec},
       100 * kSec, LeaseAction::kWait, 3, "other"},
      // A remote renewTime long in the past is not trusted: only local observation counts.
      {"other, old renewTime but new to us: wait", Held("other", 3, "2000-01-01T00:00:00.000000Z"), {}, 100 * kSec,
       LeaseAction::kWait, 3, "other"},
      {"released (no holder): take over at once", Held("", 5), {Held("", 5), 100 * kSec}, 100 * kSec,
       LeaseAction::kTakeOver, 6, "me"},
  };
  for (const Case& c : cases) {
    LeaseDecision d = DecideLease(c.current, c.observation, c.now_ns, wall, Cfg("me"));
    EXPECT_EQ(LeaseActionName(d.action), std::string(LeaseActionName(c.want))) << c.name;
    EXPECT_EQ(d.desired.lease_transitions, c.want_transitions) << c.name;
    EXPECT_EQ(d.desired.holder_identity, c.want_holder) << c.name;
    if (c.want == LeaseAction::kCreate || c.want == LeaseAction::kTakeOver) {
      EXPECT_EQ(d.desired.acquire_time, now) << c.name;
      EXPECT_EQ(d.desired.renew_time, now) << c.name;
      EXPECT_EQ(d.desired.lease_duration_seconds, 15) << c.name;
    }
    if (c.want == LeaseAction::kRenew) {
      EXPECT_EQ(d.desired.renew_time, now) << c.name;
      EXPECT_EQ(d.desired.acquire_time, c.current->acquire_time) << c.name;  // kept
    }
    if (c.current) {
      EXPECT_EQ(d.desired.resource_version, "7") << c.name;  // the PUT is guarded by it
    }
  }
}

TEST(ObserveLease, TimeMovesOnlyWhenTheRecordChanges) {
  LeaseObservation o = ObserveLease({}, Held("a"), 5 * kSec);
  EXPECT_EQ(o.observed_ns, 5 * kSec);
  LeaseRecord same_new_rv = Held("a");
  same_new_rv.resource_version = "8";
  o = ObserveLease(o, same_new_rv, 9 * kSec);
  EXPECT_EQ(o.observed_ns, 5 * kSec);
  EXPECT_EQ(o.record->resource_version, "8");
  o = ObserveLease(o, Held("a", 0, "2026-01-01T00:00:02.000000Z"), 12 * kSec);
  EXPECT_EQ(o.observed_ns, 12 * kSec);
  o = ObserveLease(o, std::nullopt, 13 * kSec);
  EXPECT_EQ(o.observed_ns, 13 * kSec);
  EXPECT_FALSE(o.record.has_value());
}

TEST(LeaseJson, RoundTrip) {
  LeaseRecord r = Held("me", 4);
  Json j = LeaseToJson(r, "ns", "lock");
  EXPECT_EQ(j["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(j["kind"], "Lease");
  EXPECT_EQ(j["metadata"]["resourceVersion"], "7");
  LeaseRecord back = LeaseFromJson(j);
  EXPECT_TRUE(back.SameRecord(r));
  EXPECT_EQ(back.resource_version, "7");
  EXPECT_EQ(LeaseFromJson(Json("garbage")).holder_identity, "");
}

class ElectionTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.RegisterKind(LeaseGvr(), "Lease"); }
  FakeApiServer server_;
  KubeClient client_{server_.Config()};
  ManualClock clock_;
};

TEST_F(ElectionTest, ExactlyOneLeaderThenTakeoverAfterTheHolderStops) {
  int a_started = 0, a_stopped = 0, b_started = 0;
  LeaderElector a(client_, Cfg("a"), {[&] { ++a_started; }, [&] { ++a_stopped; }}, &clock_);
  LeaderElector b(client_, Cfg("b"), {[&] { ++b_started; }, nullptr}, &clock_);
  EXPECT_TRUE(a.TryAcquireOrRenew());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.IsLeader());
  EXPECT_EQ(a_started, 1);

  // a keeps renewing every 2 s: b never takes over, however long it waits.
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(seconds(2));
    ASSERT_TRUE(a.TryAcquireOrRenew()) << i;
    ASSERT_FALSE(b.TryAcquireOrRenew()) << i;
  }
  auto lease = server_.Object(LeaseGvr(), "default", "inferd-operator-leader");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 0);

  // a stops renewing (crashed: no release). b takes over only after observing it unchanged for 15 s.
  clock_.Advance(seconds(14));
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock_.Advance(seconds(1));
  EXPECT_TRUE(b.TryAcquireOrRenew());
  EXPECT_TRUE(b.IsLeader());
  EXPECT_EQ(b_started, 1);
  lease = server_.Object(LeaseGvr(), "default", "inferd-operator-leader");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);

  // a comes back: it sees b's lease and steps down.
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_FALSE(a.IsLeader());
  EXPECT_EQ(a_stopped, 1);
}

TEST_F(ElectionTest, ConcurrentWritersLoseWithConflict) {
  LeaderElector a(client_, Cfg("a"), {}, &clock_);
  LeaderElector b(client_, Cfg("b"), {}, &clock_);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  // b observes, then the lease expires in b's eyes; a renews in between: b's PUT carries a stale
  // resourceVersion... b re-reads first, so it sees the renew and waits instead.
  ASSERT_FALSE(b.TryAcquireOrRenew());
  clock_.Advance(seconds(15));
  ASSERT_TRUE(a.TryAcquireOrRenew());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  // A direct race: a PUT guarded by an old resourceVersion is refused with 409.
  Json stale = LeaseToJson(Held("b", 9), "default", "inferd-operator-leader");
  stale["metadata"]["resourceVersion"] = "1";
  EXPECT_EQ(client_.Update(LeaseGvr(), "default", stale).status().code, 409);
}

TEST_F(ElectionTest, StopReleasesTheLeaseForAQuickSuccessor) {
  LeaderConfig ca = Cfg("a");
  ca.retry_period = std::chrono::milliseconds(10);
  LeaderElector a(client_, ca, {}, &clock_);
  LeaderElector b(client_, Cfg("b"), {}, &clock_);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  a.Stop();
  EXPECT_FALSE(a.IsLeader());
  auto lease = server_.Object(LeaseGvr(), "default", "inferd-operator-leader");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");
  EXPECT_TRUE(b.TryAcquireOrRenew());  // no 15 s wait for a released lease
}

TEST_F(ElectionTest, LosesLeadershipWhenRenewsFailForTheRenewDeadline) {
  int stopped = 0;
  LeaderElector a(client_, Cfg("a"), {nullptr, [&] { ++stopped; }}, &clock_);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  server_.FailNext(100, 500, "InternalError", "leases");
  clock_.Advance(seconds(5));
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_TRUE(a.IsLeader());  // within the 10 s renew deadline
  clock_.Advance(seconds(5));
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_FALSE(a.IsLeader());
  EXPECT_EQ(stopped, 1);
}

TEST_F(ElectionTest, RunnersOnThreadsElectExactlyOne) {
  // Real clock and threads: three electors; exactly one leads at a time.
  std::vector<std::unique_ptr<LeaderElector>> electors;
  for (const char* id : {"x", "y", "z"}) {
    LeaderConfig c = Cfg(id);
    c.retry_period = std::chrono::milliseconds(20);
    electors.push_back(std::make_unique<LeaderElector>(client_, c));
  }
  for (auto& e : electors) e->Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int leaders = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    leaders = 0;
    for (auto& e : electors) leaders += e->IsLeader() ? 1 : 0;
    if (leaders == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(leaders, 1);
  for (int round = 0; round < 20; ++round) {  // and it stays one
    int n = 0;
    for (auto& e : electors) n += e->IsLeader() ? 1 : 0;
    EXPECT_LE(n, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& e : electors) e->Stop();
}

}  // namespace
}  // namespace inferd::kube
