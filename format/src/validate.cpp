#include "validate.h"

#include <utility>

namespace ingot::format::detail {

namespace {

template <typename Vec>
size_t size_of(const Vec* v) {
  return v == nullptr ? 0 : v->size();
}

Status check_config(const fb::ModelConfig& c) {
  if (c.n_head_kv() > c.n_head() || (c.n_head_kv() != 0 && c.n_head() % c.n_head_kv() != 0)) {
    return fail(StatusCode::invalid_index, "config: n_head ", c.n_head(), " is not a multiple of n_head_kv ",
                c.n_head_kv());
  }
  const int64_t vocab = c.vocab_size();
  const std::pair<const char*, int32_t> ids[] = {
      {"bos_id", c.bos_id()}, {"eos_id", c.eos_id()}, {"pad_id", c.pad_id()}, {"unk_id", c.unk_id()}};
  for (const auto& [name, id] : ids) {
    if (id < -1 || id >= vocab) {
      return fail(StatusCode::invalid_index, "config: ", name, " ", id, " is outside the vocabulary (", vocab, ")");
    }
  }
  if (c.extra_eos_ids() != nullptr) {
    for (int32_t id : *c.extra_eos_ids()) {
      if (id < 0 || id >= vocab) {
        return fail(StatusCode::invalid_index, "config: extra_eos_ids has ", id, ", outside the vocabulary (", vocab,
                    ")");
      }
    }
  }
  if (c.rope_scaling() != nullptr && rope_scaling_name(c.rope_scaling()->type())[0] == '?') {
    return fail(StatusCode::invalid_index, "config: unknown rope scaling type ", int(c.rope_scaling()->type()));
  }
  if (rope_form_name(c.rope_form())[0] == '?') {
    return fail(StatusCode::invalid_index, "config: unknown rope form ", int(c.rope_form()));
  }
  return Status::success();
}

Status check_tokenizer(const fb::Tokenizer& t, const fb::ModelConfig* config) {
  if (tokenizer_kind_name(t.kind())[0] == '?') {
    return fail(StatusCode::invalid_index, "tokenizer: unknown kind ", int(t.kind()));
  }
  const size_t n = size_of(t.pieces());
  if (size_of(t.scores()) != 0 && size_of(t.scores()) != n) {
    return fail(StatusCode::invalid_index, "tokenizer: ", size_of(t.scores()), " scores for ", n, " pieces");
  }
  if (size_of(t.types()) != 0 && size_of(t.types()) != n) {
    return fail(StatusCode::invalid_index, "tokenizer: ", size_of(t.types()), " token types for ", n, " pieces");
  }
  if (t.types() != nullptr) {
    for (size_t i = 0; i < t.types()->size(); ++i) {
      if (uint8_t(t.types()->Get(i)) > uint8_t(TokenType::MAX)) {
        return fail(StatusCode::invalid_index, "tokenizer: token ", i, " has unknown type ", int(t.types()->Get(i)));
      }
    }
  }
  if (config != nullptr && n > config->vocab_size()) {
    return fail(StatusCode::invalid_index, "tokenizer: ", n, " pieces exceed the config's vocab_size ",
                config->vocab_size());
  }
  if (t.special_tokens() != nullptr) {
    for (const fb::SpecialToken* s : *t.special_tokens()) {
      if (s->id() < 0 || uint64_t(s->id()) >= n) {
        return fail(StatusCode::invalid_index, "tokenizer: special token '", s->content()->string_view(), "' has id ",
                    s->id(), ", outside the ", n, " pieces");
      }
    }
  }
  return Status::success();
}

}  // namespace

Status check_model_fields(const fb::Index& index) {
  if (index.config() != nullptr) INGOT_RETURN_IF_ERROR(check_config(*index.config()));
  if (index.tokenizer() != nullptr) INGOT_RETURN_IF_ERROR(check_tokenizer(*index.tokenizer(), index.config()));
  return Status::success();
}

}  // namespace ingot::format::detail
