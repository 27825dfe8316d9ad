#include "ingot/format/layout.h"

namespace ingot::format {

namespace {

// a * b, failing on overflow.
bool mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// Bytes of `rows` rows of `cols` values of `bits` each, every row padded to whole uint32 words.
bool packed_rows_bytes(uint64_t rows, uint64_t cols, uint32_t bits, uint64_t* out) {
  uint64_t row_bits = 0;
  if (!mul(cols, bits, &row_bits)) return false;
  return mul(rows, ceil_div(row_bits, 32) * 4, out);
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

}  // namespace

Status element_count(std::string_view tensor, std::span<const uint64_t> shape, uint64_t* out) {
  if (shape.empty() || shape.size() > kMaxRank) {
    return fail(StatusCode::invalid_index, "tensor '", tensor, "': rank ", shape.size(), " is outside [1, ",
                kMaxRank, "]");
  }
  uint64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return fail(StatusCode::invalid_index, "tensor '", tensor, "': dimension ", i, " is 0");
    if (!mul(n, shape[i], &n)) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': element count overflows");
    }
  }
  *out = n;
  return Status::success();
}

Status tensor_bytes(std::string_view tensor, DType dtype, Layout layout, std::span<const uint64_t> shape,
                    const QuantShape* quant, TensorBytes* out) {
  const uint32_t bits = dtype_bits(dtype);
  if (bits == 0) {
    return fail(StatusCode::invalid_index, "tensor '", tensor, "': unknown dtype ", int(dtype),
                " (written by a newer ingot?)");
  }
  uint64_t numel = 0;
  INGOT_RETURN_IF_ERROR(element_count(tensor, shape, &numel));
  TensorBytes b;
  switch (layout) {
    case Layout::DenseRowMajor: {
      uint64_t total_bits = 0;
      if (!mul(numel, bits, &total_bits)) {
        return fail(StatusCode::invalid_index, "tensor '", tensor, "': size overflows");
      }
      if (total_bits % 8 != 0) {
        return fail(StatusCode::invalid_index, "tensor '", tensor, "': ", numel, " elements of ", bits,
                    " bits do not fill whole bytes");
      }
      b.data = total_bits / 8;
      break;
    }
    case Layout::PackedRowsK:
      if (!dtype_is_packed(dtype) || shape.size() != 2) {
        return fail(StatusCode::invalid_index, "tensor '", tensor,
                    "': layout packed-rows-k needs a q2/q3/q4/q8 dtype and rank 2, got ", dtype_name(dtype),
                    " rank ", shape.size());
      }
      if (!packed_rows_bytes(shape[0], shape[1], bits, &b.data)) {
        return fail(StatusCode::invalid_index, "tensor '", tensor, "': size overflows");
      }
      break;
    case Layout::GptqPackedK:
    case Layout::GptqPackedKSorted:
      // Words (ceil(cols·b/32), rows): the same count as PackedRowsK, arranged column-major
      // (spec/quant-layouts.md); the sorted form only stores the input columns in another order.
      if (!dtype_is_packed(dtype) || shape.size() != 2) {
        return fail(StatusCode::invalid_index, "tensor '", tensor, "': layout ", layout_name(layout),
                    " needs a q2/q3/q4/q8 dtype and rank 2, got ", dtype_name(dtype), " rank ", shape.size());
      }
      if (!packed_rows_bytes(shape[0], shape[1], bits, &b.data)) {
        return fail(StatusCode::invalid_index, "tensor '", tensor, "': size overflows");
      }
      break;
    default:
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': unknown layout ", int(layout),
                  " (written by a newer ingot?)");
  }

  if (quant != nullptr) {
    if (quant->method != QuantMethod::RTN && quant->method != QuantMethod::GPTQ) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': unknown quantization method ",
                  int(quant->method));
    }
    if (!dtype_is_packed(dtype) || shape.size() != 2 || quant->bits != bits) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': quantized tensors are rank-2 q2/q3/q4/q8 with ",
                  "bits equal to the dtype's; got ", dtype_name(dtype), " rank ", shape.size(), " bits ",
                  quant->bits);
    }
    const uint64_t rows = shape[0], cols = shape[1];
    if (quant->group_size == -1) {
      b.n_groups = 1;
    } else if (quant->group_size >= 1) {
      b.n_groups = ceil_div(cols, uint64_t(quant->group_size));
    } else {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': group_size ", quant->group_size,
                  " is neither -1 nor positive");
    }
    if (!is_float(quant->scales_dtype)) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': scales dtype ", dtype_name(quant->scales_dtype),
                  " is not f32/f16/bf16");
    }
    uint64_t per_group = 0;
    if (!mul(rows, dtype_bits(quant->scales_dtype) / 8, &per_group) || !mul(b.n_groups, per_group, &b.scales)) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': scales size overflows");
    }
    if (quant->has_zeros) {
      const DType z = quant->zeros_dtype;
      const uint32_t zbits = dtype_bits(z);
      bool fits = false;
      if (zbits == 0) {
        return fail(StatusCode::invalid_index, "tensor '", tensor, "': unknown zeros dtype ", int(z));
      } else if (dtype_is_packed(z)) {
        fits = packed_rows_bytes(b.n_groups, rows, zbits, &b.zeros);
      } else {
        fits = mul(rows, zbits / 8, &per_group) && mul(b.n_groups, per_group, &b.zeros);
      }
      if (!fits) return fail(StatusCode::invalid_index, "tensor '", tensor, "': zeros size overflows");
    }
    if (quant->has_perm && !mul(cols, 4, &b.perm)) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': perm size overflows");
    }
    // gptq-packed-k-sorted: groups are contiguous in stored order, so a perm would contradict the
    // layout, and without input_order the stored columns could not be placed.
    const bool sorted = layout == Layout::GptqPackedKSorted;
    if (sorted && (!quant->has_input_order || quant->has_perm)) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': layout gptq-packed-k-sorted needs an ",
                  "input_order blob and no perm", quant->has_perm ? " (it has a perm)" : " (it has no input_order)");
    }
    if (!sorted && quant->has_input_order) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': an input_order blob belongs to layout ",
                  "gptq-packed-k-sorted only, not ", layout_name(layout));
    }
    if (quant->has_input_order && !mul(cols, 4, &b.input_order)) {
      return fail(StatusCode::invalid_index, "tensor '", tensor, "': input_order size overflows");
    }
  } else if (layout == Layout::GptqPackedKSorted) {
    return fail(StatusCode::invalid_index, "tensor '", tensor, "': layout gptq-packed-k-sorted needs a quant table");
  }
  *out = b;
  return Status::success();
}

}  // namespace ingot::format
