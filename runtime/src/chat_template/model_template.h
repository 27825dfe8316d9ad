// The chat template a container carries, rendered for a conversation the way transformers'
// apply_chat_template renders it: messages, add_generation_prompt, bos_token and eos_token (the
// text of the model's BOS/EOS pieces), tools (None when not given) and documents (None).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "chat_template/chat_template.h"
#include "model/model.h"

namespace ingot::runtime {

// The container's chat template (tokenizer_config.json's or GGUF's); empty when it has none.
std::string model_chat_template(const Model& model);

// Throws chat_template::TemplateError (including the template's raise_exception) and
// std::invalid_argument when the model carries no template.
std::string render_model_chat_template(const Model& model, const nlohmann::ordered_json& messages,
                                       bool add_generation_prompt,
                                       const nlohmann::ordered_json& tools = nullptr);

}  // namespace ingot::runtime
