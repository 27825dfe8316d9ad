// From a quantizer's result to the canonical packed layout the container stores.
#pragma once

#include "gptq/gptq.h"
#include "import/source_model.h"

namespace ingot::compiler {

// Packs `r` (a W of shape (out, in) quantized with `config`) into `out`: q → GptqPackedK words,
// scales → f16, zeros packed unless every one is the symmetric default 2^(bits-1), g_idx kept only
// when it differs from k / group_size. Fails if a value does not fit (a quantizer bug).
format::Status pack_result(const QuantResult& r, const QuantConfig& config, fb::QuantMethod method, size_t out,
                           size_t in, PackedQuant* packed);

// The quantizable linear weights of a layer, in the order true-sequential GPTQ visits them.
bool is_linear_weight(const std::string& name);

}  // namespace ingot::compiler
