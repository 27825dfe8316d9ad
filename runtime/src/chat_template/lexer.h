// Splits a template into text and the tokens of its tags, applying Jinja2's whitespace control
// as transformers configures it: `{%-`/`-%}` (and for {{ }} and {# #}) strip whitespace,
// trim_blocks drops the newline after a block or comment tag, lstrip_blocks drops the spaces
// before one at the start of a line (`{%+` and `+%}` turn those off for one tag).
#pragma once

#include <string>
#include <vector>

namespace ingot::chat_template {

enum class TokenType {
  text,         // literal output
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,       // value: the unescaped string
  integer,
  floating,
  op,           // value: the operator's spelling, e.g. "//" or "("
  eof,
};

struct Token {
  TokenType type;
  std::string value;
  int line;
};

// Throws TemplateError (syntax) for an unterminated tag, string or comment.
std::vector<Token> tokenize(const std::string& source);

}  // namespace ingot::chat_template
