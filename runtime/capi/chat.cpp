// ingot_model_chat_template / ingot_chat_render: the container's chat template through the
// chat-template engine (runtime/src/chat_template).

#include "capi/boundary.h"
#include "chat_template/model_template.h"

using ingot::capi::copy_out;
using ingot::capi::fail;
using ingot::capi::guard;

extern "C" {

const char* ingot_model_chat_template(const ingot_model* model) {
  if (model == nullptr) return nullptr;
  const ingot::fb::Tokenizer* t = model->model->container().index().tokenizer();
  if (t == nullptr || t->chat_template() == nullptr || t->chat_template()->size() == 0) return nullptr;
  return t->chat_template()->c_str();
}

ingot_status ingot_chat_render(const ingot_model* model, const ingot_chat_message* messages, size_t n_messages,
                               bool add_generation_prompt, const char* tools_json, char* buf, size_t capacity,
                               size_t* n_bytes) {
  static const char* fn = "ingot_chat_render";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, model != nullptr, "model is NULL");
    INGOT_CAPI_REQUIRE(fn, messages != nullptr || n_messages == 0, "messages is NULL");
    INGOT_CAPI_REQUIRE(fn, n_bytes != nullptr, "n_bytes is NULL");
    INGOT_CAPI_REQUIRE(fn, buf != nullptr || capacity == 0, "buf is NULL with a non-zero capacity");
    if (ingot_model_chat_template(model) == nullptr)
      return fail(fn, INGOT_STATUS_UNSUPPORTED, "the model carries no chat template");
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t i = 0; i < n_messages; ++i) {
      if (messages[i].role == nullptr || messages[i].content == nullptr) {
        return fail(fn, INGOT_STATUS_INVALID_ARGUMENT,
                    "message " + std::to_string(i) + " has a NULL " + (messages[i].role == nullptr ? "role" : "content"));
      }
      list.push_back({{"role", messages[i].role}, {"content", messages[i].content}});
    }
    nlohmann::ordered_json tools = nullptr;
    if (tools_json != nullptr) {
      tools = nlohmann::ordered_json::parse(tools_json, nullptr, /*allow_exceptions=*/false);
      if (tools.is_discarded()) return fail(fn, INGOT_STATUS_INVALID_ARGUMENT, "tools_json is not valid JSON");
    }
    std::string text;
    try {
      text = ingot::runtime::render_model_chat_template(*model->model, list, add_generation_prompt, tools);
    } catch (const ingot::chat_template::TemplateError& e) {
      return fail(fn, INGOT_STATUS_TEMPLATE_ERROR, e.what());
    }
    return copy_out(fn, text, buf, capacity, n_bytes);
  });
}

}  // extern "C"
