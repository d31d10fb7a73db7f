// model/batcher.h: server-side batching of one model: concurrent requests with compatible shapes are
// concatenated along the first dimension, executed once, and the outputs split back by rows.
//
// Contract:
// - Threads: Enqueue may be called from any thread and never blocks on execution (it takes the queue
//   lock for a push). `instances` executor threads, owned by the Batcher, form batches and run them;
//   `execute` and every `done` are called on those threads. `execute` must be safe to call from
//   `instances` threads at once (the Model serializes non-thread-safe backends itself).
// - Forming a batch: the oldest queued request (the head) leads. Queued requests compatible with it
//   (same input names, datatypes and non-batch dimensions, same requested outputs) join in FIFO order
//   while the rows fit in max_batch_size. The batch runs as soon as it is full (max_batch_size rows, or
//   the next compatible request would overflow it) or the head has waited max_latency_us. A request
//   that cannot be merged (rows >= max_batch_size, zero rows, a scalar input, inputs with different
//   first dimensions) runs alone, as it would unbatched. Incompatible requests never share a batch.
// - Splitting: every output of a merged batch must have the batch's total rows as first dimension;
//   otherwise (or when the backend returns the wrong number of outputs) every request of the batch
//   fails with kInternal naming the output (messages do not name the model; the Model prefixes it).
//   A request that ran alone gets the outputs unchanged.
// - Ownership: Enqueue does not copy. The caller keeps `inputs` (and every buffer they view) and
//   `outputs` alive and untouched until its `done` has been called; `done` is called exactly once per
//   accepted request, after its outputs have been written (on success) or cleared (on failure).
// - Bounds: at most max_queue_size requests wait (rows are not counted); Enqueue then returns
//   kUnavailable naming the limit, and `done` is not called. Merged inputs are copied into one buffer
//   per input (the batch's rows), outputs are copied out per request.
// - Timing: each request's InferTiming gets queue_ns (enqueue to batch start), compute_ns (the batch's
//   execute call) and executions = 1 for exactly one request of each batch, 0 for the others.
// - Destruction drains: requests still queued are executed and answered before the destructor
//   returns (no latency wait). When the destructor runs on one of the executor threads (the last
//   reference to the model was dropped inside a `done`), that thread is detached instead of joined and
//   answers whatever is still queued with kUnavailable rather than executing (the owner of `execute`
//   is going away); the Model's callers hold a reference until done, so the queue is empty then.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "model/model_config.h"
#include "tensor/tensor.h"

namespace inferd {

struct InferTiming;

class Batcher {
 public:
  // Runs one batch: appends one tensor per requested output index (Backend::Execute's contract).
  using ExecuteFn = std::function<Status(std::span<const Tensor> inputs, std::span<const int> requested,
                                         std::vector<Tensor>* outputs)>;
  // The request's outcome. Must not throw.
  using DoneFn = std::function<void(Status status, const InferTiming& timing)>;

  // `config.enabled()` must be true; config values are assumed validated (model_config.h ranges).
  Batcher(std::string model_name, const BatchingConfig& config, ExecuteFn execute);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues one validated request: `inputs` in the model's input order with their final datatypes,
  // `requested` indices of the outputs to produce. OK: `done` will be called once. kUnavailable: the
  // queue is full or the batcher is shutting down; `done` is not called.
  Status Enqueue(std::span<const Tensor> inputs, std::vector<int> requested, std::vector<Tensor>* outputs,
                 DoneFn done);

  // Requests waiting (not yet in a running batch). For tests and metrics.
  size_t queued() const;

  struct State;  // batcher.cc; shared with the executor threads

 private:
  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
};

}  // namespace inferd
