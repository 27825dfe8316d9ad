// GPTQ calibration data: text files → token windows, as the GPTQ reference's loaders draw them
// (IST-DASLab/gptq datautils.py `get_c4` / `get_wikitext2`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "import/source_model.h"
#include "ingot/format/status.h"
#include "tokenizer/tokenizer.h"

namespace ingot::compiler {

// Reads `files` (plain text, or JSON Lines with a "text" field: a `.json`/`.jsonl` name or a first
// non-space '{'), tokenizes each file's whole text (its documents joined with "\n\n"; when
// bos >= 0 the file's token stream starts with it, as the reference's Hugging Face tokenizer call
// on the whole joined text does) and draws `n_samples` windows of `seqlen` tokens:
// file = uniform over files, start = uniform in [0, n_tokens − seqlen], from one
// std::mt19937_64(seed). Nothing is prepended to a window. Deterministic for a seed.
// samples: (n_samples, seqlen) token ids. digests: one per file (name and XXH3-64), for provenance.
// Fails naming the file when one is missing, holds no text, is bad JSON, or has fewer than
// seqlen tokens (with the count and a hint to lower --calib-seqlen / --calib-samples).
format::Status load_calibration(const std::vector<std::string>& files, const runtime::Tokenizer& tok, int32_t bos,
                                size_t n_samples, size_t seqlen, uint64_t seed,
                                std::vector<std::vector<int32_t>>* samples,
                                std::vector<std::unique_ptr<fb::DigestT>>* digests);

}  // namespace ingot::compiler
