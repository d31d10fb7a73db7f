// Tests of the memory budget's pure decision (model/memory_budget.h): which resident models a load evicts,
// least recently used first, never a pinned one, and when a model can never fit or is blocked by pinned ones.
#include "model/memory_budget.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace inferd {
namespace {

std::vector<std::string_view> Names(const std::vector<ResidentModel>& r, const EvictionPlan& p) {
  std::vector<std::string_view> v;
  for (size_t i : p.evict) v.push_back(r[i].name);
  return v;
}

TEST(PlanEviction, UnlimitedBudgetNeverEvicts) {
  std::vector<ResidentModel> r = {{"a", 1000, 1, false}, {"b", 1000, 2, false}};
  EvictionPlan p = PlanEviction(0, 1'000'000, r);
  EXPECT_EQ(p.outcome, EvictionPlan::Outcome::kFits);
  EXPECT_TRUE(p.evict.empty());
  EXPECT_EQ(p.resident_after, 1'002'000u);
}

TEST(PlanEviction, FitsWithoutEvictionWhenThereIsRoom) {
  std::vector<ResidentModel> r = {{"a", 100, 1, false}, {"b", 100, 2, false}};
  EvictionPlan p = PlanEviction(300, 100, r);
  EXPECT_EQ(p.outcome, EvictionPlan::Outcome::kFits);
  EXPECT_TRUE(p.evict.empty());
  EXPECT_EQ(p.resident_after, 300u);  // exactly the budget fits
}

TEST(PlanEviction, EvictsLeastRecentlyUsedFirstUntilItFits) {
  std::vector<ResidentModel> r = {
      {"newest", 100, 40, false}, {"oldest", 100, 10, false}, {"middle", 100, 20, false}, {"recent", 100, 30, false}};
  EvictionPlan p = PlanEviction(400, 150, r);  // 550 needed: two models must go
  ASSERT_EQ(p.outcome, EvictionPlan::Outcome::kFits);
  EXPECT_EQ(Names(r, p), (std::vector<std::string_view>{"oldest", "middle"}));
  EXPECT_EQ(p.resident_after, 350u);
}

TEST(PlanEviction, PinnedModelsAreSkippedNotEvicted) {
  std::vector<ResidentModel> r = {{"old_busy", 100, 1, true}, {"b", 100, 2, false}, {"c", 100, 3, false}};
  EvictionPlan p = PlanEviction(300, 100, r);
  ASSERT_EQ(p.outcome, EvictionPlan::Outcome::kFits);
  EXPECT_EQ(Names(r, p), (std::vector<std::string_view>{"b"}));
  EXPECT_EQ(p.pinned_bytes, 100u);
}

TEST(PlanEviction, TiesBreakByNameSoTheOrderIsTotal) {
  std::vector<ResidentModel> r = {{"zeta", 100, 5, false}, {"alpha", 100, 5, false}};
  EvictionPlan p = PlanEviction(200, 100, r);
  ASSERT_EQ(p.outcome, EvictionPlan::Outcome::kFits);
  EXPECT_EQ(Names(r, p), (std::vector<std::string_view>{"alpha"}));
}

TEST(PlanEviction, ModelLargerThanTheWholeBudgetNeverFits) {
  std::vector<ResidentModel> r = {{"a", 100, 1, false}};
  EvictionPlan p = PlanEviction(1000, 1001, r);
  EXPECT_EQ(p.outcome, EvictionPlan::Outcome::kNeverFits);
  EXPECT_TRUE(p.evict.empty());
  // Even on an empty server.
  EXPECT_EQ(PlanEviction(1000, 1001, {}).outcome, EvictionPlan::Outcome::kNeverFits);
}

TEST(PlanEviction, BlockedWhenPinnedModelsHoldTheRoomAndNothingIsEvicted) {
  std::vector<ResidentModel> r = {{"busy1", 400, 1, true}, {"idle", 100, 2, false}, {"busy2", 400, 3, true}};
  EvictionPlan p = PlanEviction(1000, 300, r);  // 800 pinned + 300 > 1000 even with "idle" gone
  EXPECT_EQ(p.outcome, EvictionPlan::Outcome::kBlocked);
  EXPECT_TRUE(p.evict.empty());
  EXPECT_EQ(p.pinned_bytes, 800u);
}

TEST(PlanEviction, LargeIncomingEvictsManySmallOnes) {
  std::vector<ResidentModel> r;
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) names.push_back("m" + std::to_string(100 + i));
  for (int i = 0; i < 50; ++i) r.push_back({names[i], 10, 1000 - i, false});  // m149 is the oldest
  EvictionPlan p = PlanEviction(500, 95, r);  // 595: ten must go (9 would leave 505)
  ASSERT_EQ(p.outcome, EvictionPlan::Outcome::kFits);
  ASSERT_EQ(p.evict.size(), 10u);
  EXPECT_EQ(r[p.evict.front()].name, "m149");
  EXPECT_EQ(r[p.evict.back()].name, "m140");
  EXPECT_EQ(p.resident_after, 495u);
}

TEST(AllocatedBytes, GrowsWithAnAllocationThatIsKept) {
  size_t before = AllocatedBytes();
  if (before == 0) GTEST_SKIP() << "the C library reports no heap statistics";
  std::vector<char> block(8 << 20, 1);
  size_t after = AllocatedBytes();
  EXPECT_GE(after, before + (8 << 20) - 4096);
  EXPECT_EQ(block[123], 1);
}

}  // namespace
}  // namespace inferd
