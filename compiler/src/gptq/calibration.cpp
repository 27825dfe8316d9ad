#include "gptq/calibration.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <string_view>

#include <nlohmann/json.hpp>

#include "import/file.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;

bool looks_like_jsonl(const std::string& path, std::string_view text) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json" || ext == ".jsonl") return true;
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

// The documents of a JSON Lines file: one object with a string "text" per non-blank line.
Status read_jsonl(const std::string& path, std::string_view text, std::vector<std::string>* docs) {
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      return fail(StatusCode::invalid_argument, "calibration file '", path, "' line ", line_no,
                  " is not valid JSON (JSON Lines expected: one {\"text\": ...} object per line)");
    }
    if (!doc.is_object() || !doc.contains("text") || !doc["text"].is_string()) {
      return fail(StatusCode::invalid_argument, "calibration file '", path, "' line ", line_no,
                  " has no string field \"text\"");
    }
    docs->push_back(doc["text"].get<std::string>());
  }
  if (docs->empty()) {
    return fail(StatusCode::invalid_argument, "calibration file '", path, "' holds no JSON Lines documents");
  }
  return Status::success();
}

// Token ids of one text: BOS first when the model has one, as the reference's tokenizer call does.
std::vector<int32_t> tokenize(const runtime::Tokenizer& tok, int32_t bos, const std::string& text) {
  std::vector<int32_t> ids;
  if (bos >= 0) ids.push_back(bos);
  const std::vector<int32_t> body = tok.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

}  // namespace

std::optional<CalibDraw> calib_draw_from_name(std::string_view name) {
  if (name == "stream") return CalibDraw::stream;
  if (name == "documents") return CalibDraw::documents;
  return std::nullopt;
}

const char* calib_draw_name(CalibDraw draw) { return draw == CalibDraw::documents ? "documents" : "stream"; }

// Random numbers below: rng() mod range rather than std::uniform_int_distribution, whose
// algorithm differs between standard libraries: the windows must be the same wherever ingotc runs.
Status draw_document_windows(const std::vector<std::vector<int32_t>>& docs, size_t n_samples, size_t seqlen,
                             uint64_t seed, std::vector<std::vector<int32_t>>* samples,
                             std::vector<std::pair<size_t, size_t>>* origins) {
  samples->clear();
  if (origins) origins->clear();
  if (n_samples == 0 || seqlen == 0) {
    return fail(StatusCode::invalid_argument, "calibration needs n_samples >= 1 and seqlen >= 1 (got ", n_samples,
                " and ", seqlen, ")");
  }
  // get_c4 draws documents until one is long enough; without such a document it would never stop.
  if (std::none_of(docs.begin(), docs.end(), [&](const std::vector<int32_t>& d) { return d.size() > seqlen; })) {
    return fail(StatusCode::invalid_argument, "no calibration document has more than ", seqlen, " tokens");
  }
  std::mt19937_64 rng(seed);
  samples->reserve(n_samples);
  for (size_t i = 0; i < n_samples; ++i) {
    size_t d = 0;
    do {
      d = size_t(rng() % uint64_t(docs.size()));
    } while (docs[d].size() <= seqlen);
    const size_t start = size_t(rng() % uint64_t(docs[d].size() - seqlen));  // [0, n − seqlen − 1]
    samples->emplace_back(docs[d].begin() + ptrdiff_t(start), docs[d].begin() + ptrdiff_t(start + seqlen));
    if (origins) origins->emplace_back(d, start);
  }
  return Status::success();
}

Status load_calibration(const std::vector<std::string>& files, const runtime::Tokenizer& tok, int32_t bos,
                        size_t n_samples, size_t seqlen, uint64_t seed, CalibDraw draw,
                        std::vector<std::vector<int32_t>>* samples,
                        std::vector<std::unique_ptr<fb::DigestT>>* digests, CalibrationStats* stats) {
  samples->clear();
  digests->clear();
  if (files.empty()) return fail(StatusCode::invalid_argument, "no calibration files given");
  if (n_samples == 0 || seqlen == 0) {
    return fail(StatusCode::invalid_argument, "calibration needs n_samples >= 1 and seqlen >= 1 (got ", n_samples,
                " and ", seqlen, ")");
  }
  CalibrationStats st;
  std::vector<std::vector<int32_t>> streams;  // stream: (files) each file's whole token stream
  std::vector<std::vector<int32_t>> docs;     // documents: (documents of all files) token ids
  std::string longest_file;
  for (const std::string& path : files) {
    if (!std::filesystem::is_regular_file(path)) {
      return fail(StatusCode::io_error, "calibration file '", path, "' does not exist or is not a regular file");
    }
    std::unique_ptr<Mapping> m;
    INGOT_RETURN_IF_ERROR(map_file(path, &m));
    digests->push_back(digest(path, *m));
    const std::string_view raw(reinterpret_cast<const char*>(m->bytes().data()), m->bytes().size());
    std::vector<std::string> texts;
    if (looks_like_jsonl(path, raw)) {
      INGOT_RETURN_IF_ERROR(read_jsonl(path, raw, &texts));
    } else {
      texts.emplace_back(raw);
    }
    st.n_documents += texts.size();
    if (draw == CalibDraw::stream) {
      // The file's documents joined with "\n\n", as the reference joins its documents.
      std::string text;
      for (size_t i = 0; i < texts.size(); ++i) {
        if (i > 0) text += "\n\n";
        text += texts[i];
      }
      std::vector<int32_t> ids = tokenize(tok, bos, text);
      if (ids.size() == (bos >= 0 ? 1u : 0u)) {
        return fail(StatusCode::invalid_argument, "calibration file '", path, "' holds no text");
      }
      if (ids.size() < seqlen) {
        return fail(StatusCode::invalid_argument, "calibration file '", path, "' has only ", ids.size(),
                    " tokens, fewer than one window of ", seqlen,
                    "; use a smaller --calib-seqlen (and --calib-samples) or more calibration text");
      }
      streams.push_back(std::move(ids));
      continue;
    }
    size_t file_tokens = 0;
    for (const std::string& t : texts) {
      std::vector<int32_t> ids = tokenize(tok, bos, t);
      file_tokens += ids.size() - (bos >= 0 ? 1 : 0);
      st.n_longer += ids.size() > seqlen ? 1 : 0;
      if (ids.size() > st.longest) {
        st.longest = ids.size();
        longest_file = path;
      }
      docs.push_back(std::move(ids));
    }
    if (file_tokens == 0) return fail(StatusCode::invalid_argument, "calibration file '", path, "' holds no text");
  }
  if (stats) *stats = st;
  if (draw == CalibDraw::documents) {
    if (st.n_longer == 0) {
      return fail(StatusCode::invalid_argument, "calibration: --calib-draw documents takes each window inside one ",
                  "document with more than --calib-seqlen ", seqlen, " tokens, and none has: the longest has ",
                  st.longest, " tokens (in '", longest_file, "', of ", st.n_documents,
                  " documents); use a smaller --calib-seqlen or --calib-draw stream");
    }
    return draw_document_windows(docs, n_samples, seqlen, seed, samples);
  }
  // Like get_c4: a random source (there: document, here: file), then a uniform start.
  std::mt19937_64 rng(seed);
  samples->reserve(n_samples);
  for (size_t i = 0; i < n_samples; ++i) {
    const std::vector<int32_t>& s = streams.size() == 1 ? streams[0] : streams[rng() % streams.size()];
    const size_t start = size_t(rng() % uint64_t(s.size() - seqlen + 1));
    samples->emplace_back(s.begin() + ptrdiff_t(start), s.begin() + ptrdiff_t(start + seqlen));
  }
  return Status::success();
}

}  // namespace ingot::compiler
