#include "model/batcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <exception>

#include "core/clock.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "model/model.h"

namespace inferd {

namespace {

struct Item {
  std::span<const Tensor> inputs;
  std::vector<int> requested;
  std::vector<Tensor>* outputs = nullptr;
  Batcher::DoneFn done;
  int64_t rows = -1;  // -1: cannot be merged with others
  int64_t enqueued_ns = 0;
};

// Rows of a request when it can be merged: every input has rank >= 1 and the same first dimension > 0.
int64_t MergeableRows(std::span<const Tensor> inputs) {
  if (inputs.empty()) return -1;
  int64_t rows = -1;
  for (const Tensor& t : inputs) {
    if (t.shape().empty()) return -1;
    if (rows >= 0 && t.shape()[0] != rows) return -1;
    rows = t.shape()[0];
  }
  return rows > 0 ? rows : -1;
}

bool Compatible(const Item& a, const Item& b) {
  if (b.rows < 0 || a.requested != b.requested || a.inputs.size() != b.inputs.size()) return false;
  for (size_t k = 0; k < a.inputs.size(); ++k) {
    const Tensor& x = a.inputs[k];
    const Tensor& y = b.inputs[k];
    if (x.dtype() != y.dtype() || x.name() != y.name() || x.shape().size() != y.shape().size()) return false;
    if (!std::equal(x.shape().begin() + 1, x.shape().end(), y.shape().begin() + 1)) return false;
  }
  return true;
}

// Byte offset of element `index` in a BYTES serialization, or npos when malformed.
size_t BytesOffset(std::string_view buf, int64_t index) {
  size_t pos = 0;
  for (int64_t i = 0; i < index; ++i) {
    if (buf.size() - pos < 4) return std::string_view::npos;
    uint32_t len;
    std::memcpy(&len, buf.data() + pos, 4);
    pos += 4;
    if (buf.size() - pos < len) return std::string_view::npos;
    pos += len;
  }
  return pos;
}

// Concatenates the requests' inputs along the first dimension.
std::vector<Tensor> Concat(const std::vector<Item>& batch, int64_t total_rows) {
  std::vector<Tensor> merged;
  merged.reserve(batch[0].inputs.size());
  for (size_t k = 0; k < batch[0].inputs.size(); ++k) {
    const Tensor& first = batch[0].inputs[k];
    Shape shape = first.shape();
    shape[0] = total_rows;
    size_t bytes = 0;
    for (const Item& it : batch) bytes += it.inputs[k].byte_size();
    std::string buf;
    buf.reserve(bytes);
    for (const Item& it : batch) buf.append(it.inputs[k].bytes());
    Tensor t(first.name(), first.dtype(), std::move(shape));
    t.SetOwned(std::move(buf));
    merged.push_back(std::move(t));
  }
  return merged;
}

// Splits the batch's outputs back into each request's outputs by rows.
Status Split(std::vector<Item>& batch, int64_t total_rows, std::vector<Tensor>& outputs) {
  const size_t expected = batch[0].requested.size();
  if (outputs.size() != expected) {
    return Internal("produced " + std::to_string(outputs.size()) + " outputs for a batch of " +
                    std::to_string(batch.size()) + " requests, expected " + std::to_string(expected));
  }
  for (size_t j = 0; j < outputs.size(); ++j) {
    const Tensor& o = outputs[j];
    std::string what = "output " + (o.name().empty() ? std::to_string(j) : "'" + o.name() + "'");
    if (o.shape().empty() || o.shape()[0] != total_rows) {
      return Internal(what + " has shape " + ShapeToString(o.shape()) + " for a batch of " +
                      std::to_string(total_rows) + " rows from " + std::to_string(batch.size()) +
                      " requests; a batched model must return one row per input row (first dimension " +
                      std::to_string(total_rows) + ") so the answer can be split back");
    }
    std::string_view all = o.bytes();
    bool bytes_type = o.dtype() == DataType::kBytes;
    int64_t per_row = 0;  // elements per row (BYTES) or bytes per row (fixed-size)
    if (bytes_type) {
      per_row = total_rows > 0 ? o.element_count() / total_rows : 0;
    } else {
      if (total_rows == 0 || all.size() % static_cast<size_t>(total_rows) != 0) {
        return Internal(what + " holds " + std::to_string(all.size()) +
                        " bytes, not a multiple of the batch's " + std::to_string(total_rows) + " rows");
      }
      per_row = static_cast<int64_t>(all.size()) / total_rows;
    }
    size_t pos = 0;
    for (Item& it : batch) {
      size_t len = 0;
      if (bytes_type) {
        size_t end = BytesOffset(all.substr(pos), per_row * it.rows);
        if (end == std::string_view::npos) {
          return Internal(what + " is a malformed BYTES tensor");
        }
        len = end;
      } else {
        len = static_cast<size_t>(per_row * it.rows);
      }
      Shape shape = o.shape();
      shape[0] = it.rows;
      Tensor part(o.name(), o.dtype(), std::move(shape));
      part.SetOwned(std::string(all.substr(pos, len)));
      it.outputs->push_back(std::move(part));
      pos += len;
    }
  }
  return Status::Ok();
}

}  // namespace

struct Batcher::State {
  std::string model;
  BatchingConfig config;
  ExecuteFn execute;
  mutable Mutex mu;
  CondVar cv;
  std::deque<Item> queue GUARDED_BY(mu);
  int64_t queued_rows GUARDED_BY(mu) = 0;  // rows of the mergeable requests in `queue` (wake-up decisions only)
  bool stopping GUARDED_BY(mu) = false;
  // The destructor ran on an executor thread: answer, do not execute. Atomic: RunBatch reads it without mu
  // (with several instances, another executor may read it while the destructor writes it); one load per
  // batch.
  std::atomic<bool> orphaned{false};

  // Picks the next batch (under `lock`); returns false when the caller should wait until `*wake_ns`
  // (0: until notified) before trying again.
  bool Take(std::vector<Item>* batch, int64_t* total_rows, int64_t* wake_ns) REQUIRES(mu);
  std::vector<size_t> picked_scratch GUARDED_BY(mu);  // Take's indices of the requests it merges
  void RunBatch(std::vector<Item>& batch, int64_t total_rows);
};

bool Batcher::State::Take(std::vector<Item>* batch, int64_t* total_rows, int64_t* wake_ns) {
  *wake_ns = 0;
  if (queue.empty()) return false;
  const Item& head = queue.front();
  const int64_t max = config.max_batch_size;
  if (head.rows < 0 || head.rows >= max || orphaned.load()) {
    *total_rows = head.rows;
    if (head.rows > 0 && head.rows < max) queued_rows -= head.rows;
    batch->push_back(std::move(queue.front()));
    queue.pop_front();
    return true;
  }
  int64_t total = head.rows;
  std::vector<size_t>& picked = picked_scratch;  // reused: no allocation per call once warmed up
  picked.assign(1, 0);
  bool full = false;
  for (size_t i = 1; i < queue.size() && !full; ++i) {
    if (!Compatible(head, queue[i])) continue;
    if (total + queue[i].rows > max) {
      full = true;  // the next compatible request would overflow: run what we have
      break;
    }
    total += queue[i].rows;
    picked.push_back(i);
    full = total == max;
  }
  if (!full && !stopping) {
    int64_t deadline = head.enqueued_ns + config.max_latency_us * 1000;
    if (NowNs() < deadline) {
      *wake_ns = deadline;
      return false;
    }
  }
  // Move the picked requests out, keeping the others in order. Usually they are the queue's front.
  for (size_t i : picked) batch->push_back(std::move(queue[i]));
  if (picked.back() == picked.size() - 1) {
    for (size_t k = 0; k < picked.size(); ++k) queue.pop_front();
  } else {
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  queued_rows -= total;
  *total_rows = total;
  return true;
}

void Batcher::State::RunBatch(std::vector<Item>& batch, int64_t total_rows) {
  const int64_t start = NowNs();
  Status st;
  if (orphaned.load()) {
    st = Unavailable("the model was unloaded before the request ran");
  } else {
    try {
      if (batch.size() == 1) {
        st = execute(batch[0].inputs, batch[0].requested, batch[0].outputs);
      } else {
        std::vector<Tensor> merged = Concat(batch, total_rows);
        std::vector<Tensor> outputs;
        st = execute(merged, batch[0].requested, &outputs);
        if (st.ok()) st = Split(batch, total_rows, outputs);
      }
    } catch (const std::exception& e) {
      st = Internal(std::string("batch failed: ") + e.what());
    } catch (...) {
      st = Internal("batch failed with an unknown exception");
    }
  }
  const int64_t end = NowNs();
  for (size_t i = 0; i < batch.size(); ++i) {
    Item& it = batch[i];
    if (!st.ok()) it.outputs->clear();
    InferTiming timing;
    timing.queue_ns = start - it.enqueued_ns;
    timing.compute_ns = end - start;
    timing.executions = i == 0 ? 1 : 0;
    DoneFn done = std::move(it.done);
    try {
      done(st, timing);
    } catch (...) {
      LOG_ERROR("model '{}': a batch completion raised an exception", model);
    }
  }
}

namespace {

void RunExecutor(std::shared_ptr<Batcher::State> s) {
  MutexLock lock(s->mu);
  for (;;) {
    std::vector<Item> batch;
    int64_t total_rows = 0;
    int64_t wake_ns = 0;
    if (!s->Take(&batch, &total_rows, &wake_ns)) {
      if (s->queue.empty() && s->stopping) return;
      if (wake_ns == 0) {
        s->cv.Wait(s->mu);
      } else {
        s->cv.WaitFor(s->mu, std::chrono::nanoseconds(std::max<int64_t>(wake_ns - NowNs(), 0)));
      }
      continue;
    }
    lock.Unlock();
    s->RunBatch(batch, total_rows);
    batch.clear();  // completions released before the lock is taken again
    lock.Lock();
  }
}

}  // namespace

Batcher::Batcher(std::string model_name, const BatchingConfig& config, ExecuteFn execute)
    : state_(std::make_shared<State>()) {
  state_->model = std::move(model_name);
  state_->config = config;
  state_->execute = std::move(execute);
  int n = static_cast<int>(std::max<int64_t>(config.instances, 1));
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back(RunExecutor, state_);
}

Batcher::~Batcher() {
  bool self = false;
  for (auto& t : threads_) self = self || t.get_id() == std::this_thread::get_id();
  {
    MutexLock lock(state_->mu);
    state_->stopping = true;
    state_->orphaned.store(self);
  }
  state_->cv.SignalAll();
  for (auto& t : threads_) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // it holds the State; it answers what is left and exits
    } else {
      t.join();
    }
  }
}

Status Batcher::Enqueue(std::span<const Tensor> inputs, std::vector<int> requested, std::vector<Tensor>* outputs,
                        DoneFn done) {
  Item it;
  it.inputs = inputs;
  it.requested = std::move(requested);
  it.outputs = outputs;
  it.done = std::move(done);
  it.rows = MergeableRows(inputs);
  bool wake = false;
  {
    MutexLock lock(state_->mu);
    if (state_->stopping) return Unavailable("model '" + state_->model + "' is being unloaded");
    if (state_->queue.size() >= static_cast<size_t>(state_->config.max_queue_size)) {
      return Unavailable("model '" + state_->model + "': the batching queue is full (max_queue_size " +
                         std::to_string(state_->config.max_queue_size) + " requests); retry later");
    }
    it.enqueued_ns = NowNs();
    // Wake an executor only when this request can change its decision: the queue was empty (it may
    // be waiting with no deadline), this request runs alone, or the queued rows may fill a batch.
    // Otherwise the executor already sleeps until the head's latency deadline, and waking it for
    // every request (a futex wake and a context switch each, and a queue scan) halves throughput.
    const int64_t max = state_->config.max_batch_size;
    if (it.rows > 0 && it.rows < max) state_->queued_rows += it.rows;
    wake = state_->queue.empty() || it.rows < 0 || it.rows >= max || state_->queued_rows >= max;
    state_->queue.push_back(std::move(it));
  }
  if (wake) state_->cv.Signal();
  return Status::Ok();
}

size_t Batcher::queued() const {
  MutexLock lock(state_->mu);
  return state_->queue.size();
}

}  // namespace inferd
