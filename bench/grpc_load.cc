// bench/grpc_load.cc: closed-loop load generator for the V2 gRPC ModelInfer RPC.
//
//   grpc_load --target HOST:PORT [--concurrency N] [--duration_s S] [--warmup_s W] [--model NAME]
//             [--threads T] [--raw]
// Keeps N ModelInfer calls in flight (split over T threads, each with its own connection and
// completion queue; T defaults to 1) for W seconds of warm-up and then S measured seconds, each call
// carrying one iris row as FP32 (typed contents, or raw_input_contents with --raw). The request is
// serialized once and sent through the generic stub, so the client spends its CPU on gRPC, not on
// protobuf. Prints one line:
//   calls_per_s=... p50_us=... p99_us=... errors=...
// Latencies and the rate cover calls that completed inside the measured window; errors count every
// failed call (the first error message goes to stderr). Exit status 1 when nothing succeeded.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "inference.grpc.pb.h"

namespace {

constexpr const char* kMethod = "/inference.GRPCInferenceService/ModelInfer";

struct Options {
  std::string target;
  int concurrency = 1;
  double duration_s = 10;
  double warmup_s = 1;
  std::string model = "iris";
  int threads = 1;
  bool raw = false;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "grpc_load: %s\nusage: grpc_load --target HOST:PORT [--concurrency N] [--duration_s S] "
               "[--warmup_s W] [--model NAME] [--threads T] [--raw]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--raw") {
      o.raw = true;
      continue;
    }
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--target") o.target = v;
    else if (a == "--concurrency") o.concurrency = std::atoi(v.c_str());
    else if (a == "--duration_s") o.duration_s = std::atof(v.c_str());
    else if (a == "--warmup_s") o.warmup_s = std::atof(v.c_str());
    else if (a == "--model") o.model = v;
    else if (a == "--threads") o.threads = std::atoi(v.c_str());
    else Usage(("unknown flag " + a).c_str());
  }
  if (o.target.empty()) Usage("--target is required");
  if (o.concurrency < 1 || o.threads < 1 || o.duration_s <= 0 || o.warmup_s < 0) Usage("bad numeric flag");
  o.threads = std::min(o.threads, o.concurrency);
  return o;
}

std::string SerializedRequest(const Options& o) {
  inference::ModelInferRequest req;
  req.set_model_name(o.model);
  auto* in = req.add_inputs();
  in->set_name("input-0");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(4);
  const float row[4] = {6.8f, 2.8f, 4.8f, 1.4f};
  if (o.raw) {
    req.add_raw_input_contents(std::string(reinterpret_cast<const char*>(row), sizeof row));
  } else {
    for (float v : row) in->mutable_contents()->add_fp32_contents(v);
  }
  return req.SerializeAsString();
}

struct Call {
  grpc::ClientContext ctx;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  int64_t start_ns = 0;
};

struct Shared {
  std::mutex mu;
  std::string first_error;
  std::atomic<int64_t> errors{0};
};

struct ThreadResult {
  std::vector<int64_t> latencies_ns;  // calls completed inside the measured window
  bool verified = false;
};

void RunThread(const Options& o, int slots, const std::string& request, int64_t measure_start, int64_t measure_end,
               Shared* shared, ThreadResult* result) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per thread
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::lock_guard<std::mutex> lock(shared->mu);
    if (shared->first_error.empty()) shared->first_error = "cannot connect to " + o.target;
    shared->errors += 1;
    return;
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  const grpc::ByteBuffer request_buffer(&slice, 1);
  result->latencies_ns.reserve(1 << 20);

  int inflight = 0;
  auto start = [&] {
    auto* c = new Call();
    c->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c->start_ns = NowNs();
    c->reader = stub.PrepareUnaryCall(&c->ctx, kMethod, request_buffer, &cq);
    c->reader->StartCall();
    c->reader->Finish(&c->response, &c->status, c);
    ++inflight;
  };
  for (int i = 0; i < slots; ++i) start();

  void* tag = nullptr;
  bool ok = false;
  while (inflight > 0 && cq.Next(&tag, &ok)) {
    auto* c = static_cast<Call*>(tag);
    --inflight;
    const int64_t now = NowNs();
    if (ok && c->status.ok()) {
      if (!result->verified) {
        result->verified = true;
        std::vector<grpc::Slice> parts;
        std::string bytes;
        if (c->response.Dump(&parts).ok()) {
          for (const auto& p : parts) bytes.append(reinterpret_cast<const char*>(p.begin()), p.size());
        }
        inference::ModelInferResponse parsed;
        if (!parsed.ParseFromString(bytes) || parsed.outputs_size() < 1) {
          std::lock_guard<std::mutex> lock(shared->mu);
          if (shared->first_error.empty()) shared->first_error = "the response does not look like ModelInfer's";
        }
      }
      if (now >= measure_start && now <= measure_end) result->latencies_ns.push_back(now - c->start_ns);
    } else {
      shared->errors += 1;
      std::lock_guard<std::mutex> lock(shared->mu);
      if (shared->first_error.empty()) {
        shared->first_error = ok ? std::to_string(c->status.error_code()) + ": " + c->status.error_message()
                                 : "completion queue reported failure";
      }
    }
    delete c;
    if (now < measure_end) start();
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) delete static_cast<Call*>(tag);
}

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  const std::string request = SerializedRequest(o);
  Shared shared;
  std::vector<ThreadResult> results(static_cast<size_t>(o.threads));
  const int64_t t0 = NowNs();
  const int64_t measure_start = t0 + static_cast<int64_t>(o.warmup_s * 1e9);
  const int64_t measure_end = measure_start + static_cast<int64_t>(o.duration_s * 1e9);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    int slots = o.concurrency / o.threads + (t < o.concurrency % o.threads ? 1 : 0);
    threads.emplace_back(RunThread, std::cref(o), slots, std::cref(request), measure_start, measure_end, &shared,
                         &results[static_cast<size_t>(t)]);
  }
  for (auto& th : threads) th.join();

  std::vector<int64_t> all;
  for (auto& r : results) all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
  std::sort(all.begin(), all.end());
  const double rate = static_cast<double>(all.size()) / o.duration_s;
  if (!shared.first_error.empty()) std::fprintf(stderr, "grpc_load: first error: %s\n", shared.first_error.c_str());
  std::printf("calls_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%lld\n", rate, Percentile(all, 0.50),
              Percentile(all, 0.99), static_cast<long long>(shared.errors.load()));
  return all.empty() ? 1 : 0;
}
