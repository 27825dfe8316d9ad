// How many bytes a tensor's blobs hold, from its dtype, shape, layout and quantization.
// The writer checks what it is given and the reader checks what it reads with these same rules
// (spec/container.md, "Tensor sizes").
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::format {

struct QuantShape {
  QuantMethod method = QuantMethod::None;
  uint32_t bits = 0;
  int32_t group_size = -1;
  DType scales_dtype = DType::F16;
  DType zeros_dtype = DType::Q4;
  bool has_zeros = false;
  bool has_perm = false;
  bool has_input_order = false;  // appended: positional initializers of the fields above still hold
};

struct TensorBytes {
  uint64_t data = 0;
  uint64_t scales = 0;  // 0 when not quantized
  uint64_t zeros = 0;   // 0 when absent
  uint64_t perm = 0;    // 0 when absent
  uint64_t input_order = 0;  // 0 when absent
  uint64_t n_groups = 0;
};

// Element count of a shape, or an error if the rank, a zero dimension or overflow forbids it.
Status element_count(std::string_view tensor, std::span<const uint64_t> shape, uint64_t* out);

// Expected decompressed sizes of every blob of a tensor. `quant` is null for unquantized tensors.
Status tensor_bytes(std::string_view tensor, DType dtype, Layout layout, std::span<const uint64_t> shape,
                    const QuantShape* quant, TensorBytes* out);

}  // namespace ingot::format
