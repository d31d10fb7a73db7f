// core/status.h: the error type of inferd.
//
// Contract: every fallible function on a request path returns Status or StatusOr<T>; exceptions never
// cross a module boundary. A Status is a code plus a human-readable message that names the offending
// field or resource (e.g. "inputs[0].shape: ..."). Status is a small value type, cheap to move, and
// safe to use from any thread. The codes map onto HTTP status codes in core/http_status.h (HttpStatusFor)
// and onto gRPC status codes in the server module (grpc_server.cc).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace inferd {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // REST 400, gRPC INVALID_ARGUMENT
  kNotFound,           // REST 404, gRPC NOT_FOUND
  kUnavailable,        // REST 503, gRPC UNAVAILABLE (not ready, draining, queue full)
  kUnimplemented,      // REST 501, gRPC UNIMPLEMENTED
  kPayloadTooLarge,    // REST 413, gRPC RESOURCE_EXHAUSTED
  kAlreadyExists,      // REST 409, gRPC ALREADY_EXISTS
  kDeadlineExceeded,   // REST 504, gRPC DEADLINE_EXCEEDED
  kInternal,           // REST 500, gRPC INTERNAL (inference failed, bug)
  kConflict,           // REST 409, gRPC ABORTED (a write against a stale resourceVersion)
  kUnauthenticated,    // REST 401, gRPC UNAUTHENTICATED (missing or wrong bearer token)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>"; used to add the field path on the way up.
  Status WithPrefix(std::string_view prefix) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
inline Status Unimplemented(std::string m) { return Status(StatusCode::kUnimplemented, std::move(m)); }
inline Status PayloadTooLarge(std::string m) { return Status(StatusCode::kPayloadTooLarge, std::move(m)); }
inline Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(StatusCode::kAlreadyExists, std::move(m)); }
inline Status Conflict(std::string m) { return Status(StatusCode::kConflict, std::move(m)); }
inline Status Unauthenticated(std::string m) { return Status(StatusCode::kUnauthenticated, std::move(m)); }
inline Status DeadlineExceeded(std::string m) { return Status(StatusCode::kDeadlineExceeded, std::move(m)); }

// A value or the Status explaining why there is none. Constructing from an OK Status is a bug.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT
  StatusOr(T value) : v_(std::move(value)) {}                                               // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace inferd

#define INFERD_CONCAT_INNER(a, b) a##b
#define INFERD_CONCAT(a, b) INFERD_CONCAT_INNER(a, b)

// Returns from the current function when `expr` yields a non-OK Status.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::inferd::Status _st = (expr);             \
    if (!_st.ok()) return _st;                 \
  } while (0)

// `lhs = value of expr` or return its Status.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(INFERD_CONCAT(_sor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
