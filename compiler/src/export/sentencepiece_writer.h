// Writing fb::TokenizerT (SentencePiece BPE) back as a `tokenizer.model`: a serialized
// sentencepiece.ModelProto holding what import/sentencepiece_model.h reads (pieces with scores and
// types, trainer_spec model_type BPE, byte_fallback and the special ids, an identity
// normalizer_spec with add_dummy_prefix and remove_extra_whitespaces). Hand-written protobuf wire
// format, as the reader is.
#pragma once

#include <cstdint>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

format::Status write_sentencepiece_model(const fb::TokenizerT& tokenizer, const fb::ModelConfigT& config,
                                         std::vector<uint8_t>* out);

}  // namespace ingot::compiler
