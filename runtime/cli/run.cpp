// `ingot run MODEL -p PROMPT -n N`: streams generated text; speeds on stderr.
#include <cstdio>

#include "commands.h"
#include "generate.h"
#include "script_options.h"

namespace ingot::cli {

namespace {
struct RunArgs : GenerationArgs {
  std::string prompt;
};
}  // namespace

void add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Generate text from a prompt, streaming it to stdout");
  static RunArgs a;
  add_generation_options(cmd, &a, "tokens to generate at most");
  cmd->add_option("-p,--prompt", a.prompt, "prompt text (BOS is added when the tokenizer asks for it)");
  cmd->add_option("--min-p", a.sampler.min_p, "drop tokens below min-p x the top probability")->capture_default_str();
  cmd->add_option("--repeat-last-n", a.sampler.repeat_last_n, "recent tokens the penalty considers")->capture_default_str();
  cmd->callback([] {
    std::unique_ptr<runtime::Model> model;
    std::unique_ptr<scripting::Script> script;
    if (!load_generation("ingot run", a, &model, &script)) throw CLI::RuntimeError(kExitInvalid);
    runtime::Session session(*model, a.ctx);
    const std::vector<int32_t> prompt = runtime::prompt_tokens(*model, a.prompt);
    std::fputs(a.prompt.c_str(), stdout);
    std::fflush(stdout);
    runtime::GenerateStats st;
    format::Status s = runtime::generate(session, prompt, {a.n, a.sampler, script.get()},
                                         [](int32_t, const std::string& text) {
                                           std::fwrite(text.data(), 1, text.size(), stdout);
                                           std::fflush(stdout);
                                           return true;
                                         },
                                         &st);
    std::printf("\n");
    std::fprintf(stderr, "ingot run: prompt %zu tokens in %.3f s (%.1f tok/s), generated %zu tokens in %.3f s (%.1f tok/s)%s\n",
                 st.n_prompt, st.prompt_seconds, st.n_prompt / std::max(st.prompt_seconds, 1e-9), st.n_generated,
                 st.generate_seconds, st.n_generated / std::max(st.generate_seconds, 1e-9),
                 st.stopped_at_eos ? ", stopped at EOS" : st.stopped_by_hook ? ", stopped by the script" : "");
    if (!s.ok()) {
      std::fprintf(stderr, "ingot run: %s\n", s.message().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
  });
}

}  // namespace ingot::cli
