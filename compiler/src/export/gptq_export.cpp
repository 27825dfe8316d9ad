#include "export/gptq_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "cpu/quant.h"
#include "export/hf_tokenizer_writer.h"
#include "gptq/pack.h"
#include "export/sentencepiece_writer.h"
#include "ingot/format/reader.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Canonical name (source_model.h) -> transformers' LLaMA name; "" for a name not in the model.
std::string hf_name(const std::string& name) {
  if (name == "tok_embeddings.weight") return "model.embed_tokens.weight";
  if (name == "norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  static const std::pair<const char*, const char*> kLayer[] = {
      {"attention_norm.weight", "input_layernorm.weight"}, {"attention.wq.weight", "self_attn.q_proj.weight"},
      {"attention.wk.weight", "self_attn.k_proj.weight"},  {"attention.wv.weight", "self_attn.v_proj.weight"},
      {"attention.wo.weight", "self_attn.o_proj.weight"},  {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"feed_forward.w1.weight", "mlp.gate_proj.weight"},  {"feed_forward.w2.weight", "mlp.down_proj.weight"},
      {"feed_forward.w3.weight", "mlp.up_proj.weight"}};
  if (name.rfind("layers.", 0) != 0) return "";
  const size_t dot = name.find('.', 7);
  if (dot == std::string::npos) return "";
  const std::string rest = name.substr(dot + 1);
  for (const auto& [ours, theirs] : kLayer) {
    if (rest == ours) return "model." + name.substr(0, dot + 1) + theirs;
  }
  return "";
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Output row r of an interleaved-RoPE q/k weight goes to row rotate_half_row(r): per head of
// `hs` rows, pair (2i, 2i+1) -> (i, i + hs/2), as transformers' convert_llama_weights_to_hf.py.
size_t rotate_half_row(size_t r, size_t hs) {
  const size_t h = r / hs, i = r % hs;
  return h * hs + (i % 2 == 0 ? i / 2 : i / 2 + hs / 2);
}

struct OutTensor {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> data;
};

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The global GPTQ settings every quantized linear must share (quantize_config.json is one).
struct Settings {
  bool set = false;
  uint32_t bits = 0;
  int32_t group_size = 0;
  bool sym = true, desc_act = false, static_groups = false;
  fb::QuantMethod method = fb::QuantMethod::GPTQ;
};

// One quantized linear, read and (for q/k of an interleaved model) row-permuted.
struct Linear {
  std::string prefix;
  size_t out = 0, in = 0;
  uint32_t bits = 0;
  int32_t group_size = 0;
  std::vector<uint32_t> qweight;  // (words_k, out)
  std::vector<uint16_t> scales;   // (n_groups, out)
  std::vector<uint8_t> zeros;     // (n_groups, out) real zeros
  std::vector<int32_t> g_idx;     // (in)
};

Status read_blob_vector(const format::Container& c, const fb::Blob* blob, const std::string& what,
                        std::vector<uint8_t>* out) {
  if (blob == nullptr) return fail(StatusCode::invalid_argument, what, " is absent");
  format::BlobBytes b;
  INGOT_RETURN_IF_ERROR(c.read_blob(*blob, what, false, &b));
  out->assign(b.bytes().begin(), b.bytes().end());
  return Status::success();
}

Status read_linear(const format::Container& c, const fb::Tensor& t, const std::string& prefix, bool permute,
                   size_t head_dim, Linear* l, Settings* s) {
  const std::string name = t.name()->str();
  const fb::Quantization& q = *t.quant();
  const bool sorted = t.layout() == fb::Layout::GptqPackedKSorted;
  if (t.layout() != fb::Layout::GptqPackedK && !sorted) {
    return fail(StatusCode::invalid_argument, "tensor '", name, "' has layout ", format::layout_name(t.layout()),
                "; only gptq-packed-k (the GPTQ checkpoint layout) and gptq-packed-k-sorted are exported");
  }
  if (q.scales_dtype() != fb::DType::F16) {
    return fail(StatusCode::invalid_argument, "tensor '", name, "' has ", format::dtype_name(q.scales_dtype()),
                " scales; GPTQ checkpoints hold F16");
  }
  l->prefix = prefix;
  l->out = size_t(t.shape()->Get(0));
  l->in = size_t(t.shape()->Get(1));
  l->bits = q.bits();
  l->group_size = q.group_size();
  const size_t n_groups = cpu::quant_n_groups(l->in, l->group_size), words_k = cpu::quant_words(l->in, l->bits);
  std::vector<uint8_t> raw;
  INGOT_RETURN_IF_ERROR(read_blob_vector(c, t.data(), name + "/data", &raw));
  l->qweight.resize(raw.size() / 4);
  std::memcpy(l->qweight.data(), raw.data(), l->qweight.size() * 4);
  INGOT_RETURN_IF_ERROR(read_blob_vector(c, q.scales(), name + "/scales", &raw));
  l->scales.resize(raw.size() / 2);
  std::memcpy(l->scales.data(), raw.data(), l->scales.size() * 2);
  l->zeros.assign(n_groups * l->out, uint8_t(1u << (l->bits - 1)));
  if (q.zeros() != nullptr) {
    INGOT_RETURN_IF_ERROR(read_blob_vector(c, q.zeros(), name + "/zeros", &raw));
    std::vector<uint32_t> z(raw.size() / 4);
    std::memcpy(z.data(), raw.data(), z.size() * 4);
    cpu::unpack_zeros(z.data(), n_groups, l->out, l->bits, l->zeros.data());
  }
  l->g_idx.resize(l->in);
  if (q.perm() != nullptr) {
    INGOT_RETURN_IF_ERROR(read_blob_vector(c, q.perm(), name + "/perm", &raw));
    std::memcpy(l->g_idx.data(), raw.data(), l->in * 4);
  } else {
    for (size_t k = 0; k < l->in; ++k) l->g_idx[k] = l->group_size == -1 ? 0 : int32_t(k / size_t(l->group_size));
  }
  std::vector<int32_t> order;
  if (sorted) {
    INGOT_RETURN_IF_ERROR(read_blob_vector(c, q.input_order(), name + "/input_order", &raw));
    order.resize(l->in);
    std::memcpy(order.data(), raw.data(), l->in * 4);
  }
  // What a kernel would check, so that nothing invalid is written out (for the sorted layout:
  // input_order a permutation, and the g_idx is the stored one, j / group_size).
  cpu::QuantView v{l->qweight.data(), l->scales.data(), nullptr, sorted ? nullptr : l->g_idx.data(), l->bits,
                   l->group_size, l->out, l->in};
  v.order = sorted ? order.data() : nullptr;
  INGOT_RETURN_IF_ERROR(cpu::check_quant_view(v, name.c_str()));
  if (sorted) {
    // Back to the community layout: input column order[j] was stored j-th, in group j / gs
    // (spec/quant-layouts.md §2.3), so g_idx[order[j]] = j / gs and the columns go home.
    l->qweight = permute_gptq_columns(l->qweight.data(), l->out, l->in, l->bits, order.data(), true);
    for (size_t j = 0; j < l->in; ++j) {
      l->g_idx[size_t(order[j])] = l->group_size == -1 ? 0 : int32_t(j / size_t(l->group_size));
    }
  }

  if (permute) {
    std::vector<uint32_t> qw(l->qweight.size());
    std::vector<uint16_t> sc(l->scales.size());
    std::vector<uint8_t> zs(l->zeros.size());
    for (size_t o = 0; o < l->out; ++o) {
      const size_t to = rotate_half_row(o, head_dim);
      for (size_t w = 0; w < words_k; ++w) qw[w * l->out + to] = l->qweight[w * l->out + o];
      for (size_t g = 0; g < n_groups; ++g) {
        sc[g * l->out + to] = l->scales[g * l->out + o];
        zs[g * l->out + to] = l->zeros[g * l->out + o];
      }
    }
    l->qweight = std::move(qw), l->scales = std::move(sc), l->zeros = std::move(zs);
  }

  const bool sym = q.zeros() == nullptr ||
                   std::all_of(l->zeros.begin(), l->zeros.end(), [&](uint8_t z) { return z == (1u << (l->bits - 1)); });
  Settings mine{true, l->bits, l->group_size, sym, q.perm() != nullptr || sorted, q.static_groups(), q.method()};
  if (!s->set) {
    *s = mine;
  } else if (mine.bits != s->bits || mine.group_size != s->group_size) {
    return fail(StatusCode::invalid_argument, "tensor '", name, "' is ", mine.bits, "-bit with group size ",
                mine.group_size, " but others are ", s->bits, "-bit with group size ", s->group_size,
                "; a GPTQ checkpoint has one quantize_config");
  } else {
    s->sym = s->sym && mine.sym;
    s->desc_act = s->desc_act || mine.desc_act;
    s->static_groups = s->static_groups || mine.static_groups;
  }
  return Status::success();
}

// Writes `bytes` to `path` and fsyncs it.
Status write_synced(const fs::path& path, const void* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(StatusCode::io_error, "cannot create '", path.string(), "': ", std::strerror(errno));
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return fail(StatusCode::io_error, "cannot write '", path.string(), "': ", std::strerror(err));
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return fail(StatusCode::io_error, "cannot sync '", path.string(), "': ", std::strerror(errno));
  }
  return Status::success();
}

Status write_text(const fs::path& path, const std::string& text) { return write_synced(path, text.data(), text.size()); }

std::vector<uint8_t> safetensors_file(const std::vector<OutTensor>& tensors) {
  json h = {{"__metadata__", {{"format", "pt"}, {"producer", "ingotc"}}}};
  uint64_t at = 0;
  for (const OutTensor& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, at + t.data.size()}}};
    at += t.data.size();
  }
  std::string header = h.dump();
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::vector<uint8_t> b;
  b.reserve(8 + header.size() + at);
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  for (const OutTensor& t : tensors) b.insert(b.end(), t.data.begin(), t.data.end());
  return b;
}

json rope_scaling_json(const fb::RopeScalingT& r) {
  json j;
  switch (r.type) {
    case fb::RopeScalingType::Linear: j = {{"rope_type", "linear"}, {"factor", r.factor}}; break;
    case fb::RopeScalingType::Dynamic:
      j = {{"rope_type", "dynamic"}, {"factor", r.factor}, {"original_max_position_embeddings", r.original_context_length}};
      break;
    case fb::RopeScalingType::Yarn:
      j = {{"rope_type", "yarn"}, {"factor", r.factor}, {"original_max_position_embeddings", r.original_context_length}};
      break;
    case fb::RopeScalingType::Llama3:
      j = {{"rope_type", "llama3"},
           {"factor", r.factor},
           {"low_freq_factor", r.low_freq_factor},
           {"high_freq_factor", r.high_freq_factor},
           {"original_max_position_embeddings", r.original_context_length}};
      break;
    default: break;
  }
  return j;
}

Status write_directory(const format::Container& c, const fs::path& tmp, const GptqExportOptions& options,
                       std::vector<std::string>* notes) {
  std::unique_ptr<fb::ModelConfigT> cfg(c.index().config()->UnPack());
  if (cfg->architecture != "llama") {
    return fail(StatusCode::invalid_argument, "architecture '", cfg->architecture, "' cannot be exported (llama can)");
  }
  const bool permute = cfg->rope_form == fb::RopeForm::Interleaved;
  Settings settings;
  std::vector<OutTensor> out;
  std::vector<Linear> linears;
  size_t dense_layer_linears = 0;
  bool lm_head_quantized = false;
  for (size_t i = 0; i < c.n_tensors(); ++i) {
    const fb::Tensor& t = c.tensor(i);
    const std::string name = t.name()->str();
    const std::string hf = hf_name(name);
    if (hf.empty()) return fail(StatusCode::invalid_argument, "tensor '", name, "' has no place in a LLaMA checkpoint");
    const bool qk = ends_with(name, ".attention.wq.weight") || ends_with(name, ".attention.wk.weight");
    if (t.quant() != nullptr) {
      Linear l;
      INGOT_RETURN_IF_ERROR(read_linear(c, t, hf.substr(0, hf.size() - 7), permute && qk, cfg->head_dim, &l, &settings));
      lm_head_quantized = lm_head_quantized || name == "output.weight";
      linears.push_back(std::move(l));
      continue;
    }
    if (t.layout() != fb::Layout::DenseRowMajor) {
      return fail(StatusCode::invalid_argument, "tensor '", name, "' is packed but not quantized");
    }
    const char* dtype = t.dtype() == fb::DType::F32 ? "F32" : t.dtype() == fb::DType::F16 ? "F16"
                        : t.dtype() == fb::DType::BF16 ? "BF16" : nullptr;
    if (dtype == nullptr) {
      return fail(StatusCode::invalid_argument, "tensor '", name, "' is ", format::dtype_name(t.dtype()), ", not exportable");
    }
    if (name.rfind("layers.", 0) == 0 && t.shape()->size() == 2) ++dense_layer_linears;
    OutTensor o{hf, dtype, {t.shape()->begin(), t.shape()->end()}, {}};
    INGOT_RETURN_IF_ERROR(read_blob_vector(c, t.data(), name + "/data", &o.data));
    if (permute && qk) {
      const size_t rows = size_t(o.shape[0]), row_bytes = o.data.size() / rows;
      std::vector<uint8_t> p(o.data.size());
      for (size_t r = 0; r < rows; ++r) {
        std::memcpy(p.data() + rotate_half_row(r, cfg->head_dim) * row_bytes, o.data.data() + r * row_bytes, row_bytes);
      }
      o.data = std::move(p);
    }
    out.push_back(std::move(o));
  }
  if (linears.empty()) {
    return fail(StatusCode::invalid_argument, "the model is not quantized; a GPTQ checkpoint needs quantized linears");
  }
  if (dense_layer_linears != 0) {
    return fail(StatusCode::invalid_argument, dense_layer_linears,
                " layer linear weight(s) are not quantized; GPTQ loaders expect every layer linear quantized");
  }

  // Zero points: v1 stores zero − 1 and cannot hold a real zero of 0.
  size_t zero_zeros = 0;
  std::string first_zero;
  for (const Linear& l : linears) {
    const size_t n = size_t(std::count(l.zeros.begin(), l.zeros.end(), uint8_t(0)));
    if (n != 0 && first_zero.empty()) first_zero = l.prefix;
    zero_zeros += n;
  }
  bool v1 = options.checkpoint_format != "gptq_v2";
  if (v1 && zero_zeros != 0) {
    if (options.checkpoint_format == "gptq") {
      return fail(StatusCode::invalid_argument, zero_zeros, " real zero point(s) are 0 (first in '", first_zero,
                  "'), which checkpoint_format \"gptq\" (v1, stored zero − 1) cannot hold without corrupting its "
                  "neighbours; use --checkpoint-format gptq_v2");
    }
    v1 = false;
    notes->push_back(std::to_string(zero_zeros) + " real zero point(s) are 0 (first in '" + first_zero +
                     "'), which v1 cannot store: written as checkpoint_format \"gptq_v2\" (real zeros)");
  } else {
    notes->push_back(v1 ? "written as checkpoint_format \"gptq\" (v1: stored zero = zero - 1)"
                        : "written as checkpoint_format \"gptq_v2\" (real zeros)");
  }
  const uint32_t maxq = (1u << settings.bits) - 1;
  for (const Linear& l : linears) {
    const size_t n_groups = l.scales.size() / l.out;
    std::vector<uint8_t> stored(l.zeros.size());
    for (size_t i = 0; i < stored.size(); ++i) stored[i] = uint8_t((l.zeros[i] - (v1 ? 1 : 0)) & maxq);
    std::vector<uint32_t> qzeros;
    INGOT_RETURN_IF_ERROR(cpu::pack_zeros(stored.data(), n_groups, l.out, l.bits, &qzeros));
    out.push_back({l.prefix + ".qweight", "I32", {cpu::quant_words(l.in, l.bits), l.out}, bytes_of(l.qweight)});
    out.push_back({l.prefix + ".qzeros", "I32", {n_groups, cpu::quant_words(l.out, l.bits)}, bytes_of(qzeros)});
    out.push_back({l.prefix + ".scales", "F16", {n_groups, l.out}, bytes_of(l.scales)});
    out.push_back({l.prefix + ".g_idx", "I32", {l.in}, bytes_of(l.g_idx)});
  }
  std::sort(out.begin(), out.end(), [](const OutTensor& a, const OutTensor& b) { return a.name < b.name; });
  const std::vector<uint8_t> st = safetensors_file(out);
  INGOT_RETURN_IF_ERROR(write_synced(tmp / "model.safetensors", st.data(), st.size()));

  json qc = {{"bits", settings.bits},
             {"group_size", settings.group_size},
             {"damp_percent", 0.01},
             {"desc_act", settings.desc_act},
             {"static_groups", settings.static_groups},
             {"sym", settings.sym},
             {"true_sequential", true},
             {"lm_head", lm_head_quantized},
             {"model_name_or_path", nullptr},
             {"model_file_base_name", "model"},
             {"quant_method", "gptq"},
             {"checkpoint_format", v1 ? "gptq" : "gptq_v2"}};
  INGOT_RETURN_IF_ERROR(write_text(tmp / "quantize_config.json", qc.dump(2) + "\n"));

  json config = {{"architectures", {"LlamaForCausalLM"}},
                 {"model_type", "llama"},
                 {"hidden_size", cfg->dim},
                 {"intermediate_size", cfg->ffn_dim},
                 {"num_hidden_layers", cfg->n_layer},
                 {"num_attention_heads", cfg->n_head},
                 {"num_key_value_heads", cfg->n_head_kv},
                 {"head_dim", cfg->head_dim},
                 {"hidden_act", "silu"},
                 {"rms_norm_eps", cfg->norm_eps},
                 {"rope_theta", cfg->rope_theta},
                 {"max_position_embeddings", cfg->context_length},
                 {"vocab_size", cfg->vocab_size},
                 {"tie_word_embeddings", cfg->tied_embeddings},
                 {"attention_bias", false},
                 {"mlp_bias", false},
                 {"torch_dtype", "float16"}};
  if (cfg->rope_scaling) config["rope_scaling"] = rope_scaling_json(*cfg->rope_scaling);
  if (cfg->bos_id >= 0) config["bos_token_id"] = cfg->bos_id;
  if (cfg->eos_id >= 0) {
    if (cfg->extra_eos_ids.empty()) {
      config["eos_token_id"] = cfg->eos_id;
    } else {
      json ids = {cfg->eos_id};
      for (int32_t id : cfg->extra_eos_ids) ids.push_back(id);
      config["eos_token_id"] = ids;
    }
  }
  if (cfg->pad_id >= 0) config["pad_token_id"] = cfg->pad_id;
  config["quantization_config"] = qc;
  INGOT_RETURN_IF_ERROR(write_text(tmp / "config.json", config.dump(2) + "\n"));

  // Tokenizer files.
  if (c.index().tokenizer() != nullptr) {
    std::unique_ptr<fb::TokenizerT> tok(c.index().tokenizer()->UnPack());
    json tc = {{"add_bos_token", tok->add_bos}, {"add_eos_token", tok->add_eos}};
    const auto piece = [&](int32_t id) -> json {
      return id >= 0 && size_t(id) < tok->pieces.size() ? json(tok->pieces[size_t(id)]) : json(nullptr);
    };
    tc["bos_token"] = piece(cfg->bos_id);
    tc["eos_token"] = piece(cfg->eos_id);
    tc["unk_token"] = piece(cfg->unk_id);
    if (cfg->pad_id >= 0) tc["pad_token"] = piece(cfg->pad_id);
    if (!tok->chat_template.empty()) tc["chat_template"] = tok->chat_template;
    if (tok->kind == fb::TokenizerKind::SentencePieceBpe) {
      tc["tokenizer_class"] = "LlamaTokenizer";
      std::vector<uint8_t> model;
      INGOT_RETURN_IF_ERROR(write_sentencepiece_model(*tok, *cfg, &model));
      INGOT_RETURN_IF_ERROR(write_synced(tmp / "tokenizer.model", model.data(), model.size()));
    } else if (tok->kind == fb::TokenizerKind::ByteLevelBpe) {
      tc["tokenizer_class"] = "PreTrainedTokenizerFast";
      std::string text;
      INGOT_RETURN_IF_ERROR(write_hf_tokenizer_json(*tok, &text));
      INGOT_RETURN_IF_ERROR(write_text(tmp / "tokenizer.json", text));
    }
    if (tok->kind != fb::TokenizerKind::None) {
      INGOT_RETURN_IF_ERROR(write_text(tmp / "tokenizer_config.json", tc.dump(2) + "\n"));
    }
  }
  return Status::success();
}

}  // namespace

format::Status export_gptq(const std::string& model_path, const std::string& dir, const GptqExportOptions& options,
                           std::vector<std::string>* notes) {
  if (options.checkpoint_format != "auto" && options.checkpoint_format != "gptq" &&
      options.checkpoint_format != "gptq_v2") {
    return fail(StatusCode::invalid_argument, "checkpoint format '", options.checkpoint_format,
                "' is not one of auto, gptq, gptq_v2");
  }
  const fs::path target = fs::path(dir).lexically_normal();
  std::error_code ec;
  if (fs::exists(target, ec) && !(fs::is_directory(target, ec) && fs::is_empty(target, ec))) {
    return fail(StatusCode::invalid_argument, "'", dir, "' exists and is not an empty directory; refusing to overwrite");
  }
  std::unique_ptr<format::Container> c;
  INGOT_RETURN_IF_ERROR(format::Container::open(model_path, {.verify_checksums = true}, &c));

  // A sibling temporary directory, renamed into place once complete.
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::random_device rd;
  const fs::path tmp = parent / ("." + target.filename().string() + ".tmp-" + std::to_string(rd()));
  if (!fs::create_directory(tmp, ec)) {
    return fail(StatusCode::io_error, "cannot create '", tmp.string(), "': ", ec.message());
  }
  Status s;
  try {
    s = write_directory(*c, tmp, options, notes);
  } catch (const std::bad_alloc&) {
    s = fail(StatusCode::out_of_memory, "out of memory exporting '", model_path, "'");
  } catch (const std::exception& e) {
    s = fail(StatusCode::invalid_argument, "exporting '", model_path, "': ", e.what());
  }
  if (s.ok()) {
    fs::rename(tmp, target, ec);  // replaces an empty directory
    if (ec) s = fail(StatusCode::io_error, "cannot rename '", tmp.string(), "' to '", dir, "': ", ec.message());
  }
  if (!s.ok()) fs::remove_all(tmp, ec);
  return s;
}

}  // namespace ingot::compiler
