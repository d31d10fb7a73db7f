// cli/worker_processes.h: `inferd model-server --processes N`: a server that runs Python as N processes sharing
// its REST port, so that each has its own interpreter and GIL (docs/pipeline.md#processes).
//
// Why: one model-server process with two front-end threads hands the GIL between them twice per request; on an
// idle two-core machine that cost an in-process transformer +40-50% CPU per request over the predictor alone,
// against +8-12% for two one-thread processes (docs/benchmarks.md, "Two processes instead of two threads").
//
// Contract:
// - The first process (the one started) binds the ports as usual; once it serves, StartCopies forks and
//   execs N-1 copies of this binary with the same arguments except `--http_port <its port> --workers 1
//   --processes 1 --enable_grpc false --handoff_fd <fd>` and without `--uds` (CopyArgv: the flags it
//   overrides or drops are removed first, in both `--f v` and `--f=v` forms). Each copy gets one end of a
//   channel (net/conn_handoff.h; the only descriptor it inherits): it binds no port, and the first process,
//   which accepts every connection (TCP and --uds), passes each copy its turn of them once the copy has said
//   it serves, i.e. once its models are loaded (server/http_server.h). So N processes share the load evenly
//   (SO_REUSEPORT sockets, as before, left it to the kernel's hash: 8 connections often split 6/2), and no
//   connection reaches a copy that cannot answer. gRPC and the repository API stay in the first process.
// - Copies inherit stdout/stderr and the process group (a supervisor that signals the group reaches them),
//   and get PR_SET_PDEATHSIG(SIGTERM): they stop when the first process ends, even on SIGKILL.
// - WaitForShutdownOrCopyExit blocks until SIGTERM/SIGINT (returns the signal) or until a copy exits (returns
//   -1 after logging which and how): the first process then stops the others and exits non-zero, so that
//   whoever supervises it restarts the whole group rather than serve on with fewer processes.
// - SIGCHLD must be blocked (BlockChildSignal) before any thread starts, so that it waits for the sigwait.
// - Called from the main thread only (PR_SET_PDEATHSIG follows the forking thread).
#pragma once

#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace inferd::cli {

// The arguments of a copy: `argv` (this process's, argv[0] first) without the flags the copy overrides,
// then the overrides. Pure.
std::vector<std::string> CopyArgv(const std::vector<std::string>& argv, int http_port, int handoff_fd);

// This process's arguments, from /proc/self/cmdline.
StatusOr<std::vector<std::string>> OwnArgv();

// Adds SIGCHLD to `set` and blocks it in the calling thread.
void BlockChildSignal(sigset_t* set);

struct Copy {
  int pid = -1;
  int channel = -1;  // the first process's end of the copy's channel (close-on-exec); the caller owns it
};
// Forks and execs `count` copies (/proc/self/exe with CopyArgv); their pids and channels, or the error of the
// first that could not start (those started are stopped).
StatusOr<std::vector<Copy>> StartCopies(int count, int http_port);

// See the contract. `set` holds SIGTERM, SIGINT and SIGCHLD, all blocked.
int WaitForShutdownOrCopyExit(const sigset_t& set, std::vector<int>& pids);

// SIGTERM to every copy still running, then waits up to `grace` for them, then SIGKILL. Reaps them all.
void StopCopies(std::vector<int>& pids, std::chrono::milliseconds grace);

}  // namespace inferd::cli
