// webui/sessions.cc: the web app's session table (see sessions.h for the contract).
#include "webui/sessions.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>

#include "resources/secrets.h"

namespace inferd::webui {

void SessionTable::DropExpired(int64_t now_ms) {
  std::erase_if(sessions_, [&](const auto& kv) { return now_ms - kv.second.last_used_ms >= limits_.idle_ms; });
}

void SessionTable::Add(std::string key, std::string csrf, int64_t now_ms) {
  DropExpired(now_ms);
  while (!sessions_.empty() && sessions_.size() >= limits_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used_ms < b.second.last_used_ms;
    });
    sessions_.erase(oldest);
  }
  if (limits_.max_sessions == 0) return;
  sessions_[std::move(key)] = Entry{std::move(csrf), now_ms};
}

std::optional<std::string> SessionTable::Find(std::string_view key, int64_t now_ms) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (now_ms - it->second.last_used_ms >= limits_.idle_ms) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used_ms = std::max(it->second.last_used_ms, now_ms);
  return it->second.csrf;
}

void SessionTable::Remove(std::string_view key) {
  if (auto it = sessions_.find(key); it != sessions_.end()) sessions_.erase(it);
}

bool SessionTable::LoginAllowed(int64_t now_ms) {
  while (!failures_.empty() && now_ms - failures_.front() >= limits_.failure_window_ms) failures_.pop_front();
  return failures_.size() < static_cast<size_t>(std::max(0, limits_.max_failures));
}

void SessionTable::RecordFailure(int64_t now_ms) {
  failures_.push_back(now_ms);
  while (failures_.size() > static_cast<size_t>(std::max(1, limits_.max_failures))) failures_.pop_front();
}

namespace {

// The table's key for a session id: its SHA-256 (sessions.h).
std::string Digest(std::string_view id) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(id.data(), id.size(), md, &n, EVP_sha256(), nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(md), n);
}

}  // namespace

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};  // the caller treats "" as a failure
  std::string s = resources::Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

Sessions::Sessions(SessionLimits limits, std::function<int64_t()> now_ms)
    : now_ms_(std::move(now_ms)), table_(limits) {}

int64_t Sessions::Now() const {
  if (now_ms_) return now_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

NewSession Sessions::Create() {
  NewSession s{RandomToken(), RandomToken()};
  if (s.id.empty() || s.csrf.empty()) return {};
  const int64_t now = Now();
  MutexLock lock(mu_);
  table_.Add(Digest(s.id), s.csrf, now);
  return s;
}

std::optional<std::string> Sessions::Csrf(std::string_view id) {
  if (id.empty()) return std::nullopt;
  std::string key = Digest(id);
  const int64_t now = Now();
  MutexLock lock(mu_);
  return table_.Find(key, now);
}

void Sessions::Remove(std::string_view id) {
  std::string key = Digest(id);
  MutexLock lock(mu_);
  table_.Remove(key);
}

bool Sessions::LoginAllowed() {
  const int64_t now = Now();
  MutexLock lock(mu_);
  return table_.LoginAllowed(now);
}

void Sessions::RecordFailure() {
  const int64_t now = Now();
  MutexLock lock(mu_);
  table_.RecordFailure(now);
}

}  // namespace inferd::webui
