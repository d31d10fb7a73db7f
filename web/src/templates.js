// KServe's sample InferenceServices, offered as starting points on the New endpoint page.
export const TEMPLATES = [
  { id: 'sklearn', label: 'sklearn iris (V1)', text: `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
` },
  { id: 'xgboost', label: 'xgboost iris (V2)', text: `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: xgboost-iris
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      protocolVersion: v2
      runtime: kserve-xgbserver
      storageUri: gs://kfserving-examples/models/xgboost/iris
` },
  { id: 'canary', label: 'canary rollout (10% to each new revision)', text: `# canaryTrafficPercent: once this service is Ready, each change of its predictor (YAML tab) makes a
# new revision that gets 10% of the traffic while the last rolled-out one keeps 90%; promote or roll back
# on the TRAFFIC tab.
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris-canary
spec:
  predictor:
    canaryTrafficPercent: 10
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
` },
];

// The kinds the page creates: "apiVersion kind" -> plural.
export const KINDS = {
  'serving.kserve.io/v1beta1 InferenceService': 'inferenceservices',
  'serving.kserve.io/v1alpha1 ServingRuntime': 'servingruntimes',
  'serving.kserve.io/v1alpha1 InferenceGraph': 'inferencegraphs',
  'serving.kserve.io/v1alpha1 TrainedModel': 'trainedmodels',
};
