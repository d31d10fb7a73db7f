// cli/zygote_cmd.cc: `inferd __replica_template`, the program side of a replica template (supervisor/zygote.h).
//
// The template stays single-threaded until it forks: nothing here starts a thread (the embedded Python's
// import of numpy may start OpenBLAS threads; OpenBLAS stops them around fork with its own pthread_atfork
// handlers, and the count of threads is logged so that a regression is seen). Each child runs the CLI's main
// on the argv it was sent, in a process that already has every shared library relocated and every static
// initializer run, and, with --preload_python, numpy and scikit-learn imported.
#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "python/python_runtime.h"
#include "supervisor/zygote.h"

namespace inferd::cli {
namespace {

int CountThreads() {
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t c = s.find(',', pos);
    std::string part = s.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
    if (!part.empty()) out.push_back(part);
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

}  // namespace

int RunReplicaTemplate(int argc, char** argv, int (*run)(int, char**)) {
  unsetenv("LD_BIND_NOW");  // it did its work when this process was linked; replicas' children need not bind now
  std::vector<std::string> preload;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    const std::string flag = "--preload_python=";
    if (a.rfind(flag, 0) == 0) {
      preload = SplitCommas(a.substr(flag.size()));
    } else {
      std::fprintf(stderr, "inferd %s: unknown argument %s\n", kReplicaTemplateCommand, argv[i]);
      return 2;
    }
  }
  supervisor::internal::ZygoteHooks hooks;
  if (!preload.empty()) {
    if (Status st = PythonPreload(preload); !st.ok()) {
      // Replicas are exec'd instead (the supervisor's fallback) and report the error themselves.
      std::fprintf(stderr, "preload failed: %s\n", st.message().c_str());
      return 1;
    }
    hooks.before_fork = [] { PythonBeforeFork(); };
    hooks.after_fork_parent = [] { PythonAfterFork(false); };
    hooks.after_fork_child = [] { PythonAfterFork(true); };
  }
  if (int n = CountThreads(); n != 1) {
    std::fprintf(stderr, "warning: %d threads before forking replicas (only the forking one is copied)\n", n);
  }
  std::fflush(stderr);
  return supervisor::internal::RunZygote(0, hooks, [run](std::vector<std::string> args) {
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    return run(static_cast<int>(args.size()), cargv.data());
  });
}

}  // namespace inferd::cli
