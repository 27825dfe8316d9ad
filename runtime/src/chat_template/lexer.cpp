#include "chat_template/lexer.h"

#include <cctype>
#include <cstring>

#include "chat_template/chat_template.h"
#include "chat_template/value.h"

namespace ingot::chat_template {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

[[noreturn]] void syntax_error(int line, const std::string& message) {
  throw TemplateError(TemplateError::Kind::syntax, line, message);
}

// Python's str.splitlines() line ends joined with "\n", and one trailing newline dropped, as
// Jinja2 does to every source (keep_trailing_newline=False).
std::string normalize_newlines(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r') {
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
      out += '\n';
    } else if (c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' || c == '\x1e') {
      out += '\n';
    } else if (static_cast<unsigned char>(c) == 0xc2 && i + 1 < in.size() &&
               static_cast<unsigned char>(in[i + 1]) == 0x85) {  // U+0085
      out += '\n';
      ++i;
    } else if (static_cast<unsigned char>(c) == 0xe2 && i + 2 < in.size() &&
               static_cast<unsigned char>(in[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(in[i + 2]) == 0xa8 || static_cast<unsigned char>(in[i + 2]) == 0xa9)) {
      out += '\n';  // U+2028, U+2029
      i += 2;
    } else {
      out += c;
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false;  // the previous tag ended with '-': drop the text's leading whitespace
    bool trim_next = false;   // the previous tag was a block or comment: drop one leading newline
    while (pos <= src_.size()) {
      size_t start = find_tag(pos);
      std::string text = src_.substr(pos, start - pos);
      char kind = start < src_.size() ? src_[start + 1] : 0;  // '{', '%', '#' or 0 at the end
      char modifier = start + 2 < src_.size() ? src_[start + 2] : 0;
      if (kind != 0) {
        if (modifier == '-') {
          size_t end = text.size();
          while (end > 0 && is_space(text[end - 1])) --end;
          text.resize(end);
        } else if (kind != '{' && modifier != '+') {
          size_t line_start = text.rfind('\n');
          line_start = line_start == std::string::npos ? 0 : line_start + 1;
          bool at_line_start = line_start > 0 || pos == 0 || line_starting_;
          bool blank = line_start < text.size();
          for (size_t k = line_start; k < text.size(); ++k) blank = blank && is_space(text[k]);
          if (at_line_start && blank) text.resize(line_start);
        }
      }
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      } else if (trim_next && !text.empty() && text[0] == '\n') {
        text.erase(0, 1);
      }
      if (!text.empty()) push(TokenType::text, text, line_at(pos));
      if (kind == 0) break;
      line_ = line_at(start);
      size_t body = start + 2 + (modifier == '-' || modifier == '+' ? 1 : 0);
      char end_mod = 0;
      if (kind == '#') {
        size_t end = src_.find("#}", body);
        if (end == std::string::npos) syntax_error(line_, "missing end of comment tag");
        if (end > body && (src_[end - 1] == '-' || src_[end - 1] == '+')) end_mod = src_[end - 1];
        pos = end + 2;
      } else {
        pos = lex_tag(body, kind, end_mod);
      }
      strip_next = end_mod == '-';
      trim_next = kind != '{' && end_mod != '+';
      // Jinja2's line_starting: the tag's match ended in a newline (trim_blocks took it).
      line_starting_ = trim_next && !strip_next && pos < src_.size() && src_[pos] == '\n';
      if (strip_next) {
        size_t k = pos;
        while (k < src_.size() && is_space(src_[k])) ++k;
        line_starting_ = k > pos && src_[k - 1] == '\n';
      }
      if (kind == '%' && is_raw_begin()) pos = lex_raw(pos, strip_next, trim_next);
    }
    push(TokenType::eof, "", line_at(src_.size()));
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t k = from; k + 1 < src_.size(); ++k)
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    return src_.size();
  }

  int line_at(size_t pos) {
    for (; line_pos_ < pos && line_pos_ < src_.size(); ++line_pos_)
      if (src_[line_pos_] == '\n') ++line_count_;
    return line_count_;
  }

  void push(TokenType type, std::string value, int line) { tokens_.push_back({type, std::move(value), line}); }

  // The tokens of one {{ }} or {% %}; returns the position after its end.
  size_t lex_tag(size_t pos, char kind, char& end_mod) {
    push(kind == '{' ? TokenType::var_begin : TokenType::block_begin, "", line_);
    const char close = kind == '{' ? '}' : '%';
    int depth = 0;  // open ( [ {: an end marker inside them is an operator
    for (;;) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      int line = line_at(pos);
      if (pos >= src_.size()) syntax_error(line_, std::string("unexpected end of template, expected '") + close + "}'");
      char c = src_[pos];
      if (depth == 0) {
        if ((c == '-' || c == '+') && pos + 2 < src_.size() + 0 && src_[pos + 1] == close && src_[pos + 2] == '}') {
          end_mod = c;
          push(kind == '{' ? TokenType::var_end : TokenType::block_end, "", line);
          return pos + 3;
        }
        if (c == close && pos + 1 < src_.size() && src_[pos + 1] == '}') {
          push(kind == '{' ? TokenType::var_end : TokenType::block_end, "", line);
          return pos + 2;
        }
      }
      if (is_name_start(c)) {
        size_t end = pos;
        while (end < src_.size() && (is_name_start(src_[end]) || is_digit(src_[end]))) ++end;
        push(TokenType::name, src_.substr(pos, end - pos), line);
        pos = end;
      } else if (is_digit(c)) {
        pos = lex_number(pos, line);
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos, line);
      } else {
        static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* t : two)
          if (src_.compare(pos, 2, t) == 0) op = t;
        if (op.empty()) {
          if (!std::strchr("+-*/%~()[]{},.:|=<>!;", c)) syntax_error(line, std::string("unexpected character '") + c + "'");
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        push(TokenType::op, op, line);
        pos += op.size();
      }
    }
  }

  size_t lex_number(size_t pos, int line) {
    size_t end = pos;
    auto digits = [&] {
      while (end < src_.size() && (is_digit(src_[end]) || (src_[end] == '_' && end + 1 < src_.size() && is_digit(src_[end + 1])))) ++end;
    };
    digits();
    bool is_float = false;
    if (end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
      is_float = true;
      ++end;
      digits();
    }
    if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t e = end + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && is_digit(src_[e])) {
        is_float = true;
        end = e;
        digits();
      }
    }
    std::string text;
    for (size_t k = pos; k < end; ++k)
      if (src_[k] != '_') text += src_[k];
    push(is_float ? TokenType::floating : TokenType::integer, text, line);
    return end;
  }

  size_t lex_string(size_t pos, int line) {
    char quote = src_[pos];
    std::string out;
    size_t k = pos + 1;
    for (;;) {
      if (k >= src_.size()) syntax_error(line, "unterminated string");
      char c = src_[k];
      if (c == quote) break;
      if (c == '\\' && k + 1 < src_.size()) {
        char e = src_[++k];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '0': out += '\0'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'v': out += '\v'; break;
          case 'a': out += '\a'; break;
          case '\\': out += '\\'; break;
          case '\'': out += '\''; break;
          case '"': out += '"'; break;
          case '\n': break;  // a backslash-newline continues the line
          case 'x':
          case 'u':
          case 'U': {
            size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (k + n >= src_.size()) syntax_error(line, "truncated \\" + std::string(1, e) + " escape in a string");
            std::string hex = src_.substr(k + 1, n);
            for (char h : hex)
              if (!std::isxdigit(static_cast<unsigned char>(h))) syntax_error(line, "bad \\" + std::string(1, e) + " escape in a string");
            unsigned long cp = std::stoul(hex, nullptr, 16);
            if (cp > 0x10ffff) syntax_error(line, "bad escape in a string");
            out += utf8_encode(std::u32string(1, static_cast<char32_t>(cp)));
            k += n;
            break;
          }
          default: out += '\\'; out += e;  // Python keeps unknown escapes as they are
        }
        ++k;
        continue;
      }
      out += c;
      ++k;
    }
    push(TokenType::string, out, line);
    return k + 1;
  }

  // The tokens just pushed are `{% raw %}`.
  bool is_raw_begin() const {
    size_t n = tokens_.size();
    return n >= 3 && tokens_[n - 1].type == TokenType::block_end && tokens_[n - 2].type == TokenType::name &&
           tokens_[n - 2].value == "raw" && tokens_[n - 3].type == TokenType::block_begin;
  }

  // The text up to {% endraw %}, verbatim; returns the position after that tag.
  size_t lex_raw(size_t pos, bool& strip_next, bool& trim_next) {
    int line = line_;
    tokens_.resize(tokens_.size() - 3);
    for (size_t k = pos; (k = src_.find("{%", k)) != std::string::npos; k += 2) {
      size_t p = k + 2;
      bool strip_before = p < src_.size() && src_[p] == '-';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      while (p < src_.size() && is_space(src_[p])) ++p;
      char mod = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) mod = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      std::string text = src_.substr(pos, k - pos);
      if (strip_next) {  // {% raw -%}; Jinja2 applies no trim_blocks after {% raw %}
        size_t s = 0;
        while (s < text.size() && is_space(text[s])) ++s;
        text.erase(0, s);
      }
      if (strip_before) {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      }
      if (!text.empty()) push(TokenType::text, text, line);
      strip_next = mod == '-';
      trim_next = mod != '+';
      return p + 2;
    }
    syntax_error(line, "missing {% endraw %}");
  }

  std::string src_;
  std::vector<Token> tokens_;
  int line_ = 1;
  size_t line_pos_ = 0;
  int line_count_ = 1;
  bool line_starting_ = false;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(normalize_newlines(source)).run(); }

}  // namespace ingot::chat_template
