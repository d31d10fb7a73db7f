// Server-side batching (model/batcher.h) through Model::InferAsync, with an echo backend defined here
// that records every batch it executes and answers each row with that row, so splitting is checkable.
#include "model/batcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "model/model.h"

namespace inferd {
namespace {

using namespace std::chrono_literals;

// What the backend saw, shared with the test (it outlives the Model).
struct Stats {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int64_t, int64_t>> batches;  // (rows, columns) of each Execute
  int entered = 0;        // Execute calls started
  bool gate_open = true;  // Execute waits while false
  int64_t sleep_us = 0;

  void Close() {
    std::lock_guard<std::mutex> l(mu);
    gate_open = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu);
      gate_open = true;
    }
    cv.notify_all();
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, 10s, [&] { return entered >= n; });
  }
  std::vector<std::pair<int64_t, int64_t>> Batches() {
    std::lock_guard<std::mutex> l(mu);
    return batches;
  }
};

// Input "x" [-1,-1] of `dtype`. Outputs: "y" echoes x; "rows" (INT64 [-1]) gives, for each row, the
// number of rows of the Execute call it was part of. With `wrong_rows`, a batch of more than one row
// answers one row short.
class Echo : public Backend {
 public:
  Echo(std::shared_ptr<Stats> stats, DataType dtype = DataType::kFp32, bool wrong_rows = false)
      : stats_(std::move(stats)), wrong_rows_(wrong_rows) {
    md_.platform = "test";
    md_.inputs = {{"x", dtype, {-1, -1}}};
    md_.outputs = {{"y", dtype, {-1, -1}}, {"rows", DataType::kInt64, {-1}}};
  }
  const ModelMetadata& metadata() const override { return md_; }
  bool accepts_numeric_conversion() const override { return false; }

  Status Execute(std::span<const Tensor> in, std::span<const int> requested, std::vector<Tensor>* out) override {
    const int64_t rows = in[0].shape()[0];
    {
      std::unique_lock<std::mutex> l(stats_->mu);
      stats_->batches.emplace_back(rows, in[0].shape()[1]);
      ++stats_->entered;
      stats_->cv.notify_all();
      stats_->cv.wait(l, [&] { return stats_->gate_open; });
    }
    if (stats_->sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(stats_->sleep_us));
    for (int idx : requested) {
      if (idx == 0) {
        Tensor y("y", in[0].dtype(), in[0].shape());
        y.SetOwned(std::string(in[0].bytes()));
        if (wrong_rows_ && rows > 1) {
          Shape s = in[0].shape();
          s[0] = rows - 1;
          y.set_shape(s);
          y.SetOwned(std::string(in[0].bytes().substr(0, in[0].byte_size() / rows * (rows - 1))));
        }
        out->push_back(std::move(y));
      } else {
        Tensor r("rows", DataType::kInt64, {rows});
        auto* p = reinterpret_cast<int64_t*>(r.Allocate(static_cast<size_t>(rows) * 8));
        for (int64_t i = 0; i < rows; ++i) p[i] = rows;
        out->push_back(std::move(r));
      }
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<Stats> stats_;
  bool wrong_rows_;
  ModelMetadata md_;
};

ModelConfig Batching(int64_t max_batch_size, int64_t max_latency_us, int64_t instances = 1,
                     int64_t max_queue_size = 1024) {
  ModelConfig c;
  c.batching.max_batch_size = max_batch_size;
  c.batching.max_latency_us = max_latency_us;
  c.batching.instances = instances;
  c.batching.max_queue_size = max_queue_size;
  return c;
}

// The value of element (row, col) of client `client`'s request: every element of every request differs.
float Value(int client, int64_t row, int64_t col) { return static_cast<float>(client * 1000 + row * 10 + col); }

InferRequest Rows(int client, int64_t rows, int64_t cols = 2) {
  InferRequest req;
  Tensor x("x", DataType::kFp32, {rows, cols});
  auto* p = reinterpret_cast<float*>(x.Allocate(static_cast<size_t>(rows * cols) * 4));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) p[r * cols + c] = Value(client, r, c);
  req.inputs.push_back(std::move(x));
  return req;
}

// One asynchronous request: owns what InferAsync needs kept alive, and its outcome.
struct Call {
  InferRequest req;
  InferResponse resp;
  Status status;
  InferTiming timing;
  bool sync_error = false;
  std::promise<void> promise;
  std::future<void> finished = promise.get_future();

  void Wait() { ASSERT_EQ(finished.wait_for(20s), std::future_status::ready) << "request never completed"; }
};

std::shared_ptr<Call> Submit(Model& m, InferRequest req) {
  auto c = std::make_shared<Call>();
  c->req = std::move(req);
  Status st = m.InferAsync(&c->req, &c->resp, [c](Status s, const InferTiming& t) {
    c->status = std::move(s);
    c->timing = t;
    c->promise.set_value();
  });
  if (!st.ok()) {
    c->status = std::move(st);
    c->sync_error = true;
    c->promise.set_value();
  }
  return c;
}

// Checks that `c` answered exactly client `client`'s `rows` rows.
void ExpectOwnRows(Call& c, int client, int64_t rows, int64_t cols = 2) {
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  ASSERT_FALSE(c.resp.outputs.empty());
  const Tensor& y = c.resp.outputs[0];
  EXPECT_EQ(y.name(), "y");
  ASSERT_EQ(y.shape(), (Shape{rows, cols}));
  ASSERT_EQ(y.byte_size(), static_cast<size_t>(rows * cols) * 4);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t col = 0; col < cols; ++col)
      ASSERT_EQ(y.data<float>()[r * cols + col], Value(client, r, col)) << "client " << client << " row " << r;
}

int64_t BatchRowsSeen(const Call& c) {  // from the "rows" output
  return c.resp.outputs.at(1).data<int64_t>()[0];
}

TEST(Batcher, ConcurrentRequestsFormOneBatchAndEachGetsItsOwnRows) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(8, 10'000'000));  // 10 s: only "full" runs it
  ASSERT_TRUE(m.batching());
  // Requests of 1, 2, 2 and 3 rows from four threads: exactly 8 rows, so one full batch.
  const std::vector<int64_t> rows = {1, 2, 2, 3};
  std::vector<std::shared_ptr<Call>> calls(rows.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < rows.size(); ++i) {
    clients.emplace_back([&, i] { calls[i] = Submit(m, Rows(static_cast<int>(i), rows[i])); });
  }
  for (auto& t : clients) t.join();
  int executions = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    calls[i]->Wait();
    ExpectOwnRows(*calls[i], static_cast<int>(i), rows[i]);
    EXPECT_EQ(BatchRowsSeen(*calls[i]), 8);
    EXPECT_EQ(calls[i]->resp.outputs[1].shape(), (Shape{rows[i]}));
    executions += static_cast<int>(calls[i]->timing.executions);
    EXPECT_GT(calls[i]->timing.compute_ns, 0);
  }
  EXPECT_EQ(executions, 1);
  EXPECT_EQ(stats->Batches(), (std::vector<std::pair<int64_t, int64_t>>{{8, 2}}));
}

TEST(Batcher, ManyConcurrentClientsEachGetExactlyTheirRows) {
  auto stats = std::make_shared<Stats>();
  stats->sleep_us = 200;  // a model that takes a little time, so requests pile up behind it
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(8, 1000, /*instances=*/2));
  constexpr int kClients = 16, kPerClient = 25;
  std::atomic<int64_t> total_rows{0}, executions{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kPerClient; ++i) {
        int client = c * kPerClient + i;
        int64_t rows = 1 + (client % 3);
        auto call = Submit(m, Rows(client, rows));
        call->Wait();
        ExpectOwnRows(*call, client, rows);
        total_rows += rows;
        executions += call->timing.executions;
      }
    });
  }
  for (auto& t : clients) t.join();
  auto batches = stats->Batches();
  int64_t seen_rows = 0;
  for (auto [rows, cols] : batches) {
    EXPECT_LE(rows, 8);
    seen_rows += rows;
  }
  EXPECT_EQ(seen_rows, total_rows.load());
  EXPECT_EQ(executions.load(), static_cast<int64_t>(batches.size()));
  EXPECT_LT(batches.size(), static_cast<size_t>(kClients * kPerClient)) << "no request was ever batched";
}

TEST(Batcher, OversizeRequestRunsAlone) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(4, 10'000'000));
  auto big = Submit(m, Rows(7, 6));
  big->Wait();
  ExpectOwnRows(*big, 7, 6);
  EXPECT_EQ(stats->Batches(), (std::vector<std::pair<int64_t, int64_t>>{{6, 2}}));
}

TEST(Batcher, IncompatibleRequestsAreNotMixed) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(8, 50'000));
  // Two shapes ([1,2] and [1,3]) and, for [1,2], two different sets of requested outputs.
  std::vector<std::shared_ptr<Call>> calls;
  for (int i = 0; i < 6; ++i) {
    InferRequest req = Rows(i, 1, i % 3 == 1 ? 3 : 2);
    if (i % 3 == 2) req.outputs.push_back({"y", {}});
    calls.push_back(Submit(m, std::move(req)));
  }
  for (int i = 0; i < 6; ++i) {
    calls[static_cast<size_t>(i)]->Wait();
    ExpectOwnRows(*calls[static_cast<size_t>(i)], i, 1, i % 3 == 1 ? 3 : 2);
    EXPECT_EQ(calls[static_cast<size_t>(i)]->resp.outputs.size(), i % 3 == 2 ? 1u : 2u);
  }
  auto batches = stats->Batches();
  std::sort(batches.begin(), batches.end());
  EXPECT_EQ(batches, (std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {2, 2}, {2, 3}}));
}

TEST(Batcher, FullQueueIsUnavailableNamingTheLimit) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(1, 0, /*instances=*/1, /*max_queue_size=*/2));
  stats->Close();
  auto running = Submit(m, Rows(0, 1));
  stats->WaitEntered(1);  // the executor holds it; the queue is empty again
  auto q1 = Submit(m, Rows(1, 1));
  auto q2 = Submit(m, Rows(2, 1));
  auto refused = Submit(m, Rows(3, 1));
  refused->Wait();
  EXPECT_TRUE(refused->sync_error);
  EXPECT_EQ(refused->status.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused->status.message().find("max_queue_size 2"), std::string::npos) << refused->status.message();
  stats->Open();
  for (auto& [c, client] : {std::pair{running, 0}, {q1, 1}, {q2, 2}}) {
    c->Wait();
    ExpectOwnRows(*c, client, 1);
  }
  EXPECT_EQ(m.pending(), 0);
}

TEST(Batcher, LatencyBoundFlushesALoneRequest) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(8, 30'000));  // 30 ms
  auto t0 = std::chrono::steady_clock::now();
  auto lone = Submit(m, Rows(5, 1));
  lone->Wait();
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ExpectOwnRows(*lone, 5, 1);
  EXPECT_GE(elapsed, 29ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_GE(lone->timing.queue_ns, 29'000'000);
  EXPECT_EQ(lone->timing.executions, 1);
}

TEST(Batcher, MismatchedOutputRowsFailEveryCaller) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats, DataType::kFp32, /*wrong_rows=*/true), Batching(4, 10'000'000));
  std::vector<std::shared_ptr<Call>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(Submit(m, Rows(i, 1)));
  for (auto& c : calls) {
    c->Wait();
    EXPECT_EQ(c->status.code(), StatusCode::kInternal);
    EXPECT_NE(c->status.message().find("model 'echo': output 'y' has shape [3,2] for a batch of 4 rows"),
              std::string::npos)
        << c->status.message();
    EXPECT_TRUE(c->resp.outputs.empty());
  }
  EXPECT_EQ(stats->Batches().size(), 1u);
}

TEST(Batcher, BytesTensorsAreSplitByRows) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats, DataType::kBytes), Batching(3, 10'000'000));
  auto element = [](int client, int row, int col) {
    return "c" + std::to_string(client) + "r" + std::to_string(row) + "e" + std::string(static_cast<size_t>(col), 'x');
  };
  std::vector<std::shared_ptr<Call>> calls;
  for (int client = 0; client < 3; ++client) {
    InferRequest req;
    Tensor x("x", DataType::kBytes, {1, 2});
    std::string b;
    for (int col = 0; col < 2; ++col) AppendBytesElement(&b, element(client, 0, col));
    x.SetOwned(std::move(b));
    req.inputs.push_back(std::move(x));
    calls.push_back(Submit(m, std::move(req)));
  }
  for (int client = 0; client < 3; ++client) {
    Call& c = *calls[static_cast<size_t>(client)];
    c.Wait();
    ASSERT_TRUE(c.status.ok()) << c.status.ToString();
    std::vector<std::string> got;
    ForEachBytesElement(c.resp.outputs[0].bytes(), [&](std::string_view e) { got.emplace_back(e); });
    EXPECT_EQ(got, (std::vector<std::string>{element(client, 0, 0), element(client, 0, 1)}));
    EXPECT_EQ(c.resp.outputs[0].shape(), (Shape{1, 2}));
  }
  EXPECT_EQ(stats->Batches(), (std::vector<std::pair<int64_t, int64_t>>{{3, 2}}));
}

TEST(Batcher, InvalidInputIsRejectedBeforeQueueing) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats), Batching(8, 1000));
  InferRequest req = Rows(0, 1);
  req.inputs[0].set_dtype(DataType::kInt32);
  auto c = Submit(m, std::move(req));
  c->Wait();
  EXPECT_TRUE(c->sync_error);
  EXPECT_EQ(c->status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c->status.message().find("datatype"), std::string::npos) << c->status.message();
  EXPECT_TRUE(stats->Batches().empty());
}

TEST(Batcher, DestroyingTheModelDrainsTheQueue) {
  auto stats = std::make_shared<Stats>();
  auto m = std::make_unique<Model>("echo", "1", std::make_unique<Echo>(stats), Batching(2, 10'000'000));
  stats->Close();
  auto a = Submit(*m, Rows(0, 1));
  auto b = Submit(*m, Rows(1, 1));  // a+b fill a batch, which blocks in the backend
  stats->WaitEntered(1);
  auto c = Submit(*m, Rows(2, 1));  // queued alone: would wait 10 s for company
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    stats->Open();
  });
  auto t0 = std::chrono::steady_clock::now();
  m.reset();  // returns only when every queued request was executed and answered
  auto elapsed = std::chrono::steady_clock::now() - t0;
  opener.join();
  for (auto& [call, client] : {std::pair{a, 0}, {b, 1}, {c, 2}}) {
    ASSERT_EQ(call->finished.wait_for(0s), std::future_status::ready);
    ExpectOwnRows(*call, client, 1);
  }
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(stats->Batches(), (std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {1, 2}}));
}

TEST(Batcher, NonBatchableInputsRunOneAtATime) {
  // A model whose input has a fixed first dimension cannot concatenate: requests still queue.
  class Fixed : public Echo {
   public:
    explicit Fixed(std::shared_ptr<Stats> s) : Echo(std::move(s)) {
      md2_ = Echo::metadata();
      md2_.inputs[0].shape = {1, 2};
    }
    const ModelMetadata& metadata() const override { return md2_; }

   private:
    ModelMetadata md2_;
  };
  auto stats = std::make_shared<Stats>();
  Model m("fixed", "1", std::make_unique<Fixed>(stats), Batching(8, 10'000'000));
  EXPECT_TRUE(m.batching());
  EXPECT_EQ(m.batching_config().max_batch_size, 1);
  std::vector<std::shared_ptr<Call>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(Submit(m, Rows(i, 1)));
  for (int i = 0; i < 3; ++i) {
    calls[static_cast<size_t>(i)]->Wait();
    ExpectOwnRows(*calls[static_cast<size_t>(i)], i, 1);
  }
  EXPECT_EQ(stats->Batches().size(), 3u);
}

TEST(Batcher, OffByDefaultAndInferStaysInline) {
  auto stats = std::make_shared<Stats>();
  Model m("echo", "1", std::make_unique<Echo>(stats));
  EXPECT_FALSE(m.batching());
  InferRequest req = Rows(0, 2);
  InferResponse resp;
  ASSERT_TRUE(m.Infer(req, &resp).ok());
  EXPECT_EQ(resp.outputs[0].data<float>()[2], Value(0, 1, 0));
  // InferAsync without batching completes inline.
  auto c = Submit(m, Rows(1, 1));
  ASSERT_EQ(c->finished.wait_for(0s), std::future_status::ready);
  ExpectOwnRows(*c, 1, 1);
}

}  // namespace
}  // namespace inferd
