// The arithmetic of RoPE (rope.cu): which two elements of a head pair i rotates, and the rotation.
// The inverse frequencies come from cpu::rope_inv_freq (llama3 / linear scaling applied there, on
// the host, once per model) and are copied to the device, so both backends rotate by one table.
#pragma once

#include "cuda/hd.cuh"

namespace ingot::cuda {

// Pair i (0 ≤ i < head_dim/2) of a head: (2i, 2i+1) in the interleaved form (llama2.c, GGUF),
// (i, i + head_dim/2) in the half form (Hugging Face's rotate_half).
INGOT_HD void rope_pair(bool interleaved, unsigned i, unsigned head_dim, unsigned* a, unsigned* b) {
  *a = interleaved ? 2 * i : i;
  *b = interleaved ? 2 * i + 1 : i + head_dim / 2;
}

// (x0, x1) rotated by the angle whose cosine and sine are c, s: the CPU kernel's expression order.
INGOT_HD void rope_rotate(float* x0, float* x1, float c, float s) {
  const float a = *x0, b = *x1;
  *x0 = a * c - b * s;
  *x1 = a * s + b * c;
}

// The angle of pair i at position pos: float(pos) · inv_freq[i], one rounding as on the CPU.
INGOT_HD float rope_angle(unsigned pos, float inv_freq) { return float(pos) * inv_freq; }

}  // namespace ingot::cuda
