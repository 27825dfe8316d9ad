// The script mode of `ingot bench` (bench_script.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace ingot::cli {

// Per-token microseconds of a Lua top-p sampler and a Lua repetition-penalty process_logits
// against the built-in sampler doing the same, over `n_tokens` rows of the model's logits,
// median of `repeats` passes. Fills `out` with {vocab, tokens, top_p{builtin_us, lua_us,
// overhead_us}, repetition_penalty{...}}.
format::Status bench_script_overhead(const runtime::Model& model, size_t n_tokens, size_t repeats,
                                     nlohmann::json* out);

}  // namespace ingot::cli
