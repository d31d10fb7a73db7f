// backends/torch/torch_backend.h: serves TorchScript models (format "pytorch", file model.pt, as Triton's
// PyTorch backend serves them) through libtorch.
//
// Contract:
// - Load: torch::jit::load of LoadOptions.model_file (or the model.pt DetectModel finds in model_dir) on
//   the CPU, module.eval(). Failures are InvalidArgument Status values naming the file; no exception
//   (c10::Error or other) leaves this module.
// - Metadata (platform "pytorch_libtorch"): TorchScript declares no names, datatypes or shapes, so they come,
//   in this order, from config.pbtxt (Triton) or model-settings.json (MLServer) beside the model (see
//   io_config.h); what a file leaves undeclared is derived from the forward() schema: one input per
//   argument, named as the argument, FP32 [-1, -1]; outputs "output-0".."output-<n-1>" FP32 [-1, -1] when
//   forward() returns a Tensor or a tuple of n Tensors (a List or Dict return needs declared outputs).
// - Inputs map to forward() arguments by name when every declared input name is an argument name (arguments
//   left out take their default values), otherwise by position in metadata order. Outputs: a tensor, a
//   tuple or list of tensors (by position) or a Dict[str, Tensor] (by key: every declared output name must
//   be a key; extra keys are ignored).
// - Datatypes, both ways: BOOL<->bool, UINT8<->uint8, INT8<->int8, INT16<->int16, INT32<->int32,
//   INT64<->int64, FP16<->half, BF16<->bfloat16, FP32<->float, FP64<->double. UINT16/32/64 and BYTES have no
//   libtorch 1.13 equivalent: declaring them fails the load. An output tensor of another dtype than declared
//   is converted to the declared one (Tensor.to); an output whose shape contradicts a declared fixed
//   dimension is an Internal error (the configuration is wrong).
// - Execute: inputs become tensors over the request's own bytes (at::from_blob, no copy; the model layer
//   has checked datatype, shape, size and alignment, and Execute checks them again); forward() runs under
//   c10::InferenceMode (no autograd state); results are copied into owned inferd Tensors (made contiguous,
//   moved to the CPU). An error raised inside forward() (c10::Error, e.g. a shape the model rejects) is
//   an InvalidArgument carrying libtorch's message without its backtrace.
// - Threads: thread_safe() is true. TorchScript's Module::forward may be called concurrently (the graph
//   executor locks its own caches; each call has its own interpreter stack), and InferenceMode is a
//   thread-local guard. LoadOptions.intra_op_threads > 0 calls at::set_num_threads, which is
//   PROCESS-WIDE in libtorch (one intra-op pool shared by every torch model): the last torch model loaded
//   decides it. <= 0 keeps libtorch's default.
// - Packaging: this backend (with io_config) is the plugin libinferd_backend_torch.so, loaded on the first
//   pytorch model (model/backend_plugin.h); its entry point kTorchPluginEntryPoint returns
//   NewTorchBackendFactory().release(). Tests may link the sources directly and call the factory.
#pragma once

#include <memory>

#include "model/backend.h"

namespace inferd {

inline constexpr char kTorchPluginLibrary[] = "libinferd_backend_torch.so";
inline constexpr char kTorchPluginEntryPoint[] = "inferd_torch_backend_factory";

std::unique_ptr<BackendFactory> NewTorchBackendFactory();

}  // namespace inferd
