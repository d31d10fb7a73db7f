// Negative tests of the bucket listing parsers (storage/internal.h ParseS3ListPage, ParseGcsListPage) and of
// what a fetch selects from a listing (SelectObjects): what a broken or hostile endpoint can answer.
#include <gtest/gtest.h>

#include <string>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

std::string S3(const std::string& inner) {
  return "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + inner +
         "</ListBucketResult>";
}

TEST(S3ListingTest, ReadsKeysSizesAndTokens) {
  auto p = ParseS3ListPage(S3("<IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken>"
                              "<Contents><Key>m/a&lt;b&#x41;&#66;</Key><Size>12</Size></Contents>"
                              "<Contents><Key>m/c</Key><Size>x</Size></Contents>"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->objects.size(), 2u);
  EXPECT_EQ(p->objects[0].name, "m/a<bAB");
  EXPECT_EQ(p->objects[0].size, 12u);
  EXPECT_EQ(p->objects[1].size, 0u);  // a size that does not parse counts as 0 (the download counts bytes)
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->next_token, "t&1");
}

TEST(S3ListingTest, RefusesWhatIsNotAListing) {
  for (const std::string& body :
       {std::string(""), std::string("<Error><Code>AccessDenied</Code></Error>"), std::string("\0\0\0", 3),
        std::string("{\"items\": []}")}) {
    auto p = ParseS3ListPage(body);
    ASSERT_FALSE(p.ok()) << body;
    EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  }
  EXPECT_FALSE(ParseS3ListPage(S3("<Contents><Key>a</Key>")).ok());               // cut off
  EXPECT_FALSE(ParseS3ListPage(S3("<Contents><Size>1</Size></Contents>")).ok());  // no key
  EXPECT_FALSE(ParseS3ListPage(S3("<Contents><Key>a</Contents>")).ok());          // key not closed
  EXPECT_FALSE(ParseS3ListPage(S3("<IsTruncated>true</IsTruncated>")).ok());      // no token to go on with
}

TEST(S3ListingTest, BadEntitiesStayAsWritten) {
  auto p = ParseS3ListPage(
      S3("<Contents><Key>&#x110000;&#xZZ;&bogus;&#;&amp</Key></Contents><Contents><Key>&#0;</Key></Contents>"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->objects[0].name, "&#x110000;&#xZZ;&bogus;&#;&amp");
  EXPECT_EQ(p->objects[1].name, std::string("\0", 1));
  // Huge sizes saturate nothing: from_chars refuses them and the size stays 0.
  p = ParseS3ListPage(S3("<Contents><Key>k</Key><Size>99999999999999999999999</Size></Contents>"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->objects[0].size, 0u);
}

TEST(GcsListingTest, ReadsItemsAndToken) {
  auto p = ParseGcsListPage(R"({"items":[{"name":"m/a","size":"7"},{"name":"m/b","size":7}],"nextPageToken":"2"})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->objects.size(), 2u);
  EXPECT_EQ(p->objects[0].size, 7u);
  EXPECT_EQ(p->objects[1].size, 0u);  // GCS writes sizes as strings; a number is not read
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->next_token, "2");
  p = ParseGcsListPage(R"({"kind":"storage#objects","nextPageToken":""})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->objects.empty());
  EXPECT_FALSE(p->truncated);
}

TEST(GcsListingTest, RefusesWhatIsNotAListing) {
  for (const char* body : {"", "<html>", "{\"items\":[{\"size\":\"1\"}]}", "{\"items\":[{\"name\":3}]}",
                           "{\"items\":[1]}", "[[[[", "{\"items\":[{\"name\":\"a\"}]"}) {
    auto p = ParseGcsListPage(body);
    ASSERT_FALSE(p.ok()) << body;
    EXPECT_EQ(p.status().code(), StatusCode::kUnavailable) << body;
  }
  // Deep nesting is refused by simdjson's depth limit, not a stack overflow.
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseGcsListPage(deep + std::string(100000, ']')).ok());
}

TEST(SelectObjectsTest, HostileNamesAreRefused) {
  auto sel = [](std::vector<std::string> names, const std::string& key) {
    std::vector<RemoteObject> listing;
    for (auto& n : names) listing.push_back({n, 1});
    return SelectObjects(listing, key);
  };
  EXPECT_FALSE(sel({"m/../../etc/passwd"}, "m").ok());
  EXPECT_FALSE(sel({"m/a/../../../x"}, "m/").ok());
  EXPECT_FALSE(sel({"m/.."}, "m").ok());
  EXPECT_FALSE(sel({"../x"}, "").ok());
  EXPECT_FALSE(sel({"m//etc/passwd"}, "m").ok());  // "/etc/passwd" under the prefix: absolute
  // Directory markers, duplicates after normalization and names outside the prefix are skipped.
  auto ok = sel({"m/", "m/a", "m/./a", "m/a/.", "mx/b", "m/d/"}, "m");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].second, "a");
  EXPECT_EQ(sel({"other"}, "m").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace inferd::storage::internal
