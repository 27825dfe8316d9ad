// The device half of gptq_quantize (QuantConfig::device = GptqDevice::cuda): gptq.cpp prepares
// the problem on the host (dead columns, act-order, static and per-channel grids) exactly as for
// the CPU, and this runs what costs: the damped inverse factor U of H⁻¹ (cuSOLVER, double, with
// gptq.cpp's raise rules), GPTAQ's P (cuBLAS), and the column loop block by block (the kernel
// kernels/cuda/gptq_columns.cu, then the lazy update of the later columns as one cuBLAS DGEMM).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cuda/gptq_math.cuh"
#include "gptq/gptq.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

struct DeviceColumns {
  size_t out, in;
  const QuantConfig& config;
  const std::vector<float>& hp;       // (in, in) H in quantization order, dead diagonal set to 1
  std::vector<double> dp;             // (in, in) GPTAQ's D (permuted dXXT, dead columns zeroed); empty: GPTQ
  const std::vector<double>& hdiag_p;  // (in) diag(H) in quantization order
  const std::vector<int32_t>& perm;    // (in) original column of each position
  const std::vector<double>& wp;       // (out, in) weights in quantization order, dead columns zeroed
  std::vector<cuda::QParams>& params;  // (n_groups, out): in, the per-channel / static grids; out, all
  std::vector<uint8_t>& qp;            // (out, in) out: integers in quantization order
  std::vector<double>& row_loss;       // (out) out: each row's loss
};

// False when ingot was built without CUDA or no device is present (then gptq_columns_cuda fails
// with a message saying which).
bool gptq_cuda_available();

format::Status gptq_columns_cuda(DeviceColumns& d, float* damp_used, int* damp_raises, size_t* peak_bytes);

}  // namespace ingot::compiler
