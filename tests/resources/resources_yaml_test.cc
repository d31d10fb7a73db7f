// tests/resources/resources_yaml_test.cc: YAML -> JSON typing, multi-document streams, errors, ToYaml.
#include <gtest/gtest.h>

#include <cmath>

#include "core/json_depth.h"
#include "resources/resources.h"

namespace inferd::resources {
namespace {

Json One(std::string_view text) {
  auto docs = ParseYamlDocuments(text, "t.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  if (!docs.ok() || docs->size() != 1) {
    ADD_FAILURE() << "expected one document";
    return Json();
  }
  return (*docs)[0];
}

TEST(Yaml, CoreSchemaTyping) {
  Json j = One(R"(
quoted: "10"
single: '10'
int: 10
neg: -7
plus: +3
hex: 0x1F
oct: 0o17
float: 1.5
exp: 1e3
negfloat: -0.25
dot: .5
trail: 1.
inf: .inf
nan: .nan
yes_word: yes
t: true
T: True
f: false
n1: null
n2: ~
n3:
qtrue: "true"
str_tag: !!str 5
int_tag: !!int "42"
text: hello world
version: 1.0.2
block: |
  line1
  10
empty: ""
big: 123456789012345678901234567890
)");
  EXPECT_EQ(j["quoted"], Json("10"));
  EXPECT_EQ(j["single"], Json("10"));
  EXPECT_TRUE(j["int"].is_number_integer());
  EXPECT_EQ(j["int"].get<int>(), 10);
  EXPECT_EQ(j["neg"].get<int>(), -7);
  EXPECT_EQ(j["plus"].get<int>(), 3);
  EXPECT_EQ(j["hex"].get<int>(), 31);
  EXPECT_EQ(j["oct"].get<int>(), 15);
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["float"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["exp"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(j["negfloat"].get<double>(), -0.25);
  EXPECT_DOUBLE_EQ(j["dot"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["trail"].get<double>(), 1.0);
  EXPECT_TRUE(std::isinf(j["inf"].get<double>()));
  EXPECT_TRUE(std::isnan(j["nan"].get<double>()));
  EXPECT_EQ(j["yes_word"], Json("yes"));  // YAML 1.2: not a bool
  EXPECT_EQ(j["t"], Json(true));
  EXPECT_EQ(j["T"], Json(true));
  EXPECT_EQ(j["f"], Json(false));
  EXPECT_TRUE(j["n1"].is_null());
  EXPECT_TRUE(j["n2"].is_null());
  EXPECT_TRUE(j["n3"].is_null());
  EXPECT_EQ(j["qtrue"], Json("true"));
  EXPECT_EQ(j["str_tag"], Json("5"));
  EXPECT_EQ(j["int_tag"], Json(42));
  EXPECT_EQ(j["text"], Json("hello world"));
  EXPECT_EQ(j["version"], Json("1.0.2"));
  EXPECT_EQ(j["block"], Json("line1\n10\n"));
  EXPECT_EQ(j["empty"], Json(""));
  EXPECT_TRUE(j["big"].is_number_float());
}

TEST(Yaml, KeyOrderKept) {
  Json j = One("z: 1\na: 2\nm: {y: 1, b: 2}\n");
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m"}));
  EXPECT_EQ(j["m"].begin().key(), "y");
}

TEST(Yaml, MultiDocumentSkipsEmpty) {
  auto docs = ParseYamlDocuments("---\na: 1\n---\n# only a comment\n---\nb: [1, \"2\"]\n---\n", "multi.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0], Json::parse(R"({"a":1})"));
  EXPECT_EQ((*docs)[1], Json::parse(R"({"b":[1,"2"]})"));
  auto none = ParseYamlDocuments("", "empty.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Yaml, SyntaxErrorNamesSourceAndLine) {
  auto r = ParseYamlDocuments("apiVersion: v1\nkind: X\nmetadata: 1\n  name: bad\n", "sklearn.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("sklearn.yaml:4: ", 0), 0u) << r.status().message();

  auto tab = ParseYamlDocuments("a: 1\nb:\n\tc: 2\n", "tab.yaml");
  ASSERT_FALSE(tab.ok());
  EXPECT_EQ(tab.status().message().rfind("tab.yaml:3: ", 0), 0u) << tab.status().message();

  auto flow = ParseYamlDocuments("a: 1\nb: [1, 2\n", "<stdin>");
  ASSERT_FALSE(flow.ok());
  EXPECT_EQ(flow.status().message().rfind("<stdin>:", 0), 0u) << flow.status().message();
}

TEST(Yaml, ErrorInLaterDocumentCountsLinesFromStreamStart) {
  auto r = ParseYamlDocuments("a: 1\n---\nb: 2\nc: 3\n  d: 4\n", "two.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("two.yaml:5: ", 0), 0u) << r.status().message();
}

// Found by fuzz/resources_fuzz: a byte that is not UTF-8 in a value went into the object as is, and the first
// dump() of it threw (inferd serve died on one YAML request; `inferd apply -f` aborted).
TEST(Yaml, BytesThatAreNotUtf8AreAnError) {
  auto value = ParseYamlDocuments("a: 1\nb: \"x\x84\"\n", "bad.yaml");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().message(), "bad.yaml:2: not valid UTF-8 (YAML text must be Unicode)");
  auto plain = ParseYamlDocuments("metadata:\n  labels:\n    a: \xff\xfe\n", "bad.yaml");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().message().rfind("bad.yaml:3: ", 0), 0u) << plain.status().message();
  auto key = ParseYamlDocuments("\xc3: 1\n", "bad.yaml");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message().rfind("bad.yaml:1: ", 0), 0u) << key.status().message();
  // Real UTF-8, and YAML's escapes of non-ASCII code points, are fine.
  EXPECT_EQ(One("a: \"\xc3\xa9\\x84\"\n")["a"], "\xc3\xa9\xc2\x84");
}

// Found by fuzz/serve_config_fuzz: yaml-cpp 0.7's LoadAll appended empty documents forever (until memory ran
// out) when a document starts with a token no node starts with; one API request could take inferd serve down.
TEST(Yaml, StrayFlowIndicatorIsAnErrorNotAHang) {
  for (const char* text : {",\n\n", ",", "]", "a: 1\n---\n,\n", "}\n"}) {
    auto r = ParseYamlDocuments(text, "stray.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message().rfind("stray.yaml:", 0), 0u) << r.status().message();
  }
  auto second = ParseYamlDocuments("a: 1\n---\n,\n", "stray.yaml");
  EXPECT_EQ(second.status().message(), "stray.yaml:3: unexpected token: no YAML node starts here");
  // Empty documents are still skipped, not taken for a stuck parser.
  auto empty = ParseYamlDocuments("---\n---\n# c\n---\na: 1\n---\n", "e.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->size(), 1u);
}

// Found by fuzz/resources_fuzz: a string with a CR was written as a plain scalar, and read back with one CR less;
// a key longer than 1024 characters once escaped was written as an implicit key, which YAML does not allow; a
// key starting with "---" began a new document.
TEST(Yaml, ToYamlQuotesControlCharactersAndLongKeys) {
  Json obj = {{"a\rb", "x\r\r"}, {"tab", "\tlead"}, {"bell", "\x07"}, {"lines", "one\ntwo\n"},
              {std::string(300, '\0') + "long key", 1}, {"after", "x"}, {"--- k", "..."}, {"... k", "---"}};
  std::string yaml = ToYaml(obj);
  auto back = ParseYamlDocuments(yaml, "out.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], obj) << yaml;
}

// Found by fuzz/resources_fuzz: a map that merges itself recursed without a depth check and overflowed the stack
// (one API request with this YAML body killed inferd serve).
TEST(Yaml, DuplicateKeyIsAnError) {
  auto r = ParseYamlDocuments("a: 1\nb: 2\na: 3\n", "dup.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "dup.yaml:3: duplicate key \"a\"");
}

TEST(Yaml, AliasesAndMergeKeys) {
  Json j = One("base: &b {x: 1, y: 2}\nuse: *b\nmerged:\n  <<: *b\n  y: 3\n");
  EXPECT_EQ(j["use"], Json::parse(R"({"x":1,"y":2})"));
  EXPECT_EQ(j["merged"]["y"], Json(3));
  EXPECT_EQ(j["merged"]["x"], Json(1));
}

TEST(Yaml, RecursiveAliasIsAnErrorNotACrash) {
  auto r = ParseYamlDocuments("a: &a [*a]\n", "rec.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("rec.yaml:1: ", 0), 0u) << r.status().message();
}

TEST(Yaml, MergeKeyThatIncludesItselfIsAnErrorNotACrash) {
  // The last three were found by fuzz/resources_fuzz (a merge recursed without the nesting check).
  for (const char* text : {"a: &a {<<: *a}\n", "a: &a\n  b: 1\n  <<: [*a]\n", "base: &b\n  <<: *b\n",
                           "a: &a {<<: [*a]}\n", "x: &x\n  k: 1\n  <<: {<<: *x}\n"}) {
    auto r = ParseYamlDocuments(text, "merge.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("nested deeper than 64 levels"), std::string::npos) << r.status().message();
  }
}

// The same limit as JSON text (core/json_depth.h): 64 levels pass, 65 do not, in flow and block form.
TEST(Yaml, NestingLimitIsTheJsonLimit) {
  auto flow_arrays = [](int d) { return std::string(d, '[') + "1" + std::string(d, ']'); };
  auto flow_maps = [](int d) {
    std::string s;
    for (int i = 0; i < d; ++i) s += "{\"a\": ";
    return s + "1" + std::string(d, '}');
  };
  auto block_maps = [](int d) {
    std::string s;
    for (int i = 0; i < d; ++i) s += std::string(2 * i, ' ') + "a:\n";
    return s + std::string(2 * d, ' ') + "1\n";
  };
  auto block_seqs = [](int d) {
    std::string s;
    for (int i = 0; i < d; ++i) s += "- ";
    return s + "1\n";
  };
  for (int d : {kMaxJsonDepth, kMaxJsonDepth + 1}) {
    const bool want_ok = d <= kMaxJsonDepth;
    EXPECT_EQ(ParseBoundedJson(flow_arrays(d), "t").ok(), want_ok);
    EXPECT_EQ(ParseBoundedJson(flow_maps(d), "t").ok(), want_ok);
    for (const std::string& text : {flow_arrays(d), flow_maps(d), block_maps(d), block_seqs(d)}) {
      auto r = ParseYamlDocuments(text, "deep.yaml");
      EXPECT_EQ(r.ok(), want_ok) << d << ": " << text.substr(0, 40);
      if (!want_ok && !r.ok()) {
        EXPECT_NE(r.status().message().find("nested deeper than 64 levels"), std::string::npos)
            << r.status().message();
        EXPECT_EQ(r.status().message().rfind("deep.yaml:", 0), 0u) << r.status().message();
      }
    }
  }
}

// 100,000 levels (an API body sent as YAML, or `inferd apply -f` of such a file): yaml-cpp's own guard stops
// its parser long before the stack runs out, and the error says what is wrong.
TEST(Yaml, HundredThousandLevelsAreAnErrorNotACrash) {
  const int d = 100000;
  std::string flow = "apiVersion: v1\nspec:\n  x: " + std::string(d, '[') + std::string(d, ']') + "\n";
  std::string flow_maps;
  for (int i = 0; i < d; ++i) flow_maps += "{a: ";
  flow_maps += "1" + std::string(d, '}');
  std::string block;
  for (int i = 0; i < d; ++i) block += "- ";
  block += "x\n";
  std::string block_maps;  // 2,000 levels of indentation (100,000 would be a 10 GB text)
  for (int i = 0; i < 2000; ++i) block_maps += std::string(i, ' ') + "a:\n";
  for (const std::string* text : {&flow, &flow_maps, &block, &block_maps}) {
    auto r = ParseYamlDocuments(*text, "deep.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("nested deeper than 64 levels"), std::string::npos) << r.status().message();
  }
}

TEST(Yaml, AliasBombIsBounded) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 9; ++k) text += ", " + prev;
    text += "]\n";
  }
  auto r = ParseYamlDocuments(text, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too large"), std::string::npos) << r.status().message();
}

TEST(Yaml, ComplexKeysRejected) {
  auto r = ParseYamlDocuments("? [a, b]\n: 1\n", "k.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("keys must be scalars"), std::string::npos);
}

TEST(Yaml, ToYamlRoundTrips) {
  Json v = Json::parse(R"({
    "zeta": "10", "alpha": 10, "b": true, "s_true": "true", "s_yes": "yes", "s_null": "null", "s_empty": "",
    "n": null, "f": 1.0, "neg": -3, "list": [1, "two", {"k": "v"}], "empty_obj": {}, "empty_list": [],
    "multi": "line1\nline2\n", "colon": "a: b", "hash": "# not a comment", "unicode": "h\u00e9llo",
    "lead": " space", "dash": "-", "version": "1.0", "nested": {"z": {"y": [[], [1.5e300]]}}
  })");
  std::string y = ToYaml(v);
  auto back = ParseYamlDocuments(y, "out.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << y;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], v) << y;
  EXPECT_EQ((*back)[0].dump(), v.dump()) << "key order must survive";
  EXPECT_EQ(y.rfind("zeta: \"10\"\nalpha: 10\n", 0), 0u) << y;
}

TEST(Yaml, ToYamlScalarsAndKeysNeedingQuotes) {
  Json v = Json::parse(R"({"true": 1, "10": "x", "a": [null, false]})");
  auto back = ParseYamlDocuments(ToYaml(v), "out.yaml");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0], v) << ToYaml(v);
  EXPECT_EQ(ToYaml(Json("plain")), "plain\n");
}

}  // namespace
}  // namespace inferd::resources
