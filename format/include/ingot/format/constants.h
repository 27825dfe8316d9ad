// Format constants shared by the compiler (writer) and the runtime (reader).
// spec/container.md is normative; this header and format/schema/ingot.fbs follow it.
// Nothing here is repeated elsewhere: both sides include this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "ingot/format/ingot_generated.h"  // generated from format/schema/ingot.fbs at build time

namespace ingot::format {

using fb::Compression;
using fb::DType;
using fb::Layout;
using fb::QuantMethod;
using fb::RopeForm;
using fb::RopeScalingType;
using fb::TokenizerKind;
using fb::TokenType;

// ---- versions ------------------------------------------------------------------------------
// Major: a reader refuses a file with a greater major version. Minor: additive changes only;
// a reader reads any minor version of its major.
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 1;  // 1.1: Tokenizer.pre_tokenizer, Provenance.source_types

// ---- fixed header at offset 0 (little-endian) ------------------------------------------------
// offset size field
//   0     8  magic "\x89INGOT\r\n"
//   8     2  major version
//  10     2  minor version
//  12     4  header_size: bytes of this header, checksum included (80 in 1.0)
//  16     4  alignment of the data section and of every blob (power of two, 64 .. 1 MiB)
//  20     4  flags (none defined in 1.0: must be 0)
//  24     8  index_offset (multiple of 8, >= header_size)
//  32     8  index_size (bytes of the FlatBuffers index)
//  40     8  index_checksum: XXH3-64 (seed 0) of the index bytes
//  48     8  data_offset (multiple of alignment, >= index_offset + index_size)
//  56     8  data_size; data_offset + data_size == file size
//  64     8  reserved (0)
//  72     8  header_checksum: XXH3-64 (seed 0) of bytes [0, header_size - 8)
inline constexpr uint8_t kMagic[8] = {0x89, 'I', 'N', 'G', 'O', 'T', '\r', '\n'};
inline constexpr uint32_t kHeaderSize = 80;
inline constexpr uint32_t kMaxHeaderSize = 4096;
inline constexpr uint32_t kDefaultAlignment = 4096;
inline constexpr uint32_t kMinAlignment = 64;
inline constexpr uint32_t kMaxAlignment = 1u << 20;
inline constexpr uint64_t kIndexAlignment = 8;
// FlatBuffers offsets are 32-bit: the index must stay below 2 GiB.
inline constexpr uint64_t kMaxIndexSize = (uint64_t{1} << 31) - 1;
// Upper bound on any one decompressed blob, so a hostile raw_size cannot ask for terabytes.
inline constexpr uint64_t kMaxBlobRawSize = uint64_t{1} << 40;
// Upper bound on tensor rank.
inline constexpr size_t kMaxRank = 8;
// The FlatBuffers identifier (bytes 4..7 of the index).
inline constexpr const char* kFileIdentifier = "INGT";

struct HeaderField {
  size_t offset;
  size_t size;
};
namespace header {
inline constexpr HeaderField magic{0, 8};
inline constexpr HeaderField major{8, 2};
inline constexpr HeaderField minor{10, 2};
inline constexpr HeaderField header_size{12, 4};
inline constexpr HeaderField alignment{16, 4};
inline constexpr HeaderField flags{20, 4};
inline constexpr HeaderField index_offset{24, 8};
inline constexpr HeaderField index_size{32, 8};
inline constexpr HeaderField index_checksum{40, 8};
inline constexpr HeaderField data_offset{48, 8};
inline constexpr HeaderField data_size{56, 8};
inline constexpr HeaderField reserved{64, 8};
inline constexpr HeaderField checksum{72, 8};
}  // namespace header

// ---- data types ----------------------------------------------------------------------------
// Bits per element; 0 for a value this reader does not know (a newer minor version's dtype).
constexpr uint32_t dtype_bits(DType t) {
  switch (t) {
    case DType::F32: return 32;
    case DType::F16: return 16;
    case DType::BF16: return 16;
    case DType::F64: return 64;
    case DType::I8: return 8;
    case DType::U8: return 8;
    case DType::I16: return 16;
    case DType::U16: return 16;
    case DType::I32: return 32;
    case DType::U32: return 32;
    case DType::I64: return 64;
    case DType::U64: return 64;
    case DType::Q2: return 2;
    case DType::Q3: return 3;
    case DType::Q4: return 4;
    case DType::Q8: return 8;
  }
  return 0;
}
constexpr bool dtype_is_packed(DType t) {
  return t == DType::Q2 || t == DType::Q3 || t == DType::Q4 || t == DType::Q8;
}
const char* dtype_name(DType t);            // "f32", "q4", ...; "?" if unknown
std::optional<DType> dtype_from_name(const char* name);
const char* layout_name(Layout l);          // "dense", "packed-rows-k"
const char* compression_name(Compression c);
const char* quant_method_name(QuantMethod m);
const char* rope_form_name(RopeForm f);
const char* rope_scaling_name(RopeScalingType t);
const char* tokenizer_kind_name(TokenizerKind k);

}  // namespace ingot::format
