// cli/server_flags.h: the flags of a model-server-shaped process's front ends (server/server_state.h
// ServerOptions), shared by `inferd model-server` and `inferd art-explainer` so that both take the same names,
// defaults and limits.
//
// Contract: AddFrontEndFlags registers --host, --http_port, --grpc_port, --uds, --enable_grpc, --workers,
// --max_threads, --grpc_max_send_message_length, --grpc_max_receive_message_length, --max_request_bytes and the
// listener flags (cli/listener_flags.h) on `cmd`, writing into *options, which must outlive the parse.
#pragma once

#include <CLI/CLI.hpp>

#include "server/server_state.h"

namespace inferd::cli {

void AddFrontEndFlags(CLI::App* cmd, ServerOptions* options);

}  // namespace inferd::cli
