#include "import/llama2c.h"

#include <cstring>

#include "import/file.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;

constexpr uint32_t kMagicAk42 = 0x616b3432;  // "ak42" as llama2.c's export.py writes it
constexpr size_t kVersionedHeaderSize = 256;

struct Params {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

int32_t read_i32(std::span<const uint8_t> b, size_t off) {
  int32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

Status check_params(const Params& p, const std::string& path) {
  const std::pair<const char*, int32_t> fields[] = {{"dim", p.dim},         {"hidden_dim", p.hidden_dim},
                                                    {"n_layers", p.n_layers}, {"n_heads", p.n_heads},
                                                    {"n_kv_heads", p.n_kv_heads}, {"vocab_size", p.vocab_size},
                                                    {"seq_len", p.seq_len}};
  for (const auto& [name, v] : fields) {
    if (v <= 0 || v > (1 << 24)) {
      return fail(StatusCode::invalid_argument, "'", path, "': llama2.c header field ", name, " = ", v,
                  " is not a plausible size");
    }
  }
  if (p.dim % p.n_heads != 0 || p.n_heads % p.n_kv_heads != 0 || (p.dim / p.n_heads) % 2 != 0) {
    return fail(StatusCode::invalid_argument, "'", path, "': dim ", p.dim, ", n_heads ", p.n_heads,
                ", n_kv_heads ", p.n_kv_heads, " do not give whole, even heads shared evenly");
  }
  return Status::success();
}

}  // namespace

bool looks_like_llama2c(const std::string& path) {
  std::unique_ptr<Mapping> m;
  if (!map_file(path, &m).ok() || m->bytes().size() < 28) return false;
  const auto b = m->bytes();
  if (uint32_t(read_i32(b, 0)) == kMagicAk42) return true;
  Params p{read_i32(b, 0), read_i32(b, 4), read_i32(b, 8), read_i32(b, 12), read_i32(b, 16), read_i32(b, 20),
           read_i32(b, 24)};
  p.vocab_size = p.vocab_size < 0 ? -p.vocab_size : p.vocab_size;
  return check_params(p, path).ok();
}

Status import_llama2c(const std::string& path, SourceModel* out) {
  std::unique_ptr<Mapping> m;
  INGOT_RETURN_IF_ERROR(map_file(path, &m));
  const std::span<const uint8_t> b = m->bytes();
  if (b.size() < 28) return fail(StatusCode::invalid_argument, "'", path, "' is too small for a llama2.c checkpoint");

  Params p{};
  bool shared_classifier = true;
  bool legacy = true;
  size_t offset = 0;
  if (uint32_t(read_i32(b, 0)) == kMagicAk42) {
    legacy = false;
    if (b.size() < kVersionedHeaderSize) {
      return fail(StatusCode::invalid_argument, "'", path, "': truncated inside the 256-byte ak42 header");
    }
    const int32_t version = read_i32(b, 4);
    if (version != 1) {
      return fail(StatusCode::invalid_argument, "'", path, "': llama2.c export version ", version,
                  " is not supported (only version 1, fp32; version 2 is llama2.c's own int8 format)");
    }
    p = {read_i32(b, 8), read_i32(b, 12), read_i32(b, 16), read_i32(b, 20), read_i32(b, 24), read_i32(b, 28),
         read_i32(b, 32)};
    shared_classifier = b[36] != 0;
    offset = kVersionedHeaderSize;
  } else {
    p = {read_i32(b, 0), read_i32(b, 4), read_i32(b, 8), read_i32(b, 12), read_i32(b, 16), read_i32(b, 20),
         read_i32(b, 24)};
    shared_classifier = p.vocab_size > 0;
    if (p.vocab_size < 0) p.vocab_size = -p.vocab_size;
    offset = 28;
  }
  INGOT_RETURN_IF_ERROR(check_params(p, path));

  const uint64_t dim = uint64_t(p.dim), hidden = uint64_t(p.hidden_dim), L = uint64_t(p.n_layers);
  const uint64_t hd = dim / uint64_t(p.n_heads), kv_dim = hd * uint64_t(p.n_kv_heads), vocab = uint64_t(p.vocab_size);

  // The tensors in file order, each (name pattern, per-layer?, shape).
  struct Entry {
    std::string name;  // "{}" is replaced by the layer index
    bool per_layer;
    std::vector<uint64_t> shape;
  };
  const Entry embed{"tok_embeddings.weight", false, {vocab, dim}};
  const Entry att_norm{"layers.{}.attention_norm.weight", true, {dim}};
  const Entry ffn_norm{"layers.{}.ffn_norm.weight", true, {dim}};
  const Entry wq{"layers.{}.attention.wq.weight", true, {dim, dim}};
  const Entry wk{"layers.{}.attention.wk.weight", true, {kv_dim, dim}};
  const Entry wv{"layers.{}.attention.wv.weight", true, {kv_dim, dim}};
  const Entry wo{"layers.{}.attention.wo.weight", true, {dim, dim}};
  const Entry w1{"layers.{}.feed_forward.w1.weight", true, {hidden, dim}};
  const Entry w2{"layers.{}.feed_forward.w2.weight", true, {dim, hidden}};
  const Entry w3{"layers.{}.feed_forward.w3.weight", true, {hidden, dim}};
  const Entry norm{"norm.weight", false, {dim}};
  const Entry freq{"", false, {uint64_t(p.seq_len), hd / 2}};  // RoPE tables: skipped
  const Entry output{"output.weight", false, {vocab, dim}};
  std::vector<Entry> order;
  if (legacy) {
    order = {embed, att_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, norm, freq, freq};
  } else {
    order = {att_norm, ffn_norm, norm, embed, wq, wk, wv, wo, w1, w2, w3};
  }
  if (!shared_classifier) order.push_back(output);

  std::vector<SourceTensor> tensors;
  for (const Entry& e : order) {
    uint64_t n = 1;
    for (uint64_t d : e.shape) n *= d;
    for (uint64_t layer = 0; layer < (e.per_layer ? L : 1); ++layer) {
      const uint64_t bytes = n * 4;
      if (offset + bytes > b.size()) {
        return fail(StatusCode::invalid_argument, "'", path, "' is truncated: ",
                    e.name.empty() ? std::string("the RoPE tables") : e.name, " needs bytes up to ", offset + bytes,
                    ", the file has ", b.size());
      }
      if (!e.name.empty()) {
        SourceTensor t;
        t.name = e.name;
        if (const size_t at = t.name.find("{}"); at != std::string::npos) t.name.replace(at, 2, std::to_string(layer));
        t.dtype = fb::DType::F32;
        t.shape = e.shape;
        t.bytes = b.subspan(offset, bytes);
        tensors.push_back(std::move(t));
      }
      offset += bytes;
    }
  }
  if (offset != b.size()) {
    return fail(StatusCode::invalid_argument, "'", path, "': ", b.size() - offset,
                " bytes follow the last tensor; the header (dim ", dim, ", hidden ", hidden, ", layers ", L,
                ", vocab ", vocab, ") does not describe this file");
  }

  fb::ModelConfigT& c = out->config;
  c.architecture = "llama";
  c.dim = uint32_t(dim);
  c.n_layer = uint32_t(L);
  c.n_head = uint32_t(p.n_heads);
  c.n_head_kv = uint32_t(p.n_kv_heads);
  c.head_dim = uint32_t(hd);
  c.ffn_dim = uint32_t(hidden);
  c.vocab_size = uint32_t(vocab);
  c.rope_theta = 10000.0f;  // llama2.c's run.c hard-codes both
  c.norm_eps = 1e-5f;
  c.rope_form = fb::RopeForm::Interleaved;
  c.context_length = uint32_t(p.seq_len);
  c.tied_embeddings = shared_classifier;
  c.bos_id = 1;
  c.eos_id = 2;
  out->tensors = std::move(tensors);
  out->sources.push_back(digest(path, *m));
  out->mappings.push_back(std::move(m));
  return Status::success();
}

}  // namespace ingot::compiler
