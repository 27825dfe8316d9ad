// Names of enum values for messages, the CLI and JSON output; and Status formatting.
#include <cstring>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::format {

namespace {
struct DTypeName {
  DType type;
  const char* name;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::F32, "f32"}, {DType::F16, "f16"}, {DType::BF16, "bf16"}, {DType::F64, "f64"},
    {DType::I8, "i8"},   {DType::U8, "u8"},   {DType::I16, "i16"},   {DType::U16, "u16"},
    {DType::I32, "i32"}, {DType::U32, "u32"}, {DType::I64, "i64"},   {DType::U64, "u64"},
    {DType::Q2, "q2"},   {DType::Q3, "q3"},   {DType::Q4, "q4"},     {DType::Q8, "q8"},
};
}  // namespace

const char* dtype_name(DType t) {
  for (const auto& n : kDTypeNames)
    if (n.type == t) return n.name;
  return "?";
}

std::optional<DType> dtype_from_name(const char* name) {
  for (const auto& n : kDTypeNames)
    if (std::strcmp(n.name, name) == 0) return n.type;
  return std::nullopt;
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::DenseRowMajor: return "dense";
    case Layout::PackedRowsK: return "packed-rows-k";
    case Layout::GptqPackedK: return "gptq-packed-k";
    case Layout::GptqPackedKSorted: return "gptq-packed-k-sorted";
  }
  return "?";
}

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::None: return "none";
    case Compression::Zstd: return "zstd";
  }
  return "?";
}

const char* quant_method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::None: return "none";
    case QuantMethod::RTN: return "rtn";
    case QuantMethod::GPTQ: return "gptq";
  }
  return "?";
}

const char* rope_form_name(RopeForm f) {
  switch (f) {
    case RopeForm::Interleaved: return "interleaved";
    case RopeForm::Half: return "half";
  }
  return "?";
}

const char* rope_scaling_name(RopeScalingType t) {
  switch (t) {
    case RopeScalingType::None: return "none";
    case RopeScalingType::Linear: return "linear";
    case RopeScalingType::Dynamic: return "dynamic";
    case RopeScalingType::Yarn: return "yarn";
    case RopeScalingType::Llama3: return "llama3";
  }
  return "?";
}

const char* tokenizer_kind_name(TokenizerKind k) {
  switch (k) {
    case TokenizerKind::None: return "none";
    case TokenizerKind::SentencePieceBpe: return "sentencepiece-bpe";
    case TokenizerKind::ByteLevelBpe: return "byte-level-bpe";
  }
  return "?";
}

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::io_error: return "I/O error";
    case StatusCode::bad_magic: return "bad magic";
    case StatusCode::unsupported_version: return "unsupported version";
    case StatusCode::truncated: return "truncated";
    case StatusCode::corrupt_header: return "corrupt header";
    case StatusCode::corrupt_index: return "corrupt index";
    case StatusCode::invalid_index: return "invalid index";
    case StatusCode::checksum_mismatch: return "checksum mismatch";
    case StatusCode::decompression_failed: return "decompression failed";
    case StatusCode::invalid_argument: return "invalid argument";
    case StatusCode::not_found: return "not found";
    case StatusCode::out_of_memory: return "out of memory";
    case StatusCode::interrupted: return "interrupted";
    case StatusCode::script_error: return "script_error";
    case StatusCode::kv_cache_full: return "KV cache full";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace ingot::format
