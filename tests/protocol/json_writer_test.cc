// Tests of the response writer's string escaping (protocol/json_writer.h): whatever bytes a string holds, the
// JSON written is valid (simdjson, which checks UTF-8, parses it back).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "protocol/json_writer.h"

namespace inferd {
namespace {

std::string Write(std::string_view s) {
  std::string out;
  JsonWriter w(&out);
  w.String(s);
  return out;
}

std::string ParseBack(const std::string& json) {
  simdjson::dom::parser parser;
  std::string_view v;
  auto err = parser.parse(simdjson::padded_string(json)).get_string().get(v);
  EXPECT_EQ(err, simdjson::SUCCESS) << json;
  return std::string(v);
}

TEST(JsonWriterTest, EscapesControlsQuotesAndBackslashes) {
  std::string s("a\"b\\c\nd\re\tf\x01g\x1f", 14);
  EXPECT_EQ(Write(s), "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f\"");
  EXPECT_EQ(ParseBack(Write(s)), s);
  EXPECT_EQ(ParseBack(Write(std::string("nul\0byte", 8))), std::string("nul\0byte", 8));
}

TEST(JsonWriterTest, KeepsUtf8) {
  for (const char* s : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"}) {
    EXPECT_EQ(Write(s), std::string("\"") + s + "\"");
    EXPECT_EQ(ParseBack(Write(s)), s);
  }
}

// Found by fuzz/v1_json_fuzz: a BYTES value decoded from {"b64": ...} and written back as a string made an answer
// that is not JSON.
TEST(JsonWriterTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(ParseBack(Write("\x84")), r);
  EXPECT_EQ(ParseBack(Write("a\xffz")), "a" + r + "z");
  EXPECT_EQ(ParseBack(Write("\xc3")), r);                    // cut off
  EXPECT_EQ(ParseBack(Write("\xc0\xaf")), r + r);            // overlong '/'
  EXPECT_EQ(ParseBack(Write("\xed\xa0\x80")), r + r + r);    // a surrogate
  EXPECT_EQ(ParseBack(Write("\xf4\x90\x80\x80")), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(ParseBack(Write("\xe2\x82\"")), r + r + "\"");   // a quote right after a broken sequence
  EXPECT_EQ(ParseBack(Write("\xc3\xa9\x80\xc3\xa9")), "\xc3\xa9" + r + "\xc3\xa9");
}

}  // namespace
}  // namespace inferd
