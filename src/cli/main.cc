// cli/main.cc: the `inferd` binary. Subcommands: model-server (this release); serve, apply, get...
// come with the control plane.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"inferd: serverless ML inference, KServe-compatible, in one native binary"};
  app.require_subcommand(1);
  inferd::cli::AddModelServerCommand(app);
  CLI11_PARSE(app, argc, argv);
  return inferd::cli::ExitCode();
}
