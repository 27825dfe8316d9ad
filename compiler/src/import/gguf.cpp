#include "import/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "import/file.h"
#include "import/gguf_dequant.h"
#include "import/gguf_file.h"
#include "import/sentencepiece_model.h"
#include "ingot/format/pre_tokenizers.h"
#include "ingot/format/token_pieces.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;

// tokenizer.ggml.pre values (llama.cpp's llama-vocab.cpp names) whose split ingot implements,
// onto ingot's pre-tokenizers (ingot/format/pre_tokenizers.h). Each group shares one regex set in
// llama.cpp.
struct PreName {
  const char* gguf;
  format::PreTokenizer pre;
};
constexpr PreName kPreNames[] = {
    {"gpt2", format::PreTokenizer::gpt2},          {"gpt-2", format::PreTokenizer::gpt2},
    {"mpt", format::PreTokenizer::gpt2},           {"olmo", format::PreTokenizer::gpt2},
    {"phi-2", format::PreTokenizer::gpt2},         {"roberta-bpe", format::PreTokenizer::gpt2},
    {"llama-bpe", format::PreTokenizer::llama3},   {"llama3", format::PreTokenizer::llama3},
    {"llama-v3", format::PreTokenizer::llama3},    {"dbrx", format::PreTokenizer::llama3},
    {"smaug-bpe", format::PreTokenizer::llama3},   {"falcon3", format::PreTokenizer::llama3},
    {"pixtral", format::PreTokenizer::llama3},     {"qwen2", format::PreTokenizer::qwen2},
    {"stablelm2", format::PreTokenizer::qwen2},    {"deepseek-r1-qwen", format::PreTokenizer::qwen2},
    {"starcoder", format::PreTokenizer::starcoder}, {"smollm", format::PreTokenizer::starcoder},
    {"refact", format::PreTokenizer::starcoder},   {"command-r", format::PreTokenizer::starcoder},
    {"codeshell", format::PreTokenizer::starcoder}, {"exaone", format::PreTokenizer::starcoder},
    {"default", format::PreTokenizer::llamacpp_default}, {"deepseek-llm", format::PreTokenizer::deepseek_llm},
    {"deepseek-coder", format::PreTokenizer::deepseek_coder}, {"falcon", format::PreTokenizer::falcon},
    {"tekken", format::PreTokenizer::tekken},
};
// Values llama.cpp knows whose splits ingot does not implement yet: named as such in the error.
constexpr const char* kPreNotYet[] = {"deepseek-v3", "chatglm-bpe", "viking", "jais", "poro-chat", "bloom", "gpt3-finnish",
                                      "chameleon", "minerva-7b", "gpt-4o", "superbpe", "trillion", "bailingmoe",
                                      "seed-coder", "kimi-k2", "hunyuan", "grok-2"};

std::string known_pre_names() {
  std::string s;
  for (const PreName& p : kPreNames) s += (s.empty() ? "" : ", ") + std::string(p.gguf);
  return s;
}

class Keys {
 public:
  Keys(const GgufFile& f, const std::string& path) : f_(f), path_(path) {}

  const GgufValue* find(const std::string& key) const {
    const auto it = f_.kv.find(key);
    return it == f_.kv.end() ? nullptr : &it->second;
  }
  // A positive integer of plausible size; `fallback` when absent (an error without one).
  Status count(const std::string& key, std::optional<uint32_t> fallback, uint32_t* out) const {
    const GgufValue* v = find(key);
    if (v == nullptr) {
      if (!fallback) return file_error(path_, key, " is missing");
      *out = *fallback;
      return Status::success();
    }
    if (v->type == GgufType::array) return file_error(path_, key, " is an array (per-layer values are not supported)");
    const bool ok = v->is_integer() && (v->is_unsigned() ? v->u : uint64_t(std::max<int64_t>(v->i, 0))) > 0 &&
                    (v->is_unsigned() ? v->u : uint64_t(v->i)) <= (uint64_t(1) << 30);
    if (!ok) return file_error(path_, key, " is not a positive integer of plausible size");
    *out = uint32_t(v->is_unsigned() ? v->u : uint64_t(v->i));
    return Status::success();
  }
  Status positive(const std::string& key, std::optional<float> fallback, float* out) const {
    const GgufValue* v = find(key);
    if (v == nullptr) {
      if (!fallback) return file_error(path_, key, " is missing");
      *out = *fallback;
      return Status::success();
    }
    const double d = v->type == GgufType::f32 || v->type == GgufType::f64 ? v->f
                     : v->is_integer() ? (v->is_unsigned() ? double(v->u) : double(v->i))
                                       : NAN;
    if (!std::isfinite(d) || !(d > 0)) return file_error(path_, key, " is not a positive number");
    *out = float(d);
    return Status::success();
  }
  // A token id below `vocab`, or -1 when absent.
  Status id(const std::string& key, uint32_t vocab, int32_t* out) const {
    *out = -1;
    const GgufValue* v = find(key);
    if (v == nullptr) return Status::success();
    const uint64_t x = v->is_unsigned() ? v->u : uint64_t(v->i);
    if (!v->is_integer() || (!v->is_unsigned() && v->i < 0) || x >= vocab) {
      return file_error(path_, key, " is not a token id of the ", vocab, "-token vocabulary");
    }
    *out = int32_t(x);
    return Status::success();
  }
  Status boolean(const std::string& key, bool fallback, bool* out) const {
    const GgufValue* v = find(key);
    if (v == nullptr) {
      *out = fallback;
      return Status::success();
    }
    if (v->type != GgufType::boolean) return file_error(path_, key, " is not a bool");
    *out = v->u != 0;
    return Status::success();
  }
  Status string(const std::string& key, std::string* out) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return Status::success();
    if (v->type != GgufType::string) return file_error(path_, key, " is not a string");
    *out = v->s;
    return Status::success();
  }
  // An array of `n` elements of the given kind (strings, or numbers).
  Status array(const std::string& key, bool strings, size_t n, const GgufValue** out) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return file_error(path_, key, " is missing");
    const bool is_strings = v->type == GgufType::array && v->element_type == GgufType::string;
    const bool is_numbers = v->type == GgufType::array && !is_strings;
    if ((strings && !is_strings) || (!strings && !is_numbers)) {
      return file_error(path_, key, " is not an array of ", strings ? "strings" : "numbers");
    }
    const size_t have = strings ? v->strings.size() : v->numbers.size();
    if (n != SIZE_MAX && have != n) return file_error(path_, key, " has ", have, " elements, not ", n);
    *out = v;
    return Status::success();
  }

 private:
  const GgufFile& f_;
  const std::string& path_;
};

Status read_config(const Keys& k, const std::string& path, fb::ModelConfigT* c) {
  std::string arch;
  INGOT_RETURN_IF_ERROR(k.string("general.architecture", &arch));
  if (arch != "llama") {
    return file_error(path, "general.architecture '", arch, "' is not supported (llama is)");
  }
  c->architecture = "llama";
  INGOT_RETURN_IF_ERROR(k.count("llama.embedding_length", std::nullopt, &c->dim));
  INGOT_RETURN_IF_ERROR(k.count("llama.block_count", std::nullopt, &c->n_layer));
  INGOT_RETURN_IF_ERROR(k.count("llama.feed_forward_length", std::nullopt, &c->ffn_dim));
  INGOT_RETURN_IF_ERROR(k.count("llama.attention.head_count", std::nullopt, &c->n_head));
  INGOT_RETURN_IF_ERROR(k.count("llama.attention.head_count_kv", c->n_head, &c->n_head_kv));
  if (c->n_head % c->n_head_kv != 0) {
    return file_error(path, "head_count ", c->n_head, " is not a multiple of head_count_kv ", c->n_head_kv);
  }
  if (k.find("llama.attention.key_length") == nullptr && c->dim % c->n_head != 0) {
    return file_error(path, "embedding_length ", c->dim, " is not a multiple of head_count ", c->n_head);
  }
  INGOT_RETURN_IF_ERROR(k.count("llama.attention.key_length", c->dim / c->n_head, &c->head_dim));
  uint32_t value_length = 0, rope_dims = 0;
  INGOT_RETURN_IF_ERROR(k.count("llama.attention.value_length", c->head_dim, &value_length));
  if (value_length != c->head_dim) return file_error(path, "value_length ", value_length, " differs from key_length ", c->head_dim);
  if (c->head_dim % 2 != 0) return file_error(path, "head dimension ", c->head_dim, " is odd; RoPE rotates pairs");
  INGOT_RETURN_IF_ERROR(k.count("llama.rope.dimension_count", c->head_dim, &rope_dims));
  if (rope_dims != c->head_dim) {
    return file_error(path, "rope.dimension_count ", rope_dims, " is not the head dimension ", c->head_dim,
                      ": partial rotary embeddings are not supported");
  }
  INGOT_RETURN_IF_ERROR(k.positive("llama.attention.layer_norm_rms_epsilon", std::nullopt, &c->norm_eps));
  INGOT_RETURN_IF_ERROR(k.count("llama.context_length", std::nullopt, &c->context_length));
  INGOT_RETURN_IF_ERROR(k.positive("llama.rope.freq_base", 10000.0f, &c->rope_theta));
  c->rope_form = fb::RopeForm::Interleaved;

  std::string scaling;
  INGOT_RETURN_IF_ERROR(k.string("llama.rope.scaling.type", &scaling));
  if (scaling.empty() && k.find("llama.rope.scale_linear") != nullptr) {  // older files
    auto s = std::make_unique<fb::RopeScalingT>();
    s->type = fb::RopeScalingType::Linear;
    INGOT_RETURN_IF_ERROR(k.positive("llama.rope.scale_linear", std::nullopt, &s->factor));
    if (s->factor != 1.0f) c->rope_scaling = std::move(s);
  } else if (!scaling.empty() && scaling != "none") {
    auto s = std::make_unique<fb::RopeScalingT>();
    if (scaling == "linear") {
      s->type = fb::RopeScalingType::Linear;
    } else if (scaling == "yarn") {
      s->type = fb::RopeScalingType::Yarn;
    } else {
      return file_error(path, "llama.rope.scaling.type '", scaling, "' is not supported (none, linear and yarn are)");
    }
    INGOT_RETURN_IF_ERROR(k.positive("llama.rope.scaling.factor", std::nullopt, &s->factor));
    if (s->type == fb::RopeScalingType::Yarn) {
      INGOT_RETURN_IF_ERROR(k.count("llama.rope.scaling.original_context_length", c->context_length,
                                    &s->original_context_length));
    }
    c->rope_scaling = std::move(s);
  }
  return Status::success();
}

Status read_tokenizer(const Keys& k, const std::string& path, SourceModel* m) {
  std::string model;
  INGOT_RETURN_IF_ERROR(k.string("tokenizer.ggml.model", &model));
  if (model.empty() || model == "none") return Status::success();
  fb::TokenizerT& t = m->tokenizer;
  fb::ModelConfigT& c = m->config;
  const GgufValue *tokens = nullptr, *types = nullptr, *scores = nullptr;
  INGOT_RETURN_IF_ERROR(k.array("tokenizer.ggml.tokens", true, SIZE_MAX, &tokens));
  const size_t n = tokens->strings.size();
  if (n == 0 || n > (size_t(1) << 24)) return file_error(path, "tokenizer.ggml.tokens holds ", n, " tokens");
  t.pieces = tokens->strings;
  if (k.find("tokenizer.ggml.token_type") != nullptr) {
    INGOT_RETURN_IF_ERROR(k.array("tokenizer.ggml.token_type", false, n, &types));
    for (double v : types->numbers) {
      if (v < 1 || v > 6 || v != std::floor(v)) return file_error(path, "tokenizer.ggml.token_type holds ", v, ", not 1 to 6");
      t.types.push_back(format::token_type_from_sentencepiece(int64_t(v)));  // v checked: 1..6
    }
  } else {
    t.types.assign(n, fb::TokenType::Normal);
  }
  for (size_t i = 0; i < n; ++i) {
    if (t.types[i] == fb::TokenType::Control || t.types[i] == fb::TokenType::UserDefined) {
      auto s = std::make_unique<fb::SpecialTokenT>();
      s->content = t.pieces[i];
      s->id = int32_t(i);
      t.special_tokens.push_back(std::move(s));
    }
  }
  const uint32_t vocab = uint32_t(n);
  INGOT_RETURN_IF_ERROR(k.id("tokenizer.ggml.bos_token_id", vocab, &c.bos_id));
  INGOT_RETURN_IF_ERROR(k.id("tokenizer.ggml.eos_token_id", vocab, &c.eos_id));
  INGOT_RETURN_IF_ERROR(k.id("tokenizer.ggml.unknown_token_id", vocab, &c.unk_id));
  INGOT_RETURN_IF_ERROR(k.id("tokenizer.ggml.padding_token_id", vocab, &c.pad_id));
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = -1;
    INGOT_RETURN_IF_ERROR(k.id(key, vocab, &id));
    if (id >= 0 && id != c.eos_id) c.extra_eos_ids.push_back(id);
  }
  INGOT_RETURN_IF_ERROR(k.string("tokenizer.chat_template", &t.chat_template));
  INGOT_RETURN_IF_ERROR(k.boolean("tokenizer.ggml.add_eos_token", false, &t.add_eos));

  if (model == "llama") {  // SentencePiece BPE
    t.kind = fb::TokenizerKind::SentencePieceBpe;
    INGOT_RETURN_IF_ERROR(k.array("tokenizer.ggml.scores", false, n, &scores));
    for (double s : scores->numbers) t.scores.push_back(float(s));
    INGOT_RETURN_IF_ERROR(k.boolean("tokenizer.ggml.add_bos_token", c.bos_id >= 0, &t.add_bos));
    INGOT_RETURN_IF_ERROR(k.boolean("tokenizer.ggml.add_space_prefix", true, &t.add_dummy_prefix));
    t.byte_fallback = false;
    for (fb::TokenType ty : t.types) t.byte_fallback = t.byte_fallback || ty == fb::TokenType::Byte;
    if (k.find("tokenizer.ggml.remove_extra_whitespaces") != nullptr) {
      bool r = false;
      INGOT_RETURN_IF_ERROR(k.boolean("tokenizer.ggml.remove_extra_whitespaces", false, &r));
      t.remove_extra_whitespaces = r;
    }
    if (c.unk_id < 0) {
      for (size_t i = 0; i < n; ++i) {
        if (t.types[i] == fb::TokenType::Unknown) c.unk_id = int32_t(i);
      }
    }
    INGOT_RETURN_IF_ERROR(check_sentencepiece_vocab(t));
    return Status::success();
  }
  if (model == "gpt2") {  // byte-level BPE
    std::string pre;
    INGOT_RETURN_IF_ERROR(k.string("tokenizer.ggml.pre", &pre));
    // llama.cpp's converter always writes it; for a file without it llama.cpp uses its "default".
    if (pre.empty()) pre = "default";
    const PreName* found = nullptr;
    for (const PreName& p : kPreNames) found = (found == nullptr && pre == p.gguf) ? &p : found;
    if (found == nullptr) {
      const bool not_yet = std::any_of(std::begin(kPreNotYet), std::end(kPreNotYet),
                                       [&](const char* n) { return pre == n; });
      return file_error(path, "tokenizer.ggml.pre '", pre, "' ",
                        not_yet ? "is a llama.cpp pre-tokenizer ingot does not implement yet"
                                : "is not a pre-tokenizer ingot knows",
                        " (supported: ", known_pre_names(), ")");
    }
    t.kind = fb::TokenizerKind::ByteLevelBpe;
    t.pre_tokenizer = format::pre_tokenizer_name(found->pre);
    // Kept for readers of the pattern; the runtime goes by the name.
    // Kept for readers (one regex, where the split is one); "" for the multi-step ones.
    switch (found->pre) {
      case format::PreTokenizer::llama3: t.pre_tokenizer_pattern = format::kLlama3Pattern; break;
      case format::PreTokenizer::qwen2: t.pre_tokenizer_pattern = format::kQwen2Pattern; break;
      case format::PreTokenizer::tekken: t.pre_tokenizer_pattern = format::kTekkenPattern; break;
      case format::PreTokenizer::gpt2:
      case format::PreTokenizer::starcoder: t.pre_tokenizer_pattern = format::kGpt2Pattern; break;
      default: t.pre_tokenizer_pattern.clear(); break;
    }
    // llama.cpp ignores merges (a pre-token that is a piece is emitted whole) for LLaMA-3 and
    // Tekken only, as the tokenizer.json files of these families say (model.ignore_merges).
    t.ignore_merges = found->pre == format::PreTokenizer::llama3 || found->pre == format::PreTokenizer::tekken;
    const GgufValue* merges = nullptr;
    INGOT_RETURN_IF_ERROR(k.array("tokenizer.ggml.merges", true, SIZE_MAX, &merges));
    t.merges = merges->strings;
    INGOT_RETURN_IF_ERROR(k.boolean("tokenizer.ggml.add_bos_token", c.bos_id >= 0, &t.add_bos));
    // add_space_prefix: a space before each text segment that lacks one (ByteLevel add_prefix_space).
    INGOT_RETURN_IF_ERROR(k.boolean("tokenizer.ggml.add_space_prefix", false, &t.add_dummy_prefix));
    if (t.add_dummy_prefix && found->pre != format::PreTokenizer::gpt2) {
      // Hugging Face adds the space to every piece ByteLevel sees, which after a split is every
      // pre-token: not implemented.
      return file_error(path, "tokenizer.ggml.add_space_prefix true with pre-tokenizer '", pre,
                        "' is not supported (only with gpt2's)");
    }
    return Status::success();
  }
  return file_error(path, "tokenizer.ggml.model '", model, "' is not supported (llama and gpt2 are)");
}

// Llama 3.1+ GGUFs carry the llama3 RoPE scaling as rope_freqs.weight, one divisor per frequency
// (llama.cpp's convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors: 1 for short wavelengths,
// `factor` for long ones, 1 / ((1 − s)/factor + s) between, s = (old_context / wavelength −
// low_freq_factor) / (high_freq_factor − low_freq_factor)). The container records the rule, not
// the divisors: the rule's parameters are found among the values Meta and llama.cpp use and
// accepted only if they reproduce every divisor of the file; anything else is refused.
Status read_rope_freqs(const GgufTensor& t, const std::string& path, fb::ModelConfigT* c) {
  const size_t half = c->head_dim / 2;
  if (t.type != kGgmlF32 || t.ne.size() != 1 || t.ne[0] != half || t.bytes.size() != half * 4) {
    return file_error(path, "rope_freqs.weight is ", ggml_type_name(t.type), " ", shape_string(t.ne), ", not F32 [", half,
                      "] (head dimension ", c->head_dim, " / 2)");
  }
  if (c->rope_scaling) {
    return file_error(path, "holds rope_freqs.weight and also rope scaling '", format::rope_scaling_name(c->rope_scaling->type),
                      "' in its metadata");
  }
  std::vector<float> divisor(half);
  std::memcpy(divisor.data(), t.bytes.data(), half * 4);
  std::vector<double> freq(half);
  for (size_t i = 0; i < half; ++i) freq[i] = 1.0 / std::pow(double(c->rope_theta), double(2 * i) / double(c->head_dim));
  const auto fits = [&](double factor, double low, double high, double old_ctx) {
    for (size_t i = 0; i < half; ++i) {
      const double wavelen = 2 * M_PI / freq[i];
      double want = 1;
      if (wavelen > old_ctx / low) {
        want = factor;
      } else if (wavelen >= old_ctx / high) {
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        want = 1 / ((1 - smooth) / factor + smooth);
      }
      if (!(std::fabs(double(divisor[i]) - want) <= 1e-4 * want)) return false;
    }
    return true;
  };
  const float largest = *std::max_element(divisor.begin(), divisor.end());
  for (double factor : {double(largest), 2.0, 4.0, 8.0, 16.0, 32.0, 64.0}) {
    for (double low : {1.0, 2.0, 0.5}) {
      for (double high : {4.0, 2.0, 8.0}) {
        for (double old_ctx : {8192.0, 4096.0, 2048.0, 16384.0, 32768.0, 65536.0, 131072.0}) {
          if (!fits(factor, low, high, old_ctx)) continue;
          auto s = std::make_unique<fb::RopeScalingT>();
          s->type = fb::RopeScalingType::Llama3;
          s->factor = float(factor);
          s->low_freq_factor = float(low);
          s->high_freq_factor = float(high);
          s->original_context_length = uint32_t(old_ctx);
          c->rope_scaling = std::move(s);
          return Status::success();
        }
      }
    }
  }
  return file_error(path, "rope_freqs.weight holds RoPE frequency divisors that do not follow the llama3 scaling rule "
                    "(factor, low/high_freq_factor, original context) for any usual parameters; not supported");
}

Status take_tensors(const GgufFile& f, const std::string& path, SourceModel* m) {
  const fb::ModelConfigT& c = m->config;
  std::map<std::string, const GgufTensor*> by_name;
  for (const GgufTensor& t : f.tensors) {
    if (t.type != kGgmlF32 && t.type != kGgmlF16 && t.type != kGgmlBF16 && !is_dequantizable_ggml_type(t.type)) {
      return file_error(path, "tensor '", t.name, "' is ", ggml_type_name(t.type),
                        ", a ggml type this importer does not read (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                        "Q2_K, Q3_K, Q4_K, Q5_K and Q6_K are)");
    }
    by_name[t.name] = &t;
  }
  std::set<std::string> used;
  if (const auto it = by_name.find("rope_freqs.weight"); it != by_name.end()) {
    INGOT_RETURN_IF_ERROR(read_rope_freqs(*it->second, path, &m->config));
    used.insert(it->first);
  }
  const uint64_t dim = c.dim, ffn = c.ffn_dim, vocab = c.vocab_size;
  const uint64_t q_dim = uint64_t(c.n_head) * c.head_dim, kv_dim = uint64_t(c.n_head_kv) * c.head_dim;
  struct Want {
    std::string gguf, canonical;
    std::vector<uint64_t> shape;  // (out, in)
  };
  std::vector<Want> want = {{"token_embd.weight", "tok_embeddings.weight", {vocab, dim}}};
  for (uint32_t i = 0; i < c.n_layer; ++i) {
    const std::string g = "blk." + std::to_string(i) + ".", ig = "layers." + std::to_string(i) + ".";
    want.push_back({g + "attn_norm.weight", ig + "attention_norm.weight", {dim}});
    want.push_back({g + "attn_q.weight", ig + "attention.wq.weight", {q_dim, dim}});
    want.push_back({g + "attn_k.weight", ig + "attention.wk.weight", {kv_dim, dim}});
    want.push_back({g + "attn_v.weight", ig + "attention.wv.weight", {kv_dim, dim}});
    want.push_back({g + "attn_output.weight", ig + "attention.wo.weight", {dim, q_dim}});
    want.push_back({g + "ffn_norm.weight", ig + "ffn_norm.weight", {dim}});
    want.push_back({g + "ffn_gate.weight", ig + "feed_forward.w1.weight", {ffn, dim}});
    want.push_back({g + "ffn_down.weight", ig + "feed_forward.w2.weight", {dim, ffn}});
    want.push_back({g + "ffn_up.weight", ig + "feed_forward.w3.weight", {ffn, dim}});
  }
  want.push_back({"output_norm.weight", "norm.weight", {dim}});
  m->config.tied_embeddings = by_name.count("output.weight") == 0;
  if (!m->config.tied_embeddings) want.push_back({"output.weight", "output.weight", {vocab, dim}});

  size_t n_dequantized = 0;
  for (const Want& w : want) {
    const auto it = by_name.find(w.gguf);
    if (it == by_name.end()) return file_error(path, "tensor '", w.gguf, "' is missing");
    const GgufTensor& t = *it->second;
    const std::vector<uint64_t> shape(t.ne.rbegin(), t.ne.rend());  // ggml ne[0] is the row length
    if (shape != w.shape) {
      return file_error(path, "tensor '", w.gguf, "' has shape ", shape_string(shape), " (ggml ne ",
                        shape_string(t.ne), ") but the metadata implies ", shape_string(w.shape));
    }
    SourceTensor s;
    s.name = w.canonical;
    s.shape = w.shape;
    s.source_type = std::string(ggml_type_name(t.type));
    if (is_dequantizable_ggml_type(t.type)) {
      // Dequantized exactly to f32 (gguf_dequant.h); parse_gguf checked the size of t.bytes.
      uint64_t n = 1;
      for (uint64_t d : t.ne) n *= d;
      s.dtype = fb::DType::F32;
      s.owned.resize(size_t(n) * 4);
      dequantize_ggml(t.type, t.bytes, {reinterpret_cast<float*>(s.owned.data()), size_t(n)});
      s.bytes = s.owned;
      ++n_dequantized;
    } else {
      s.dtype = t.type == kGgmlF32 ? fb::DType::F32 : t.type == kGgmlF16 ? fb::DType::F16 : fb::DType::BF16;
      s.bytes = t.bytes;
    }
    m->tensors.push_back(std::move(s));
    used.insert(w.gguf);
  }
  for (const GgufTensor& t : f.tensors) {
    if (used.count(t.name) == 0) {
      return file_error(path, "tensor '", t.name, "' is not part of a ", c.n_layer,
                        "-layer LLaMA model; refusing rather than dropping weights");
    }
  }
  if (n_dequantized > 0) {
    std::map<std::string, size_t> by_type;
    for (const SourceTensor& t : m->tensors) ++by_type[t.source_type];
    std::string list;
    for (const auto& [type, count] : by_type) list += (list.empty() ? "" : ", ") + std::to_string(count) + " " + type;
    m->notes.push_back("dequantized " + std::to_string(n_dequantized) + " block-quantized GGUF tensors exactly to f32 (" +
                       list + ")");
    m->quantized_source = true;
  }
  return Status::success();
}

Status import(const std::string& path, SourceModel* out) {
  std::unique_ptr<Mapping> mapping;
  INGOT_RETURN_IF_ERROR(map_file(path, &mapping));
  GgufFile f;
  INGOT_RETURN_IF_ERROR(parse_gguf(mapping->bytes(), path, &f));
  const Keys k(f, path);
  SourceModel m;
  INGOT_RETURN_IF_ERROR(read_config(k, path, &m.config));
  INGOT_RETURN_IF_ERROR(read_tokenizer(k, path, &m));
  // The vocabulary: llama.vocab_size, else the tokenizer's, else the embeddings'.
  uint32_t vocab = uint32_t(m.tokenizer.pieces.size());
  if (vocab == 0) {
    for (const GgufTensor& t : f.tensors) {
      if (t.name == "token_embd.weight" && t.ne.size() == 2 && t.ne[1] <= (uint64_t(1) << 30)) vocab = uint32_t(t.ne[1]);
    }
  }
  INGOT_RETURN_IF_ERROR(k.count("llama.vocab_size", vocab == 0 ? std::nullopt : std::optional<uint32_t>(vocab),
                                &m.config.vocab_size));
  if (m.tokenizer.pieces.size() > m.config.vocab_size) {
    return file_error(path, "the tokenizer has ", m.tokenizer.pieces.size(), " tokens but the vocabulary is ",
                      m.config.vocab_size);
  }
  INGOT_RETURN_IF_ERROR(take_tensors(f, path, &m));
  m.sources.push_back(digest(path, *mapping));
  m.mappings.push_back(std::move(mapping));
  *out = std::move(m);
  return Status::success();
}

}  // namespace

bool looks_like_gguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

format::Status import_gguf(const std::string& path, SourceModel* out) {
  try {
    return import(path, out);
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "'", path, "': out of memory");
  }
}

}  // namespace ingot::compiler
