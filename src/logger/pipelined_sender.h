// logger/pipelined_sender.h: the payload logger's sender for plain http:// sinks: one kept TCP connection and
// HTTP/1.1 pipelining, so that a batch of N events costs a few syscalls instead of N blocking round trips.
//
// Contract (an EventSender: used by one thread at a time):
// - SendBatch writes up to kMaxPipeline events at a time back to back as POST requests (the URL's path and query,
//   Host, User-Agent inferd-logger, the event's header lines, Content-Length, the body) with one sendmsg of
//   head/body pieces, and reads their responses in order (Boost.Beast's basic_parser; bodies up to 64 KiB are
//   read and discarded). It keeps writing and reading at once, so a sink that answers before it has read the
//   whole batch cannot deadlock it. results[i] is kOk with the status of events[i]'s response, or kFailed with
//   the reason (no connection, closed, timed out, malformed answer): those go to the logger's retry rules.
// - The heads carry logger/event.h EventHeadLines (the same headers as EventHeaders gives libcurl).
//   Send (prepared header lines) is not supported: it answers kBadRequest; the logger calls only SendBatch.
// - A response with `Connection: close` (or HTTP/1.0 without keep-alive) ends the connection: the events after it
//   were not processed by the sink (RFC 9112 §9.6) and are sent again on a new connection, without an attempt
//   counted. A connection that closes or resets before all answers came, after at least one answer, counts the
//   unanswered events as failed. Either case turns pipelining off for this sender (a sink that closes or does not
//   pipeline): from then on one event per round trip, still on a kept connection when the sink keeps it.
// - A kept connection that the sink closed while idle (EOF or reset before any byte of the first answer) is
//   reopened and the batch written again once, as libcurl does for a stale connection.
// - Bounds: each exchange (connect included; the name is resolved with getaddrinfo, whose own timeouts apply)
//   ends after config.timeout_s; an answer's head is at most 16 KiB and its body 64 KiB, else it is malformed.
// - Only plain http: https and URLs with user:password@ go to libcurl (payload_logger.h NewHttpSender).
#pragma once

#include <memory>

#include "logger/payload_logger.h"

namespace inferd::logger {

inline constexpr size_t kMaxPipeline = 64;

std::unique_ptr<EventSender> NewPipelinedSender();

}  // namespace inferd::logger
