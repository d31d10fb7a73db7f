// model/request_context.h: what a request carries besides its tensors (its id, parameters and headers), for
// the backends that hand them to user code: a custom Python model's InferRequest and `headers`, as KServe
// gives them (backends/python/python_model_backend.h).
//
// Contract: the Backend seam (model/backend.h) carries tensors only, and batching merges requests, so this is
// a side channel scoped to one call on one thread. A front end that runs Model::Infer on its own thread
// (no batcher) sets the request's context with ScopedRequestContext around the call; a backend reads
// CurrentRequestContext() during Execute and gets null when none is set (batched requests, internal
// callers), which it treats as an empty context. The context and what it points to are valid only during
// that call. `response_headers`, when not null, is where the backend may add headers to the answer
// (names lower case; the backend keeps out names and values that could break the response head).
// Why a side channel rather than a wider Execute: only the Python backend needs it, and changing Execute
// would touch every backend. Cost: two thread-local pointer stores per request.
#pragma once

#include <string_view>

#include "model/passthrough.h"
#include "tensor/tensor.h"

namespace inferd {

struct RequestContext {
  std::string_view id;                   // the request's id ("" when it has none)
  const Parameters* parameters = nullptr;  // the request's parameters, or null
  const HeaderList* headers = nullptr;     // the request's headers (names lower case), or null
  HeaderList* response_headers = nullptr;  // where the model may add response headers, or null
};

namespace request_context_detail {
inline thread_local const RequestContext* current = nullptr;
}  // namespace request_context_detail

inline const RequestContext* CurrentRequestContext() { return request_context_detail::current; }

class ScopedRequestContext {
 public:
  explicit ScopedRequestContext(const RequestContext* ctx) : saved_(request_context_detail::current) {
    request_context_detail::current = ctx;
  }
  ~ScopedRequestContext() { request_context_detail::current = saved_; }
  ScopedRequestContext(const ScopedRequestContext&) = delete;
  ScopedRequestContext& operator=(const ScopedRequestContext&) = delete;

 private:
  const RequestContext* saved_;
};

}  // namespace inferd
