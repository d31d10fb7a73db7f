// tests/resources/resources_graph_test.cc: InferenceGraph and TrainedModel validation with KServe's rules
// (its CRD's required fields and enums, its webhooks' messages), each error starting with the field path.
#include <gtest/gtest.h>

#include "resources/resources.h"

namespace inferd::resources {
namespace {

Json Graph(const std::string& nodes, const std::string& name = "model-chainer") {
  return Json::parse(R"({"apiVersion":"serving.kserve.io/v1alpha1","kind":"InferenceGraph","metadata":{"name":")" + name +
                     R"("},"spec":{"nodes":)" + nodes + "}}");
}

std::string GraphError(const Json& g) {
  Status st = ValidateInferenceGraph(g);
  return st.ok() ? "ok" : st.message();
}

TEST(InferenceGraph, AcceptsKServeSamples) {
  EXPECT_EQ(GraphError(Graph(R"({"root":{"routerType":"Sequence","steps":[
      {"serviceName":"cat-dog-classifier"},{"serviceName":"dog-breed-classifier","data":"$response"}]}})")), "ok");
  EXPECT_EQ(GraphError(Graph(R"({"root":{"routerType":"Splitter","steps":[
      {"serviceName":"a","weight":20},{"serviceName":"b","weight":80}]},
      "other":{"routerType":"Switch","steps":[{"nodeName":"root","condition":"instances.#(x>1).y","dependency":"Hard"}]}})")),
            "ok");
}

TEST(InferenceGraph, RejectsWhatKServeRejects) {
  struct Case {
    Json graph;
    std::string prefix;
  };
  const std::vector<Case> cases = {
      {Graph(R"({"root":{"routerType":"Sequence","steps":[{"serviceName":"a"}]}})", "Bad_Name"), "metadata.name: The InferenceGraph \"Bad_Name\" is invalid"},
      {Graph(R"({"other":{"routerType":"Sequence"}})"), "spec.nodes: root node not found"},
      {Json::parse(R"({"metadata":{"name":"g"},"spec":{}})"), "spec.nodes: Required value"},
      {Json::parse(R"({"metadata":{"name":"g"}})"), "spec: Required value"},
      {Graph(R"({"root":{"steps":[]}})"), "spec.nodes.root.routerType: Required value"},
      {Graph(R"({"root":{"routerType":"Random"}})"), "spec.nodes.root.routerType: Unsupported value: \"Random\""},
      {Graph(R"({"root":{"routerType":"Sequence","steps":[{"name":"x"}]}})"),
       "spec.nodes.root.steps[0]: Step 0 (\"x\") in node \"root\" of InferenceGraph \"model-chainer\" does not specify an inference target"},
      {Graph(R"({"root":{"routerType":"Sequence","steps":[{"serviceName":"a","serviceUrl":"http://b"}]}})"),
       "spec.nodes.root.steps[0]: Step 0 (\"\") in node \"root\" of InferenceGraph \"model-chainer\" specifies more than one"},
      {Graph(R"({"root":{"routerType":"Ensemble","steps":[{"name":"s","serviceName":"a"},{"name":"s","serviceName":"b"}]}})"),
       "spec.nodes.root.steps[1].name: Node \"root\" of InferenceGraph \"model-chainer\" contains more than one step with name \"s\""},
      {Graph(R"({"root":{"routerType":"Splitter","steps":[{"serviceName":"a","weight":20},{"serviceName":"b"}]}})"),
       "spec.nodes.root.steps[1].weight: InferenceGraph[model-chainer] Node[root] Route[b] missing the 'Weight'"},
      {Graph(R"({"root":{"routerType":"Splitter","steps":[{"serviceName":"a","weight":20},{"serviceName":"b","weight":70}]}})"),
       "spec.nodes.root.steps: InferenceGraph[model-chainer] Node[root] splitter node: the sum of traffic weights"},
      {Graph(R"({"root":{"routerType":"Sequence","steps":[{"serviceName":"a","dependency":"Maybe"}]}})"),
       "spec.nodes.root.steps[0].dependency: Unsupported value"},
      {Graph(R"({"root":{"routerType":"Sequence","steps":{"serviceName":"a"}}})"), "spec.nodes.root.steps: must be a list"},
      {Graph(R"({"root":"Sequence"})"), "spec.nodes.root"},
  };
  for (const Case& c : cases) {
    std::string err = GraphError(c.graph);
    EXPECT_EQ(err.rfind(c.prefix, 0), 0u) << "got: " << err << "\nwant prefix: " << c.prefix;
  }
}

Json Tm(const std::string& model, const std::string& name = "my-model_1") {
  return Json::parse(R"({"apiVersion":"serving.kserve.io/v1alpha1","kind":"TrainedModel","metadata":{"name":")" + name +
                     R"("},"spec":{"inferenceService":"sklearn-mms","model":)" + model + "}}");
}

TEST(TrainedModel, RequiredFieldsAndKServeRules) {
  const std::string good = R"({"storageUri":"gs://kfserving-examples/models/sklearn/1.0/model","framework":"sklearn","memory":"256Mi"})";
  EXPECT_TRUE(ValidateTrainedModel(Tm(good), nullptr).ok());
  auto err = [](const Json& tm, const Json* old = nullptr) {
    Status st = ValidateTrainedModel(tm, old);
    return st.ok() ? std::string("ok") : st.message();
  };
  EXPECT_EQ(err(Tm(good, "bad.name")).rfind("metadata.name: the Trained Model \"bad.name\" is invalid", 0), 0u);
  EXPECT_EQ(err(Tm(R"({"framework":"sklearn","memory":"1Gi"})")), "spec.model.storageUri: Required value");
  EXPECT_EQ(err(Tm(R"({"storageUri":"s3://b/m","memory":"1Gi"})")), "spec.model.framework: Required value");
  EXPECT_EQ(err(Tm(R"({"storageUri":"s3://b/m","framework":"sklearn"})")), "spec.model.memory: Required value");
  EXPECT_EQ(err(Tm(R"({"storageUri":"s3://b/m","framework":"sklearn","memory":"lots"})")).rfind("spec.model.memory: Invalid value", 0), 0u);
  EXPECT_EQ(err(Tm(R"({"storageUri":"file:///m","framework":"sklearn","memory":"1Gi"})"))
                .rfind("spec.model.storageUri: the Trained Model \"my-model_1\" storageUri field is invalid. The storage uri "
                       "must start with one of the prefixes: s3://, gs://, https://, http://.", 0),
            0u);
  EXPECT_EQ(err(Json::parse(R"({"metadata":{"name":"t"},"spec":{"model":{}}})")), "spec.inferenceService: Required value");
  EXPECT_EQ(err(Json::parse(R"({"metadata":{"name":"t"},"spec":{"inferenceService":"x"}})")), "spec.model: Required value");
  // memory is immutable (an equal quantity written differently is no change).
  Json old = Tm(good);
  EXPECT_EQ(err(Tm(R"({"storageUri":"s3://b/m","framework":"sklearn","memory":"0.25Gi"})"), &old), "ok");
  EXPECT_EQ(err(Tm(R"({"storageUri":"s3://b/m","framework":"sklearn","memory":"1Gi"})"), &old)
                .rfind("spec.model.memory: the Trained Model \"my-model_1\" memory field is immutable", 0),
            0u);
}

}  // namespace
}  // namespace inferd::resources
