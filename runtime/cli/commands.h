// Subcommands of the `ingot` tool. Each registers itself on the CLI11 app; errors go to stderr
// and become a non-zero exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ingot/format/reader.h"

namespace ingot::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;  // the file is not a valid container
inline constexpr int kExitUsage = 2;    // CLI11 parse errors use 2 as well

void add_inspect(CLI::App& app);
void add_verify(CLI::App& app);
void add_run(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_bench(CLI::App& app);
void add_chat(CLI::App& app);
void add_serve(CLI::App& app);

// Everything `inspect` reports, as JSON (the text view is rendered from this).
nlohmann::json describe(const format::Container& c);

}  // namespace ingot::cli
