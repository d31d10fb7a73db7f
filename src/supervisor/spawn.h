// supervisor/spawn.h (internal): fork+exec of one replica process and process-group helpers.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace inferd::supervisor::internal {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// Finds the file execvp would run for `argv0`, with PATH taken from `env` (overrides) or the parent's
// environment. Relative names are resolved against the child's working directory `cwd` (when set) and
// the result is absolute, so the child can exec it after chdir. InvalidArgument when there is none.
StatusOr<std::string> ResolveExecutable(const std::string& argv0, const std::string& cwd, const EnvList& env);

struct Child {
  int pid = -1;
  int out_fd = -1;  // read end of the stdout+stderr pipe: non-blocking, close-on-exec
};

// Forks and execs `exe` with `argv`, the parent's environment overridden by `env`, in `cwd` (if set).
// The child gets its own process group, PR_SET_PDEATHSIG(SIGKILL), default signal dispositions and an
// empty signal mask, stdin from /dev/null, stdout and stderr on one pipe, and no other fds.
// PR_SET_PDEATHSIG fires when the calling *thread* exits: call this only from a thread that outlives
// the child. When exec (or chdir) fails the child prints why on the pipe and exits with 127.
// `stdin_fd` >= 0 replaces /dev/null as the child's stdin (a replica template's socket, supervisor/zygote.h);
// the caller keeps (and closes) its copy.
StatusOr<Child> SpawnChild(const std::string& exe, const std::vector<std::string>& argv, const EnvList& env,
                           const std::string& cwd, int stdin_fd = -1);

// pidfd_open(2); -1 when the kernel lacks it (then the caller polls waitpid). The environment variable
// INFERD_SUPERVISOR_NO_PIDFD forces the fallback, for tests.
int PidfdOpen(int pid);

// True while the process group has a member that is not a zombie (scans /proc when kill(-pgid, 0)
// still succeeds, because zombies waiting for init to reap them still count for kill).
bool GroupHasLiveMembers(int pgid);

}  // namespace inferd::supervisor::internal
