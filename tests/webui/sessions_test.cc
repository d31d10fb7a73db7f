// Tests of webui/sessions.h: the pure session table (fake clock) and the thread-safe wrapper.
#include "webui/sessions.h"

#include <gtest/gtest.h>

#include <set>

namespace inferd::webui {
namespace {

TEST(SessionTableTest, FindsAddedSessionAndItsCsrf) {
  SessionTable t;
  t.Add("k1", "csrf1", 0);
  auto c = t.Find("k1", 10);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, "csrf1");
  EXPECT_FALSE(t.Find("k2", 10).has_value());
}

TEST(SessionTableTest, IdleSessionExpiresAndUseKeepsItAlive) {
  SessionLimits l;
  l.idle_ms = 1000;
  SessionTable t(l);
  t.Add("a", "ca", 0);
  t.Add("b", "cb", 0);
  EXPECT_TRUE(t.Find("a", 900).has_value());   // used at 900: alive until 1900
  EXPECT_TRUE(t.Find("a", 1800).has_value());
  EXPECT_FALSE(t.Find("b", 1000).has_value());  // idle for 1000 ms: gone
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.Find("a", 2800).has_value());
  EXPECT_EQ(t.size(), 0u);
}

TEST(SessionTableTest, BoundedEvictsLeastRecentlyUsed) {
  SessionLimits l;
  l.max_sessions = 3;
  SessionTable t(l);
  t.Add("a", "1", 0);
  t.Add("b", "2", 1);
  t.Add("c", "3", 2);
  ASSERT_TRUE(t.Find("a", 3).has_value());  // a is now the most recent
  t.Add("d", "4", 4);                       // evicts b
  EXPECT_EQ(t.size(), 3u);
  EXPECT_TRUE(t.Find("a", 5).has_value());
  EXPECT_FALSE(t.Find("b", 5).has_value());
  EXPECT_TRUE(t.Find("c", 5).has_value());
  EXPECT_TRUE(t.Find("d", 5).has_value());
  for (int i = 0; i < 100; ++i) t.Add("x" + std::to_string(i), "c", 10 + i);
  EXPECT_EQ(t.size(), 3u);
}

TEST(SessionTableTest, RemoveForgets) {
  SessionTable t;
  t.Add("a", "1", 0);
  t.Remove("a");
  t.Remove("never");
  EXPECT_FALSE(t.Find("a", 1).has_value());
}

TEST(SessionTableTest, FailedLoginsAreRateLimitedPerWindow) {
  SessionTable t;  // 10 failures per 60 s
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(t.LoginAllowed(i * 1000)) << i;
    t.RecordFailure(i * 1000);
  }
  EXPECT_FALSE(t.LoginAllowed(10'000));
  EXPECT_FALSE(t.LoginAllowed(59'999));
  EXPECT_TRUE(t.LoginAllowed(60'000));  // the first failure (t=0) left the window
  t.RecordFailure(60'000);
  EXPECT_FALSE(t.LoginAllowed(60'500));
  EXPECT_TRUE(t.LoginAllowed(200'000));
}

TEST(SessionsTest, CreateDrawsDistinct256BitTokensAndLooksThemUp) {
  int64_t now = 0;
  SessionLimits l;
  l.idle_ms = 100;
  Sessions s(l, [&] { return now; });
  std::set<std::string> seen;
  NewSession first = s.Create();
  for (int i = 0; i < 50; ++i) {
    NewSession n = s.Create();
    ASSERT_EQ(n.id.size(), 43u);  // 32 bytes, unpadded base64url
    ASSERT_EQ(n.csrf.size(), 43u);
    EXPECT_EQ(n.id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    EXPECT_TRUE(seen.insert(n.id).second);
    EXPECT_TRUE(seen.insert(n.csrf).second);
  }
  auto c = s.Csrf(first.id);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, first.csrf);
  EXPECT_FALSE(s.Csrf(first.csrf).has_value());  // the CSRF token is not a session id
  EXPECT_FALSE(s.Csrf("").has_value());
  s.Remove(first.id);
  EXPECT_FALSE(s.Csrf(first.id).has_value());
  NewSession later = s.Create();
  now = 100;
  EXPECT_FALSE(s.Csrf(later.id).has_value());  // idle expiry through the wrapper's clock
}

}  // namespace
}  // namespace inferd::webui
