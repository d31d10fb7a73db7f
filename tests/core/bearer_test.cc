// core/bearer.h: the one bearer-token check of the API, the gateway and the model server's repository API.
#include "core/bearer.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

TEST(BearerTokenTest, SchemeInAnyCaseThenTheExactToken) {
  EXPECT_TRUE(BearerTokenMatches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(BearerTokenMatches("bearer s3cret", "s3cret"));
  EXPECT_TRUE(BearerTokenMatches("BEARER s3cret", "s3cret"));
}

TEST(BearerTokenTest, AnythingElseIsRefused) {
  EXPECT_FALSE(BearerTokenMatches("", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer S3cret", "s3cret"));  // the token is case-sensitive
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer s3crett", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer  s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Basic  s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearers3cret ", "s3cret"));
}

}  // namespace
}  // namespace inferd
