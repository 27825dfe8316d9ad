// Reading GGUF files (llama.cpp / ggml's model container), versions 2 and 3, little-endian:
//   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv × { string key | u32 value type | value }          string = u64 length + UTF-8 bytes
//   n_tensors × { string name | u32 n_dims | u64 ne[n_dims] (ne[0] fastest) | u32 ggml type | u64 offset }
//   padding to general.alignment (u32, default 32), then the data section; each tensor's offset
//   counts from the data section and is a multiple of the alignment.
// Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
// 9 array (u32 element type, u64 count, elements), 10 u64, 11 i64, 12 f64.
//
// Every count, length, offset and size is checked against the bytes that remain before it is
// used, with overflow-safe arithmetic (as ggml/src/gguf.cpp does): a count can never make the
// reader allocate more than the file could hold. Arrays of arrays, duplicate keys or tensor
// names, a zero or non-power-of-two alignment, tensors that overlap or run past the end and
// unknown ggml types are errors naming the key, the tensor or the byte offset. A block-quantized
// tensor's rows must be whole blocks.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/format/status.h"

namespace ingot::compiler {

enum class GgufType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};

// One metadata value. Scalars fill one of the members by type; arrays fill `strings` (string
// elements) or `numbers` (every numeric or bool element, as double: exact for all but 64-bit
// integers above 2^53, which no LLaMA key holds).
struct GgufValue {
  GgufType type = GgufType::u8;
  GgufType element_type = GgufType::u8;  // arrays
  uint64_t u = 0;                        // unsigned integers and bool
  int64_t i = 0;                         // signed integers
  double f = 0;                          // f32, f64
  std::string s;
  std::vector<std::string> strings;
  std::vector<double> numbers;
  bool is_integer() const;
  bool is_unsigned() const;
};

// ggml tensor types this reader knows by number (ggml.h enum ggml_type).
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlBF16 = 30;
// "Q4_K", "IQ2_XS", ... for a ggml type number; "" for a number ggml does not define.
std::string_view ggml_type_name(uint32_t type);

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order: ne[0] is the fastest-varying (a row's length)
  uint32_t type = 0;
  uint64_t offset = 0;             // in the data section
  // F32/F16/BF16 and the block types of gguf_dequant.h (checked to lie inside the data section);
  // empty for other types (IQ*, TQ*, ...).
  std::span<const uint8_t> bytes;
};

struct GgufFile {
  uint32_t version = 0;
  uint64_t alignment = 32;
  std::map<std::string, GgufValue> kv;
  std::vector<GgufTensor> tensors;  // in file order
};

// Parses `bytes` (a whole file); `path` names it in messages. Tensors view `bytes`.
format::Status parse_gguf(std::span<const uint8_t> bytes, const std::string& path, GgufFile* out);

}  // namespace ingot::compiler
