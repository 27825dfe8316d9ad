// Four prompts decoded greedily in one loop: every step feeds each unfinished conversation its
// next token and runs them all in one forward pass (ingot::session::eval_batch), so the weights
// are read once a step for the four of them.
//   batch MODEL.ingot [N_TOKENS]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ingot/ingot.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.ingot [N_TOKENS]\n", argv[0]);
    return 2;
  }
  const int n_tokens = argc > 2 ? std::atoi(argv[2]) : 32;
  try {
    ingot::model model(argv[1]);
    const std::vector<std::string> prompts = {"Once upon a time", "Lily and Tom went to the park", "The cat",
                                              "One day, a little boy named Tim"};
    std::vector<ingot::session> sessions;
    std::vector<ingot::session*> all;
    std::vector<std::vector<int32_t>> feed;
    std::vector<std::vector<int32_t>> ids;  // each conversation's tokens after BOS, prompt first
    sessions.reserve(prompts.size());
    for (const std::string& p : prompts) {
      sessions.emplace_back(model);
      feed.push_back(model.tokenize(p, /*add_bos=*/true));  // the first step prefills the prompts
      ids.emplace_back(feed.back().begin() + (feed.back().front() == model.token_bos() ? 1 : 0), feed.back().end());
    }
    for (ingot::session& s : sessions) all.push_back(&s);
    const size_t vocab = size_t(model.n_vocab());
    std::vector<bool> done(prompts.size(), false);
    for (int step = 0; step < n_tokens; ++step) {
      const std::vector<float> logits = ingot::session::eval_batch(all, feed);
      for (size_t i = 0; i < prompts.size(); ++i) {
        feed[i].clear();
        if (done[i]) continue;
        const float* row = logits.data() + i * vocab;
        int32_t best = 0;
        for (size_t v = 1; v < vocab; ++v) best = row[v] > row[best] ? int32_t(v) : best;
        if (ingot_model_token_is_eos(model.get(), best)) {
          done[i] = true;
          continue;
        }
        ids[i].push_back(best);
        feed[i] = {best};
      }
      bool any = false;
      for (size_t i = 0; i < prompts.size(); ++i) any = any || !done[i];
      if (!any) break;
    }
    for (size_t i = 0; i < prompts.size(); ++i) std::printf("[%zu] %s\n", i, model.detokenize(ids[i]).c_str());
  } catch (const ingot::error& e) {
    std::fprintf(stderr, "batch: %s\n", e.what());
    return 1;
  }
  return 0;
}
