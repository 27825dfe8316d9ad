#include "import/gptq_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "cpu/quant.h"
#include "import/file.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;
using json = nlohmann::json;
namespace fs = std::filesystem;

const json& field(const json& o, const char* key) {
  static const json null;
  const auto it = o.find(key);
  return it == o.end() ? null : *it;
}

// Value i of a b-bit little-endian stream (spec/quant-layouts.md §1).
uint32_t stream_get(const uint32_t* w, size_t i, uint32_t b) {
  const size_t t = i * b;
  uint64_t v = w[t / 32] >> (t % 32);
  if (t % 32 + b > 32) v |= uint64_t(w[t / 32 + 1]) << (32 - t % 32);
  return uint32_t(v) & ((1u << b) - 1);
}

Status parse_config(const json& q, const std::string& path, GptqCheckpointConfig* c) {
  if (!q.is_object()) return file_error(path, "the GPTQ quantization config is not a JSON object");
  const json& method = field(q, "quant_method");
  if (!method.is_null() && method != "gptq") {
    return file_error(path, "quant_method ", method.dump(), " is not supported (GPTQ checkpoints are)");
  }
  const json& bits = field(q, "bits");
  if (!bits.is_number_unsigned() || (bits != 2 && bits != 3 && bits != 4 && bits != 8)) {
    return file_error(path, "bits = ", bits.dump(), " is not one of 2, 3, 4, 8");
  }
  c->bits = bits.get<uint32_t>();
  const json& group = field(q, "group_size");
  if (!group.is_number_integer() || group.get<int64_t>() == 0 || group.get<int64_t>() < -1 ||
      group.get<int64_t>() > (int64_t(1) << 30)) {
    return file_error(path, "group_size = ", group.dump(), " is neither -1 nor a positive integer");
  }
  c->group_size = int32_t(group.get<int64_t>());
  for (auto [key, target, fallback] : {std::tuple{"desc_act", &c->desc_act, false}, std::tuple{"sym", &c->sym, true},
                                       std::tuple{"static_groups", &c->static_groups, false}}) {
    const json& v = field(q, key);
    if (v.is_null()) {
      *target = fallback;
    } else if (v.is_boolean()) {
      *target = v.get<bool>();
    } else {
      return file_error(path, key, " = ", v.dump(), " is not a boolean");
    }
  }
  // GPTQModel writes checkpoint_format (older versions: "format"); absent means v1.
  const json& fmt = field(q, "checkpoint_format").is_null() ? field(q, "format") : field(q, "checkpoint_format");
  if (fmt.is_null() || fmt == "gptq") {
    c->format = GptqZeroFormat::v1;
  } else if (fmt == "gptq_v2") {
    c->format = GptqZeroFormat::v2;
  } else {
    return file_error(path, "checkpoint_format ", fmt.dump(),
                      " is not supported (\"gptq\" and \"gptq_v2\" are; Marlin and other kernel repackings are "
                      "not the GPTQ layout)");
  }
  c->path = path;
  return Status::success();
}

// The tensor `name` with dtype `dtype` and exactly `shape`.
Status want_tensor(const SafetensorsCheckpoint& ck, const std::string& name, const char* dtype,
                   const std::vector<uint64_t>& shape, const SafetensorsTensor** out) {
  const auto it = ck.tensors.find(name);
  if (it == ck.tensors.end()) return fail(StatusCode::invalid_argument, "GPTQ tensor '", name, "' is missing");
  const SafetensorsTensor& t = it->second;
  if (t.dtype != dtype) return file_error(t.file, "tensor '", name, "' is ", t.dtype, ", not ", dtype);
  if (t.shape != shape) {
    return file_error(t.file, "tensor '", name, "' has shape ", shape_string(t.shape), " but the GPTQ layout needs ",
                      shape_string(shape));
  }
  *out = &t;
  return Status::success();
}

template <typename T>
std::vector<T> copy_of(const SafetensorsTensor& t) {
  std::vector<T> v(t.bytes.size() / sizeof(T));
  std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));  // the view may be unaligned
  return v;
}

struct ZeroShape {
  size_t n_groups, words;
};
ZeroShape zero_shape(const GptqLinear& l, const GptqCheckpointConfig& c) {
  return {cpu::quant_n_groups(size_t(l.in), c.group_size), cpu::quant_words(size_t(l.out), c.bits)};
}

}  // namespace

Status read_gptq_config(const fs::path& dir, const json& config, GptqCheckpointConfig* out, bool* found,
                        std::vector<std::unique_ptr<fb::DigestT>>* sources) {
  *found = false;
  const fs::path qc = dir / "quantize_config.json";
  std::error_code ec;
  if (fs::is_regular_file(qc, ec)) {
    std::unique_ptr<Mapping> m;
    INGOT_RETURN_IF_ERROR(map_file(qc.string(), &m));
    const char* text = reinterpret_cast<const char*>(m->bytes().data());
    json j;
    try {
      j = json::parse(text, text + m->bytes().size());
    } catch (const json::parse_error& e) {
      return file_error(qc.string(), "is not valid JSON (", e.what(), ")");
    }
    INGOT_RETURN_IF_ERROR(parse_config(j, qc.string(), out));
    sources->push_back(digest(qc.string(), *m));
    *found = true;
    return Status::success();
  }
  const json& q = field(config, "quantization_config");
  // Another method (AWQ, bitsandbytes, ...): not a GPTQ checkpoint; the HF importer refuses it.
  if (q.is_null() || (q.is_object() && field(q, "quant_method").is_string() && field(q, "quant_method") != "gptq")) {
    return Status::success();
  }
  INGOT_RETURN_IF_ERROR(parse_config(q, (dir / "config.json").string(), out));
  *found = true;
  return Status::success();
}

void gptq_v1_zeros_to_real(const uint32_t* words, size_t n, uint32_t bits, uint8_t* real, GptqOverflow* overflow) {
  const uint32_t maxq = (1u << bits) - 1;
  const bool whole_fields = 32 % bits == 0;  // b ∈ {2, 4, 8}: no field straddles two words
  uint32_t carry = 0;
  size_t spill_word = SIZE_MAX;  // the word currently read field by field
  for (size_t i = 0; i < n; ++i) {
    const size_t t = i * bits, word = t / 32;
    if (whole_fields && t % 32 == 0) carry = 0;  // a new word: carries stay inside words
    const uint32_t f = stream_get(words, i, bits);
    if (f == maxq) {
      ++overflow->overflow_fields;
      // Every bit from this field to the top of its word is one: AutoGPTQ's `zeros -= 1` then
      // `|= zeros << shift` spilled ones upward; whatever was above is lost. Read it as AutoGPTQ
      // does (field by field). The top field of a word has nothing above it to judge by.
      const uint32_t above = words[word] >> (t % 32);
      const bool top = t % 32 + bits >= 32;
      if (!top && above == (0xffffffffu >> (t % 32)) && spill_word != word) {
        spill_word = word;
        ++overflow->spill_words;
      }
    }
    if (!whole_fields || spill_word == word) {
      real[i] = uint8_t((f + 1) & maxq);
      continue;
    }
    const uint32_t v = f + 1 + carry;
    real[i] = uint8_t(v & maxq);
    carry = v >> bits;
  }
}

Status decide_gptq_zero_format(const SafetensorsCheckpoint& ck, const std::vector<GptqLinear>& linears,
                               const GptqCheckpointConfig& c, GptqZeroFormat* format, std::vector<std::string>* notes) {
  const char* label = c.format == GptqZeroFormat::v1 ? "v1 (checkpoint_format \"gptq\": stored zero = zero - 1)"
                                                     : "v2 (checkpoint_format \"gptq_v2\": stored zero = zero)";
  *format = c.format;
  if (!c.sym) {
    // Any stored value is a plausible zero under either convention: only the label can tell.
    notes->push_back(std::string("GPTQ zero points read as labelled, ") + label +
                     "; an asymmetric checkpoint's values cannot confirm the label");
    return Status::success();
  }
  // Symmetric: every real zero is 2^(b-1), so v1 stores 2^(b-1) - 1 everywhere and v2 2^(b-1).
  const uint32_t half = 1u << (c.bits - 1);
  size_t n_v1 = 0, n_v2 = 0, n_other = 0;
  for (const GptqLinear& l : linears) {
    const ZeroShape zs = zero_shape(l, c);
    const SafetensorsTensor* t = nullptr;
    INGOT_RETURN_IF_ERROR(want_tensor(ck, l.prefix + ".qzeros", "I32", {zs.n_groups, zs.words}, &t));
    const std::vector<uint32_t> z = copy_of<uint32_t>(*t);
    for (size_t g = 0; g < zs.n_groups; ++g) {
      for (size_t o = 0; o < l.out; ++o) {
        const uint32_t f = stream_get(z.data() + g * zs.words, o, c.bits);
        n_v1 += f == half - 1;
        n_v2 += f == half;
        n_other += f != half - 1 && f != half;
      }
    }
  }
  if (n_other != 0 || (n_v1 != 0 && n_v2 != 0)) {
    notes->push_back(std::string("the config says sym, but the stored zero points are not all ") +
                     std::to_string(half - 1) + " (v1) or all " + std::to_string(half) +
                     " (v2): read as labelled, " + label + ", and kept as asymmetric zeros");
    return Status::success();
  }
  const GptqZeroFormat found = n_v2 != 0 ? GptqZeroFormat::v2 : GptqZeroFormat::v1;
  const char* name = found == GptqZeroFormat::v1 ? "v1" : "v2";
  if (found == c.format) {
    notes->push_back(std::string("GPTQ zero points: ") + label + ", confirmed by the values (every stored zero is " +
                     std::to_string(found == GptqZeroFormat::v1 ? half - 1 : half) + ")");
  } else {
    notes->push_back(std::string("GPTQ zero points: labelled ") + label + ", but every stored zero is " +
                     std::to_string(found == GptqZeroFormat::v1 ? half - 1 : half) + ", the real symmetric zero in " +
                     name + " form: read as " + name);
  }
  *format = found;
  return Status::success();
}

Status take_gptq_linear(const SafetensorsCheckpoint& ck, const GptqLinear& l, const GptqCheckpointConfig& c,
                        GptqZeroFormat format, PackedQuant* packed, std::set<std::string>* used, GptqOverflow* overflow) {
  const uint32_t b = c.bits;
  const ZeroShape zs = zero_shape(l, c);
  const SafetensorsTensor *qweight = nullptr, *qzeros = nullptr, *scales = nullptr;
  INGOT_RETURN_IF_ERROR(want_tensor(ck, l.prefix + ".qweight", "I32", {cpu::quant_words(size_t(l.in), b), l.out}, &qweight));
  INGOT_RETURN_IF_ERROR(want_tensor(ck, l.prefix + ".qzeros", "I32", {zs.n_groups, zs.words}, &qzeros));
  INGOT_RETURN_IF_ERROR(want_tensor(ck, l.prefix + ".scales", "F16", {zs.n_groups, l.out}, &scales));
  used->insert({l.prefix + ".qweight", l.prefix + ".qzeros", l.prefix + ".scales"});

  PackedQuant p;
  p.method = fb::QuantMethod::GPTQ;
  p.bits = b;
  p.group_size = c.group_size;
  p.static_groups = c.static_groups;
  p.qweight = copy_of<uint32_t>(*qweight);  // GptqPackedK is the checkpoint's own layout
  p.scales = copy_of<uint16_t>(*scales);

  // Zero points: to real zeros, then dropped when all are the symmetric default.
  const std::vector<uint32_t> stored = copy_of<uint32_t>(*qzeros);
  std::vector<uint8_t> real(zs.n_groups * size_t(l.out));
  for (size_t g = 0; g < zs.n_groups; ++g) {
    const uint32_t* row = stored.data() + g * zs.words;
    uint8_t* dst = real.data() + g * size_t(l.out);
    if (format == GptqZeroFormat::v1) {
      gptq_v1_zeros_to_real(row, size_t(l.out), b, dst, overflow);
    } else {
      for (size_t o = 0; o < l.out; ++o) dst[o] = uint8_t(stream_get(row, o, b));
    }
  }
  const uint8_t half = uint8_t(1u << (b - 1));
  p.symmetric = std::all_of(real.begin(), real.end(), [&](uint8_t z) { return z == half; });
  if (!p.symmetric) INGOT_RETURN_IF_ERROR(cpu::pack_zeros(real.data(), zs.n_groups, size_t(l.out), b, &p.zeros));

  // g_idx: every value a group; kept only when it is not k / group_size.
  if (ck.tensors.count(l.prefix + ".g_idx") != 0) {
    const SafetensorsTensor* gi = nullptr;
    INGOT_RETURN_IF_ERROR(want_tensor(ck, l.prefix + ".g_idx", "I32", {l.in}, &gi));
    used->insert(l.prefix + ".g_idx");
    std::vector<int32_t> g_idx = copy_of<int32_t>(*gi);
    bool trivial = true;
    for (size_t k = 0; k < g_idx.size(); ++k) {
      if (g_idx[k] < 0 || size_t(g_idx[k]) >= zs.n_groups) {
        return file_error(gi->file, "tensor '", l.prefix, ".g_idx' element ", k, " = ", g_idx[k], " is not a group in [0, ",
                          zs.n_groups, ")");
      }
      trivial = trivial && g_idx[k] == (c.group_size == -1 ? 0 : int32_t(k / size_t(c.group_size)));
    }
    if (!trivial) p.g_idx = std::move(g_idx);
  }
  // As the checkpoint says (with one group, g_idx is trivial whatever the order of quantization).
  p.act_order = c.desc_act;

  // LLaMA's linears have no bias; AutoGPTQ may still save an all-zero one.
  if (const auto it = ck.tensors.find(l.prefix + ".bias"); it != ck.tensors.end()) {
    const SafetensorsTensor& bias = it->second;
    const size_t width = bias.dtype == "F32" ? 4 : 2;
    bool all_zero = bias.dtype == "F16" || bias.dtype == "BF16" || bias.dtype == "F32";
    for (size_t i = 0; all_zero && i + width <= bias.bytes.size(); i += width) {
      uint32_t v = 0;
      std::memcpy(&v, bias.bytes.data() + i, width);
      all_zero = (v & (width == 4 ? 0x7fffffffu : 0x7fffu)) == 0;  // +0 or -0
    }
    if (!all_zero || bias.shape != std::vector<uint64_t>{l.out}) {
      return file_error(bias.file, "tensor '", l.prefix, ".bias' (", bias.dtype, " ", shape_string(bias.shape),
                        ") is not an all-zero float vector of ", l.out, "; linear layers with biases are not supported");
    }
    used->insert(l.prefix + ".bias");
  }
  *packed = std::move(p);
  return Status::success();
}

}  // namespace ingot::compiler
