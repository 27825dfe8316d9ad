// ingot_tokenize / ingot_detokenize: the model's own tokenizer, into caller-owned buffers.
#include <cstring>
#include <string_view>

#include "capi/boundary.h"

using ingot::capi::fail;
using ingot::capi::guard;

extern "C" {

ingot_status ingot_tokenize(const ingot_model* model, const char* text, size_t text_len, bool add_bos, int32_t* tokens,
                            size_t capacity, size_t* n_tokens) {
  static const char* fn = "ingot_tokenize";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, model != nullptr, "model is NULL");
    INGOT_CAPI_REQUIRE(fn, text != nullptr || text_len == 0, "text is NULL");
    INGOT_CAPI_REQUIRE(fn, n_tokens != nullptr, "n_tokens is NULL");
    INGOT_CAPI_REQUIRE(fn, tokens != nullptr || capacity == 0, "tokens is NULL with a non-zero capacity");
    INGOT_CAPI_REQUIRE(fn, model->model->has_tokenizer(), "the model has no tokenizer (compile it with --tokenizer)");
    std::vector<int32_t> ids;
    const int32_t bos = model->model->dims().bos;
    if (add_bos && bos >= 0) ids.push_back(bos);
    if (text_len > 0) {
      const std::vector<int32_t> enc = model->model->tokenizer().encode(std::string_view(text, text_len));
      ids.insert(ids.end(), enc.begin(), enc.end());
    }
    *n_tokens = ids.size();
    if (ids.size() > capacity) {
      return fail(fn, INGOT_STATUS_BUFFER_TOO_SMALL,
                  "the text has " + std::to_string(ids.size()) + " tokens, the buffer holds " + std::to_string(capacity));
    }
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
    return INGOT_STATUS_OK;
  });
}

ingot_status ingot_detokenize(const ingot_model* model, const int32_t* tokens, size_t n_tokens, char* buf,
                              size_t capacity, size_t* n_bytes) {
  static const char* fn = "ingot_detokenize";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, model != nullptr, "model is NULL");
    INGOT_CAPI_REQUIRE(fn, tokens != nullptr || n_tokens == 0, "tokens is NULL");
    INGOT_CAPI_REQUIRE(fn, n_bytes != nullptr, "n_bytes is NULL");
    INGOT_CAPI_REQUIRE(fn, buf != nullptr || capacity == 0, "buf is NULL with a non-zero capacity");
    INGOT_CAPI_REQUIRE(fn, model->model->has_tokenizer(), "the model has no tokenizer (compile it with --tokenizer)");
    const size_t vocab = model->model->dims().vocab;
    std::vector<int32_t> ids(tokens, tokens + n_tokens);
    for (size_t i = 0; i < n_tokens; ++i) {
      if (ids[i] < 0 || size_t(ids[i]) >= vocab) {
        return fail(fn, INGOT_STATUS_INVALID_ARGUMENT, "token " + std::to_string(i) + " (id " + std::to_string(ids[i]) +
                                                           ") is outside the vocabulary (" + std::to_string(vocab) + ")");
      }
    }
    const std::string text = model->model->tokenizer().decode(ids);
    *n_bytes = text.size();
    if (text.size() + 1 > capacity) {
      return fail(fn, INGOT_STATUS_BUFFER_TOO_SMALL,
                  "the text has " + std::to_string(text.size()) + " bytes + NUL, the buffer holds " + std::to_string(capacity));
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    return INGOT_STATUS_OK;
  });
}

}  // extern "C"
