#include "import/hf.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "import/file.h"
#include "gptq/pack.h"
#include "import/gptq_checkpoint.h"
#include "import/safetensors.h"
#include "import/tokenizer_files.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;
using json = nlohmann::json;
namespace fs = std::filesystem;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The value of `key`, null when absent.
const json& field(const json& o, const char* key) {
  static const json null;
  const auto it = o.find(key);
  return it == o.end() ? null : *it;
}

// Maps, parses and digests a JSON file that must hold an object.
Status read_json(const std::string& path, json* out, std::vector<std::unique_ptr<fb::DigestT>>* sources) {
  std::unique_ptr<Mapping> m;
  INGOT_RETURN_IF_ERROR(map_file(path, &m));
  const char* text = reinterpret_cast<const char*>(m->bytes().data());
  try {
    *out = json::parse(text, text + m->bytes().size());
  } catch (const json::parse_error& e) {
    return file_error(path, "is not valid JSON (", e.what(), ")");
  }
  if (!out->is_object()) return file_error(path, "is not a JSON object");
  sources->push_back(digest(path, *m));
  return Status::success();
}

// A positive integer field; `fallback` when absent or null (an error without one). `within`
// names the enclosing object in messages ("rope_scaling").
Status read_count(const json& c, const char* key, const std::string& path, std::optional<uint32_t> fallback,
                  uint32_t* out, const std::string& within = "") {
  const std::string name = within.empty() ? key : within + "." + key;
  const json& v = field(c, key);
  if (v.is_null()) {
    if (!fallback) return file_error(path, name, " is missing");
    *out = *fallback;
    return Status::success();
  }
  if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > (uint64_t(1) << 30)) {
    return file_error(path, name, " = ", v.dump(), " is not a positive integer of plausible size");
  }
  *out = uint32_t(v.get<uint64_t>());
  return Status::success();
}

// A positive finite number; `fallback` when absent or null.
Status read_positive(const json& c, const char* key, const std::string& path, std::optional<float> fallback, float* out,
                     const std::string& within = "") {
  const std::string name = within.empty() ? key : within + "." + key;
  const json& v = field(c, key);
  if (v.is_null()) {
    if (!fallback) return file_error(path, name, " is missing");
    *out = *fallback;
    return Status::success();
  }
  if (!v.is_number() || !std::isfinite(v.get<double>()) || !(v.get<double>() > 0)) {
    return file_error(path, name, " = ", v.dump(), " is not a positive number");
  }
  *out = float(v.get<double>());
  return Status::success();
}

// A token id (non-negative integer) or a list of them; null gives none.
Status read_ids(const json& v, const char* key, const std::string& path, std::vector<int32_t>* out) {
  out->clear();
  const auto one = [&](const json& e) {
    if (!e.is_number_unsigned() || e.get<uint64_t>() > uint64_t(INT32_MAX)) {
      return file_error(path, key, " = ", v.dump(), " is not a token id or a list of them");
    }
    out->push_back(int32_t(e.get<uint64_t>()));
    return Status::success();
  };
  if (v.is_null()) return Status::success();
  if (!v.is_array()) return one(v);
  for (const json& e : v) INGOT_RETURN_IF_ERROR(one(e));
  return Status::success();
}

// rope_scaling (or transformers 5's rope_parameters): null, or {"rope_type"|"type": ..., ...} with
// the fields transformers' rope validation requires for that type.
Status read_rope_scaling(const json& rs, const std::string& path, uint32_t max_position, fb::ModelConfigT* c) {
  if (rs.is_null()) return Status::success();
  if (!rs.is_object()) return file_error(path, "rope_scaling is neither null nor an object");
  const json& type_field = field(rs, "rope_type").is_null() ? field(rs, "type") : field(rs, "rope_type");
  if (!type_field.is_string()) return file_error(path, "rope_scaling has no rope_type (or type) string");
  const std::string type = type_field.get<std::string>();
  if (type == "default") return Status::success();
  auto s = std::make_unique<fb::RopeScalingT>();
  if (type == "linear") {
    s->type = fb::RopeScalingType::Linear;
  } else if (type == "dynamic") {
    s->type = fb::RopeScalingType::Dynamic;
  } else if (type == "yarn") {
    s->type = fb::RopeScalingType::Yarn;
    // fb::RopeScaling has no place for YaRN's other parameters: only their defaults are taken.
    for (const char* key : {"attention_factor", "mscale", "mscale_all_dim"}) {
      if (!field(rs, key).is_null()) {
        return file_error(path, "rope_scaling (yarn) sets ", key, ", which the container cannot record yet");
      }
    }
    for (const auto& [key, def] : {std::pair{"beta_fast", 32.0}, std::pair{"beta_slow", 1.0}}) {
      const json& v = field(rs, key);
      if (!v.is_null() && !(v.is_number() && v.get<double>() == def)) {
        return file_error(path, "rope_scaling (yarn) sets ", key, " = ", v.dump(), "; only the default ", def,
                   " can be recorded yet");
      }
    }
  } else if (type == "llama3") {
    s->type = fb::RopeScalingType::Llama3;
  } else {
    return file_error(path, "rope scaling type '", type, "' is not supported (linear, dynamic, yarn and llama3 are)");
  }
  const std::string within = "rope_scaling";
  INGOT_RETURN_IF_ERROR(read_positive(rs, "factor", path, std::nullopt, &s->factor, within));
  const bool llama3 = s->type == fb::RopeScalingType::Llama3;
  if (s->type != fb::RopeScalingType::Linear) {
    INGOT_RETURN_IF_ERROR(read_count(rs, "original_max_position_embeddings", path,
                                     llama3 ? std::nullopt : std::optional<uint32_t>(max_position),
                                     &s->original_context_length, within));
  }
  if (llama3) {
    INGOT_RETURN_IF_ERROR(read_positive(rs, "low_freq_factor", path, std::nullopt, &s->low_freq_factor, within));
    INGOT_RETURN_IF_ERROR(read_positive(rs, "high_freq_factor", path, std::nullopt, &s->high_freq_factor, within));
    if (!(s->high_freq_factor > s->low_freq_factor)) {
      return file_error(path, "rope_scaling (llama3): high_freq_factor ", s->high_freq_factor,
                 " must be greater than low_freq_factor ", s->low_freq_factor);
    }
  }
  c->rope_scaling = std::move(s);
  return Status::success();
}

// What config.json says about ids; the tokenizer may add to it.
struct ConfigIds {
  std::vector<int32_t> bos, eos, pad;
};

// `gptq`: the directory is a GPTQ checkpoint (gptq_checkpoint.h), whose quantization_config is read there.
Status read_config(const json& j, const std::string& path, bool gptq, fb::ModelConfigT* c, ConfigIds* ids) {
  // The architecture, from "architectures" (transformers' own key), else "model_type".
  std::string arch;
  if (const json& a = field(j, "architectures"); !a.is_null()) {
    if (!a.is_array() || a.empty() || !a[0].is_string()) return file_error(path, "architectures is not a list of names");
    for (const json& e : a) {
      const std::string name = e.is_string() ? e.get<std::string>() : e.dump();
      if (name != "LlamaForCausalLM" && name != "MistralForCausalLM") {
        return file_error(path, "architecture '", name, "' is not supported (LlamaForCausalLM and MistralForCausalLM are)");
      }
      arch = name;
    }
  } else if (const json& t = field(j, "model_type"); t == "llama" || t == "mistral") {
    arch = t == "llama" ? "LlamaForCausalLM" : "MistralForCausalLM";
  } else {
    return file_error(path, "names no architecture (LlamaForCausalLM or MistralForCausalLM expected)");
  }
  const bool mistral = arch == "MistralForCausalLM";

  if (const json& q = field(j, "quantization_config"); !q.is_null() && !gptq) {
    const json& method = q.is_object() ? field(q, "quant_method") : q;
    return file_error(path, "quantized checkpoints are not supported yet (quantization_config",
               method.is_string() ? ", quant_method '" + method.get<std::string>() + "'" : std::string(), ")");
  }
  if (const json& act = field(j, "hidden_act"); !act.is_null() && act != "silu") {
    return file_error(path, "hidden_act ", act.dump(), " is not supported (LLaMA uses \"silu\")");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (const json& v = field(j, key); !v.is_null() && v != false) {
      return file_error(path, key, " = ", v.dump(), ": linear layers with biases are not supported");
    }
  }

  c->architecture = "llama";  // Mistral without a sliding window computes exactly as LLaMA
  INGOT_RETURN_IF_ERROR(read_count(j, "hidden_size", path, std::nullopt, &c->dim));
  INGOT_RETURN_IF_ERROR(read_count(j, "intermediate_size", path, std::nullopt, &c->ffn_dim));
  INGOT_RETURN_IF_ERROR(read_count(j, "num_hidden_layers", path, std::nullopt, &c->n_layer));
  INGOT_RETURN_IF_ERROR(read_count(j, "num_attention_heads", path, std::nullopt, &c->n_head));
  INGOT_RETURN_IF_ERROR(read_count(j, "num_key_value_heads", path, c->n_head, &c->n_head_kv));
  INGOT_RETURN_IF_ERROR(read_count(j, "vocab_size", path, std::nullopt, &c->vocab_size));
  if (field(j, "head_dim").is_null() && c->dim % c->n_head != 0) {
    return file_error(path, "hidden_size ", c->dim, " is not a multiple of num_attention_heads ", c->n_head,
               " and no head_dim is given");
  }
  INGOT_RETURN_IF_ERROR(read_count(j, "head_dim", path, c->dim / c->n_head, &c->head_dim));
  if (c->head_dim % 2 != 0) return file_error(path, "head_dim ", c->head_dim, " is odd; RoPE rotates pairs");
  if (c->n_head % c->n_head_kv != 0) {
    return file_error(path, "num_attention_heads ", c->n_head, " is not a multiple of num_key_value_heads ", c->n_head_kv);
  }
  // transformers' defaults where a key is absent (LlamaConfig, MistralConfig).
  INGOT_RETURN_IF_ERROR(read_positive(j, "rms_norm_eps", path, 1e-6f, &c->norm_eps));
  INGOT_RETURN_IF_ERROR(read_count(j, "max_position_embeddings", path, mistral ? 4096 * 32 : 2048, &c->context_length));
  // transformers 5 moves rope_theta and rope_scaling into rope_parameters.
  const json& params = field(j, "rope_parameters");
  const bool v5 = params.is_object() && field(j, "rope_scaling").is_null();
  INGOT_RETURN_IF_ERROR(read_positive(v5 ? params : j, "rope_theta", path, 10000.0f, &c->rope_theta));
  INGOT_RETURN_IF_ERROR(read_rope_scaling(v5 ? params : field(j, "rope_scaling"), path, c->context_length, c));
  c->rope_form = fb::RopeForm::Half;

  if (mistral) {
    const json& w = field(j, "sliding_window");
    uint32_t window = 0;
    if (!j.contains("sliding_window")) {
      window = 4096;  // MistralConfig's default
    } else if (!w.is_null()) {
      INGOT_RETURN_IF_ERROR(read_count(j, "sliding_window", path, std::nullopt, &window));
    }
    if (window != 0 && window < c->context_length) {
      return file_error(path, "sliding_window ", window, j.contains("sliding_window") ? "" : " (MistralConfig's default)",
                 " is smaller than max_position_embeddings ", c->context_length,
                 ": sliding-window attention is not implemented");
    }
  }

  const json& tie = field(j, "tie_word_embeddings");
  if (!tie.is_null() && !tie.is_boolean()) return file_error(path, "tie_word_embeddings is not a boolean");
  c->tied_embeddings = tie.is_boolean() && tie.get<bool>();

  const auto ids_of = [&](const char* key, std::optional<int32_t> fallback, std::vector<int32_t>* out) {
    if (!j.contains(key)) {
      out->clear();
      if (fallback) out->push_back(*fallback);
      return Status::success();
    }
    INGOT_RETURN_IF_ERROR(read_ids(field(j, key), key, path, out));
    for (int32_t id : *out) {
      if (uint32_t(id) >= c->vocab_size)
        return file_error(path, key, " ", id, " is outside the vocabulary of ", c->vocab_size);
    }
    return Status::success();
  };
  INGOT_RETURN_IF_ERROR(ids_of("bos_token_id", 1, &ids->bos));
  INGOT_RETURN_IF_ERROR(ids_of("eos_token_id", 2, &ids->eos));
  INGOT_RETURN_IF_ERROR(ids_of("pad_token_id", std::nullopt, &ids->pad));
  if (ids->bos.size() > 1 || ids->pad.size() > 1) return file_error(path, "bos_token_id and pad_token_id must be single ids");
  c->bos_id = ids->bos.empty() ? -1 : ids->bos[0];
  c->eos_id = ids->eos.empty() ? -1 : ids->eos[0];
  c->pad_id = ids->pad.empty() ? -1 : ids->pad[0];
  c->extra_eos_ids.assign(ids->eos.begin() + (ids->eos.empty() ? 0 : 1), ids->eos.end());
  return Status::success();
}

// Buffers older transformers versions saved beside the weights; recomputed from the config.
bool harmless_buffer(const std::string& name) {
  for (const char* suffix : {".rotary_emb.inv_freq", ".rotary_emb.cos_cached", ".rotary_emb.sin_cached"}) {
    const std::string s = suffix;
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

bool quantized_name(const std::string& name) {
  for (const char* suffix : {".qweight", ".qzeros", ".scales", ".g_idx", ".weight_scale", ".SCB", ".absmax"}) {
    const std::string s = suffix;
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

// Opens the directory's weights: model.safetensors, else the sharded index.
Status open_weights(const fs::path& dir, SafetensorsCheckpoint* ck) {
  if (is_file(dir / "model.safetensors")) return open_safetensors((dir / "model.safetensors").string(), ck);
  if (is_file(dir / "model.safetensors.index.json")) {
    return open_safetensors((dir / "model.safetensors.index.json").string(), ck);
  }
  if (is_file(dir / "pytorch_model.bin") || is_file(dir / "pytorch_model.bin.index.json")) {
    return file_error(dir.string(),
               "holds PyTorch pickle weights (pytorch_model.bin), which are not supported; "
               "save the model with safe_serialization=True to get model.safetensors");
  }
  if (is_file(dir / "consolidated.safetensors")) {
    return file_error(dir.string(),
               "holds Mistral's consolidated.safetensors layout; the transformers layout "
               "(config.json + model.safetensors) is expected");
  }
  return file_error(dir.string(), "has neither model.safetensors nor model.safetensors.index.json");
}

// The linear weights with a `.qweight` in a GPTQ checkpoint are read by take_gptq_linear.
Status take_tensors(const fs::path& dir, const fb::ModelConfigT& c, const SafetensorsCheckpoint& ck,
                    const GptqCheckpointConfig* gptq, std::vector<SourceTensor>* out, std::vector<std::string>* notes) {
  const std::string config_path = (dir / "config.json").string();
  // A non-float tensor: quantized checkpoints get their own message, whatever the tensor is.
  for (const auto& [name, t] : ck.tensors) {
    if (safetensors_import_dtype(t.dtype)) continue;
    if (gptq != nullptr && quantized_name(name)) continue;  // checked by take_gptq_linear
    if (quantized_name(name) || t.dtype == "I32" || t.dtype.rfind("F8", 0) == 0 || t.dtype.rfind("F4", 0) == 0) {
      return file_error(t.file, "tensor '", name, "' is ", t.dtype,
                 ": quantized checkpoints are not supported yet (F32, F16 and BF16 weights are)");
    }
    if (!harmless_buffer(name)) {
      return file_error(t.file, "tensor '", name, "' has dtype ", t.dtype,
                 ", which ingotc does not import "
                 "(F32, F16 and BF16 are)");
    }
  }

  struct Want {
    std::string hf, canonical;
    std::vector<uint64_t> shape;
  };
  const uint64_t dim = c.dim, ffn = c.ffn_dim, vocab = c.vocab_size;
  const uint64_t q_dim = uint64_t(c.n_head) * c.head_dim, kv_dim = uint64_t(c.n_head_kv) * c.head_dim;
  std::vector<Want> want = {{"model.embed_tokens.weight", "tok_embeddings.weight", {vocab, dim}}};
  for (uint32_t i = 0; i < c.n_layer; ++i) {
    const std::string hf = "model.layers." + std::to_string(i) + ".", ig = "layers." + std::to_string(i) + ".";
    want.push_back({hf + "input_layernorm.weight", ig + "attention_norm.weight", {dim}});
    want.push_back({hf + "self_attn.q_proj.weight", ig + "attention.wq.weight", {q_dim, dim}});
    want.push_back({hf + "self_attn.k_proj.weight", ig + "attention.wk.weight", {kv_dim, dim}});
    want.push_back({hf + "self_attn.v_proj.weight", ig + "attention.wv.weight", {kv_dim, dim}});
    want.push_back({hf + "self_attn.o_proj.weight", ig + "attention.wo.weight", {dim, q_dim}});
    want.push_back({hf + "post_attention_layernorm.weight", ig + "ffn_norm.weight", {dim}});
    want.push_back({hf + "mlp.gate_proj.weight", ig + "feed_forward.w1.weight", {ffn, dim}});
    want.push_back({hf + "mlp.down_proj.weight", ig + "feed_forward.w2.weight", {dim, ffn}});
    want.push_back({hf + "mlp.up_proj.weight", ig + "feed_forward.w3.weight", {ffn, dim}});
  }
  want.push_back({"model.norm.weight", "norm.weight", {dim}});
  const bool has_head = ck.tensors.count("lm_head.weight") != 0;
  if (!c.tied_embeddings || has_head) want.push_back({"lm_head.weight", "output.weight", {vocab, dim}});

  // GPTQ linears: those with a qweight, zero points checked against the label over all of them.
  const auto gptq_prefix = [&](const Want& w) {
    if (gptq == nullptr || w.shape.size() != 2 || w.hf.size() < 7) return std::string();
    const std::string prefix = w.hf.substr(0, w.hf.size() - 7);  // less ".weight"
    return ck.tensors.count(prefix + ".qweight") != 0 ? prefix : std::string();
  };
  std::vector<GptqLinear> linears;
  for (const Want& w : want) {
    if (const std::string p = gptq_prefix(w); !p.empty()) linears.push_back({p, w.shape[0], w.shape[1]});
  }
  GptqZeroFormat zero_format = GptqZeroFormat::v1;
  GptqOverflow overflow;
  if (gptq != nullptr) {
    if (linears.empty()) return file_error(gptq->path, "describes a GPTQ checkpoint but no tensor has a .qweight");
    INGOT_RETURN_IF_ERROR(decide_gptq_zero_format(ck, linears, *gptq, &zero_format, notes));
  }

  std::set<std::string> used;
  size_t n_sorted = 0;                  // act-order weights stored sorted
  std::vector<std::string> unsortable;  // act-order weights whose groups are not all group_size columns
  for (const Want& w : want) {
    if (const std::string prefix = gptq_prefix(w); !prefix.empty()) {
      if (ck.tensors.count(w.hf) != 0) {
        return file_error(dir.string(), "both '", w.hf, "' and '", prefix, ".qweight' are present");
      }
      if (w.hf == "lm_head.weight" && c.tied_embeddings) {
        return file_error(config_path, "tie_word_embeddings is true but lm_head is quantized");
      }
      SourceTensor s;
      s.name = w.canonical;
      s.shape = w.shape;
      s.quant = std::make_unique<PackedQuant>();
      INGOT_RETURN_IF_ERROR(take_gptq_linear(ck, {prefix, w.shape[0], w.shape[1]}, *gptq, zero_format, s.quant.get(),
                                             &used, &overflow));
      // An act-order g_idx: stored sorted into group order now, at compile time, so that the
      // runtime's no-g_idx kernels take the weight (spec/quant-layouts.md §2.3).
      if (!s.quant->g_idx.empty()) {
        bool sorted = false;
        INGOT_RETURN_IF_ERROR(sort_act_order(s.quant.get(), size_t(w.shape[0]), size_t(w.shape[1]), {}, &sorted));
        if (sorted) {
          ++n_sorted;
        } else if (!s.quant->g_idx.empty()) {
          unsortable.push_back(w.hf);
        }
      }
      out->push_back(std::move(s));
      continue;
    }
    const auto it = ck.tensors.find(w.hf);
    if (it == ck.tensors.end()) {
      if (w.hf == "lm_head.weight") {
        return file_error(config_path, "tie_word_embeddings is false but the weights have no lm_head.weight");
      }
      return file_error(dir.string(), "tensor '", w.hf, "' is missing from the weights");
    }
    const SafetensorsTensor& t = it->second;
    if (t.shape != w.shape) {
      return file_error(t.file, "tensor '", w.hf, "' has shape ", shape_string(t.shape), " but config.json implies ",
                 shape_string(w.shape));
    }
    used.insert(w.hf);
    if (w.hf == "lm_head.weight" && c.tied_embeddings) continue;  // the embeddings serve
    SourceTensor s;
    s.name = w.canonical;
    s.dtype = *safetensors_import_dtype(t.dtype);
    s.shape = w.shape;
    s.bytes = t.bytes;
    out->push_back(std::move(s));
  }

  std::vector<std::string> unknown;
  for (const auto& [name, t] : ck.tensors) {
    if (used.count(name) == 0 && !harmless_buffer(name)) unknown.push_back(name);
  }
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 5; ++i) {
      const SafetensorsTensor& t = ck.tensors.at(unknown[i]);
      list += (i ? ", '" : "'") + unknown[i] + "' (" + t.dtype + " " + shape_string(t.shape) + ")";
    }
    if (unknown.size() > 5) list += " and " + std::to_string(unknown.size() - 5) + " more";
    const bool bias = std::any_of(unknown.begin(), unknown.end(), [](const std::string& n) {
      return n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
    });
    return file_error(dir.string(), unknown.size(), " tensor(s) are not part of a ", c.n_layer, "-layer LLaMA model: ", list,
               bias ? "; biases are not supported" : "", "; refusing rather than dropping weights");
  }
  if (overflow.overflow_fields != 0) {
    notes->push_back(std::to_string(overflow.overflow_fields) +
                     " v1 zero point(s) hold 2^bits - 1, a real zero of 0 that v1 cannot store, read as 0" +
                     (overflow.spill_words != 0
                          ? "; " + std::to_string(overflow.spill_words) +
                                " word(s) show AutoGPTQ's sign spill (every bit above such a field set), whose upper "
                                "zero points are lost and read as AutoGPTQ reads them"
                          : std::string()) +
                     "; in other words the field above took back the borrow of a whole-word v2->v1 conversion");
  }
  if (n_sorted != 0) {
    notes->push_back("act-order: " + std::to_string(n_sorted) +
                     " weight(s) stored with their input columns sorted into group order (gptq-packed-k-sorted)");
  }
  if (!unsortable.empty()) {
    notes->push_back("act-order: " + std::to_string(unsortable.size()) + " weight(s) (first '" + unsortable[0] +
                     "') have groups that do not each hold group_size input columns, so they cannot be stored "
                     "sorted; kept as gptq-packed-k with a perm (the slower f32 kernels)");
  }
  return Status::success();
}

// The chat template of tokenizer_config.json: a string, or a list of {name, template} of which
// "default" is taken.
Status chat_template_of(const json& config, const std::string& path, std::string* out) {
  const json& chat = field(config, "chat_template");
  if (chat.is_null()) return Status::success();
  if (chat.is_string()) {
    *out = chat.get<std::string>();
    return Status::success();
  }
  if (chat.is_array()) {
    for (const json& t : chat) {
      if (t.is_object() && field(t, "name") == "default" && field(t, "template").is_string()) {
        *out = field(t, "template").get<std::string>();
        return Status::success();
      }
    }
    return file_error(path, "chat_template is a list without a \"default\" template");
  }
  return file_error(path, "chat_template is neither a string nor a list of named templates");
}

// The directory's tokenizer (or options.tokenizer_path), then the ids: the tokenizer's BOS is the
// one its encoding adds; config.json's EOS ids stay first and the tokenizer's is one more stop.
Status take_tokenizer(const fs::path& dir, const HfImportOptions& options, const ConfigIds& ids, SourceModel* m) {
  const bool own = options.tokenizer_path.empty();
  std::string path = options.tokenizer_path;
  if (own && is_file(dir / "tokenizer.model")) {
    path = (dir / "tokenizer.model").string();
  } else if (own && is_file(dir / "tokenizer.json")) {
    path = (dir / "tokenizer.json").string();
  }
  if (path.empty()) return Status::success();  // no tokenizer: ids only
  INGOT_RETURN_IF_ERROR(import_tokenizer_file(path, m));  // also checks it fits the vocabulary
  fb::TokenizerT& t = m->tokenizer;
  const bool sentencepiece = fs::path(path).extension() != ".json";
  if (own && sentencepiece && is_file(dir / "tokenizer_config.json")) {
    // tokenizer.json's importer reads this file itself; for tokenizer.model it is read here.
    const std::string config_path = (dir / "tokenizer_config.json").string();
    json config;
    INGOT_RETURN_IF_ERROR(read_json(config_path, &config, &m->sources));
    INGOT_RETURN_IF_ERROR(chat_template_of(config, config_path, &t.chat_template));
    for (const auto& [key, target] : {std::pair{"add_bos_token", &t.add_bos}, std::pair{"add_eos_token", &t.add_eos}}) {
      const json& v = field(config, key);
      if (v.is_boolean()) {
        *target = v.get<bool>();
      } else if (!v.is_null()) {
        return file_error(config_path, key, " is not a boolean");
      }
    }
  }
  if (own && t.chat_template.empty() && is_file(dir / "chat_template.jinja")) {
    std::unique_ptr<Mapping> jinja;
    INGOT_RETURN_IF_ERROR(map_file((dir / "chat_template.jinja").string(), &jinja));
    t.chat_template.assign(reinterpret_cast<const char*>(jinja->bytes().data()), jinja->bytes().size());
    m->sources.push_back(digest((dir / "chat_template.jinja").string(), *jinja));
  }

  fb::ModelConfigT& c = m->config;
  const int32_t tokenizer_eos = c.eos_id;
  if (!ids.eos.empty()) c.eos_id = ids.eos[0];
  if (tokenizer_eos >= 0 && tokenizer_eos != c.eos_id) c.extra_eos_ids.push_back(tokenizer_eos);
  if (c.bos_id < 0 && !ids.bos.empty()) c.bos_id = ids.bos[0];
  if (c.pad_id < 0 && !ids.pad.empty()) c.pad_id = ids.pad[0];
  return Status::success();
}

Status import(const std::string& dir_name, SourceModel* out, const HfImportOptions& options) {
  const fs::path dir(dir_name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(StatusCode::io_error, "'", dir_name, "' is not a directory");
  const std::string config_path = (dir / "config.json").string();
  if (!is_file(config_path)) return file_error(dir_name, "has no config.json; not a Hugging Face model directory");

  SourceModel m;
  json config;
  INGOT_RETURN_IF_ERROR(read_json(config_path, &config, &m.sources));
  GptqCheckpointConfig gptq;
  bool is_gptq = false;
  INGOT_RETURN_IF_ERROR(read_gptq_config(dir, config, &gptq, &is_gptq, &m.sources));
  ConfigIds ids;
  INGOT_RETURN_IF_ERROR(read_config(config, config_path, is_gptq, &m.config, &ids));

  SafetensorsCheckpoint ck;
  INGOT_RETURN_IF_ERROR(open_weights(dir, &ck));
  INGOT_RETURN_IF_ERROR(take_tensors(dir, m.config, ck, is_gptq ? &gptq : nullptr, &m.tensors, &m.notes));
  for (auto& s : ck.sources) m.sources.push_back(std::move(s));
  for (auto& mapping : ck.mappings) m.mappings.push_back(std::move(mapping));

  INGOT_RETURN_IF_ERROR(take_tokenizer(dir, options, ids, &m));

  // generation_config.json: its EOS ids also end generation (LLaMA-3 Instruct lists <|eot_id|> there).
  if (const fs::path gen = dir / "generation_config.json"; is_file(gen)) {
    json g;
    INGOT_RETURN_IF_ERROR(read_json(gen.string(), &g, &m.sources));
    std::vector<int32_t> eos;
    INGOT_RETURN_IF_ERROR(read_ids(field(g, "eos_token_id"), "eos_token_id", gen.string(), &eos));
    for (int32_t id : eos) {
      if (uint32_t(id) >= m.config.vocab_size) {
        return file_error(gen.string(), "eos_token_id ", id, " is outside the vocabulary of ", m.config.vocab_size);
      }
      m.config.extra_eos_ids.push_back(id);
    }
  }
  // Each stop id once, the primary one not repeated.
  std::vector<int32_t> extra;
  for (int32_t id : m.config.extra_eos_ids) {
    if (id != m.config.eos_id && std::find(extra.begin(), extra.end(), id) == extra.end()) extra.push_back(id);
  }
  if (m.config.eos_id < 0 && !extra.empty()) {
    m.config.eos_id = extra.front();
    extra.erase(extra.begin());
  }
  m.config.extra_eos_ids = std::move(extra);
  *out = std::move(m);
  return Status::success();
}

}  // namespace

format::Status import_hf_directory(const std::string& dir, SourceModel* out, const HfImportOptions& options) {
  try {
    return import(dir, out, options);
  } catch (const json::exception& e) {  // not expected: every access is type-checked
    return file_error(dir, "unexpected JSON content (", e.what(), ")");
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "'", dir, "': out of memory");
  }
}

}  // namespace ingot::compiler
