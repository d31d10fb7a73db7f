// gateway/grpc_proxy.h: the gateway's gRPC front (internal to the gateway module).
//
// A grpc::Server with a CallbackGenericService: every call arrives as raw bytes. For
// inference.GRPCInferenceService methods the gateway reads only field 1 (model_name) of the request bytes (TF
// Serving's tensorflow.serving methods: model_spec.name, field 1 of field 1),
// routes like the HTTP side (namespace from the `:authority` host, else "default"; a tag host selects that
// revision), and forwards the bytes with a generic stub on a channel cached per endpoint, relaying the
// response bytes, status and metadata. ServerLive/ServerReady are answered locally. Its port is accepted by a
// net::HandoffListener (gRPC 1.51's own listener stops for good at the fd limit), so gRPC names a call's peer
// "fd:<descriptor>"; the cluster-local check asks that socket for its address.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gateway/gateway.h"
#include "gateway/routing.h"

namespace inferd::gateway {

class GrpcProxy {
 public:
  GrpcProxy(const GatewayOptions& options, const TableHolder* table);
  ~GrpcProxy();
  Status Start();
  int port() const;
  void Stop();

  struct Impl;  // public so that grpc_proxy.cc's reactors can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::gateway
