// server/server_state.h: process-wide liveness/readiness/drain state shared by the front ends.
//
// Contract: plain atomics, read and written from any thread. `draining` flips once (SIGTERM); after
// that the front ends refuse new work with 503/UNAVAILABLE and the drain waits for `inflight` to reach
// zero (bounded by ServerOptions::drain_timeout_ms).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "net/limits.h"

namespace inferd {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int http_port = 8080;  // 0 picks a free port
  int grpc_port = 8081;  // 0 picks a free port
  // Non-empty: REST is also served on a Unix stream socket at this path (a stale file there is unlinked
  // first; mode 0600; removed at shutdown). `inferd serve`'s gateway reaches its replicas through it.
  std::string uds_path;
  // >= 0: this process is a copy of `--processes N` (cli/worker_processes.h): it binds no port; its
  // connections arrive over this channel (net/conn_handoff.h) from the first process, which it tells when it
  // serves.
  int handoff_fd = -1;
  bool enable_grpc = true;
  int workers = 0;       // HTTP event-loop threads; 0 = number of cores
  int max_threads = 0;   // threads for model loads and slow work; 0 = number of cores
  int grpc_max_send_message_length = 8388608;
  int grpc_max_receive_message_length = 8388608;
  size_t max_request_bytes = 64 * 1024 * 1024;  // REST body limit (413 above it)
  net::Limits limits;  // REST connections: timeouts, connection cap, body bytes in flight (net/limits.h)
  int drain_timeout_ms = 30000;                 // SIGTERM: how long in-flight requests may take
  // --reload_timeout: how long a request to a model the memory budget evicted waits for its reload
  // (model/repository.h WaitForReload) before 503/UNAVAILABLE.
  int reload_timeout_ms = 60000;
  // TF Serving's --rest_api_timeout_in_ms: how long a model run for a REST :predict answered in a framework's own
  // dialect (model/native_rest.h: TF Serving's) may take before it stops with 504 (0 = no limit).
  int64_t rest_api_timeout_ms = 0;
  // Non-empty: the repository API's mutating verbs (load, unload; REST and gRPC) require
  // `Authorization: Bearer <token>`. Index, inference and health stay open.
  std::string repository_token;
  // Every request header is copied into RestRequest::headers (for models that take bodies whole and see
  // headers, server/v1_passthrough.h); off by default, so the tensor path copies nothing more.
  bool collect_headers = false;
  std::string server_name = "inferd";
  std::string server_version = "0.1.0";
};

struct ServerState {
  std::atomic<bool> draining{false};
  std::atomic<int64_t> inflight{0};
  // Requests accepted by a model's batcher and not yet completed (their completion runs on a batcher
  // thread and uses the front ends); ModelServer waits for zero before tearing the front ends down.
  std::atomic<int64_t> batched{0};
  // One more condition of server readiness (V2 /v2/health/ready, gRPC ServerReady), or null: a transformer's
  // predictor with --enable_predictor_health_check (KServe's dataplane). Set before the front ends start;
  // it may wait on the network (bounded by the predictor timeout), on probes only.
  std::function<bool()> dependency_ready;
};

// RAII count of one batched request (ServerState::batched); `s` may be null.
class BatchedGuard {
 public:
  explicit BatchedGuard(ServerState* s) : s_(s) {
    if (s_) s_->batched.fetch_add(1, std::memory_order_relaxed);
  }
  ~BatchedGuard() {
    if (s_) s_->batched.fetch_sub(1, std::memory_order_release);
  }
  BatchedGuard(const BatchedGuard&) = delete;
  BatchedGuard& operator=(const BatchedGuard&) = delete;

 private:
  ServerState* s_;
};

// RAII count of one in-flight request.
class InflightGuard {
 public:
  explicit InflightGuard(ServerState* s) : s_(s) { s_->inflight.fetch_add(1, std::memory_order_relaxed); }
  ~InflightGuard() { s_->inflight.fetch_sub(1, std::memory_order_relaxed); }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;

 private:
  ServerState* s_;
};

}  // namespace inferd
