// cli/commands.h: registration of the `inferd` subcommands on a CLI11 app.
// Contract: called once from main before parsing; a subcommand's callback runs on the main thread
// and records the process exit code returned by ExitCode().
#pragma once

#include <signal.h>

#include <CLI/CLI.hpp>

namespace inferd {
struct ModelServerConfig;
}

namespace inferd::cli {

void AddModelServerCommand(CLI::App& app);
int ExitCode();
void AddServeCommand(CLI::App& app);
int ServeExitCode();
// apply, get, describe, delete, logs, predict (cli/resource_cmds.cc)
void AddResourceCommands(CLI::App& app);
int ResourceExitCode();
// operator (cli/operator_cmd.cc)
void AddOperatorCommand(CLI::App& app);
int OperatorExitCode();
// art-explainer (cli/art_explainer_cmd.cc)
void AddArtExplainerCommand(CLI::App& app);
int ArtExplainerExitCode();
// `inferd __replica_template [--preload_python MODULE,...]` (cli/zygote_cmd.cc): a replica template
// (supervisor/zygote.h) on its stdin, which forks children that run `run(argc, argv)` (the whole CLI) on the
// argv the supervisor sends. With --preload_python the embedded interpreter is started and the modules
// imported first (scikit-learn replicas then skip ~1 s of imports).
inline constexpr const char* kReplicaTemplateCommand = "__replica_template";
int RunReplicaTemplate(int argc, char** argv, int (*run)(int, char**));

// The tail every model-server-shaped command shares (model-server, art-explainer; cli/model_server_cmd.cc):
// start a ModelServer on `cfg`, wait for SIGTERM/SIGINT (`set` from BlockShutdownSignals, called before any
// thread started), drain. Returns the process exit code (1 when the server cannot start).
int RunModelServerUntilSignal(const ModelServerConfig& cfg, const sigset_t& set);

}  // namespace inferd::cli
