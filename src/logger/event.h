// logger/event.h: the pure parts of the payload logger (KServe's agent logger, reference/pipeline.md §3):
// its configuration, which requests are logged, the CloudEvent (binary mode) built for a request or a
// response, the retry decision after a send, and the gate that rate-limits its log lines.
//
// Contract (pure functions of explicit inputs: times are passed in, no I/O; any thread):
// - A Record is what the data path hands to the logger: the event's type, the id the request and its
//   response share (the request's Ce-Id header, else a new UUID), the time of the request's arrival or the
//   response's completion, the request's Content-Type (KServe gives both events the request's) and the
//   raw payload. Its metadata is the JSON map of matched headers (MetadataJson), "{}" when none.
// - EventHeaders gives the "Name: value" lines of a binary-mode CloudEvent, in KServe's names: Ce-Specversion
//   1.0, Ce-Id, Ce-Type org.kubeflow.serving.inference.request|response, Ce-Source, Ce-Time (RFC 3339 with
//   nanoseconds, UTC), Ce-Recordedtime (when the event was built), Ce-Inferenceservicename, Ce-Namespace,
//   Ce-Component, Ce-Endpoint (possibly empty, as KServe), Ce-Metadata, Ce-Annotations (only with
//   config.annotations: a JSON object, keys sorted, as Go's encoding/json writes KServe's map), Content-Type.
//   Header values are cleaned of CR/LF (a client's header cannot inject a header into the sink's request).
//   EventHeaders writes them in libcurl's conventions; EventHeadLines as request header lines.
// - MetadataJson matches header names case-insensitively (HTTP names are; KServe compares Go-canonical
//   names) and keys the map by the name as configured; each value list keeps the request's order.
// - IsUnlogged: kubelet probes (User-Agent kube-probe/..., KServe's rule), inferd's supervisor probes
//   (User-Agent inferd-supervisor: the same role under `inferd serve`) and GET /metrics scrapes (KServe
//   scrapes another port) are not logged; every other REST request is, as KServe's agent logs everything.
// - NextStep: after attempt n (1-based) of a send, deliver (2xx), retry after ExponentialBackoff(n-1,
//   initial, max) (no answer, 408, 429, 5xx, while n < max_attempts) or give up (any other status, a URL curl
//   refuses, or the attempts are spent). KServe retries nothing; see docs/pipeline.md.
// - LogGate::Allow lets one line through per interval and counts the ones it held back.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "net/http_client.h"

namespace inferd::logger {

enum class LogMode { kAll, kRequest, kResponse };

// "all", "request" or "response"; anything else is KServe's "invalid logger type".
StatusOr<LogMode> ParseLogMode(std::string_view s);
std::string_view LogModeName(LogMode m);
inline bool LogsRequests(LogMode m) { return m != LogMode::kResponse; }
inline bool LogsResponses(LogMode m) { return m != LogMode::kRequest; }

// KServe's logger configmap default, used when an InferenceService's logger has no url (docs/pipeline.md).
inline constexpr std::string_view kDefaultSinkUrl = "http://default-broker";
// KServe's agent's --source-uri fallback (the pod name is normally empty there; reference/pipeline.md §3).
inline constexpr std::string_view kDefaultSource = "http://localhost:9081/";

struct RetryPolicy {
  int max_attempts = 3;  // sends per event, the first included (1 = no retry)
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{2000};
};

struct LoggerConfig {
  std::string url;  // empty: the logger is off
  LogMode mode = LogMode::kAll;
  std::vector<std::string> metadata_headers;
  // The event attributes of KServe's agent flags.
  std::string source_uri = std::string(kDefaultSource);
  std::string inference_service, ns, component, endpoint;
  // "key=value" pairs sent as Ce-Annotations (KServe's --metadata-annotations: the service's annotations named
  // in logger.metadataAnnotations); none: no Ce-Annotations header, as KServe.
  std::vector<std::string> annotations;
  // Delivery (inferd's; KServe has a 100-event channel, 5 workers, no timeout, no retry).
  size_t queue_capacity = 1024;  // events waiting per replica; one more is dropped and counted
  int workers = 1;               // sender threads (each its own connection; http sinks pipeline on it)
  // Added to the sender threads' nice value (0..19, the sum capped at 19; 0 = the server's own priority). Above
  // 0, inference threads win the CPU when it is short and the logger drops (counted) what it cannot send:
  // docs/pipeline.md.
  int sender_nice = 0;
  // With less than a batch queued (the sender's MaxBatch, e.g. 64 pipelined events), a worker waits up to this long
  // for more before it sends: under load one wake-up and one write per batch instead of per event, at the price of
  // at most this delay to the sink (0 = send what is queued at once; Stop drains without waiting).
  std::chrono::milliseconds batch_linger{2};
  long timeout_s = 5;            // per send (connect included)
  RetryPolicy retry;
  bool tls_verify = true;
  std::string ca_file;  // https sinks: a CA bundle instead of the system's
  bool enabled() const { return !url.empty(); }
};

// Checks the delivery bounds and the URL. The message names the flag.
Status ValidateConfig(const LoggerConfig& c);

enum class EventType { kRequest, kResponse };

// The texts live in one buffer: one allocation per event on the data path and one block for the sender to read
// (perf: the four strings of the former struct were a third of the data path's allocations, freed on the sender
// thread, and the sender's reads of them missed the cache one string at a time).
struct Record {
  Record() = default;
  Record(EventType type, std::string_view id, int64_t time_unix_ns, std::string_view content_type,
         std::string_view metadata, std::string_view body);

  EventType type = EventType::kRequest;
  int64_t time_unix_ns = 0;
  std::string_view id() const { return std::string_view(data_).substr(0, id_size_); }
  std::string_view content_type() const { return std::string_view(data_).substr(id_size_, content_type_size_); }
  std::string_view metadata() const {  // JSON object text
    return std::string_view(data_).substr(id_size_ + content_type_size_, metadata_size_);
  }
  std::string_view body() const {
    return std::string_view(data_).substr(id_size_ + content_type_size_ + metadata_size_);
  }

 private:
  std::string data_;  // id, content type, metadata, body
  size_t id_size_ = 0, content_type_size_ = 0, metadata_size_ = 0;
};

// `headers`: the request's, names lower case.
std::string MetadataJson(const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::vector<std::string>& names);

// {"k":"v",...} of "k=v" pairs, keys sorted ("" when there are none).
std::string AnnotationsJson(const std::vector<std::string>& pairs);

bool IsUnlogged(std::string_view method, std::string_view target, std::string_view user_agent);

// RFC 3339 UTC with nanoseconds: 2026-12-07T05:01:02.123456789Z.
std::string Rfc3339Nano(int64_t unix_ns);
// The same into `out` (no allocation); returns its length.
size_t FormatRfc3339Nano(int64_t unix_ns, char (&out)[48]);

std::vector<std::string> EventHeaders(const Record& r, const LoggerConfig& c, int64_t recorded_unix_ns);

// The same headers as HTTP/1.1 header lines "Name: value\r\n" (an empty value sent empty, no Content-Type line when
// the record has none, values cleaned of CR/LF/NUL), for a sender that writes its own requests. Built once per
// config: the config's constant lines (Ce-Source, the service's names, Ce-Annotations) are formatted here, so that
// Append writes only the event's own values between them (the list and its order are EventHeaders'). Immutable
// after construction (any thread). `recorded_time` is Rfc3339Nano of the Ce-Recordedtime (one per batch).
class EventHeadLines {
 public:
  explicit EventHeadLines(const LoggerConfig& c);
  void Append(const Record& r, std::string_view recorded_time, std::string* out) const;
  // True when `c` gives the same lines as the config this was built from.
  bool Matches(const LoggerConfig& c) const;

 private:
  LoggerConfig built_from_;  // its header fields only (source, the service's names, annotations)
  enum class Slot : unsigned char { kText, kId, kType, kTime, kRecorded, kMetadata, kContentType };
  struct Piece {
    Slot slot;
    std::string text;  // kText: whole lines; else the header's "Name: "
  };
  std::vector<Piece> pieces_;
};

enum class Step { kDelivered, kRetry, kGiveUp };
struct Decision {
  Step step = Step::kGiveUp;
  std::chrono::milliseconds delay{0};  // before the retry
};
Decision NextStep(const net::ClientResult& result, int attempt, const RetryPolicy& policy);

struct LogGate {
  int64_t next_ns = 0;
  uint64_t held = 0;  // lines held back since the last one let through
  // True when a line may be written now; *held_out gets the lines held back before it.
  bool Allow(int64_t now_ns, int64_t interval_ns, uint64_t* held_out);
};

}  // namespace inferd::logger
