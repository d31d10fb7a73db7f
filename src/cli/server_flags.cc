#include "cli/server_flags.h"

#include "cli/listener_flags.h"

namespace inferd::cli {

void AddFrontEndFlags(CLI::App* cmd, ServerOptions* s) {
  cmd->add_option("--host", s->host, "Address to bind")->capture_default_str();
  cmd->add_option("--http_port", s->http_port, "REST port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--grpc_port", s->grpc_port, "gRPC port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--uds", s->uds_path, "Also serve REST on a Unix stream socket at this path (mode 0600)");
  cmd->add_option("--enable_grpc", s->enable_grpc, "Serve the V2 gRPC API")->capture_default_str();
  cmd->add_option("--workers", s->workers, "HTTP event-loop threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--max_threads", s->max_threads,
                  "Threads for slow work: model loads, explanations (0 = one per core)")
      ->capture_default_str();
  cmd->add_option("--grpc_max_send_message_length", s->grpc_max_send_message_length)->capture_default_str();
  cmd->add_option("--grpc_max_receive_message_length", s->grpc_max_receive_message_length)->capture_default_str();
  cmd->add_option("--max_request_bytes", s->max_request_bytes, "REST body limit in bytes (413 above it)")
      ->capture_default_str();
  AddListenerFlags(cmd, &s->limits);  // REST connections: timeouts, cap, body budget
}

}  // namespace inferd::cli
