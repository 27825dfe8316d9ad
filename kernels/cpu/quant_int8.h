// y = q8(x) · dequant(W)ᵀ for GPTQ-packed weights (layout GptqPackedK, spec/quant-layouts.md) with
// the activations quantized to int8: integer dot products (AVX-512 VNNI vpdpbusd, AVX2
// vpmaddubsw/vpmaddwd, or portable C++), chosen at run time.
//
// Activations: each row of x is cut into blocks of kInt8Block (16) input values (a block never
// straddles a group: the kernels take group sizes that are multiples of 16, or −1); block b gets the scale
// d_b = max|x| / 127 and xq = round(x / d_b) ∈ [−127, 127]. Then, per output o and group g,
//   y[o] = Σ_g scale[g][o] · ( Σ_{b ∈ g} d_b · Σ_{k ∈ b} q[k][o]·xq[k]  −  zero[g][o] · Σ_{b ∈ g} d_b·Σ_{k ∈ b} xq[k] )
// with the inner sums exact in int32. The error this adds is at most Σ_k |W[o][k]| · d_b(k) / 2
// per output (each xq is within half a step of x / d_b): tests/quant/quant_int8_test.cpp checks it.
#pragma once

#include <cstddef>

#include "cpu/quant.h"

namespace ingot::cpu {

// Input values per activation scale. 16, not 32 (llama.cpp's Q8_0): SmolLM2-135M's activations
// have outlier channels that cost +0.40% perplexity with blocks of 32 and +0.004% with 16
// (RTN 4-bit g128, wikitext-2, 24 windows of 512); the extra scale is one convert and one FMA
// per 16 inputs and output.
inline constexpr size_t kInt8Block = 16;

enum class Int8Isa { portable, avx2, avx512_vnni };
const char* int8_isa_name(Int8Isa isa);

// The best kernel this CPU runs: AVX-512 (F, BW, VL, VNNI) > AVX2 (+FMA, F16C) > portable.
// INGOT_NO_SIMD=1 forces portable, INGOT_SIMD=avx2 forces AVX2 (on an AVX-512 machine), read once.
Int8Isa int8_isa();
// Whether this CPU can run `isa`.
bool int8_isa_available(Int8Isa isa);

// How quant_matmul treats the activations of a weight an int8 kernel takes: quantized to int8
// per block of kInt8Block (the default), or kept f32 (quant_matmul_f32, the reference arithmetic).
enum class Activations { int8, f32 };
// The process default: int8, unless INGOT_QUANT_ACT=f32 at start-up (read once) or
// set_int8_activations(false). Another value of INGOT_QUANT_ACT is reported once on stderr and
// ignored.
Activations default_activations();
void set_int8_activations(bool on);  // sets the process default
// What quant_matmul uses on this thread: the innermost ScopedActivations, else the default.
bool int8_activations();

// Sets the calling thread's choice for its lifetime (nested scopes restore the outer one). A
// model's forward pass sets its LoadOptions::activations; the compiler's calibration pass sets f32.
// The choice is made on the thread that calls quant_matmul, so the pool's workers need none.
class ScopedActivations {
 public:
  explicit ScopedActivations(Activations a);
  ~ScopedActivations();
  ScopedActivations(const ScopedActivations&) = delete;
  ScopedActivations& operator=(const ScopedActivations&) = delete;

 private:
  int previous_;
};

// True when the int8 kernels take `w`: 3, 4 or 8 bits, no g_idx, group_size −1 or a multiple of
// kInt8Block. An input order (GptqPackedKSorted) is taken: quant_matmul_int8 gathers x into stored
// order first. Any rows and cols (a partial last block is padded with zero activations). 3 bits
// have a SIMD kernel only with AVX-512 VNNI + VBMI (elsewhere quant_matmul_int8 runs them portable).
bool quant_int8_supported(const QuantView& w);
// Whether int8_isa() has the 3-bit SIMD kernel (VNNI + VBMI): quant_matmul then takes 3-bit
// weights through int8, else through the f32 path (faster than portable int8).
bool int8_3bit_kernel();

// y (n, rows) = q8(x (n, cols)) · dequant(W)ᵀ with kernel `isa` (which the CPU must have). `w` must
// pass check_quant_view and quant_int8_supported. A row of x holding a NaN or an infinity goes
// through the f32 path (quant_matmul_f32), so non-finite inputs give what they give there.
void quant_matmul_int8(const float* x, size_t n, const QuantView& w, float* y, Int8Isa isa);

}  // namespace ingot::cpu
