#include "logger/payload_logger.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/clock.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "core/uuid.h"
#include "logger/pipelined_sender.h"
#include "logger/sink_url.h"

namespace inferd::logger {

namespace {

constexpr int64_t kLogIntervalNs = int64_t{10} * 1000 * 1000 * 1000;  // one warning line per 10 s per kind
// A worker takes at most its sender's MaxBatch queued events (and about this many body bytes, one event at
// least) at once.
constexpr size_t kMaxBatchBytes = size_t{1} << 20;

// libcurl, one event per round trip: https sinks and URLs with credentials (logger/pipelined_sender.h has the rest).
class CurlSender : public EventSender {
 public:
  net::ClientResult Send(const LoggerConfig& c, const std::vector<std::string>& headers,
                         std::string_view body) override {
    net::ClientRequest req;
    req.method = "POST";
    req.url = c.url;
    req.headers = headers;
    req.body = std::string(body);
    req.send_body = true;
    req.user_agent = "inferd-logger";
    req.connect_timeout_s = c.timeout_s;
    req.timeout_s = c.timeout_s;
    req.verify_tls = c.tls_verify;
    req.ca_file = c.ca_file;
    req.share = &share_;  // the connection to the sink stays open between events
    // The sink's answer body is read and discarded (bounded: nothing is kept).
    return net::Fetch(req, [](std::string_view, const net::ResponseHead&) { return true; });
  }

 private:
  net::ConnectionShare share_;
};

// Picks the sender for the sink's URL on the first send (the URL is fixed for a logger's life).
class HttpSender : public EventSender {
 public:
  net::ClientResult Send(const LoggerConfig& c, const std::vector<std::string>& headers,
                         std::string_view body) override {
    return For(c).Send(c, headers, body);
  }
  void SendBatch(const LoggerConfig& c, std::span<const OutgoingEvent> events,
                 std::vector<net::ClientResult>* results) override {
    For(c).SendBatch(c, events, results);
  }
  size_t MaxBatch(const LoggerConfig& c) override { return For(c).MaxBatch(c); }

 private:
  EventSender& For(const LoggerConfig& c) {
    if (!impl_) {
      const SinkUrlParts u = SplitSinkUrl(c.url);
      if (u.scheme == "http" && !u.userinfo) {
        impl_ = NewPipelinedSender();
      } else {
        impl_ = std::make_unique<CurlSender>();
      }
    }
    return *impl_;
  }
  std::unique_ptr<EventSender> impl_;
};

const std::string* FindHeader(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

void EventSender::SendBatch(const LoggerConfig& config, std::span<const OutgoingEvent> events,
                            std::vector<net::ClientResult>* results) {
  results->clear();
  for (const OutgoingEvent& e : events) {
    results->push_back(Send(config, EventHeaders(*e.record, config, e.recorded_unix_ns), e.record->body()));
  }
}

std::unique_ptr<EventSender> NewHttpSender() { return std::make_unique<HttpSender>(); }

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// The waiting events (not thread-safe: the logger's mutex guards it). A vector read from the front by an index, so
// that no event costs an allocation once it has grown (std::deque allocated a block per three Records, freed on
// the other thread), and a worker takes a batch that is the whole queue (the common case under the linger) by
// swapping buffers: O(1) under the lock the data path waits for.
class EventQueue {
 public:
  size_t size() const { return events_.size() - head_; }
  bool empty() const { return size() == 0; }
  size_t bytes() const { return bytes_; }  // of the waiting events' bodies
  void Push(Record&& r) {
    bytes_ += r.body().size();
    events_.push_back(std::move(r));
  }
  // Moves the first events into *out (empty): up to max_events, and while their bodies total less than max_bytes
  // (at least one event).
  void TakeFront(size_t max_events, size_t max_bytes, std::vector<Record>* out) {
    if (head_ == 0 && events_.size() <= max_events && bytes_ < max_bytes) {
      out->swap(events_);  // all of them; the queue keeps out's (empty) buffer
      Clear();
      return;
    }
    size_t taken = 0;
    while (head_ < events_.size() && out->size() < max_events && (out->empty() || taken < max_bytes)) {
      taken += events_[head_].body().size();
      out->push_back(std::move(events_[head_++]));
    }
    bytes_ -= taken;
    if (head_ == events_.size()) {
      Clear();
    } else if (head_ >= events_.size() / 2) {  // compact: each event is moved O(1) times on average
      events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void Clear() {
    events_.clear();
    head_ = 0;
    bytes_ = 0;
  }

 private:
  std::vector<Record> events_;  // [head_, end) wait; [0, head_) were taken (moved from)
  size_t head_ = 0;
  size_t bytes_ = 0;
};

}  // namespace

struct PayloadLogger::Impl {
  LoggerConfig config;
  WallClock wall_ns;
  Mutex mu;
  CondVar cv;         // idle workers wait for events (and for Stop)
  CondVar linger_cv;  // workers with less than a batch queued wait for more (and for Stop)
  CondVar stop_cv;    // a worker in a retry's backoff waits for Stop
  CondVar idle_cv;    // Stop waits for the queue to empty
  EventQueue queue GUARDED_BY(mu);
  size_t busy GUARDED_BY(mu) = 0;     // workers sending a batch
  size_t waiting GUARDED_BY(mu) = 0;  // workers blocked in cv.Wait for events
  size_t woken GUARDED_BY(mu) = 0;    // of those, signalled and not yet running (woken <= waiting)
  size_t lingering GUARDED_BY(mu) = 0;  // workers in linger_cv.WaitFor
  size_t linger_target GUARDED_BY(mu) = 1;  // LingerTarget of the workers' senders (each sets it as it starts)
  bool stopping GUARDED_BY(mu) = false;
  bool stopped GUARDED_BY(mu) = false;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> sent{0}, failed{0}, dropped{0}, retries{0};
  std::atomic<size_t> depth{0};  // queue.size() as of the last push or pop (read without the lock)
  prometheus::Counter* sent_metric = nullptr;
  prometheus::Counter* failed_metric = nullptr;
  prometheus::Counter* dropped_metric = nullptr;
  prometheus::Counter* retries_metric = nullptr;
  prometheus::Gauge* depth_metric = nullptr;
  Mutex log_mu;
  LogGate drop_gate GUARDED_BY(log_mu), fail_gate GUARDED_BY(log_mu);

  void Register(prometheus::Registry* registry) {
    if (!registry) return;
    auto& events = prometheus::BuildCounter()
                       .Name("inferd_logger_events_total")
                       .Help("Payload logger CloudEvents by result: sent (2xx from the sink), failed (given up after "
                             "retries or refused by the sink), dropped (queue full or shutdown)")
                       .Register(*registry);
    sent_metric = &events.Add({{"result", "sent"}});
    failed_metric = &events.Add({{"result", "failed"}});
    dropped_metric = &events.Add({{"result", "dropped"}});
    retries_metric = &prometheus::BuildCounter()
                          .Name("inferd_logger_retries_total")
                          .Help("Payload logger sends retried after a failure")
                          .Register(*registry)
                          .Add({});
    depth_metric = &prometheus::BuildGauge()
                        .Name("inferd_logger_queue_depth")
                        .Help("Payload logger events waiting to be sent")
                        .Register(*registry)
                        .Add({});
  }

  static void Count(std::atomic<uint64_t>& n, prometheus::Counter* metric, uint64_t by = 1) {
    n.fetch_add(by, std::memory_order_relaxed);
    if (metric) metric->Increment(static_cast<double>(by));
  }

  // A warning through the gate `which` (one per 10 s, with the count of the ones held back). `what` builds the text
  // only when the line is written (drops come by the thousand under a dead sink: no string work for them).
  enum class Gate { kDrop, kFail };
  template <class What>
  void Warn(Gate which, const What& what) {
    uint64_t held = 0;
    {
      MutexLock lock(log_mu);
      LogGate& gate = which == Gate::kDrop ? drop_gate : fail_gate;
      if (!gate.Allow(NowNs(), kLogIntervalNs, &held)) return;
    }
    if (held > 0) {
      LOG_WARN("payload logger: {} ({} more like it in the last 10 s)", what(), held);
    } else {
      LOG_WARN("payload logger: {}", what());
    }
  }

  void Drop(EventType type, std::string_view id) {
    Count(dropped, dropped_metric);
    Warn(Gate::kDrop, [&] {
      return "dropped " + std::string(type == EventType::kRequest ? "request" : "response") + " event " +
             std::string(id) + ": queue full (" + std::to_string(config.queue_capacity) +
             " events, --log_queue_size) or stopping";
    });
  }

  // The data path's first check: false (the event dropped and counted) when the queue is full, before the
  // event's body is copied. `depth` may lag the queue by the pushes and pops in progress: Enqueue decides.
  bool Room(EventType type, std::string_view id) {
    if (depth.load(std::memory_order_relaxed) < config.queue_capacity) return true;
    Drop(type, id);
    return false;
  }

  void Enqueue(Record&& r) {
    {
      MutexLock lock(mu);
      if (!stopping && queue.size() < config.queue_capacity) {
        const bool was_full = Full(linger_target);
        queue.Push(std::move(r));
        depth.store(queue.size(), std::memory_order_relaxed);
        // The gauge (a sequentially consistent store) every 64th event; Take sets it for each batch.
        if (depth_metric && queue.size() % 64 == 0) depth_metric->Set(static_cast<double>(queue.size()));
        // Wake-ups (futex calls) only on transitions: an idle worker for the first event, a lingering one when a
        // batch's worth is queued; a busy worker takes this event with its next batch.
        if (waiting > woken) {
          ++woken;
          cv.Signal();
        } else if (lingering > 0 && !was_full && Full(linger_target)) {
          linger_cv.Signal();
        }
        return;
      }
    }
    Drop(r.type, r.id());
  }

  void GiveUp(const Record& r, int attempts, const net::ClientResult& result) {
    Count(failed, failed_metric);
    std::string why =
        result.transport == net::Transport::kOk ? "the sink answered " + std::to_string(result.status) : result.error;
    Warn(Gate::kFail, [&] {
      return "could not deliver event " + std::string(r.id()) + " to " + config.url + " after " +
             std::to_string(attempts) + " attempt(s): " + why;
    });
  }

  // Sends a batch (the sender may pipeline it), then the events NextStep retries, after the longest of their
  // backoffs, until none is left; Stop cuts a backoff short (those events then count as failed).
  void DeliverBatch(EventSender& sender, const std::vector<Record>& batch) {
    const int64_t recorded = wall_ns();
    std::vector<int> attempts(batch.size(), 0);
    std::vector<size_t> todo(batch.size()), again;
    for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
    std::vector<OutgoingEvent> out;
    std::vector<net::ClientResult> results;
    while (!todo.empty()) {
      out.clear();
      for (size_t i : todo) out.push_back(OutgoingEvent{&batch[i], recorded});
      sender.SendBatch(config, out, &results);
      again.clear();
      std::chrono::milliseconds delay{0};
      uint64_t delivered = 0;
      for (size_t k = 0; k < todo.size(); ++k) {
        const size_t i = todo[k];
        const net::ClientResult& result = k < results.size() ? results[k] : net::ClientResult{};
        Decision d = NextStep(result, ++attempts[i], config.retry);
        if (d.step == Step::kDelivered) {
          ++delivered;
        } else if (d.step == Step::kRetry) {
          again.push_back(i);
          delay = std::max(delay, d.delay);
        } else {
          GiveUp(batch[i], attempts[i], result);
        }
      }
      if (delivered > 0) Count(sent, sent_metric, delivered);
      if (again.empty()) return;
      bool stop = false;
      {
        MutexLock lock(mu);
        if (!stopping) stop_cv.WaitFor(mu, delay, [this]() NO_THREAD_SAFETY_ANALYSIS { return stopping; });
        stop = stopping;
      }
      if (stop) {
        for (size_t i : again) GiveUp(batch[i], attempts[i], Stopped());
        return;
      }
      Count(retries, retries_metric, again.size());
      todo.swap(again);
    }
  }

  static net::ClientResult Stopped() {
    net::ClientResult r;
    r.transport = net::Transport::kAborted;
    r.error = "the logger stopped during the backoff";
    return r;
  }

  // config.sender_nice: added to the sender threads' nice value (Linux: per thread; capped at 19), so that under
  // CPU contention inference runs first (docs/pipeline.md). Lowering a thread's priority needs no privilege.
  void LowerPriority() {
    if (config.sender_nice <= 0) return;
    const id_t tid = static_cast<id_t>(gettid());
    errno = 0;
    const int base = getpriority(PRIO_PROCESS, tid);
    if (errno != 0) return;
    const int target = std::min(19, base + config.sender_nice);
    if (setpriority(PRIO_PROCESS, tid, target) != 0) {
      LOG_WARN("payload logger: could not set the sender threads' nice value to {}: {}", target, std::strerror(errno));
    }
  }

  // Takes up to max_batch events (and about kMaxBatchBytes of bodies) from the queue; false: stopping, none left.
  // With fewer than a full batch queued (LingerTarget) it first waits up to config.batch_linger for more, so that
  // under load a worker wakes once per batch rather than once per event (each wake-up is a futex call on the data
  // path and a context switch); draining for Stop (`stopped`) takes what is there at once.
  bool Take(size_t max_batch, std::vector<Record>* batch) {
    MutexLock lock(mu);
    const size_t target = LingerTarget(max_batch);
    do {
      while (!stopping && queue.empty()) {
        ++waiting;
        cv.Wait(mu);
        --waiting;
        if (woken > 0) --woken;
      }
      if (queue.empty()) return false;  // stopping and nothing left
      if (!Full(target) && !stopped && config.batch_linger.count() > 0) {
        ++lingering;
        linger_cv.WaitFor(mu, config.batch_linger,
                          [this, target]() NO_THREAD_SAFETY_ANALYSIS { return stopped || Full(target); });
        --lingering;
      }
    } while (queue.empty());  // another worker took them meanwhile, or Stop dropped them: wait again
    queue.TakeFront(max_batch, kMaxBatchBytes, batch);
    depth.store(queue.size(), std::memory_order_relaxed);
    if (depth_metric) depth_metric->Set(static_cast<double>(queue.size()));
    ++busy;
    return true;
  }

  // The events a worker waits for before it takes a batch: its sender's batch, at most the queue's capacity.
  size_t LingerTarget(size_t max_batch) const { return std::min(max_batch, config.queue_capacity); }
  // A batch's worth is queued: `target` events or kMaxBatchBytes of bodies.
  bool Full(size_t target) const REQUIRES(mu) { return queue.size() >= target || queue.bytes() >= kMaxBatchBytes; }

  void Work() {
    // The threads' name (/proc/PID/task/*/comm): bench/logger_bench.sh reports their CPU per event apart.
    pthread_setname_np(pthread_self(), "inferd-logger");
    LowerPriority();
    std::unique_ptr<EventSender> sender = factory();
    const size_t max_batch = std::max<size_t>(1, sender->MaxBatch(config));
    {
      MutexLock lock(mu);
      linger_target = LingerTarget(max_batch);
    }
    std::vector<Record> batch;
    for (;;) {
      batch.clear();
      if (!Take(max_batch, &batch)) return;
      DeliverBatch(*sender, batch);
      MutexLock lock(mu);
      --busy;
      if (queue.empty() && busy == 0) idle_cv.SignalAll();
    }
  }

  SenderFactory factory;
};

PayloadLogger::PayloadLogger(LoggerConfig config, SenderFactory senders, prometheus::Registry* registry,
                             WallClock wall_ns)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->wall_ns = std::move(wall_ns);
  impl_->factory = std::move(senders);
  impl_->Register(registry);
  for (int i = 0; i < impl_->config.workers; ++i) impl_->workers.emplace_back([this] { impl_->Work(); });
}

PayloadLogger::~PayloadLogger() { Stop(std::chrono::milliseconds(0)); }

std::optional<PayloadLogger::Pending> PayloadLogger::OnRequest(
    std::string_view method, std::string_view target, const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view content_type, const std::string& body) {
  const std::string* ua = FindHeader(headers, "user-agent");
  if (IsUnlogged(method, target, ua ? std::string_view(*ua) : std::string_view())) return std::nullopt;
  const LoggerConfig& c = impl_->config;
  Pending p;
  const std::string* ce_id = FindHeader(headers, "ce-id");
  p.id = ce_id && !ce_id->empty() ? *ce_id : NewUuid();
  p.content_type = std::string(content_type);
  p.metadata = c.metadata_headers.empty() ? std::string("{}") : MetadataJson(headers, c.metadata_headers);
  if (LogsRequests(c.mode) && impl_->Room(EventType::kRequest, p.id)) {
    impl_->Enqueue(Record{EventType::kRequest, p.id, impl_->wall_ns(), p.content_type, p.metadata, body});
  }
  return p;
}

void PayloadLogger::OnResponse(Pending&& p, int status, const std::string& body) {
  if (status != 200 || !LogsResponses(impl_->config.mode) || !impl_->Room(EventType::kResponse, p.id)) return;
  impl_->Enqueue(Record{EventType::kResponse, std::move(p.id), impl_->wall_ns(), std::move(p.content_type),
                        std::move(p.metadata), body});
}

void PayloadLogger::Stop(std::chrono::milliseconds grace) {
  {
    MutexLock lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->linger_cv.SignalAll();  // drain now: no worker waits for a fuller batch
    impl_->idle_cv.WaitFor(impl_->mu, grace,
                           [this]() NO_THREAD_SAFETY_ANALYSIS { return impl_->queue.empty() && impl_->busy == 0; });
    impl_->stopping = true;
    const size_t left = impl_->queue.size();
    impl_->queue.Clear();
    impl_->depth.store(0, std::memory_order_relaxed);
    if (impl_->depth_metric) impl_->depth_metric->Set(0);
    impl_->cv.SignalAll();
    impl_->linger_cv.SignalAll();
    impl_->stop_cv.SignalAll();
    lock.Unlock();
    if (left > 0) {
      Impl::Count(impl_->dropped, impl_->dropped_metric, left);
      LOG_WARN("payload logger: stopping: dropped {} queued event(s) not sent within {} ms", left, grace.count());
    }
  }
  for (auto& t : impl_->workers) {
    if (t.joinable()) t.join();
  }
}

PayloadLogger::Counts PayloadLogger::counts() const {
  Counts c;
  c.sent = impl_->sent.load();
  c.failed = impl_->failed.load();
  c.dropped = impl_->dropped.load();
  c.retries = impl_->retries.load();
  MutexLock lock(impl_->mu);
  c.queued = impl_->queue.size();
  return c;
}

const LoggerConfig& PayloadLogger::config() const { return impl_->config; }

}  // namespace inferd::logger
