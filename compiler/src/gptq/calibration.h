// GPTQ calibration data: text files → token windows, as the GPTQ reference's loaders draw them
// (IST-DASLab/gptq datautils.py `get_c4` / `get_wikitext2`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "import/source_model.h"
#include "ingot/format/status.h"
#include "tokenizer/tokenizer.h"

namespace ingot::compiler {

// How the windows are drawn (ingotc build --calib-draw). A document is one JSON Lines record's
// "text"; a plain text file is one document.
enum class CalibDraw {
  // Each file's documents joined with "\n\n" and tokenized whole (BOS first when bos >= 0; ingotc
  // passes the model's BOS id whenever it has one) into one token stream; per window a file (uniform over files), then a start uniform in
  // [0, n_tokens − seqlen]. Windows may cross document boundaries. The default: ingotc's draw
  // before --calib-draw existed, so such builds keep their bytes.
  stream,
  // As the reference's get_c4: per window a document uniform over the documents of all files,
  // drawn again until it has more than seqlen tokens, then a start uniform in
  // [0, n_tokens − seqlen − 1] (its randint(0, n − seqlen − 1)). Each document is tokenized
  // alone, BOS first when bos >= 0 (ingotc passes it only when the tokenizer adds a BOS, as the
  // reference's tokenizer call on one document does).
  // Every window lies inside one document longer than seqlen.
  documents,
};

std::optional<CalibDraw> calib_draw_from_name(std::string_view name);  // "stream", "documents"
const char* calib_draw_name(CalibDraw draw);

// What a draw had to choose from (for ingotc's note line).
struct CalibrationStats {
  size_t n_documents = 0;  // over all files
  // The documents draw only (0 for the stream draw, which does not tokenize documents alone):
  size_t n_longer = 0;  // documents with more than seqlen tokens, the ones windows are drawn from
  size_t longest = 0;   // tokens of the longest document (BOS included when there is one)
};

// Reads `files` (plain text, or JSON Lines with a "text" field: a `.json`/`.jsonl` name or a first
// non-space '{'), tokenizes them as `draw` says and draws `n_samples` windows of `seqlen` tokens
// from one std::mt19937_64(seed). Nothing is prepended to a window. Deterministic for a seed.
// samples: (n_samples, seqlen) token ids. digests: one per file (name and XXH3-64), for provenance.
// stats: optional. Fails naming the file when one is missing, holds no text or is bad JSON; the
// stream draw when a file has fewer than seqlen tokens (with the count and a hint to lower
// --calib-seqlen / --calib-samples); the documents draw when no document has more than seqlen
// tokens (naming the file of the longest document and its length).
format::Status load_calibration(const std::vector<std::string>& files, const runtime::Tokenizer& tok, int32_t bos,
                                size_t n_samples, size_t seqlen, uint64_t seed, CalibDraw draw,
                                std::vector<std::vector<int32_t>>* samples,
                                std::vector<std::unique_ptr<fb::DigestT>>* digests, CalibrationStats* stats = nullptr);

// The stream draw, as before --calib-draw existed.
inline format::Status load_calibration(const std::vector<std::string>& files, const runtime::Tokenizer& tok,
                                       int32_t bos, size_t n_samples, size_t seqlen, uint64_t seed,
                                       std::vector<std::vector<int32_t>>* samples,
                                       std::vector<std::unique_ptr<fb::DigestT>>* digests) {
  return load_calibration(files, tok, bos, n_samples, seqlen, seed, CalibDraw::stream, samples, digests);
}

// The documents draw on token sequences: docs (n_docs) of any lengths. origins: optional, per
// window (document index, start). Fails when no document has more than seqlen tokens.
format::Status draw_document_windows(const std::vector<std::vector<int32_t>>& docs, size_t n_samples, size_t seqlen,
                                     uint64_t seed, std::vector<std::vector<int32_t>>* samples,
                                     std::vector<std::pair<size_t, size_t>>* origins = nullptr);

}  // namespace ingot::compiler
