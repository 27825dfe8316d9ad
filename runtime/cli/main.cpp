// `ingot`: run, inspect and verify .ingot containers.
#include <cstdio>
#include <exception>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ingot: run, score, benchmark, inspect and verify .ingot model containers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ingot 0.1.0 (container format 1.0)");
  ingot::cli::add_inspect(app);
  ingot::cli::add_verify(app);
  ingot::cli::add_run(app);
  ingot::cli::add_perplexity(app);
  ingot::cli::add_bench(app);
  ingot::cli::add_chat(app);
  ingot::cli::add_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {  // a device backend's failure mid-run (docs/cuda.md): a message, not an abort
    std::fprintf(stderr, "ingot: %s\n", e.what());
    return ingot::cli::kExitInvalid;
  }
  return ingot::cli::kExitOk;
}
