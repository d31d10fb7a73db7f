#include "core/base64.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64, DecodesPaddedUnpaddedAndUrlSafe) {
  EXPECT_EQ(*Base64Decode("Zg=="), "f");
  EXPECT_EQ(*Base64Decode("Zg"), "f");
  EXPECT_EQ(*Base64Decode("Zm8="), "fo");
  EXPECT_EQ(*Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(*Base64Decode("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(*Base64Decode("__4A"), std::string("\xff\xfe\x00", 3));
  EXPECT_EQ(*Base64Decode("//4A"), std::string("\xff\xfe\x00", 3));
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    auto back = Base64Decode(Base64Encode(all.substr(0, n)));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, all.substr(0, n));
  }
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(Base64Decode("Zm9 v").ok());   // space
  EXPECT_FALSE(Base64Decode("Zm9v!").ok());   // not in either alphabet
  EXPECT_FALSE(Base64Decode("Z").ok());       // 4n+1 characters
  EXPECT_FALSE(Base64Decode("Zg=a").ok());    // data after padding
  EXPECT_FALSE(Base64Decode("Zg===").ok());   // too much padding
  EXPECT_FALSE(Base64Decode("Zm8==").ok());   // padding that does not complete a group
  auto st = Base64Decode("ab\x01" "c").status();
  EXPECT_NE(st.message().find("byte 2"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace inferd
