// Reads a tokenizer file into a SourceModel, choosing the reader by file name:
//   *.model           SentencePiece ModelProto (LLaMA-1/2, stories)
//   *.bin             llama2.c tokenizer.bin (needs the model's vocab size: import weights first)
//   tokenizer.json    Hugging Face tokenizers (byte-level BPE, LLaMA-3); tokenizer_config.json
//                     beside it adds the chat template and BOS/EOS
// Sets the model's special ids (bos/eos/unk/pad) from the tokenizer where it knows them.
#pragma once

#include <string>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

format::Status import_tokenizer_file(const std::string& path, SourceModel* model);

}  // namespace ingot::compiler
