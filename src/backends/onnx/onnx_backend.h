// backends/onnx/onnx_backend.h: serves ONNX models (format "onnx", file model.onnx) through ONNX Runtime's
// C++ API on the CPU execution provider.
//
// Contract:
// - Load creates an Ort::Session for LoadOptions.model_file (or the model.onnx DetectModel finds in
//   model_dir). One Ort::Env serves the whole process; it is created by the first load and never destroyed
//   (sessions may outlive any static destruction order). Failures are Status values naming the file;
//   no Ort::Exception leaves this module.
// - Session options: intra-op threads = LoadOptions.intra_op_threads (> 0; 1 runs every operator on the
//   calling thread, <= 0 keeps ONNX Runtime's default: one per core), inter-op threads 1 (sequential
//   execution), all graph optimizations, and, when the intra-op pool has more than one thread, no
//   spinning (session.intra_op.allow_spinning=0: idle pool threads would otherwise busy-wait on cores
//   that the server's I/O threads need). The pool belongs to the session, not to the process.
// - Metadata (platform "onnxruntime_onnx"): the session's input and output names, element types and
//   shapes, in the model's order; dynamic or symbolic dimensions become -1. Element types map both ways:
//   BOOL UINT8 UINT16 UINT32 UINT64 INT8 INT16 INT32 INT64 FP16 BF16 FP32 FP64 (ONNX's bool, uint*,
//   int*, float16, bfloat16, float, double). An input of any other type (STRING, non-tensor
//   sequences/maps, ...) fails the load; such outputs are left out of the metadata (with a log line), and a
//   model left with no output fails the load.
// - Execute wraps each input's bytes in an Ort::Value without copying (the model layer has checked
//   datatype, shape, size and alignment; Execute checks them again), asks Session::Run for the requested
//   outputs only, and copies them into owned inferd Tensors. ONNX Runtime's ORT_INVALID_ARGUMENT (e.g.
//   a dimension the model fixes) is InvalidArgument, any other failure Internal.
// - Threads: thread_safe() is true: Ort::Session::Run is documented as safe to call concurrently on one
//   session, and everything else Execute touches is read-only after Load.
// - Packaging: this backend is the plugin libinferd_backend_onnx.so, loaded on the first onnx model
//   (model/backend_plugin.h); its entry point kOnnxPluginEntryPoint returns NewOnnxBackendFactory().release().
//   Tests may link the source directly and call the factory.
#pragma once

#include <memory>

#include "model/backend.h"

namespace inferd {

inline constexpr char kOnnxPluginLibrary[] = "libinferd_backend_onnx.so";
inline constexpr char kOnnxPluginEntryPoint[] = "inferd_onnx_backend_factory";

std::unique_ptr<BackendFactory> NewOnnxBackendFactory();

}  // namespace inferd
