// tests/storage/listing_test.cc: hostile and broken bucket listings (S3 XML, GCS JSON), the pager that
// follows them, and what a listing may ask to be written where. Each must be a clear error: no crash, no
// endless loop, nothing outside the target directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

namespace fs = std::filesystem;

std::string S3Page(const std::string& contents, const std::string& tail = "<IsTruncated>false</IsTruncated>") {
  return R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
         "<Name>b</Name>" + tail + contents + "</ListBucketResult>";
}
std::string S3Object(const std::string& key, const std::string& size) {
  return "<Contents><Key>" + key + "</Key><Size>" + size + "</Size></Contents>";
}

TEST(S3ListingParser, ReadsAWellFormedPage) {
  auto page = ParseS3ListPage(S3Page(S3Object("m/a&amp;b.bin", "12") + S3Object("m/c", "0"),
                                     "<IsTruncated>true</IsTruncated><NextContinuationToken>t+/=</NextContinuationToken>"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].name, "m/a&b.bin");
  EXPECT_EQ(page->objects[0].size, 12u);
  EXPECT_EQ(page->next_token, "t+/=");
  auto last = ParseS3ListPage(S3Page(""));
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->objects.empty());
  EXPECT_TRUE(last->next_token.empty());
}

TEST(S3ListingParser, MalformedPagesAreClearErrors) {
  const std::string full = S3Page(S3Object("m/a", "1"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a ListBucketResult"},
      {"<Error><Code>AccessDenied</Code></Error>", "not a ListBucketResult"},
      {full.substr(0, full.size() / 2), "cut short"},                          // truncated anywhere
      {full.substr(0, full.find("</Contents>")), "cut short"},
      {S3Page("<Contents><Key>m/a</Key><Size>1</Size>"), "cut short"},        // an open <Contents>
      {S3Page("<Contents><Size>1</Size></Contents>"), "without <Key>"},
      {S3Page("<Contents><Key>m/a</Contents>"), "without <Key>"},             // an unclosed <Key>
      {S3Page("<Contents><Key>m/a</Key></Contents>"), "no <Size>"},
      {S3Page(S3Object("m/a", "-1")), "size"},
      {S3Page(S3Object("m/a", "1e9")), "size"},
      {S3Page(S3Object("m/a", "")), "size"},
      {S3Page(S3Object("m/a", "99999999999999999999999999")), "size"},        // beyond uint64
      {S3Page(S3Object("m/a", "18446744073709551615")), "size"},              // absurd: above 2^53
      {S3Page("", "<IsTruncated>true</IsTruncated>"), "without a NextContinuationToken"},
      {S3Page("", "<IsTruncated>maybe</IsTruncated>"), "IsTruncated"},
  };
  for (const auto& [xml, want] : cases) {
    auto page = ParseS3ListPage(xml);
    ASSERT_FALSE(page.ok()) << xml;
    EXPECT_EQ(page.status().code(), StatusCode::kUnavailable) << xml;
    EXPECT_NE(page.status().message().find(want), std::string::npos) << xml << " -> " << page.status().message();
  }
}

TEST(S3ListingParser, SurvivesGarbage) {
  // Entities that decode to nothing sensible, nested tags, huge inputs: errors or odd names, never a crash.
  for (const std::string& xml :
       {S3Page(S3Object("&#0;&#x110000;&#xFFFFFFFFFF;&bogus;&", "1")), S3Page("<Contents><Contents></Contents>"),
        S3Page(std::string(1 << 20, '<')), std::string("<ListBucketResult") + std::string(100000, '&')}) {
    auto page = ParseS3ListPage(xml);
    if (page.ok()) {
      for (const auto& o : page->objects) EXPECT_LE(o.size, 1ull << 53);
    }
  }
}

TEST(GcsListingParser, ReadsAWellFormedPage) {
  auto page = ParseGcsListPage(
      R"({"kind":"storage#objects","items":[{"name":"m/a","size":"7"},{"name":"m/b","size":3}],"nextPageToken":"CgNt"})");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].size, 7u);
  EXPECT_EQ(page->objects[1].size, 3u);
  EXPECT_EQ(page->next_token, "CgNt");
  auto empty = ParseGcsListPage(R"({"kind":"storage#objects"})");  // no items: an empty prefix
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
}

TEST(GcsListingParser, MalformedPagesAreClearErrors) {
  const std::string full = R"({"items":[{"name":"m/a","size":"1"}],"nextPageToken":"x"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {full.substr(0, full.size() - 3), "not JSON"},  // truncated
      {"[1,2]", "not a JSON object"},
      {R"({"items":{"name":"m/a"}})", "not an array"},
      {R"({"items":[{"size":"1"}]})", "without a name"},
      {R"({"items":[{"name":5,"size":"1"}]})", "without a name"},
      {R"({"items":[{"name":"m/a"}]})", "no size"},
      {R"({"items":[{"name":"m/a","size":"-3"}]})", "size"},
      {R"({"items":[{"name":"m/a","size":-3}]})", "no size"},
      {R"({"items":[{"name":"m/a","size":"12abc"}]})", "size"},
      {R"({"items":[{"name":"m/a","size":"340282366920938463463374607431768211456"}]})", "size"},
      {R"({"items":[{"name":"m/a","size":18446744073709551615}]})", "size"},
      {R"({"items":[],"nextPageToken":7})", "nextPageToken"},
      {std::string(200000, '[') + std::string(200000, ']'), "not"},  // deep nesting: simdjson's depth limit
  };
  for (const auto& [json, want] : cases) {
    auto page = ParseGcsListPage(json);
    ASSERT_FALSE(page.ok()) << json.substr(0, 200);
    EXPECT_EQ(page.status().code(), StatusCode::kUnavailable) << json.substr(0, 200);
    EXPECT_NE(page.status().message().find(want), std::string::npos)
        << json.substr(0, 200) << " -> " << page.status().message();
  }
}

TEST(ListingPager, FollowsTokensAndStopsOnEveryKindOfEndlessListing) {
  // Three pages, then the end.
  int calls = 0;
  auto three = ListAllPages([&](const std::string& token) -> StatusOr<ListPage> {
    ++calls;
    ListPage p;
    p.objects.push_back({"o" + std::to_string(calls), 1});
    if (calls < 3) p.next_token = "t" + std::to_string(calls);
    EXPECT_EQ(token, calls == 1 ? "" : "t" + std::to_string(calls - 1));
    return p;
  });
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->size(), 3u);

  // A new token on every (empty) page: stops at max_pages.
  calls = 0;
  auto endless = ListAllPages(
      [&](const std::string&) -> StatusOr<ListPage> {
        ListPage p;
        p.next_token = "token-" + std::to_string(++calls);
        return p;
      },
      ListLimits{1'000'000, 50});
  EXPECT_EQ(endless.status().code(), StatusCode::kInvalidArgument) << endless.status().ToString();
  EXPECT_NE(endless.status().message().find("did not end after 50 pages"), std::string::npos);
  EXPECT_EQ(calls, 50);

  // A token that comes back (directly or after a cycle).
  for (int cycle : {1, 3}) {
    calls = 0;
    auto loop = ListAllPages([&](const std::string&) -> StatusOr<ListPage> {
      ListPage p;
      p.next_token = "t" + std::to_string(calls++ % cycle);
      return p;
    });
    EXPECT_EQ(loop.status().code(), StatusCode::kUnavailable) << loop.status().ToString();
    EXPECT_NE(loop.status().message().find("repeated"), std::string::npos);
    EXPECT_EQ(calls, cycle + 1);
  }

  // Too many objects; an absurdly long token; a page's own error.
  auto many = ListAllPages(
      [&](const std::string& token) -> StatusOr<ListPage> {
        ListPage p;
        p.objects.resize(40, RemoteObject{"x", 1});
        p.next_token = token + "n";
        return p;
      },
      ListLimits{100, 1000});
  EXPECT_EQ(many.status().code(), StatusCode::kInvalidArgument) << many.status().ToString();
  EXPECT_NE(many.status().message().find("more than 100 objects"), std::string::npos);
  auto long_token = ListAllPages([&](const std::string&) -> StatusOr<ListPage> {
    ListPage p;
    p.next_token = std::string(10000, 't');
    return p;
  });
  EXPECT_EQ(long_token.status().code(), StatusCode::kUnavailable);
  auto failing = ListAllPages([&](const std::string&) -> StatusOr<ListPage> { return Unavailable("HTTP 503"); });
  EXPECT_EQ(failing.status().message(), "HTTP 503");
}

TEST(ListingSelection, KeysThatEscapeTheTargetAreRefused) {
  const std::vector<std::pair<std::vector<RemoteObject>, std::string>> hostile = {
      {{{"m/../../etc/passwd", 1}}, "m"},
      {{{"m/a/../../../x", 1}}, "m/"},
      {{{"m//etc/passwd", 1}}, "m"},  // relative part "/etc/passwd": absolute
      {{{"/etc/passwd", 1}}, ""},
      {{{"..", 1}}, ""},
      {{{"m/..", 1}}, "m"},
      {{{"m/a\nb", 1}}, "m"},
      {{{std::string("m/a\0b", 5), 1}}, "m"},
      {{{"..", 1}}, ".."},  // the key itself, fetched alone: its base name is ".."
  };
  for (const auto& [listing, key] : hostile) {
    auto sel = SelectObjects(listing, key);
    EXPECT_EQ(sel.status().code(), StatusCode::kInvalidArgument)
        << listing[0].name << " under " << key << ": " << sel.status().ToString();
  }
  // Harmless: "./" parts are dropped, a directory marker is skipped, names are kept under the target.
  auto ok = SelectObjects({{"m/./a", 1}, {"m/d/", 0}, {"m/d/b", 2}}, "m");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].second, "a");
  EXPECT_EQ((*ok)[1].second, "d/b");
}

TEST(ListingDownload, AbsurdListedSizesAreRefusedBeforeAnyRequest) {
  // Two objects whose sizes would wrap a 64-bit sum: refused by the byte limit before any GET.
  Transfer transfer("s3://b/m", 1 << 20, nullptr);
  FetchContext ctx;
  ctx.uri = "s3://b/m";
  ctx.model_dir = ::testing::TempDir();
  ctx.transfer = &transfer;
  int requests = 0;
  Status st = DownloadObjects({{RemoteObject{"m/a", 1ull << 63}, "a"}, {RemoteObject{"m/b", 1ull << 63}, "b"}}, ctx,
                              [&](const std::string&) {
                                ++requests;
                                return HttpRequest{};
                              });
  EXPECT_EQ(st.code(), StatusCode::kPayloadTooLarge) << st.ToString();
  EXPECT_EQ(requests, 0);
  EXPECT_FALSE(fs::exists(fs::path(ctx.model_dir) / "a"));
}

}  // namespace
}  // namespace inferd::storage::internal
