// Element i of a weight of type f32 / f16 / bf16, widened to f32 (device side of cpu::weight_row).
#pragma once

#include <cuda_runtime.h>

#include "cuda/hd.cuh"
#include "cuda/ops.h"

namespace ingot::cuda {

template <WeightType T>
__device__ __forceinline__ float weight_at(const void* w, size_t i) {
  if constexpr (T == WeightType::f32) {
    return __ldg(static_cast<const float*>(w) + i);
  } else if constexpr (T == WeightType::f16) {
    return f16_bits_to_float(__ldg(static_cast<const uint16_t*>(w) + i));
  } else {
    return bf16_bits_to_float(__ldg(static_cast<const uint16_t*>(w) + i));
  }
}

}  // namespace ingot::cuda
