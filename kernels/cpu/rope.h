// Rotary position embedding, both pairings, with optional llama3 frequency scaling.
#pragma once

#include <cstddef>
#include <vector>

#include "ingot/format/constants.h"

namespace ingot::cpu {

struct RopeParams {
  size_t head_dim = 0;
  float theta = 10000.0f;
  fb::RopeForm form = fb::RopeForm::Interleaved;
  fb::RopeScalingType scaling = fb::RopeScalingType::None;
  float factor = 1.0f, low_freq_factor = 1.0f, high_freq_factor = 4.0f;
  float original_context_length = 8192.0f;
};

// The head_dim / 2 inverse frequencies, scaled as the config says.
std::vector<float> rope_inv_freq(const RopeParams& p);

// Rotates `n_heads` heads of `x` (n_heads * head_dim floats) for position `pos`.
void rope(float* x, size_t n_heads, size_t pos, const RopeParams& p, const std::vector<float>& inv_freq);

}  // namespace ingot::cpu
