#include "chat_template/model_template.h"

#include <stdexcept>


namespace ingot::runtime {

namespace {

const fb::Tokenizer* tokenizer_table(const Model& model) { return model.container().index().tokenizer(); }

std::string piece_text(const fb::Tokenizer* t, int32_t id) {
  if (t == nullptr || t->pieces() == nullptr || id < 0 || static_cast<uint32_t>(id) >= t->pieces()->size()) return "";
  return t->pieces()->Get(static_cast<uint32_t>(id))->str();
}

}  // namespace

std::string model_chat_template(const Model& model) {
  const fb::Tokenizer* t = tokenizer_table(model);
  if (t == nullptr || t->chat_template() == nullptr) return "";
  return t->chat_template()->str();
}

std::string render_model_chat_template(const Model& model, const nlohmann::ordered_json& messages,
                                       bool add_generation_prompt, const nlohmann::ordered_json& tools) {
  const std::string source = model_chat_template(model);
  if (source.empty()) throw std::invalid_argument("the model carries no chat template");
  const fb::Tokenizer* t = tokenizer_table(model);
  nlohmann::ordered_json context = {{"messages", messages},
                                    {"tools", tools},
                                    {"documents", nullptr},
                                    {"add_generation_prompt", add_generation_prompt},
                                    {"bos_token", piece_text(t, model.dims().bos)},
                                    {"eos_token", piece_text(t, model.dims().eos)}};
  return chat_template::render(source, context);
}

}  // namespace ingot::runtime
