// core/percent.h: the one percent-encoding codec (strict decoding unless told otherwise).
#include "core/percent.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

TEST(PercentDecodeTest, DecodesEscapesInEitherCase) {
  EXPECT_EQ(*PercentDecode("a%20b%3a%3A"), "a b::");
  EXPECT_EQ(*PercentDecode(""), "");
  EXPECT_EQ(*PercentDecode("plain"), "plain");
  EXPECT_EQ(*PercentDecode("%00%2F%ff"), std::string("\0/\xff", 3));  // bytes as they are; callers check them
}

TEST(PercentDecodeTest, StrictByDefault) {
  for (const char* bad : {"%", "a%", "a%2", "%zz", "%2g", "%g2", "%-1", "%+1", "% 1", "ok%2"}) {
    auto r = PercentDecode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("malformed percent-encoding at offset"), std::string::npos);
  }
  EXPECT_NE(PercentDecode("ab%zz").status().message().find("offset 2"), std::string::npos);
}

TEST(PercentDecodeTest, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(*PercentDecode("a+b%2B"), "a+b+");
  EXPECT_EQ(*PercentDecode("a+b%2B", {.plus_is_space = true}), "a b+");
}

TEST(PercentDecodeTest, KeepMalformedKeepsBadEscapesLiterally) {
  EXPECT_EQ(*PercentDecode("a%20b%2", {.keep_malformed = true}), "a b%2");
  EXPECT_EQ(*PercentDecode("%zz%41%", {.keep_malformed = true}), "%zzA%");
}

TEST(PercentEncodeTest, EscapesAllButUnreserved) {
  EXPECT_EQ(PercentEncode("a b/c+d~-_.", true), "a%20b/c%2Bd~-_.");
  EXPECT_EQ(PercentEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(PercentEncode(std::string("\0\xff", 2), false), "%00%FF");
}

TEST(PercentCodecTest, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(*PercentDecode(PercentEncode(all, false)), all);
  EXPECT_EQ(*PercentDecode(PercentEncode(all, true)), all);
}

}  // namespace
}  // namespace inferd
