// story: runs the model this project compiled at build time, through the C++ wrapper.
//   story [PROMPT] [N_TOKENS]   prints the greedy continuation and the model's quantization
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <string>

int main(int argc, char** argv) {
  const std::string prompt = argc > 1 ? argv[1] : "Once upon a time";
  const int n = argc > 2 ? std::atoi(argv[2]) : 40;
  try {
    ingot::model model(STORY_MODEL);
    ingot::session session(model);
    ingot_generate_params params = ingot_generate_default_params();
    params.n_predict = n;
    params.sampler.temperature = 0;
    std::string text = prompt;
    session.generate(prompt, params, [&](int32_t, std::string_view piece) {
      text += piece;
      return true;
    });
    std::printf("%s\n", text.c_str());
    std::fprintf(stderr, "story: %s, %s-bit GPTQ\n", STORY_MODEL, model.meta("provenance.bits").value_or("?").c_str());
  } catch (const ingot::error& e) {
    std::fprintf(stderr, "story: %s\n", e.what());
    return 1;
  }
  return 0;
}
