#include "import/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "import/file.h"
#include "import/gguf_dequant.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;

// ggml.h enum ggml_type, by number; "" marks numbers ggml has retired (Q4_2, Q4_3, Q4_0_4_4, ...).
constexpr std::string_view kGgmlTypes[] = {
    "F32",     "F16",     "Q4_0",    "Q4_1",   "",        "",      "Q5_0",  "Q5_1",  "Q8_0",   "Q8_1",
    "Q2_K",    "Q3_K",    "Q4_K",    "Q5_K",   "Q6_K",    "Q8_K",  "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
    "IQ4_NL",  "IQ3_S",   "IQ2_S",   "IQ4_XS", "I8",      "I16",   "I32",   "I64",   "F64",    "IQ1_M",
    "BF16",    "",        "",        "",       "TQ1_0",   "TQ2_0", "",      "",      "",       "MXFP4"};

constexpr uint64_t kMaxDims = 4;  // GGML_MAX_DIMS

const char* type_name(GgufType t) {
  static const char* const kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array",
                                       "u64", "i64", "f64"};
  return uint32_t(t) <= 12 ? kNames[uint32_t(t)] : "?";
}

// Bytes of a fixed-size value type; 0 for string and array.
uint64_t fixed_size(GgufType t) {
  switch (t) {
    case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
    case GgufType::u16: case GgufType::i16: return 2;
    case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
    case GgufType::u64: case GgufType::i64: case GgufType::f64: return 8;
    default: return 0;
  }
}

class Reader {
 public:
  Reader(std::span<const uint8_t> b, const std::string& path) : b_(b), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return b_.size() - pos_; }

  Status bytes(void* out, uint64_t n, const std::string& what) {
    if (n > left()) {
      return fail(StatusCode::truncated, "'", path_, "': truncated: ", what, " needs ", n, " bytes at byte ", pos_,
                  " but only ", left(), " remain");
    }
    std::memcpy(out, b_.data() + pos_, size_t(n));
    pos_ += n;
    return Status::success();
  }
  template <typename T>
  Status get(T* v, const std::string& what) {
    return bytes(v, sizeof(T), what);
  }
  Status string(std::string* s, const std::string& what) {
    uint64_t n = 0;
    INGOT_RETURN_IF_ERROR(get(&n, what + " length"));
    if (n > left()) {
      return fail(StatusCode::truncated, "'", path_, "': ", what, " claims ", n, " bytes at byte ", pos_, " but only ",
                  left(), " remain");
    }
    s->assign(reinterpret_cast<const char*>(b_.data() + pos_), size_t(n));
    pos_ += n;
    return Status::success();
  }
  // Skips to the next multiple of `alignment` (a power of two).
  Status align(uint64_t alignment) {
    const uint64_t pad = (alignment - pos_ % alignment) % alignment;
    if (pad > left()) {
      return fail(StatusCode::truncated, "'", path_, "': truncated: padding to the ", alignment,
                  "-byte alignment runs past the end of the file");
    }
    pos_ += pad;
    return Status::success();
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

// One scalar of type `t` into v (numbers also into `number` for arrays).
Status read_scalar(Reader& r, GgufType t, const std::string& what, GgufValue* v, double* number) {
  switch (t) {
#define INGOT_GGUF_INT(ENUM, CTYPE, FIELD)                      \
  case GgufType::ENUM: {                                        \
    CTYPE x{};                                                  \
    INGOT_RETURN_IF_ERROR(r.get(&x, what));                     \
    v->FIELD = x;                                               \
    *number = double(x);                                        \
    return Status::success();                                   \
  }
    INGOT_GGUF_INT(u8, uint8_t, u)
    INGOT_GGUF_INT(u16, uint16_t, u)
    INGOT_GGUF_INT(u32, uint32_t, u)
    INGOT_GGUF_INT(u64, uint64_t, u)
    INGOT_GGUF_INT(i8, int8_t, i)
    INGOT_GGUF_INT(i16, int16_t, i)
    INGOT_GGUF_INT(i32, int32_t, i)
    INGOT_GGUF_INT(i64, int64_t, i)
    INGOT_GGUF_INT(f32, float, f)
    INGOT_GGUF_INT(f64, double, f)
#undef INGOT_GGUF_INT
    case GgufType::boolean: {
      uint8_t x = 0;
      INGOT_RETURN_IF_ERROR(r.get(&x, what));
      if (x > 1) return fail(StatusCode::invalid_argument, what, ": bool holds ", int(x), ", not 0 or 1");
      v->u = x;
      *number = x;
      return Status::success();
    }
    default: return fail(StatusCode::invalid_argument, what, ": not a scalar type");
  }
}

Status read_value(Reader& r, const std::string& path, const std::string& key, GgufValue* v) {
  uint32_t type = 0;
  INGOT_RETURN_IF_ERROR(r.get(&type, "type of key '" + key + "'"));
  if (type > 12) return file_error(path, "key '", key, "' has unknown value type ", type);
  v->type = GgufType(type);
  const std::string what = "value of key '" + key + "'";
  double ignored = 0;
  if (v->type == GgufType::string) return r.string(&v->s, what);
  if (v->type != GgufType::array) return read_scalar(r, v->type, what, v, &ignored);

  uint32_t et = 0;
  uint64_t n = 0;
  INGOT_RETURN_IF_ERROR(r.get(&et, "element type of key '" + key + "'"));
  INGOT_RETURN_IF_ERROR(r.get(&n, "element count of key '" + key + "'"));
  if (et > 12) return file_error(path, "array '", key, "' has unknown element type ", et);
  v->element_type = GgufType(et);
  if (v->element_type == GgufType::array) return file_error(path, "array '", key, "' holds arrays, which are not supported");
  // Each element takes at least its fixed size (a string at least its 8-byte length): a count
  // the remaining bytes cannot hold is refused before anything is allocated.
  const uint64_t min_size = v->element_type == GgufType::string ? 8 : fixed_size(v->element_type);
  if (n > r.left() / min_size) {
    return fail(StatusCode::truncated, "'", path, "': array '", key, "' claims ", n, " ", type_name(v->element_type),
                " elements but only ", r.left(), " bytes remain");
  }
  if (v->element_type == GgufType::string) {
    v->strings.resize(size_t(n));
    for (uint64_t i = 0; i < n; ++i) {
      INGOT_RETURN_IF_ERROR(r.string(&v->strings[size_t(i)], "element " + std::to_string(i) + " of '" + key + "'"));
    }
    return Status::success();
  }
  v->numbers.resize(size_t(n));
  GgufValue scratch;
  for (uint64_t i = 0; i < n; ++i) {
    INGOT_RETURN_IF_ERROR(read_scalar(r, v->element_type, what, &scratch, &v->numbers[size_t(i)]));
  }
  return Status::success();
}

Status parse(std::span<const uint8_t> bytes, const std::string& path, GgufFile* out) {
  Reader r(bytes, path);
  char magic[4];
  INGOT_RETURN_IF_ERROR(r.bytes(magic, 4, "the magic"));
  if (std::memcmp(magic, "GGUF", 4) != 0) return file_error(path, "is not a GGUF file (no \"GGUF\" magic)");
  GgufFile f;
  INGOT_RETURN_IF_ERROR(r.get(&f.version, "the version"));
  if (f.version != 2 && f.version != 3) {
    return file_error(path, "GGUF version ", f.version, " is not supported (2 and 3 are)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  INGOT_RETURN_IF_ERROR(r.get(&n_tensors, "the tensor count"));
  INGOT_RETURN_IF_ERROR(r.get(&n_kv, "the key-value count"));
  // A key-value pair takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 4 + 8.
  if (n_kv > r.left() / 14) {
    return fail(StatusCode::truncated, "'", path, "': ", n_kv, " key-value pairs cannot fit in the ", r.left(),
                " bytes that remain");
  }
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    INGOT_RETURN_IF_ERROR(r.string(&key, "key " + std::to_string(i)));
    GgufValue v;
    INGOT_RETURN_IF_ERROR(read_value(r, path, key, &v));
    if (!f.kv.emplace(key, std::move(v)).second) return file_error(path, "key '", key, "' appears twice");
  }
  if (n_tensors > r.left() / 25) {
    return fail(StatusCode::truncated, "'", path, "': ", n_tensors, " tensors cannot fit in the ", r.left(),
                " bytes that remain");
  }
  if (const auto it = f.kv.find("general.alignment"); it != f.kv.end()) {
    const GgufValue& a = it->second;
    if (a.type != GgufType::u32) {
      return file_error(path, "general.alignment is a ", type_name(a.type), ", not a u32");
    }
    if (a.u == 0 || (a.u & (a.u - 1)) != 0) {
      return file_error(path, "general.alignment ", a.u, " is not a power of two");
    }
    f.alignment = a.u;
  }
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    INGOT_RETURN_IF_ERROR(r.string(&t.name, "name of tensor " + std::to_string(i)));
    if (!names.insert(t.name).second) return file_error(path, "tensor '", t.name, "' appears twice");
    uint32_t n_dims = 0;
    INGOT_RETURN_IF_ERROR(r.get(&n_dims, "dimension count of tensor '" + t.name + "'"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return file_error(path, "tensor '", t.name, "' has ", n_dims, " dimensions (1 to ", kMaxDims, " allowed)");
    }
    t.ne.resize(n_dims);
    for (uint64_t& d : t.ne) INGOT_RETURN_IF_ERROR(r.get(&d, "dimensions of tensor '" + t.name + "'"));
    INGOT_RETURN_IF_ERROR(r.get(&t.type, "type of tensor '" + t.name + "'"));
    INGOT_RETURN_IF_ERROR(r.get(&t.offset, "offset of tensor '" + t.name + "'"));
    if (ggml_type_name(t.type).empty()) return file_error(path, "tensor '", t.name, "' has unknown ggml type ", t.type);
    f.tensors.push_back(std::move(t));
  }
  INGOT_RETURN_IF_ERROR(r.align(f.alignment));
  const uint64_t data_start = r.pos(), data_size = r.left();

  // Sizes of the tensors whose block geometry is known (float and the ten dequantizable types,
  // gguf_dequant.h); the others (IQ*, TQ*, ...) are checked only for their offsets.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // (offset, end) of sized tensors
  for (GgufTensor& t : f.tensors) {
    uint64_t n = 1;
    for (uint64_t d : t.ne) {
      if (d == 0 || __builtin_mul_overflow(n, d, &n) || n > (uint64_t(1) << 62)) {
        return file_error(path, "tensor '", t.name, "' has dimensions ", shape_string(t.ne), " that are zero or overflow");
      }
    }
    if (t.offset % f.alignment != 0) {
      return file_error(path, "tensor '", t.name, "' offset ", t.offset, " is not a multiple of the alignment ",
                        f.alignment);
    }
    if (t.offset > data_size) {
      return file_error(path, "tensor '", t.name, "' offset ", t.offset, " is past the end of the data section (",
                        data_size, " bytes)");
    }
    const GgmlBlockType* block = ggml_block_type(t.type);
    if (block == nullptr) continue;
    if (t.ne[0] % block->block_size != 0) {
      return file_error(path, "tensor '", t.name, "' (", ggml_type_name(t.type), ") has rows of ", t.ne[0],
                        " weights, not a whole number of ", block->block_size, "-weight blocks");
    }
    uint64_t size = 0;
    if (!ggml_tensor_bytes(t.type, n, &size)) {
      return file_error(path, "tensor '", t.name, "' has dimensions ", shape_string(t.ne), " whose size overflows");
    }
    if (size > data_size - t.offset) {
      return file_error(path, "tensor '", t.name, "' (", ggml_type_name(t.type), " ", shape_string(t.ne), ", ", size,
                        " bytes at offset ", t.offset, ") runs past the end of the data section (", data_size, " bytes)");
    }
    t.bytes = bytes.subspan(size_t(data_start + t.offset), size_t(size));
    ranges.emplace_back(t.offset, t.offset + size);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      return file_error(path, "tensors overlap in the data section (bytes ", ranges[i].first, " to ",
                        ranges[i - 1].second, ")");
    }
  }
  *out = std::move(f);
  return Status::success();
}

}  // namespace

bool GgufValue::is_integer() const {
  return type == GgufType::u8 || type == GgufType::i8 || type == GgufType::u16 || type == GgufType::i16 ||
         type == GgufType::u32 || type == GgufType::i32 || type == GgufType::u64 || type == GgufType::i64;
}
bool GgufValue::is_unsigned() const {
  return type == GgufType::u8 || type == GgufType::u16 || type == GgufType::u32 || type == GgufType::u64;
}

std::string_view ggml_type_name(uint32_t type) {
  return type < std::size(kGgmlTypes) ? kGgmlTypes[type] : std::string_view();
}

format::Status parse_gguf(std::span<const uint8_t> bytes, const std::string& path, GgufFile* out) {
  try {
    return parse(bytes, path, out);
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "'", path, "': out of memory reading the GGUF metadata");
  }
}

}  // namespace ingot::compiler
