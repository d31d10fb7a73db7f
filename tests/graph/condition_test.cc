// graph/condition.h against gjson's documented behaviour (SYNTAX.md, README's examples) and KServe's
// conditions (test/e2e/graph, cmd/router/main_test.go, website docs), plus what inferd refuses.
#include "graph/condition.h"

#include <gtest/gtest.h>

#include "graph/go_json.h"

namespace inferd::graph {
namespace {

using J = nlohmann::ordered_json;

const char* kDoc = R"({
  "name": {"first": "Tom", "last": "Anderson"},
  "age": 37,
  "children": ["Sara", "Alex", "Jack"],
  "fav.movie": "Deer Hunter",
  "friends": [
    {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
    {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
    {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}
  ]
})";

Condition Must(std::string_view path) {
  auto c = Condition::Parse(path);
  EXPECT_TRUE(c.ok()) << path << ": " << c.status().message();
  return c.ok() ? *c : *Condition::Parse("never-matches-anything-here");
}
std::string Get(const std::string& body, std::string_view path) {  // "" when the path does not exist
  auto doc = ParseLikeGo(body);
  EXPECT_TRUE(doc.has_value()) << body;
  auto v = Must(path).Value(*doc);
  return v ? v->dump() : "";
}
bool Has(const std::string& body, std::string_view path) {
  auto doc = ParseLikeGo(body);
  EXPECT_TRUE(doc.has_value()) << body;
  return Must(path).Exists(*doc);
}

TEST(ConditionTest, GjsonReadmePaths) {
  EXPECT_EQ(Get(kDoc, "name.last"), R"("Anderson")");
  EXPECT_EQ(Get(kDoc, "age"), "37");
  EXPECT_EQ(Get(kDoc, "children"), R"(["Sara","Alex","Jack"])");
  EXPECT_EQ(Get(kDoc, "children.#"), "3");
  EXPECT_EQ(Get(kDoc, "children.1"), R"("Alex")");
  EXPECT_EQ(Get(kDoc, "child*.2"), R"("Jack")");
  EXPECT_EQ(Get(kDoc, "c?ildren.0"), R"("Sara")");
  EXPECT_EQ(Get(kDoc, R"(fav\.movie)"), R"("Deer Hunter")");
  EXPECT_EQ(Get(kDoc, "friends.#.first"), R"(["Dale","Roger","Jane"])");
  EXPECT_EQ(Get(kDoc, "friends.1.last"), R"("Craig")");
}

TEST(ConditionTest, GjsonQueries) {
  EXPECT_EQ(Get(kDoc, R"(friends.#(last=="Murphy").first)"), R"("Dale")");
  EXPECT_EQ(Get(kDoc, R"(friends.#(last=="Murphy")#.first)"), R"(["Dale","Jane"])");
  EXPECT_EQ(Get(kDoc, "friends.#(age>45)#.last"), R"(["Craig","Murphy"])");
  EXPECT_EQ(Get(kDoc, R"(friends.#(first%"D*").last)"), R"("Murphy")");
  EXPECT_EQ(Get(kDoc, R"(friends.#(first!%"D*").last)"), R"("Craig")");
  EXPECT_EQ(Get(kDoc, R"(children.#(!%"*a*"))"), R"("Alex")");
  EXPECT_EQ(Get(kDoc, R"(children.#(%"*a*")#)"), R"(["Sara","Jack"])");
  EXPECT_EQ(Get(kDoc, R"(friends.#(nets.#(=="fb"))#.first)"), R"(["Dale","Roger"])");
  EXPECT_EQ(Get(kDoc, "friends.#(age>=68).first"), R"("Roger")");
  EXPECT_EQ(Get(kDoc, "friends.#(age<=44).first"), R"("Dale")");
  EXPECT_EQ(Get(kDoc, "friends.#(age!=44)#.age"), "[68,47]");
  EXPECT_EQ(Get(kDoc, "friends.#(age<45)#.age"), "[44]");
  EXPECT_EQ(Get(kDoc, "friends.#[age>60].first"), R"("Roger")");  // the pre-1.3 brackets
  EXPECT_EQ(Get(kDoc, "friends.#(nets)#.first"), R"(["Dale","Roger","Jane"])");  // existence only
}

TEST(ConditionTest, MissingValues) {
  EXPECT_FALSE(Has(kDoc, "name.middle"));
  EXPECT_FALSE(Has(kDoc, "friends.5"));
  EXPECT_FALSE(Has(kDoc, "children.x"));
  EXPECT_FALSE(Has(kDoc, "age.x"));
  EXPECT_FALSE(Has(kDoc, "fav.movie"));  // unescaped: the key "fav", then "movie"
  EXPECT_FALSE(Has(kDoc, R"(friends.#(last=="Nobody"))"));
  EXPECT_TRUE(Has(kDoc, R"(friends.#(last=="Nobody")#)"));  // gjson: [] exists
  EXPECT_EQ(Get(kDoc, R"(friends.#(last=="Nobody")#)"), "[]");
  EXPECT_FALSE(Has(kDoc, R"(friends.#(last=="Murphy").middle)"));  // the first match decides
  EXPECT_FALSE(Has(kDoc, "name.#(first==Tom)"));                   // a query on an object
  EXPECT_FALSE(Has("[1,2]", "#(a==1)"));                             // a path on scalars
  EXPECT_FALSE(Has("[1,2]", "-1"));
  EXPECT_FALSE(Has("5", "a"));
}

TEST(ConditionTest, ExistsIsPresenceNotTruth) {
  EXPECT_TRUE(Has(R"({"f":false,"n":null,"z":0,"e":""})", "f"));
  EXPECT_TRUE(Has(R"({"f":false,"n":null,"z":0,"e":""})", "n"));
  EXPECT_TRUE(Has(R"({"f":false,"n":null,"z":0,"e":""})", "z"));
  EXPECT_TRUE(Has(R"({"f":false,"n":null,"z":0,"e":""})", "e"));
}

TEST(ConditionTest, KServeConditions) {
  const std::string error = R"({"decision_picker":"ERROR","key1":{"name":"abc"}})";
  const std::string success = R"({"decision_picker":"SUCCESS","key1":{"name":"abc"}})";
  EXPECT_TRUE(Has(error, "[@this].#(decision_picker==ERROR)"));  // unquoted value: compared as a string
  EXPECT_FALSE(Has(success, "[@this].#(decision_picker==ERROR)"));
  EXPECT_TRUE(Has(success, R"([@this].#(decision_picker=="SUCCESS"))"));
  EXPECT_TRUE(Has(R"({"instances":[{"modelId":"1"},{"modelId":"2"}]})", R"(instances.#(modelId=="2"))"));
  EXPECT_FALSE(Has(R"({"instances":[{"modelId":"1"}]})", R"(instances.#(modelId=="2"))"));
  EXPECT_TRUE(Has(R"({"predictions":[{"label":"cat"},{"label":"dog"}]})", R"(predictions.#(label=="dog"))"));
  EXPECT_TRUE(Has(R"({"predictions":[{"class":"news"}]})", R"([@this].#(predictions.0.class=="news"))"));
  EXPECT_FALSE(Has(R"({"predictions":[{"class":"sport"}]})", R"([@this].#(predictions.0.class=="news"))"));
  EXPECT_TRUE(Has(R"({"instances":[{"data":0.95}]})", "[@this].#(instances.0.data>0.9)"));
  EXPECT_FALSE(Has(R"({"instances":[{"data":0.5}]})", "[@this].#(instances.0.data>0.9)"));
}

TEST(ConditionTest, AndOrAreNotGjsonOperators) {
  // KServe's docs write `a>0.5 && a<=0.9`; gjson compares `a` with the number Go's ParseFloat reads from
  // "0.5 && instances.0.data<=0.9", which is no number, so 0: the condition means `data > 0`.
  const char* path = "[@this].#(instances.0.data>0.5 && instances.0.data<=0.9)";
  auto c = Condition::Parse(path);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->warning().find("&&"), std::string::npos);
  EXPECT_TRUE(c->Exists(*ParseLikeGo(R"({"instances":[{"data":0.7}]})")));
  EXPECT_TRUE(c->Exists(*ParseLikeGo(R"({"instances":[{"data":0.95}]})")));  // not what the docs mean
  EXPECT_TRUE(c->Exists(*ParseLikeGo(R"({"instances":[{"data":0.1}]})")));
  EXPECT_FALSE(c->Exists(*ParseLikeGo(R"({"instances":[{"data":-1}]})")));
  EXPECT_TRUE(Condition::Parse("[@this].#(a==1)")->warning().empty());
  EXPECT_TRUE(Condition::Parse(R"([@this].#(a=="x && y"))")->warning().empty());  // inside quotes: a value
}

TEST(ConditionTest, NumbersAndStrings) {
  // gjson picks the comparison by the JSON value's type; the query's quotes do not matter.
  EXPECT_TRUE(Has(R"({"a":"1"})", "[@this].#(a==1)"));
  EXPECT_TRUE(Has(R"({"a":1})", R"([@this].#(a=="1"))"));
  EXPECT_TRUE(Has(R"({"a":1.0})", "[@this].#(a==1)"));
  EXPECT_TRUE(Has(R"({"a":100})", "[@this].#(a==1e2)"));
  EXPECT_FALSE(Has(R"({"a":"10"})", "[@this].#(a>9)"));  // strings compare bytewise: "10" < "9"
  EXPECT_TRUE(Has(R"({"a":10})", "[@this].#(a>9)"));
  EXPECT_TRUE(Has(R"({"a":"abc"})", "[@this].#(a<abd)"));
  EXPECT_TRUE(Has(R"({"a":5})", "[@this].#(a>x)"));   // "x" reads as 0
  EXPECT_FALSE(Has(R"({"a":-5})", "[@this].#(a>x)"));
  EXPECT_TRUE(Has(R"({"a":1e308})", "[@this].#(a<inf)"));
  EXPECT_TRUE(Has(R"({"a":12345678901234567890})", "[@this].#(a==12345678901234567000)"));  // float64
  EXPECT_FALSE(Has(R"({"a":[1]})", "[@this].#(a==1)"));  // arrays and objects never compare
  EXPECT_FALSE(Has(R"({"a":{}})", "[@this].#(a!=1)"));
  EXPECT_FALSE(Has(R"({"a":null})", "[@this].#(a==null)"));  // null never compares either
  EXPECT_EQ(Get("[1,2,3]", "#(==2)"), "2");
  EXPECT_EQ(Get("[1,2,3]", "#(>1)#"), "[2,3]");
  EXPECT_EQ(Get("[1,2,3]", "#(a>1)#"), "[]");  // a path on a scalar element never matches
}

TEST(ConditionTest, Booleans) {
  EXPECT_TRUE(Has(R"({"b":true})", "[@this].#(b==true)"));
  EXPECT_FALSE(Has(R"({"b":true})", "[@this].#(b==false)"));
  EXPECT_TRUE(Has(R"({"b":true})", "[@this].#(b!=false)"));
  EXPECT_TRUE(Has(R"({"b":true})", "[@this].#(b>false)"));
  EXPECT_TRUE(Has(R"({"b":false})", "[@this].#(b<true)"));
  EXPECT_FALSE(Has(R"({"b":false})", "[@this].#(b>true)"));
}

TEST(ConditionTest, TildeConversions) {
  const std::string vals = R"({"vals":[{"a":1,"b":"data"},{"a":2,"b":true},{"a":3,"b":false},{"a":4,"b":"0"},
      {"a":5,"b":0},{"a":6,"b":"1"},{"a":7,"b":1},{"a":8,"b":"true"},{"a":9,"b":false},{"a":10,"b":null},{"a":11}]})";
  EXPECT_EQ(Get(vals, "vals.#(b==~true)#.a"), "[2,6,7,8]");
  EXPECT_EQ(Get(vals, "vals.#(b==~false)#.a"), "[3,4,5,9,10,11]");
  EXPECT_EQ(Get(vals, "vals.#(b==~null)#.a"), "[10,11]");
  EXPECT_EQ(Get(vals, "vals.#(b==~*)#.a"), "[1,2,3,4,5,6,7,8,9,10]");
  EXPECT_EQ(Get(vals, "vals.#(b!=~*)#.a"), "[11]");
}

TEST(ConditionTest, EscapesWildcardsAndUnicode) {
  const std::string doc = R"({"a.b":1,"a*b":2,"axb":3,"名前":{"é":"ü"},"q\"k":4,"sp ace":5})";
  EXPECT_EQ(Get(doc, R"(a\.b)"), "1");
  EXPECT_EQ(Get(doc, R"(a\*b)"), "2");  // escaped: the literal key
  EXPECT_EQ(Get(doc, "a*b"), "1");      // wildcard: the first key in document order
  EXPECT_EQ(Get(doc, "a?b"), "1");
  EXPECT_EQ(Get(doc, "名前.é"), R"("ü")");
  EXPECT_EQ(Get(doc, "名前.?"), R"("ü")");  // '?' is one character, not one byte
  EXPECT_EQ(Get(doc, R"(q"k)"), "4");
  EXPECT_EQ(Get(doc, "sp ace"), "5");
  EXPECT_TRUE(Has(doc, R"([@this].#(名前.é=="\u00fc"))"));  // escapes in a quoted value
  EXPECT_EQ(Get(R"({"b":1,"a":2})", "?"), "1");              // document order, not sorted
  EXPECT_EQ(Get(R"({"@timestamp":1})", "@timestamp"), "1");  // not a modifier: a key
  EXPECT_EQ(Get(R"({"#":5})", "#"), "5");                    // '#' on an object is a key
  EXPECT_EQ(Get(R"({"0":"x"})", "0"), R"("x")");
}

TEST(ConditionTest, EmptyPath) {
  // What KServe's Switch evaluates for a step without condition.
  EXPECT_TRUE(Has(R"({"":1})", ""));
  EXPECT_FALSE(Has(R"({"a":1})", ""));
  EXPECT_FALSE(Has("[1]", ""));
}

TEST(ConditionTest, ThisAndMultipaths) {
  EXPECT_TRUE(Has("{}", "@this"));
  EXPECT_TRUE(Has("3", "@this"));
  EXPECT_EQ(Get(kDoc, "@this.name.first"), R"("Tom")");
  EXPECT_EQ(Get(kDoc, "{name.first,age}"), R"({"first":"Tom","age":37})");
  EXPECT_EQ(Get(kDoc, "[name.first,age,nope]"), R"(["Tom",37])");
  EXPECT_EQ(Get(kDoc, R"({a:name.first,"b":age})"), R"({"a":"Tom","b":37})");
  EXPECT_EQ(Get(kDoc, "[nope]"), "[]");  // always exists
  EXPECT_EQ(Get(kDoc, "[name.first,age].1"), "37");
  EXPECT_EQ(Get(kDoc, "[@this].#"), "1");
}

TEST(ConditionTest, RefusedSyntaxNamesThePosition) {
  for (const char* bad : {"a|b", "@reverse", "@this:arg", "!true", "..a", "#(a==1", "[a,b", "friends.#(a==1)x",
                          "#(a!b)", "#(a!)", "a.#(b==1)|c", "@keys.a"}) {
    auto c = Condition::Parse(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("position"), std::string::npos) << c.status().message();
  }
  auto c = Condition::Parse("friends.#(a==1)x");
  EXPECT_NE(c.status().message().find("position 15"), std::string::npos) << c.status().message();
}

TEST(ConditionTest, BoundsRefused) {
  EXPECT_FALSE(Condition::Parse(std::string(kMaxConditionBytes + 1, 'a')).ok());
  std::string deep = "a";
  for (int i = 0; i < kMaxConditionDepth + 2; ++i) deep = "x.#(" + deep + "==1)";
  auto c = Condition::Parse(deep);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("nested deeper"), std::string::npos);
  std::string many = "a";
  for (int i = 0; i < kMaxConditionComponents + 1; ++i) many += ".a";
  EXPECT_FALSE(Condition::Parse(many).ok());
  std::string ok_nested = "a";
  for (int i = 0; i < 5; ++i) ok_nested = "x.#(" + ok_nested + "==1)";
  EXPECT_TRUE(Condition::Parse(ok_nested).ok());
}

TEST(ConditionTest, HostilePatternsStayCheap) {
  // A wildcard pattern that backtracks exponentially in a naive matcher.
  std::string body = R"({"k":")" + std::string(5000, 'a') + R"("})";
  std::string pat = "[@this].#(k%\"" + std::string(30, '*') + "b\")";
  for (int i = 0; i < 30; ++i) pat.insert(pat.size() - 3, "*a");
  EXPECT_FALSE(Has(body, pat));
}

// ---- graph/go_json.h ----

TEST(GoJsonTest, ValidLikeGo) {
  for (const char* ok : {"{}", "[]", " 1 ", "-0.5e+3", "\"\xff\"", R"({"a":[1,{"b":null}],"c":true})", "\"\\u00e9\""}) {
    EXPECT_TRUE(GoJsonValid(ok)) << ok;
  }
  for (const char* bad : {"", " ", "{", "[1,]", "01", "1.", "-", "1e", "{\"a\"}", "{\"a\":1,}", "nul", "\"\x01\"",
                          "\"\\x\"", "[1] 2", "{1:2}", "\"\\u12\""}) {
    EXPECT_FALSE(GoJsonValid(bad)) << bad;
  }
  EXPECT_TRUE(GoJsonValid(std::string(10000, '[') + std::string(10000, ']')));
  EXPECT_FALSE(GoJsonValid(std::string(10001, '[') + std::string(10001, ']')));
}

std::string Marshal(const std::string& text) {
  auto v = ParseLikeGo(text);
  EXPECT_TRUE(v.has_value()) << text;
  std::string out;
  if (v) AppendGoJson(&out, *v);
  return out;
}

TEST(GoJsonTest, MarshalLikeGo) {
  EXPECT_EQ(Marshal("[1e21,1e20,1.5e-7,0.000001,123456789012345678,-0.0,3.0,1e-10,1.7976931348623157e308,0.1]"),
            "[1e+21,100000000000000000000,1.5e-7,0.000001,123456789012345680,-0,3,1e-10,1.7976931348623157e+308,0.1]");
  EXPECT_EQ(Marshal(R"({"b":"<a href='x'>&","a":"\u2028\u0001\b\f\n\r\t\"\\/"})"),
            R"({"a":"\u2028\u0001\b\f\n\r\t\"\\/","b":"\u003ca href='x'\u003e\u0026"})");
  EXPECT_EQ(Marshal("\"\xff" "é\""), "\"\xEF\xBF\xBD" "é\"");  // Go: invalid UTF-8 becomes U+FFFD
  EXPECT_EQ(Marshal(R"({"k":1,"k":2})"), R"({"k":2})");
  EXPECT_FALSE(ParseLikeGo("1e400").has_value());  // Go: cannot unmarshal into float64
  EXPECT_EQ(Marshal("[18446744073709551616]"), "[18446744073709552000]");  // beyond 64 bits: a float64
  // A NUL byte ends nlohmann's input (the fallback parser): found by fuzz/graph_condition_fuzz.cc.
  EXPECT_FALSE(ParseLikeGo(std::string("9\0\0", 3)).has_value());
  EXPECT_FALSE(ParseLikeGo(std::string("[\"\xff\"]\0", 6)).has_value());
  // Repeated keys: Go's map keeps the last value, gjson finds the first.
  EXPECT_EQ(ParseLikeGo(R"({"k":1,"j":0,"k":2})", DuplicateKeys::kFirst)->dump(), R"({"k":1,"j":0})");
  EXPECT_EQ(ParseLikeGo(R"({"k":1,"j":0,"k":2})", DuplicateKeys::kLast)->dump(), R"({"k":2,"j":0})");
  EXPECT_EQ(ParseLikeGo("{\"k\":1,\"k\":\"\xff\"}", DuplicateKeys::kFirst)->dump(), R"({"k":1})");
  EXPECT_FALSE(ParseLikeGo(std::string(kMaxBodyDepth + 1, '[') + "1" + std::string(kMaxBodyDepth + 1, ']')).has_value());
  EXPECT_TRUE(ParseLikeGo(std::string(kMaxBodyDepth, '[') + "1" + std::string(kMaxBodyDepth, ']')).has_value());
  EXPECT_FALSE(ParseLikeGo(std::string(kMaxBodyDepth + 2, '[') + std::string(kMaxBodyDepth + 2, ']')).has_value());
  // The same bound on the fallback path (invalid UTF-8 sends the body to nlohmann's parser).
  EXPECT_FALSE(ParseLikeGo(std::string(kMaxBodyDepth + 1, '[') + "\"\xff\"" + std::string(kMaxBodyDepth + 1, ']')).has_value());
  EXPECT_TRUE(ParseLikeGo(std::string(kMaxBodyDepth, '[') + "\"\xff\"" + std::string(kMaxBodyDepth, ']')).has_value());
}

}  // namespace
}  // namespace inferd::graph
