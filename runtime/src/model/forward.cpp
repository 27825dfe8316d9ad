#include "model/forward.h"

#include <algorithm>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "cpu/quant_int8.h"
#include "cpu/worker_pool.h"
#include "model/layer.h"

namespace ingot::runtime {

using format::fail;
using format::Status;
using format::StatusCode;

Status forward(const Model& model, std::span<KvSequence* const> seqs, const Batch& batch, std::vector<float>* logits,
               size_t max_length, std::vector<int32_t>* argmax, size_t top_k, std::vector<Candidate>* top) {
  const ModelDims& d = model.dims();
  const size_t n = batch.size();
  if (n == 0) return fail(StatusCode::invalid_argument, "forward: an empty batch");
  if (top != nullptr && (top_k == 0 || top_k > d.vocab || top_k > model.backend().max_top_k())) {
    return fail(StatusCode::invalid_argument, "forward: top ", top_k, " candidates of a row of ", d.vocab,
                " (this backend selects at most ", model.backend().max_top_k(), ")");
  }
  if (max_length == 0 || max_length > d.context) max_length = d.context;
  PagePool& pool = model.kv_pool();
  cpu::ScopedPool workers(&model.workers());  // every kernel loop of this step runs on the model's pool
  cpu::ScopedActivations activations(model.activations());

  // 1. Validate, changing nothing: each sequence's tokens continue it.
  std::vector<size_t> next(seqs.size());  // the position each sequence's next token must have
  for (size_t s = 0; s < seqs.size(); ++s) {
    if (seqs[s] == nullptr || &seqs[s]->pool() != &pool) {
      return fail(StatusCode::invalid_argument, "forward: sequence ", s, " is null or of another model");
    }
    next[s] = seqs[s]->length();
    for (size_t r = 0; r < s; ++r) {
      if (seqs[r] == seqs[s]) return fail(StatusCode::invalid_argument, "forward: sequences ", r, " and ", s, " are one");
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const BatchToken& t = batch.tokens[i];
    if (t.token < 0 || size_t(t.token) >= d.vocab) {
      return fail(StatusCode::invalid_argument, "token id ", t.token, " is outside the vocabulary (", d.vocab, ")");
    }
    if (t.seq >= seqs.size()) {
      return fail(StatusCode::invalid_argument, "batch token ", i, " names sequence ", t.seq, " of ", seqs.size());
    }
    if (t.pos != next[t.seq]) {
      return fail(StatusCode::invalid_argument, "batch token ", i, " is at position ", t.pos, " of sequence ", t.seq,
                  ", which continues at ", next[t.seq]);
    }
    if (++next[t.seq] > max_length) {
      return fail(StatusCode::invalid_argument, "context overflow: sequence ", t.seq, " would hold ", next[t.seq],
                  " positions, more than the context length ", max_length);
    }
  }

  // 2. Pages for every sequence's new length, all at once; from here nothing fails.
  size_t need = 0;
  for (size_t s = 0; s < seqs.size(); ++s) need += seqs[s]->pages_to_grow(next[s]);
  std::vector<PageId> spare;
  if (!pool.take(need, &spare)) {
    return fail(StatusCode::kv_cache_full, "the batch needs ", need, " KV pages, the pool has ", pool.n_available(),
                " free of ", pool.max_pages(), " (", pool.shape().page_size,
                " positions each; raise the KV budget or free sequences)");
  }
  for (size_t s = 0; s < seqs.size(); ++s) seqs[s]->grow(next[s], &spare);
  pool.release(spare);  // copies that sharing sequences did not need after all

  Backend& be = model.backend();
  const size_t dim = d.dim, hd = d.head_dim, q_dim = d.n_head * hd, kv_dim = d.n_head_kv * hd, ffn = d.ffn_dim;
  std::vector<int32_t> ids(n);
  std::vector<size_t> pos(n);
  for (size_t i = 0; i < n; ++i) ids[i] = batch.tokens[i].token, pos[i] = batch.tokens[i].pos;
  // Rows of each sequence in batch order, for attention: (rows of sequence s).
  std::vector<std::vector<size_t>> rows(seqs.size());
  for (size_t i = 0; i < n; ++i) rows[batch.tokens[i].seq].push_back(i);

  std::vector<const KvSequence*> row_seq(n);
  for (size_t i = 0; i < n; ++i) row_seq[i] = seqs[batch.tokens[i].seq];
  const size_t n_logits = logits == nullptr && argmax == nullptr && top == nullptr ? 0 : batch.n_logits();
  if (n_logits > 0 && logits != nullptr) logits->resize(n_logits * d.vocab);
  // The logits in activation memory, unless they go straight into `logits` (host activations):
  // downloaded once, at the end, or only their argmax.
  const std::unique_ptr<ActivationBuffer> out =
      n_logits > 0 && (logits == nullptr || !be.host_activations()) ? be.alloc(n_logits * d.vocab) : nullptr;

  // x (n, dim), rows in batch order, and the layers' activations (`scratch`) are the backend's
  // activation memory: only its ops and copies touch them. They outlive the step's ops, which a
  // backend may run only at end_graph.
  const std::unique_ptr<ActivationBuffer> x_buf = be.alloc(n * dim);
  float* const x = x_buf->data();
  LayerScratch scratch;
  // Rows of q and att of the sequences whose rows are not next to each other: (rows of s, q_dim).
  std::vector<std::unique_ptr<ActivationBuffer>> gathered_q(seqs.size()), gathered_att(seqs.size());
  // The wanted rows, then normalised: (2, n_logits, dim).
  const std::unique_ptr<ActivationBuffer> last = n_logits > 0 ? be.alloc(2 * n_logits * dim) : nullptr;

  // The step's ops, from the embedding to the classifier. Run once, or recorded by the backend
  // (CUDA graphs: begin_graph) and run again unrecorded when the recording failed: its ops only
  // read the host state above and write activation memory and KV pages, which a failed
  // recording has not touched.
  const auto step = [&] {
    std::vector<Backend::AttentionCall> calls;
    be.embed(model.tok_embeddings, ids, x);
    const cpu::AttentionShape shape{d.n_head, d.n_head_kv, hd};
    const LayerShape ls{dim, d.n_head, d.n_head_kv, hd, ffn, d.norm_eps, &model.rope(), &model.rope_inv_freq()};
    for (size_t l = 0; l < d.n_layer; ++l) {
      // Each row's k and v go to its sequence's pages; each sequence's rows attend over its pages.
      const LayerAttention attend = [&](const float* q, const float* k, const float* v, float* att) {
        be.kv_write_rows(row_seq, pos, l, k, v, kv_dim);
        // One call a sequence; rows that are not next to each other are gathered, then scattered.
        calls.clear();
        for (size_t s = 0; s < seqs.size(); ++s) {
          const std::vector<size_t>& r = rows[s];
          if (r.empty()) continue;
          const size_t m = r.size(), pos0 = pos[r[0]];
          if (r.back() - r.front() + 1 == m) {
            calls.push_back({q + r[0] * q_dim, m, pos0, seqs[s], att + r[0] * q_dim});
            continue;
          }
          if (!gathered_q[s] || gathered_q[s]->size() < m * q_dim) {
            gathered_q[s] = be.alloc(m * q_dim), gathered_att[s] = be.alloc(m * q_dim);
          }
          float* qg = gathered_q[s]->data();
          for (size_t j = 0; j < m; ++j) be.copy(qg + j * q_dim, q + r[j] * q_dim, q_dim);
          calls.push_back({qg, m, pos0, seqs[s], gathered_att[s]->data()});
        }
        be.attention(calls, l, shape);
        for (size_t s = 0; s < seqs.size(); ++s) {
          const std::vector<size_t>& r = rows[s];
          if (r.empty() || r.back() - r.front() + 1 == r.size()) continue;
          for (size_t j = 0; j < r.size(); ++j) be.copy(att + r[j] * q_dim, gathered_att[s]->data() + j * q_dim, q_dim);
        }
      };
      decoder_layer(be, ls, model.layers[l], x, n, pos, attend, nullptr, &scratch);
    }
    // Logits of the rows that want them only, (n_logits, vocab) in batch order: the wanted rows,
    // normalised, then the classifier, into `logits` itself when activations are host memory.
    if (n_logits == 0) return;
    float* const rows_in = last->data();
    float* const rows_n = rows_in + n_logits * dim;
    for (size_t i = 0, j = 0; i < n; ++i) {
      if (batch.tokens[i].wants_logits) be.copy(rows_in + j++ * dim, x + i * dim, dim);
    }
    be.rmsnorm(rows_in, n_logits, dim, model.norm, d.norm_eps, rows_n);
    be.linear(rows_n, n_logits, model.output, out != nullptr ? out->data() : logits->data());
  };
  bool ran = false;
  if (be.begin_graph(n)) {
    bool recorded = true;
    try {
      step();
    } catch (const std::exception&) {  // an op that cannot be recorded; run unrecorded below
      recorded = false;
    }
    ran = be.end_graph(recorded);
  }
  if (!ran) step();
  if (n_logits == 0) return Status::success();
  const float* wanted = out != nullptr ? out->data() : logits->data();
  if (logits != nullptr && out != nullptr) be.download(logits->data(), wanted, n_logits * d.vocab);
  if (argmax != nullptr) {
    argmax->resize(n_logits);
    be.argmax_rows(wanted, n_logits, d.vocab, argmax->data());
  }
  if (top != nullptr) {
    top->resize(n_logits * top_k);
    be.top_k_rows(wanted, n_logits, d.vocab, top_k, top->data());
  }
  return Status::success();
}

}  // namespace ingot::runtime
