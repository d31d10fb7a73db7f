// webui/sessions.h: the web app's login sessions (docs/webapp.md, "Sessions").
//
// Contract:
// - SessionTable is the pure part (no clock, no randomness, no lock: times and ids are passed in). It holds at
//   most `max_sessions` sessions; adding one more evicts the one used least recently. A session not used for
//   `idle_ms` is gone (Find answers nullopt and forgets it). Each session has a CSRF token, given at creation.
// - Failed logins are rate-limited per process: once `max_failures` failures fall within the last
//   `failure_window_ms`, LoginAllowed is false until the oldest of them leaves the window (the caller answers
//   429 without checking the token). The failure log is bounded by max_failures.
// - Sessions is the thread-safe wrapper `inferd serve` uses: it draws ids and CSRF tokens from OpenSSL's
//   CSPRNG (256 bits, base64url), reads the steady clock, and keys the table by the SHA-256 of the id, so a
//   lookup compares digests (timing tells nothing about a live id) and memory holds no cookie value.
// - Sessions live in memory: a restart logs everyone out.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace inferd::webui {

struct SessionLimits {
  size_t max_sessions = 1024;
  int64_t idle_ms = 12LL * 3600 * 1000;
  int max_failures = 10;
  int64_t failure_window_ms = 60'000;
};

class SessionTable {
 public:
  explicit SessionTable(SessionLimits limits = {}) : limits_(limits) {}

  void Add(std::string key, std::string csrf, int64_t now_ms);
  // The session's CSRF token, refreshing its last use; nullopt when unknown or idle too long (then forgotten).
  std::optional<std::string> Find(std::string_view key, int64_t now_ms);
  void Remove(std::string_view key);
  size_t size() const { return sessions_.size(); }

  bool LoginAllowed(int64_t now_ms);
  void RecordFailure(int64_t now_ms);

 private:
  struct Entry {
    std::string csrf;
    int64_t last_used_ms;
  };
  void DropExpired(int64_t now_ms);
  SessionLimits limits_;
  std::map<std::string, Entry, std::less<>> sessions_;
  std::deque<int64_t> failures_;
};

// A new session as the browser gets it.
struct NewSession {
  std::string id;    // the cookie's value
  std::string csrf;  // the X-CSRF-Token the page sends on writes
};

class Sessions {
 public:
  explicit Sessions(SessionLimits limits = {}, std::function<int64_t()> now_ms = nullptr);
  NewSession Create();
  std::optional<std::string> Csrf(std::string_view id);
  void Remove(std::string_view id);
  bool LoginAllowed();
  void RecordFailure();

 private:
  int64_t Now() const;
  std::function<int64_t()> now_ms_;
  Mutex mu_;
  SessionTable table_ GUARDED_BY(mu_);
};

// 32 random bytes from OpenSSL's CSPRNG as unpadded base64url (43 characters).
std::string RandomToken();

}  // namespace inferd::webui
