// ingot_model_perplexity: runtime::perplexity (its own KV cache) on a text.
#include <algorithm>
#include <string>

#include "capi/boundary.h"
#include "generate.h"

using ingot::capi::fail;
using ingot::capi::from_status;
using ingot::capi::guard;

extern "C" {

ingot_perplexity_params ingot_perplexity_default_params(void) {
  ingot_perplexity_params p;
  p.n_ctx = 0;
  p.max_chunks = 0;
  p.n_threads = 0;
  p.progress = nullptr;
  p.user_data = nullptr;
  return p;
}

ingot_status ingot_model_perplexity(const ingot_model* model, const char* text, size_t text_len,
                                    ingot_perplexity_params params, ingot_perplexity_result* out) {
  static const char* fn = "ingot_model_perplexity";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, model != nullptr, "model is NULL");
    INGOT_CAPI_REQUIRE(fn, text != nullptr || text_len == 0, "text is NULL");
    INGOT_CAPI_REQUIRE(fn, out != nullptr, "out is NULL");
    INGOT_CAPI_REQUIRE(fn, params.n_ctx >= 0 && params.max_chunks >= 0 && params.n_threads >= 0,
                       "n_ctx, max_chunks and n_threads must not be negative");
    const ingot::runtime::Model& m = *model->model;
    INGOT_CAPI_REQUIRE(fn, m.has_tokenizer(), "the model has no tokenizer (compile it with --tokenizer)");
    ingot::capi::use_threads(params.n_threads != 0 ? params.n_threads : model->n_threads);
    const std::vector<int32_t> tokens = ingot::runtime::prompt_tokens(m, std::string(text, text_len));
    const size_t window = params.n_ctx != 0 ? size_t(params.n_ctx) : std::min<size_t>(2048, m.dims().context);
    if (window < 2 || window > m.dims().context) {
      return fail(fn, INGOT_STATUS_INVALID_ARGUMENT,
                  "n_ctx " + std::to_string(window) + " is outside 2 .. the model's context length " +
                      std::to_string(m.dims().context));
    }
    ingot::runtime::PerplexityResult r;
    std::function<void(size_t, size_t, double)> progress;
    if (params.progress != nullptr) {
      progress = [&](size_t done, size_t total, double ppl) { params.progress(done, total, ppl, params.user_data); };
    }
    if (ingot_status s = from_status(fn, ingot::runtime::perplexity(m, tokens, window, size_t(params.max_chunks),
                                                                     progress, &r));
        s != INGOT_STATUS_OK) {
      return s;
    }
    out->ppl = r.ppl;
    out->mean_nll = r.mean_nll;
    out->n_tokens = tokens.size();
    out->n_scored = r.n_scored;
    out->n_chunks = r.n_chunks;
    return INGOT_STATUS_OK;
  });
}

}  // extern "C"
