// Tokens to statements: Jinja2's grammar for the constructs chat templates use. Anything else
// (extends, include, import, block, with, ...) is a TemplateError of kind unsupported naming the
// construct and its line.
#pragma once

#include <vector>

#include "chat_template/ast.h"
#include "chat_template/lexer.h"

namespace ingot::chat_template {

// max_nesting bounds nested blocks and expressions (the parser recurses on both).
Body parse_template(const std::vector<Token>& tokens, int max_nesting);

}  // namespace ingot::chat_template
