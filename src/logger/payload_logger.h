// logger/payload_logger.h: the model server's payload logger: each REST request and its response become
// CloudEvents (binary mode, logger/event.h) POSTed to a sink URL, off the data path.
//
// Contract:
// - Data path (any thread, never waits for the sink): OnRequest decides whether the request is logged
//   (logger/event.h IsUnlogged), fixes its id (the request's Ce-Id header, else a new UUID), its arrival time
//   and its metadata, and queues the request event (modes all, request). It returns the Pending that
//   OnResponse needs; OnResponse queues the response event (modes all, response) only for status 200, as
//   KServe's agent. Each queued event copies its body (the request's body goes on to the model, the
//   response's to the client); the cost is one copy and one mutex push per event, plus a condition signal
//   only on a transition: an idle worker for the first event, a lingering worker (below) when a batch's worth
//   is queued (a busy worker takes the event with its next batch: no wake-up per event).
// - Bounds: at most config.queue_capacity events wait; one more is dropped (never blocks), counted as
//   inferd_logger_events_total{result="dropped"} and logged (rate-limited: one line per 10 s with the count
//   held back). config.workers threads send, each with its own EventSender (so one kept connection each),
//   taking up to the sender's MaxBatch events (and about 1 MiB of bodies) from the queue at once; with less than
//   that queued (and the queue's capacity not reached) a worker first waits up to config.batch_linger for more,
//   so that under load it wakes and writes once per batch (Stop drains without that wait). Each send is
//   bounded by config.timeout_s; the events of a batch that failed are retried by logger/event.h NextStep
//   (after the longest backoff among them, on the worker); an event given up is counted as result="failed"
//   and logged (rate-limited). Delivered events count result="sent"; retries inferd_logger_retries_total; the
//   queue's length is the gauge inferd_logger_queue_depth (set as a worker takes a batch and every 64th event
//   queued: a sample, not exact between batches). Events within one worker go out in queue order
//   (a retried event goes after the rest of its batch); with several workers a response may reach the sink
//   before its request (the sink pairs them by Ce-Id). config.sender_nice > 0 lowers the workers' CPU
//   priority (setpriority on each thread): inference first, the logger gets what is left and drops (counted).
//   The worker threads are named inferd-logger.
// - Stop(grace): no more events are accepted; the workers send what is queued for at most `grace`, then the
//   rest is dropped (counted) and the workers are joined (a batch in progress ends by its timeout). The
//   destructor calls Stop(0). Callers stop the front ends first (OnRequest/OnResponse after Stop only count
//   drops).
// - Metrics go to the given prometheus registry (the model server's /metrics); null: counted only for
//   counts(). Time: `wall_ns` (Unix nanoseconds, injected for tests) stamps Ce-Time and Ce-Recordedtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logger/event.h"
#include "net/http_client.h"

namespace prometheus {
class Registry;
}

namespace inferd::logger {

// The effect: POSTs of events to the sink (blocking; used by one worker thread at a time). SendBatch gets the
// events a worker took from the queue (at most MaxBatch), in queue order, and answers one result per event (results[i] for
// events[i]; kOk with the status when the sink answered it); a sender may pipeline them on one connection.
// The default sends them one at a time through Send, with logger/event.h EventHeaders.
struct OutgoingEvent {
  const Record* record;
  int64_t recorded_unix_ns;  // Ce-Recordedtime (logger/event.h EventHeaders)
};
class EventSender {
 public:
  virtual ~EventSender() = default;
  virtual net::ClientResult Send(const LoggerConfig& config, const std::vector<std::string>& headers,
                                 std::string_view body) = 0;
  virtual void SendBatch(const LoggerConfig& config, std::span<const OutgoingEvent> events,
                         std::vector<net::ClientResult>* results);
  // How many events a worker hands to SendBatch at once: 1 unless the sender gains from more (pipelining).
  // A batch taken from the queue is in flight: Stop's grace does not drop it (a send ends by its timeout).
  virtual size_t MaxBatch(const LoggerConfig& config) { return 1; }
};
using SenderFactory = std::function<std::unique_ptr<EventSender>()>;

// http:// sinks: logger/pipelined_sender.h (one kept TCP connection, HTTP/1.1 pipelining). https:// sinks and
// URLs with user:password@: libcurl (net/http_client.h, a ConnectionShare per sender), one event per round trip.
// The choice is made on the first send, from config.url.
std::unique_ptr<EventSender> NewHttpSender();

using WallClock = std::function<int64_t()>;  // Unix time in nanoseconds
int64_t WallNowNs();

class PayloadLogger {
 public:
  // `config` must have passed ValidateConfig.
  PayloadLogger(LoggerConfig config, SenderFactory senders, prometheus::Registry* registry,
                WallClock wall_ns = WallNowNs);
  ~PayloadLogger();
  PayloadLogger(const PayloadLogger&) = delete;
  PayloadLogger& operator=(const PayloadLogger&) = delete;

  struct Pending {
    std::string id;
    std::string content_type;
    std::string metadata;
  };
  // `headers`: the request's, names lower case. nullopt: the request is not logged (nor its response).
  std::optional<Pending> OnRequest(std::string_view method, std::string_view target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view content_type, const std::string& body);
  void OnResponse(Pending&& pending, int status, const std::string& body);

  void Stop(std::chrono::milliseconds grace);

  struct Counts {
    uint64_t sent = 0, failed = 0, dropped = 0, retries = 0;
    size_t queued = 0;
  };
  Counts counts() const;
  const LoggerConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::logger
