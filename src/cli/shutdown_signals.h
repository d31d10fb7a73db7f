// cli/shutdown_signals.h: the shutdown signal handling that `inferd serve` and `inferd model-server` share.
//
// BlockShutdownSignals blocks SIGTERM and SIGINT in the calling thread and ignores SIGPIPE (a peer closing a
// socket must not end the process). Call it before any thread starts: threads inherit the mask, so the
// signals stay pending until WaitForShutdownSignal takes one (sigwait) and returns its number.
#pragma once

#include <signal.h>

namespace inferd::cli {

sigset_t BlockShutdownSignals();
int WaitForShutdownSignal(const sigset_t& set);

}  // namespace inferd::cli
