#include "model/session.h"

#include <algorithm>
#include <cstring>

#include "model/forward.h"

namespace ingot::runtime {

using format::fail;
using format::Status;
using format::StatusCode;

Session::Session(const Model& model, size_t n_ctx)
    : model_(model), n_ctx_(n_ctx == 0 ? model.dims().context : std::min(n_ctx, model.dims().context)),
      kv_(model.kv_pool()) {}

size_t Session::common_prefix(std::span<const int32_t> tokens) const {
  const size_t limit = std::min(position(), tokens.empty() ? size_t{0} : tokens.size() - 1);
  size_t n = 0;
  while (n < limit && tokens_[n] == tokens[n]) ++n;
  return n;
}

void Session::fork_from(const Session& other) {
  if (&other == this) return;
  kv_.fork_from(other.kv_);  // throws on another model's pool, before anything changes
  tokens_ = other.tokens_;
  n_ctx_ = other.n_ctx_;
}

Status Session::room_for(size_t n) const {
  if (n == 0) return fail(StatusCode::invalid_argument, "eval: no tokens");
  if (position() + n > n_ctx_) {
    return fail(StatusCode::invalid_argument, "context overflow: ", position(), " tokens in the cache + ", n,
                " new exceed the context length ", n_ctx_);
  }
  return Status::success();
}

Status Session::eval(std::span<const int32_t> tokens, float* logits, std::vector<float>* all_logits) {
  const size_t n = tokens.size();
  INGOT_RETURN_IF_ERROR(room_for(n));
  Batch batch;
  for (size_t t = 0; t < n; ++t) batch.add(tokens[t], 0, position() + t, all_logits != nullptr || t + 1 == n);
  KvSequence* seq = &kv_;
  std::vector<float> out;
  std::vector<float>* dest = all_logits != nullptr ? all_logits : &out;
  INGOT_RETURN_IF_ERROR(forward(model_, {&seq, 1}, batch, dest, n_ctx_));
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  const size_t vocab = model_.dims().vocab;
  if (logits != nullptr) std::memcpy(logits, dest->data() + (dest->size() / vocab - 1) * vocab, vocab * sizeof(float));
  return Status::success();
}

Status Session::eval_greedy(std::span<const int32_t> tokens, int32_t* next) {
  const size_t n = tokens.size();
  INGOT_RETURN_IF_ERROR(room_for(n));
  Batch batch;
  for (size_t t = 0; t < n; ++t) batch.add(tokens[t], 0, position() + t, t + 1 == n);
  KvSequence* seq = &kv_;
  std::vector<int32_t> ids;
  INGOT_RETURN_IF_ERROR(forward(model_, {&seq, 1}, batch, nullptr, n_ctx_, &ids));
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  *next = ids.back();
  return Status::success();
}

Status Session::eval_top(std::span<const int32_t> tokens, size_t k, std::vector<Candidate>* top) {
  const size_t n = tokens.size();
  INGOT_RETURN_IF_ERROR(room_for(n));
  Batch batch;
  for (size_t t = 0; t < n; ++t) batch.add(tokens[t], 0, position() + t, t + 1 == n);
  KvSequence* seq = &kv_;
  INGOT_RETURN_IF_ERROR(forward(model_, {&seq, 1}, batch, nullptr, n_ctx_, nullptr, k, top));
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  return Status::success();
}

Status eval_sessions(std::span<Session* const> sessions, std::span<const std::vector<int32_t>> tokens,
                     std::vector<float>* last_logits) {
  if (sessions.empty() || sessions.size() != tokens.size()) {
    return fail(StatusCode::invalid_argument, "eval_sessions: ", sessions.size(), " sessions and ", tokens.size(),
                " token lists");
  }
  const Model& model = sessions[0]->model();
  std::vector<KvSequence*> seqs(sessions.size());
  Batch batch;
  size_t max_ctx = 0;
  for (size_t i = 0; i < sessions.size(); ++i) {
    Session& s = *sessions[i];
    if (&s.model() != &model) return fail(StatusCode::invalid_argument, "eval_sessions: session ", i, " is of another model");
    if (s.position() + tokens[i].size() > s.context()) {
      return fail(StatusCode::invalid_argument, "context overflow: session ", i, " holds ", s.position(),
                  " tokens + ", tokens[i].size(), " new exceed its context length ", s.context());
    }
    seqs[i] = &s.kv_;
    max_ctx = std::max(max_ctx, s.context());
    for (size_t t = 0; t < tokens[i].size(); ++t) {
      batch.add(tokens[i][t], i, s.position() + t, t + 1 == tokens[i].size());
    }
  }
  std::vector<float> logits;
  INGOT_RETURN_IF_ERROR(forward(model, seqs, batch, &logits, max_ctx));
  const size_t vocab = model.dims().vocab;
  last_logits->assign(sessions.size() * vocab, 0.0f);
  for (size_t i = 0, row = 0; i < sessions.size(); ++i) {
    if (tokens[i].empty()) continue;
    std::memcpy(last_logits->data() + i * vocab, logits.data() + row++ * vocab, vocab * sizeof(float));
    sessions[i]->tokens_.insert(sessions[i]->tokens_.end(), tokens[i].begin(), tokens[i].end());
  }
  return Status::success();
}

}  // namespace ingot::runtime
