#include "import/tokenizer_files.h"

#include <filesystem>

#include "import/hf_tokenizer.h"
#include "import/llama2c_tokenizer.h"
#include "import/sentencepiece_model.h"

namespace ingot::compiler {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void set_ids(fb::ModelConfigT& c, int32_t bos, int32_t eos, int32_t unk, int32_t pad) {
  if (bos >= 0) c.bos_id = bos;
  if (eos >= 0) c.eos_id = eos;
  if (unk >= 0) c.unk_id = unk;
  if (pad >= 0) c.pad_id = pad;
}

// A tokenizer may be smaller than the model's vocabulary (padded embeddings), never larger.
format::Status check_vocab(const std::string& path, const SourceModel& model) {
  if (model.config.vocab_size != 0 && model.tokenizer.pieces.size() > model.config.vocab_size) {
    return format::fail(format::StatusCode::invalid_argument, "'", path, "' has ", model.tokenizer.pieces.size(),
                        " pieces but the model's vocabulary is ", model.config.vocab_size);
  }
  return format::Status::success();
}

}  // namespace

format::Status import_tokenizer_file(const std::string& path, SourceModel* model) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (ends_with(name, ".json")) {
    const std::string config = (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
    std::error_code ec;
    HfTokenizerIds ids;
    INGOT_RETURN_IF_ERROR(load_hf_tokenizer(path, std::filesystem::exists(config, ec) ? config : std::string(),
                                            &model->tokenizer, &ids, &model->sources));
    set_ids(model->config, ids.bos_id, ids.eos_id, ids.unk_id, ids.pad_id);
    return check_vocab(path, *model);
  }
  SentencePieceInfo info;
  std::unique_ptr<fb::DigestT> digest;
  if (ends_with(name, ".bin")) {
    if (model->config.vocab_size == 0) {
      return format::fail(format::StatusCode::invalid_argument, "'", path,
                          "': a llama2.c tokenizer.bin needs the model's vocabulary size; import the weights first");
    }
    INGOT_RETURN_IF_ERROR(
        read_llama2c_tokenizer(path, int32_t(model->config.vocab_size), &model->tokenizer, &info, &digest));
  } else {
    INGOT_RETURN_IF_ERROR(read_sentencepiece_model(path, &model->tokenizer, &info, &digest));
  }
  set_ids(model->config, info.bos_id, info.eos_id, info.unk_id, info.pad_id);
  if (digest) model->sources.push_back(std::move(digest));
  return check_vocab(path, *model);
}

}  // namespace ingot::compiler
