// cli/main.cc: the `inferd` binary. Subcommands: model-server, serve, and the resource commands
// (apply, get, describe, delete, logs, predict) that talk to serve's API, operator (Kubernetes), and
// art-explainer (KServe's ART explainer). `inferd __replica_template` (not listed: only `inferd serve`'s
// supervisor starts it) is a replica template that forks replicas running this same CLI (cli/zygote_cmd.cc).
#include <CLI/CLI.hpp>
#include <cstring>

#include "cli/commands.h"

namespace {

int RunCli(int argc, char** argv) {
  CLI::App app{"inferd: serverless ML inference, KServe-compatible, in one native binary"};
  app.require_subcommand(1);
  inferd::cli::AddModelServerCommand(app);
  inferd::cli::AddServeCommand(app);
  inferd::cli::AddResourceCommands(app);
  inferd::cli::AddOperatorCommand(app);
  inferd::cli::AddArtExplainerCommand(app);
  CLI11_PARSE(app, argc, argv);
  if (int rc = inferd::cli::ExitCode()) return rc;
  if (int rc = inferd::cli::ServeExitCode()) return rc;
  if (int rc = inferd::cli::OperatorExitCode()) return rc;
  if (int rc = inferd::cli::ArtExplainerExitCode()) return rc;
  return inferd::cli::ResourceExitCode();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], inferd::cli::kReplicaTemplateCommand) == 0) {
    return inferd::cli::RunReplicaTemplate(argc, argv, RunCli);
  }
  return RunCli(argc, argv);
}
