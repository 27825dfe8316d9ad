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

// Act-order weights (a g_idx that is not k / group_size) are stored in layout GptqPackedKSorted:
// if p->g_idx can be sorted (every group but the last holds exactly group_size columns), the
// columns of p->qweight (shape (out, in)) are reordered into group order, p->order set and p->g_idx
// cleared, and *sorted is true. `preferred` (may be empty), e.g. GPTQ's quantization order, is used
// when it is such an order; otherwise the columns are stably sorted by group. A g_idx that cannot
// be sorted, or none, leaves p as it is (*sorted false). INGOTC_UNSORTED_ACT_ORDER=1 in the
// environment keeps every weight unsorted (GptqPackedK + perm, as before the sorted layout; a
// switch for tests and benchmarks).
format::Status sort_act_order(PackedQuant* p, size_t out, size_t in, const std::vector<int32_t>& preferred,
                              bool* sorted);

// qweight (ceil(in·bits/32), out) with its input columns moved: forward, stored column j of the
// result is column order[j] of `qweight`; inverse, column order[j] of the result is column j.
std::vector<uint32_t> permute_gptq_columns(const uint32_t* qweight, size_t out, size_t in, uint32_t bits,
                                           const int32_t* order, bool inverse);

// The quantizable linear weights of a layer, in the order true-sequential GPTQ visits them.
bool is_linear_weight(const std::string& name);

}  // namespace ingot::compiler
