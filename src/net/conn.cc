#include "net/conn.h"

#include "core/clock.h"
#include "core/logging.h"

namespace inferd::net {

namespace {
constexpr int64_t kExpiredLogIntervalNs = 10'000'000'000;
}

LoopConns::LoopConns(boost::asio::io_context& ctx, std::string name, const Timeouts& timeouts,
                     std::shared_ptr<ConnGate> gate, std::shared_ptr<BodyBudget> budget)
    : name_(std::move(name)),
      timeouts_(timeouts),
      gate_(std::move(gate)),
      budget_(std::move(budget)),
      credit_(budget_.get()),
      timer_(ctx),
      now_ns_(NowNs()),
      expired_log_(kExpiredLogIntervalNs) {}

LoopConns::~LoopConns() {
  // Connections outliving the loop's bookkeeping (their handlers die with the io_context): detach them.
  for (TrackedConn* c = head_; c != nullptr;) {
    TrackedConn* next = c->next_;
    if (c->reserved_ != 0) credit_.Release(c->reserved_);
    c->reserved_ = 0;
    gate_->Leave();
    c->loop_ = nullptr;
    c->prev_ = c->next_ = nullptr;
    c = next;
  }
  head_ = nullptr;
  count_ = 0;
}

void LoopConns::Add(TrackedConn* c) {
  if (!armed_) now_ns_ = NowNs();  // the clock is only kept while the sweep runs
  c->next_ = head_;
  if (head_) head_->prev_ = c;
  head_ = c;
  ++count_;
  if (!armed_) Arm();
}

void LoopConns::Remove(TrackedConn* c) {
  if (c->prev_) {
    c->prev_->next_ = c->next_;
  } else {
    head_ = c->next_;
  }
  if (c->next_) c->next_->prev_ = c->prev_;
  --count_;
  gate_->Leave();
}

void LoopConns::Arm() {
  armed_ = true;
  timer_.expires_after(std::chrono::milliseconds(kSweepMs));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      armed_ = false;
      return;
    }
    Sweep();
  });
}

void LoopConns::Sweep() {
  now_ns_ = NowNs();
  bool any_expired = false;
  for (TrackedConn* c = head_; c != nullptr;) {
    TrackedConn* next = c->next_;  // OnExpired only closes a socket (the session ends in a later handler)
    if (PastDeadline(c->phase_, c->since_ns_, now_ns_, timeouts_)) {
      Phase was = c->phase_;
      c->phase_ = Phase::kDone;
      ++expired_[static_cast<int>(was)];
      any_expired = any_expired || (was != Phase::kIdle && was != Phase::kLinger);
      c->OnExpired(was);
    }
    c = next;
  }
  uint64_t suppressed = 0;
  if (any_expired && expired_log_.Allow(now_ns_, &suppressed)) {
    auto n = [&](Phase p) { return expired_[static_cast<int>(p)]; };
    LOG_WARN("{}: closed slow clients past their deadlines: {} in the request head, {} in the body, {} not "
             "reading the answer ({} keep-alive idle); {} open on this loop",
             name_, n(Phase::kHead), n(Phase::kBody), n(Phase::kSend), n(Phase::kIdle), count_);
    for (auto& e : expired_) e = 0;
  }
  armed_ = false;
  if (count_ != 0) Arm();
}

TrackedConn::TrackedConn(LoopConns* loop) : loop_(loop) {
  loop_->Add(this);
  since_ns_ = loop_->now_ns_;
}

TrackedConn::~TrackedConn() {
  if (loop_ == nullptr) return;
  ReleaseBody();
  loop_->Remove(this);
}

bool TrackedConn::ReserveBody(uint64_t n) {
  if (loop_ == nullptr || n == 0) return true;
  if (!loop_->credit_.Reserve(n)) return false;
  reserved_ += n;
  return true;
}

bool TrackedConn::ReserveGrowth(uint64_t total) {
  if (total <= reserved_) return true;
  return ReserveBody(total - reserved_ + kGrowthStep);
}

void TrackedConn::ReleaseBody() {
  if (loop_ == nullptr || reserved_ == 0) return;
  loop_->credit_.Release(reserved_);
  reserved_ = 0;
}

}  // namespace inferd::net
