#include "gptq/calibration.h"

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

// The documents of a JSON Lines file (one object with a string "text" per non-blank line),
// joined with "\n\n" as the reference joins its documents.
Status read_jsonl(const std::string& path, std::string_view text, std::string* joined) {
  size_t n_docs = 0, line_no = 0, pos = 0;
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
    if (n_docs++ > 0) *joined += "\n\n";
    *joined += doc["text"].get_ref<const std::string&>();
  }
  if (n_docs == 0) {
    return fail(StatusCode::invalid_argument, "calibration file '", path, "' holds no JSON Lines documents");
  }
  return Status::success();
}

}  // namespace

Status load_calibration(const std::vector<std::string>& files, const runtime::Tokenizer& tok, int32_t bos,
                        size_t n_samples, size_t seqlen, uint64_t seed, std::vector<std::vector<int32_t>>* samples,
                        std::vector<std::unique_ptr<fb::DigestT>>* digests) {
  samples->clear();
  digests->clear();
  if (files.empty()) return fail(StatusCode::invalid_argument, "no calibration files given");
  if (n_samples == 0 || seqlen == 0) {
    return fail(StatusCode::invalid_argument, "calibration needs n_samples >= 1 and seqlen >= 1 (got ", n_samples,
                " and ", seqlen, ")");
  }
  std::vector<std::vector<int32_t>> streams;  // (files) the token ids of each file's whole text
  for (const std::string& path : files) {
    if (!std::filesystem::is_regular_file(path)) {
      return fail(StatusCode::io_error, "calibration file '", path, "' does not exist or is not a regular file");
    }
    std::unique_ptr<Mapping> m;
    INGOT_RETURN_IF_ERROR(map_file(path, &m));
    digests->push_back(digest(path, *m));
    const std::string_view raw(reinterpret_cast<const char*>(m->bytes().data()), m->bytes().size());
    std::string text;
    if (looks_like_jsonl(path, raw)) {
      INGOT_RETURN_IF_ERROR(read_jsonl(path, raw, &text));
    } else {
      text.assign(raw);
    }
    std::vector<int32_t> ids;
    if (bos >= 0) ids.push_back(bos);
    const std::vector<int32_t> body = tok.encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    if (body.empty()) return fail(StatusCode::invalid_argument, "calibration file '", path, "' holds no text");
    if (ids.size() < seqlen) {
      return fail(StatusCode::invalid_argument, "calibration file '", path, "' has only ", ids.size(),
                  " tokens, fewer than one window of ", seqlen,
                  "; use a smaller --calib-seqlen (and --calib-samples) or more calibration text");
    }
    streams.push_back(std::move(ids));
  }
  // Like get_c4: a random source (there: document, here: file), then a uniform start. The start is
  // taken as rng() mod range rather than std::uniform_int_distribution, whose algorithm differs
  // between standard libraries: the windows must be the same wherever ingotc runs.
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
