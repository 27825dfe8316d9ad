#include "eval/llamacpp_perplexity.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "model/session.h"

namespace ingot::runtime {

using format::fail;
using format::Status;
using format::StatusCode;

namespace {

bool adds_bos(const Model& model) {
  const fb::Tokenizer* t = model.container().index().tokenizer();
  return (t == nullptr || t->add_bos()) && model.dims().bos >= 0;
}

}  // namespace

std::vector<int32_t> llamacpp_tokens(const Model& model, const std::string& text) {
  std::vector<int32_t> ids;
  if (model.has_tokenizer() && !text.empty()) ids = model.tokenizer().encode(text, /*parse_special=*/false);
  const fb::Tokenizer* t = model.container().index().tokenizer();
  if (adds_bos(model)) ids.insert(ids.begin(), model.dims().bos);
  if (t != nullptr && t->add_eos() && model.dims().eos >= 0) ids.push_back(model.dims().eos);
  return ids;
}

Status llamacpp_perplexity(const Model& model, const std::vector<int32_t>& tokens, size_t n_ctx, size_t max_chunks,
                           const std::function<void(size_t, size_t, double)>& progress, PerplexityResult* out) {
  if (n_ctx < 4) return fail(StatusCode::invalid_argument, "--ctx must be at least 4");
  if (n_ctx > model.dims().context) {
    return fail(StatusCode::invalid_argument, "--ctx ", n_ctx, " exceeds the model's context length ",
                model.dims().context);
  }
  size_t n_chunks = tokens.size() / n_ctx;
  if (max_chunks > 0) n_chunks = std::min(n_chunks, max_chunks);
  if (n_chunks == 0) {
    return fail(StatusCode::invalid_argument, "the text has ", tokens.size(), " tokens, fewer than one chunk of ", n_ctx);
  }
  const bool bos = adds_bos(model);
  const size_t first = n_ctx / 2, vocab = model.dims().vocab;
  PerplexityResult r;
  Session session(model, n_ctx);
  std::vector<float> logits;
  std::vector<int32_t> chunk(n_ctx);
  double total = 0;
  for (size_t c = 0; c < n_chunks; ++c) {
    session.reset();
    std::copy_n(tokens.begin() + long(c * n_ctx), n_ctx, chunk.begin());
    if (bos) chunk[0] = model.dims().bos;
    INGOT_RETURN_IF_ERROR(session.eval(chunk, nullptr, &logits));
    double nll = 0;
    // Position i's logits predict token i + 1; scored: i = first .. n_ctx − 2.
    for (size_t i = first; i + 1 < n_ctx; ++i) {
      const float* l = logits.data() + i * vocab;
      const float max = *std::max_element(l, l + vocab);
      double sum = 0;
      for (size_t v = 0; v < vocab; ++v) sum += std::exp(double(l[v]) - double(max));
      nll += std::log(sum) - (double(l[size_t(chunk[i + 1])]) - double(max));
    }
    const size_t scored = n_ctx - 1 - first;
    total += nll;
    r.n_scored += scored;
    r.chunk_nll.push_back(nll / double(scored));
    if (progress) progress(c + 1, n_chunks, std::exp(total / double(r.n_scored)));
  }
  r.n_chunks = n_chunks;
  r.mean_nll = total / double(r.n_scored);
  r.ppl = std::exp(r.mean_nll);
  *out = std::move(r);
  return Status::success();
}

}  // namespace ingot::runtime
