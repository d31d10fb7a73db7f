#include "core/json_string.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

TEST(JsonString, EscapesAndReplacesBytesThatAreNotUtf8) {
  std::string out;
  AppendJsonString(&out, std::string("a\"b\\\n\x01\xc3\xa9\xff", 9));
  EXPECT_EQ(out, "\"a\\\"b\\\\\\n\\u0001\xc3\xa9\xef\xbf\xbd\"");
}

TEST(JsonString, Utf8CheckFollowsTheEscapersRule) {
  EXPECT_TRUE(IsWellFormedUtf8(""));
  EXPECT_TRUE(IsWellFormedUtf8("plain ascii"));
  EXPECT_TRUE(IsWellFormedUtf8("\xc3\xa9t\xc3\xa9"));          // é
  EXPECT_TRUE(IsWellFormedUtf8("\xef\xbf\xbd"));              // U+FFFD itself is well formed
  EXPECT_TRUE(IsWellFormedUtf8("\xf0\x9f\x98\x80"));          // U+1F600
  EXPECT_FALSE(IsWellFormedUtf8("\xff"));
  EXPECT_FALSE(IsWellFormedUtf8("\xc3"));                     // truncated
  EXPECT_FALSE(IsWellFormedUtf8("\xc0\xaf"));                 // overlong
  EXPECT_FALSE(IsWellFormedUtf8("\xed\xa0\x80"));             // surrogate
  EXPECT_FALSE(IsWellFormedUtf8("\xf4\x90\x80\x80"));         // above U+10FFFF
  for (const char* s : {"\xc3\xa9", "\xff", "\xc0\xaf", "ok"}) {
    std::string out;
    AppendJsonString(&out, s);
    EXPECT_EQ(IsWellFormedUtf8(s), out == "\"" + std::string(s) + "\"") << s;
  }
}

}  // namespace
}  // namespace inferd
