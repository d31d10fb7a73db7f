// core/http_status.h: the one Status -> HTTP mapping and the one {"error": ...} writer.
#include "core/http_status.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace inferd {
namespace {

TEST(HttpStatusTest, EveryCodeHasItsStatusAndReason) {
  struct Case {
    StatusCode code;
    int http;
    const char* reason;
  };
  for (const Case& c : {Case{StatusCode::kOk, 200, "Success"}, Case{StatusCode::kInvalidArgument, 400, "BadRequest"},
                        Case{StatusCode::kNotFound, 404, "NotFound"},
                        Case{StatusCode::kUnavailable, 503, "ServiceUnavailable"},
                        Case{StatusCode::kUnimplemented, 501, "NotImplemented"},
                        Case{StatusCode::kPayloadTooLarge, 413, "RequestEntityTooLarge"},
                        Case{StatusCode::kAlreadyExists, 409, "AlreadyExists"},
                        Case{StatusCode::kDeadlineExceeded, 504, "Timeout"},
                        Case{StatusCode::kInternal, 500, "InternalError"},
                        Case{StatusCode::kConflict, 409, "Conflict"},
                        Case{StatusCode::kUnauthenticated, 401, "Unauthorized"}}) {
    EXPECT_EQ(HttpStatusFor(c.code), c.http) << c.reason;
    EXPECT_STREQ(HttpReasonFor(c.code), c.reason);
  }
}

TEST(ErrorJsonTest, CompactAndSpacedForms) {
  EXPECT_EQ(ErrorJson("no model"), R"({"error":"no model"})");
  EXPECT_EQ(ErrorJson("no model", JsonSpacing::kSpaced), R"({"error": "no model"})");
}

TEST(ErrorJsonTest, AnyMessageGivesValidJson) {
  const std::string hostile = std::string("q\"b\\n\nr\rt\t\x01\x7f", 13) + "\xff\xc3(" + "\xe2\x82\xac";
  for (JsonSpacing s : {JsonSpacing::kCompact, JsonSpacing::kSpaced}) {
    auto j = nlohmann::json::parse(ErrorJson(hostile, s));
    ASSERT_TRUE(j.contains("error"));
    const std::string back = j["error"].get<std::string>();
    EXPECT_EQ(back.substr(0, 13), hostile.substr(0, 13));
    EXPECT_EQ(back.substr(13), "\xEF\xBF\xBD\xEF\xBF\xBD(\xe2\x82\xac");  // bad UTF-8 bytes become U+FFFD each
  }
  EXPECT_EQ(ErrorJson(std::string("a\x01", 2)), R"({"error":"a\u0001"})");
}

}  // namespace
}  // namespace inferd
