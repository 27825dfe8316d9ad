// `ingot perplexity MODEL -f FILE [--protocol gptq|llamacpp]`: the GPTQ paper's protocol (default)
// or llama.cpp's (docs/perplexity.md); the last line is `ppl = X`.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "script_options.h"
#include "cpu/threads.h"
#include "eval/llamacpp_perplexity.h"
#include "generate.h"

namespace ingot::cli {

void add_perplexity(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a text file. Protocol (the GPTQ paper's code): the whole file is tokenized once as "
      "[BOS] + encode(text), split into non-overlapping windows of --ctx tokens (a partial last window is "
      "dropped); each window is evaluated from an empty KV cache and every token after its first is scored; "
      "ppl = exp(mean negative log-likelihood). --protocol llamacpp follows llama-perplexity instead: BOS/EOS only "
      "as the tokenizer adds them, chunks of --ctx (default 512) with the first token replaced by BOS when the "
      "tokenizer adds it, only the second half of each chunk scored (docs/perplexity.md). The last line printed "
      "is `ppl = X`.");
  static std::string model_path, file;
  static size_t ctx = 0, max_chunks = 0;
  static int threads = 0;
  static bool as_json = false;
  static std::string protocol = "gptq", activations;
  cmd->add_option("MODEL", model_path, "the .ingot file")->required();
  cmd->add_option("-f,--file", file, "UTF-8 text to score")->required();
  cmd->add_option("--ctx", ctx, "window length in tokens; default: min(2048, the model's context length)");
  cmd->add_option("--max-chunks", max_chunks, "score at most this many windows; 0 = all")->capture_default_str();
  cmd->add_option("--threads", threads, "CPU threads; 0 = all")->capture_default_str();
  cmd->add_flag("--json", as_json, "print the result as JSON before the final line");
  cmd->add_option("--protocol", protocol, "gptq (the GPTQ paper's) or llamacpp (llama-perplexity's)")
      ->check(CLI::IsMember({"gptq", "llamacpp"}))
      ->capture_default_str();
  cmd->add_option("--chunks", max_chunks, "the same as --max-chunks (llama-perplexity's spelling)");
  add_activations_option(cmd, &activations);
  cmd->callback([] {
    cpu::set_threads(threads);
    std::unique_ptr<runtime::Model> model;
    runtime::LoadOptions load;
    load.activations = activations_of(activations);
    format::Status s = runtime::Model::load(model_path, load, &model);
    if (s.ok() && !model->has_tokenizer()) {
      s = format::fail(format::StatusCode::invalid_argument, "'", model_path, "' has no tokenizer");
    }
    std::ifstream in(file, std::ios::binary);
    if (s.ok() && !in) s = format::fail(format::StatusCode::io_error, "cannot read '", file, "'");
    if (!s.ok()) {
      std::fprintf(stderr, "ingot perplexity: %s\n", s.message().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    std::stringstream text;
    text << in.rdbuf();
    const bool llamacpp = protocol == "llamacpp";
    const std::vector<int32_t> tokens =
        llamacpp ? runtime::llamacpp_tokens(*model, text.str()) : runtime::prompt_tokens(*model, text.str());
    const size_t window = ctx != 0 ? ctx : std::min<size_t>(llamacpp ? 512 : 2048, model->dims().context);
    runtime::PerplexityResult r;
    const auto progress = [](size_t done, size_t total, double ppl) {
      std::fprintf(stderr, "\r[%zu/%zu] ppl %.4f", done, total, ppl);
      std::fflush(stderr);
    };
    s = llamacpp ? runtime::llamacpp_perplexity(*model, tokens, window, max_chunks, progress, &r)
                 : runtime::perplexity(*model, tokens, window, max_chunks, progress, &r);
    std::fprintf(stderr, "\n");
    if (!s.ok()) {
      std::fprintf(stderr, "ingot perplexity: %s\n", s.message().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    if (as_json) {
      const nlohmann::json j = {{"model", model_path}, {"file", file}, {"protocol", protocol}, {"ctx", window},
                                {"tokens", tokens.size()}, {"chunks", r.n_chunks}, {"scored", r.n_scored},
                                {"mean_nll", r.mean_nll}, {"ppl", r.ppl}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%zu tokens, %zu %s of %zu, %zu scored (%s protocol)\n", tokens.size(), r.n_chunks,
                  llamacpp ? "chunks" : "windows", window, r.n_scored, protocol.c_str());
    }
    std::printf("ppl = %.6f\n", r.ppl);
  });
}

}  // namespace ingot::cli
