// backends/tensorflow/tf_backend.h: serves TensorFlow SavedModels (format "tensorflow") on inferd's own graph
// executor (src/tf/: no TensorFlow library), with TF Serving's REST API on the V1 paths as KServe's tensorflow
// runtime (TF Serving) answers them.
//
// Contract:
// - Load takes LoadOptions.model_dir (or the directory of LoadOptions.model_file): a version directory holding
//   saved_model.pb, or a model directory of numeric version subdirectories (TF Serving's layout: the highest
//   version holding a saved_model.pb is served; tf/saved_model.h FindServedVersion). Variables are restored and
//   init ops run (tf::TfModel::LoadSavedModel). Any failure is the load's error, naming the file or op.
// - Metadata (platform "tensorflow_savedmodel", Triton's name; versions: the served version directory's number):
//   the default signature's ("serving_default", or the only one) inputs and outputs by alias, in alias order, with
//   their dtypes (DT_FLOAT -> FP32, DT_STRING -> BYTES, ...) and shapes (-1 for unknown dimensions; an input of
//   unknown rank is declared as one dimension, -1, and noted in the log). An input whose dtype has no inferd
//   datatype fails the load; such an output is left out of the metadata (logged).
// - A model without a default signature (TF Serving's counter) loads with no inputs or outputs (the model layer
//   then refuses any V2 input; Execute also refuses, naming why), and TF Serving's REST API serves its signatures
//   by name.
// - Execute (V2 REST, gRPC) runs the default signature on copies of the inputs, asking for the requested outputs.
//   Input shapes are checked against the declared ones by the model layer (V2's rule); TF Serving's REST path
//   does not check them (TF Serving does not either).
// - native_rest(): TF Serving's REST dialect (backends/tensorflow/tfserving_json.h) for :predict (row and columnar
//   formats, signature_name, b64), GET /v1/models/<m> (version status) and .../metadata (every signature).
// - native_grpc(): TF Serving's gRPC API (backends/tensorflow/tfserving_grpc.h: Predict, GetModelMetadata,
//   GetModelStatus), KServe's `grpc-v1`, which the model server serves beside V2 gRPC (server/tfserving_grpc.h).
// - Threads: thread_safe() is true: tf::TfModel::Run may be called concurrently (stateful signatures such as a
//   counter serialize inside it).
// - Packaging: the plugin libinferd_backend_tensorflow.so (model/backend_plugin.h), loaded on the first tensorflow
//   model so that no other process maps OpenBLAS (which starts a thread when loaded). Entry point
//   kTensorflowPluginEntryPoint. Tests may link the sources and call the factory.
#pragma once

#include <memory>

#include "model/backend.h"

namespace inferd {

inline constexpr char kTensorflowPluginLibrary[] = "libinferd_backend_tensorflow.so";
inline constexpr char kTensorflowPluginEntryPoint[] = "inferd_tensorflow_backend_factory";

std::unique_ptr<BackendFactory> NewTensorflowBackendFactory();

}  // namespace inferd
