// cli/main.cc: the `inferd` binary. Subcommands: model-server, serve, and the resource commands
// (apply, get, describe, delete, logs, predict) that talk to serve's API, operator (Kubernetes), and
// art-explainer (KServe's ART explainer).
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
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
