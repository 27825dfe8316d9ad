// The JSON description of a container that `ingot inspect` prints (or renders as text).
#include <string>

#include "commands.h"

namespace ingot::cli {

using nlohmann::json;
using namespace ingot::format;

namespace {

json blob_json(const fb::Blob* b) {
  if (b == nullptr) return nullptr;
  return {{"offset", b->offset()},
          {"size", b->size()},
          {"raw_size", b->raw_size()},
          {"compression", compression_name(b->compression())},
          {"xxh3", b->checksum()}};
}

std::string str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

json config_json(const fb::ModelConfig* c) {
  if (c == nullptr) return nullptr;
  json j = {{"architecture", str(c->architecture())},
            {"dim", c->dim()},
            {"n_layer", c->n_layer()},
            {"n_head", c->n_head()},
            {"n_head_kv", c->n_head_kv()},
            {"head_dim", c->head_dim()},
            {"ffn_dim", c->ffn_dim()},
            {"vocab_size", c->vocab_size()},
            {"rope_theta", c->rope_theta()},
            {"rope_form", rope_form_name(c->rope_form())},
            {"norm_eps", c->norm_eps()},
            {"context_length", c->context_length()},
            {"tied_embeddings", c->tied_embeddings()},
            {"bos_id", c->bos_id()},
            {"eos_id", c->eos_id()},
            {"pad_id", c->pad_id()},
            {"unk_id", c->unk_id()}};
  if (const fb::RopeScaling* r = c->rope_scaling()) {
    j["rope_scaling"] = {{"type", rope_scaling_name(r->type())},
                         {"factor", r->factor()},
                         {"low_freq_factor", r->low_freq_factor()},
                         {"high_freq_factor", r->high_freq_factor()},
                         {"original_context_length", r->original_context_length()}};
  }
  if (c->extra_eos_ids() != nullptr) {
    j["extra_eos_ids"] = std::vector<int32_t>(c->extra_eos_ids()->begin(), c->extra_eos_ids()->end());
  }
  return j;
}

json tokenizer_json(const fb::Tokenizer* t) {
  if (t == nullptr) return nullptr;
  json specials = json::array();
  if (t->special_tokens() != nullptr) {
    for (const fb::SpecialToken* s : *t->special_tokens()) specials.push_back({{"content", str(s->content())}, {"id", s->id()}});
  }
  return {{"kind", tokenizer_kind_name(t->kind())},
          {"n_pieces", t->pieces() ? t->pieces()->size() : 0},
          {"n_merges", t->merges() ? t->merges()->size() : 0},
          {"has_scores", t->scores() != nullptr && t->scores()->size() != 0},
          {"special_tokens", specials},
          {"add_bos", t->add_bos()},
          {"add_eos", t->add_eos()},
          {"add_dummy_prefix", t->add_dummy_prefix()},
          {"pre_tokenizer", t->pre_tokenizer() != nullptr ? t->pre_tokenizer()->str() : std::string()},
          {"byte_fallback", t->byte_fallback()},
          {"pre_tokenizer_pattern", str(t->pre_tokenizer_pattern())},
          {"chat_template", str(t->chat_template())}};
}

json key_values(const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>* kvs) {
  json j = json::object();
  if (kvs != nullptr) {
    for (const fb::KeyValue* kv : *kvs) j[kv->key()->str()] = str(kv->value());
  }
  return j;
}

json digests(const flatbuffers::Vector<flatbuffers::Offset<fb::Digest>>* ds) {
  json j = json::array();
  if (ds != nullptr) {
    for (const fb::Digest* d : *ds) j.push_back({{"name", d->name()->str()}, {"xxh3", d->xxh3()}, {"size", d->size()}});
  }
  return j;
}

json provenance_json(const fb::Provenance* p) {
  if (p == nullptr) return nullptr;
  json losses = json::array();
  if (p->layer_losses() != nullptr) {
    for (const fb::LayerLoss* l : *p->layer_losses()) {
      losses.push_back({{"tensor", l->tensor()->str()}, {"loss", l->loss()}, {"damp", l->damp()}, {"note", str(l->note())}});
    }
  }
  // Source types: how many tensors of each (the per-tensor list is in "source_tensor_types").
  json types = nullptr, per_tensor = nullptr;
  if (p->source_types() != nullptr && p->source_types()->size() != 0) {
    types = json::object();
    per_tensor = key_values(p->source_types());
    for (const fb::KeyValue* kv : *p->source_types()) {
      const std::string t = str(kv->value());
      types[t] = (types.contains(t) ? types[t].get<uint64_t>() : 0) + 1;
    }
  }
  return {{"compiler", str(p->compiler())},
          {"options", key_values(p->options())},
          {"source_types", types},
          {"source_tensor_types", per_tensor},
          {"sources", digests(p->sources())},
          {"calibration", digests(p->calibration())},
          {"layer_losses", losses}};
}

}  // namespace

json describe(const Container& c) {
  const Header& h = c.header();
  json tensors = json::array();
  uint64_t stored = 0, raw = 0;
  for (size_t i = 0; i < c.n_tensors(); ++i) {
    const fb::Tensor& t = c.tensor(i);
    std::vector<uint64_t> shape(t.shape()->begin(), t.shape()->end());
    json jt = {{"name", t.name()->str()},
               {"dtype", dtype_name(t.dtype())},
               {"shape", shape},
               {"layout", layout_name(t.layout())},
               {"data", blob_json(t.data())}};
    uint64_t t_stored = t.data()->size(), t_raw = t.data()->raw_size();
    if (const fb::Quantization* q = t.quant()) {
      jt["quant"] = {{"method", quant_method_name(q->method())},
                     {"bits", q->bits()},
                     {"group_size", q->group_size()},
                     {"symmetric", q->symmetric()},
                     {"act_order", q->act_order()},
                     {"static_groups", q->static_groups()},
                     {"scales_dtype", dtype_name(q->scales_dtype())},
                     {"scales", blob_json(q->scales())},
                     {"zeros_dtype", dtype_name(q->zeros_dtype())},
                     {"zeros", blob_json(q->zeros())},
                     {"perm", blob_json(q->perm())},
                     {"input_order", blob_json(q->input_order())}};
      for (const fb::Blob* b : {q->scales(), q->zeros(), q->perm(), q->input_order()}) {
        if (b != nullptr) t_stored += b->size(), t_raw += b->raw_size();
      }
    }
    jt["bytes"] = t_stored;
    jt["raw_bytes"] = t_raw;
    stored += t_stored;
    raw += t_raw;
    tensors.push_back(std::move(jt));
  }
  return {{"header",
           {{"version", std::to_string(h.major) + "." + std::to_string(h.minor)},
            {"header_size", h.header_size},
            {"alignment", h.alignment},
            {"index_offset", h.index_offset},
            {"index_size", h.index_size},
            {"index_xxh3", h.index_checksum},
            {"data_offset", h.data_offset},
            {"data_size", h.data_size},
            {"file_size", c.file_size()}}},
          {"config", config_json(c.index().config())},
          {"tokenizer", tokenizer_json(c.index().tokenizer())},
          {"tensors", tensors},
          {"totals", {{"n_tensors", c.n_tensors()}, {"bytes", stored}, {"raw_bytes", raw}}},
          {"provenance", provenance_json(c.index().provenance())},
          {"metadata", key_values(c.index().metadata())}};
}

}  // namespace ingot::cli
