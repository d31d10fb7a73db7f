// tests/resources/resources_objects_test.cc: IsDns1123Label and RFC 7386 merge patch.
#include <gtest/gtest.h>

#include "resources/resources.h"

namespace inferd::resources {
namespace {

TEST(Dns1123Label, AcceptsAndRejects) {
  EXPECT_TRUE(IsDns1123Label("sklearn-iris"));
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("123-abc"));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label("Sklearn"));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a-"));
  EXPECT_FALSE(IsDns1123Label("a.b"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
}

Json P(const char* s) { return Json::parse(s); }

TEST(MergePatch, Rfc7386AppendixExamples) {
  struct Case {
    const char *target, *patch, *want;
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", R"(null)", R"(null)"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(MergePatch(P(c.target), P(c.patch)), P(c.want)) << c.target << " + " << c.patch;
  }
}

TEST(MergePatch, NestedKeepsOrderAndReplacesArrays) {
  Json target = P(R"({"spec":{"predictor":{"minReplicas":1,"model":{"args":["a","b"],"storageUri":"s3://x"}}},
                     "metadata":{"name":"n","labels":{"a":"1","b":"2"}}})");
  Json patch = P(R"({"spec":{"predictor":{"minReplicas":2,"model":{"args":["c"]}}},"metadata":{"labels":{"a":null}}})");
  Json got = MergePatch(target, patch);
  EXPECT_EQ(got["spec"]["predictor"]["minReplicas"], Json(2));
  EXPECT_EQ(got["spec"]["predictor"]["model"]["args"], P(R"(["c"])"));
  EXPECT_EQ(got["spec"]["predictor"]["model"]["storageUri"], Json("s3://x"));
  EXPECT_EQ(got["metadata"]["labels"], P(R"({"b":"2"})"));
  EXPECT_EQ(got.begin().key(), "spec");
}

}  // namespace
}  // namespace inferd::resources
