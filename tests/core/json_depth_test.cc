#include "core/json_depth.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>
#include <string>

namespace inferd {
namespace {

using Json = nlohmann::ordered_json;

// [[...[1]...]] with `depth` arrays. (simdjson does not count an empty innermost container: `[]` at depth 65
// passes its check. That is harmless; the tests use non-empty ones.)
std::string Arrays(int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

// {"a":{"a":...{"a":1}...}} with `depth` objects.
std::string Objects(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

TEST(JsonDepthTest, TextAtTheLimitPassesOneMoreFails) {
  EXPECT_TRUE(CheckJsonDepth(Arrays(kMaxJsonDepth), "body").ok());
  EXPECT_TRUE(CheckJsonDepth(Objects(kMaxJsonDepth), "body").ok());
  Status st = CheckJsonDepth(Arrays(kMaxJsonDepth + 1), "body");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "body: nested deeper than 64 levels");
  EXPECT_FALSE(CheckJsonDepth(Objects(kMaxJsonDepth + 1), "body").ok());
  // Depth is nesting, not the number of containers.
  std::string wide = "[";
  for (int i = 0; i < 10000; ++i) wide += "[[]],";
  wide += "1]";
  EXPECT_TRUE(CheckJsonDepth(wide, "body").ok());
  EXPECT_TRUE(CheckJsonDepth("", "body").ok());
  EXPECT_TRUE(CheckJsonDepth("1", "body").ok());
}

TEST(JsonDepthTest, BracketsInsideStringsDoNotCount) {
  const std::string deep_text = "\"" + std::string(1000, '[') + std::string(1000, '{') + "\"";
  EXPECT_TRUE(CheckJsonDepth("{\"k\":" + deep_text + "}", "body").ok());
  // An escaped quote does not end the string; an escaped backslash before a quote does.
  EXPECT_TRUE(CheckJsonDepth("[\"\\\"" + std::string(100, '[') + "\"]", "body").ok());
  EXPECT_FALSE(CheckJsonDepth("[\"\\\\\"" + std::string(100, '[') + "]", "body").ok());
}

// The byte-at-a-time definition CheckJsonDepth had before it skipped 8-byte words: the reference it must match.
bool DepthWithinByBytes(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if ((c == '[' || c == '{') && ++depth > max_depth) return false;
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return true;
}

TEST(JsonDepthTest, WordSkippingMatchesTheByteDefinition) {
  // Every structural byte at every offset of an 8-byte word, strings and escapes across word boundaries, and
  // bytes that differ from a bracket by one bit (';' '=' 'K' 'M' '[' ']' '{' '}' and 0xDB 0xFB).
  const std::string alphabet = "[]{}\"\\0a ,;=KM\x5b\x7b\xdb\xfb";
  uint64_t seed = 12345;
  for (int n = 0; n < 20000; ++n) {
    std::string text;
    const size_t len = n % 97;
    for (size_t i = 0; i < len; ++i) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      text += alphabet[(seed >> 33) % alphabet.size()];
    }
    for (int max_depth : {1, 3, 64}) {
      ASSERT_EQ(CheckJsonDepth(text, "b", max_depth).ok(), DepthWithinByBytes(text, max_depth))
          << "text: " << text << " max_depth " << max_depth;
    }
  }
  // Long runs of plain bytes around the brackets (the words skipped whole).
  for (size_t pad = 0; pad < 24; ++pad) {
    const std::string plain(pad, '7');
    std::string deep;
    for (int i = 0; i < 65; ++i) deep += plain + "[";
    EXPECT_FALSE(CheckJsonDepth(deep, "b").ok()) << pad;
    EXPECT_TRUE(CheckJsonDepth("\"" + plain + deep + "\"", "b").ok()) << pad;
    EXPECT_FALSE(CheckJsonDepth("\"" + plain + "\\\"" + plain + "\"" + deep, "b").ok()) << pad;
  }
}

TEST(JsonDepthTest, TreeCheckMatchesTextCheck) {
  for (int depth : {0, 1, kMaxJsonDepth, kMaxJsonDepth + 1}) {
    Json j = depth == 0 ? Json(1) : Json::parse(Arrays(depth));
    EXPECT_EQ(CheckJsonTreeDepth(j, "obj").ok(), depth <= kMaxJsonDepth) << depth;
    Json o = depth == 0 ? Json(1) : Json::parse(Objects(depth));
    EXPECT_EQ(CheckJsonTreeDepth(o, "obj").ok(), depth <= kMaxJsonDepth) << depth;
  }
}

TEST(JsonDepthTest, ParseRefusesDeepTextWithoutBuildingIt) {
  auto deep = ParseBoundedJson(Arrays(100000), "request body");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().message(), "request body: nested deeper than 64 levels");
  // 100,000 levels inside an otherwise ordinary object.
  auto inner = ParseBoundedJson("{\"spec\":{\"predictor\":{\"x\":" + Arrays(100000) + "}}}", "request body");
  EXPECT_FALSE(inner.ok());

  auto bad = ParseBoundedJson("{\"a\":", "request body");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("request body is not valid JSON"), std::string::npos);

  auto good = ParseBoundedJson(Objects(kMaxJsonDepth), "request body");
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_TRUE(good->is_object());
}

TEST(JsonDepthTest, SimdjsonParserKeepsTheLimitAsItGrows) {
  simdjson::dom::parser parser;
  ASSERT_TRUE(LimitJsonDepth(parser).ok());
  simdjson::dom::element doc;
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(parser.parse(simdjson::padded_string(Arrays(kMaxJsonDepth))).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(parser.parse(simdjson::padded_string(Objects(kMaxJsonDepth))).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(parser.parse(simdjson::padded_string(Arrays(kMaxJsonDepth + 1))).get(doc), simdjson::DEPTH_ERROR);
    EXPECT_EQ(parser.parse(simdjson::padded_string(Objects(kMaxJsonDepth + 1))).get(doc), simdjson::DEPTH_ERROR);
    EXPECT_EQ(parser.parse(simdjson::padded_string(Arrays(100000))).get(doc), simdjson::DEPTH_ERROR);
    // A large document makes the parser reallocate: the limit must survive that.
    std::string big = "[" + std::string(1 << 20, ' ') + "1]";
    EXPECT_EQ(parser.parse(simdjson::padded_string(big)).get(doc), simdjson::SUCCESS);
  }
}

}  // namespace
}  // namespace inferd
