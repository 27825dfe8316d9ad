// The model's forward pass, written once: a batch of tokens of several sequences, through the
// model's backend, to the logits of the tokens that want them (docs/runtime.md, "one step").
#pragma once

#include <span>
#include <vector>

#include "kv/kv_sequence.h"
#include "model/batch.h"
#include "model/model.h"

namespace ingot::runtime {

// Evaluates `batch` over `seqs` (batch.tokens[i].seq indexes it; all of the model's pool).
// A valid batch: every token in [0, vocab); each sequence's tokens, in batch order, continue it
// (positions length, length + 1, …); no sequence then exceeds `max_length` (0: the model's
// context). Fails, changing nothing, on an invalid batch (invalid_argument) or when the model's
// page pool has too few free pages (kv_cache_full). On success every sequence holds its new
// positions and `logits` gets (batch.n_logits(), vocab), rows in batch order (may be null when
// no token wants logits). `argmax`, when given, gets (batch.n_logits()) the argmax of each of
// those rows (Backend::argmax_rows: on the device when that is where the logits are); with
// `logits` null only the ids leave the backend. `top`, when given, gets (batch.n_logits(), top_k)
// the top_k best candidates of each of those rows, best first (Backend::top_k_rows; 1 ≤ top_k ≤
// min(vocab, backend.max_top_k())).
format::Status forward(const Model& model, std::span<KvSequence* const> seqs, const Batch& batch,
                       std::vector<float>* logits, size_t max_length = 0, std::vector<int32_t>* argmax = nullptr,
                       size_t top_k = 0, std::vector<Candidate>* top = nullptr);

}  // namespace ingot::runtime
