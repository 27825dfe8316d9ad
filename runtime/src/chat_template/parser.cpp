#include "chat_template/parser.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "chat_template/chat_template.h"

namespace ingot::chat_template {

namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, int max_nesting) : t_(tokens), max_nesting_(max_nesting) {}

  Body parse() {
    Body body = parse_body({});
    if (peek().type != TokenType::eof) fail("unexpected tag");
    return body;
  }

 private:
  // The recursion guard for blocks and expressions.
  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.depth_ > p.max_nesting_)
        throw TemplateError(TemplateError::Kind::limit, p.peek().line,
                            "template nested deeper than " + std::to_string(p.max_nesting_) + " levels");
    }
    ~Nest() { --p.depth_; }
  };

  const Token& peek(size_t ahead = 0) const {
    size_t k = pos_ + ahead;
    return k < t_.size() ? t_[k] : t_.back();
  }
  const Token& next() {
    const Token& tok = peek();
    if (pos_ < t_.size() - 1) ++pos_;
    return tok;
  }
  bool at_op(const char* op) const { return peek().type == TokenType::op && peek().value == op; }
  bool at_name(const char* name) const { return peek().type == TokenType::name && peek().value == name; }
  bool accept_op(const char* op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw TemplateError(TemplateError::Kind::syntax, peek().line, message + " (at " + describe(peek()) + ")");
  }
  static std::string describe(const Token& tok) {
    switch (tok.type) {
      case TokenType::text: return "text";
      case TokenType::var_begin: return "'{{'";
      case TokenType::var_end: return "'}}'";
      case TokenType::block_begin: return "'{%'";
      case TokenType::block_end: return "'%}'";
      case TokenType::eof: return "end of template";
      case TokenType::string: return "string";
      default: return "'" + tok.value + "'";
    }
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "'");
  }
  std::string expect_name() {
    if (peek().type != TokenType::name) fail("expected a name");
    return next().value;
  }
  void expect_block_end() {
    if (peek().type != TokenType::block_end) fail("expected '%}'");
    next();
  }

  // Statements up to a block tag whose first name is in `ends` (left unconsumed, after its '{%').
  Body parse_body(const std::set<std::string>& ends) {
    Nest nest(*this);
    Body body;
    for (;;) {
      const Token& tok = peek();
      if (tok.type == TokenType::eof) {
        if (!ends.empty()) fail("unexpected end of template, expected '" + *ends.begin() + "'");
        return body;
      }
      if (tok.type == TokenType::text) {
        auto s = std::make_unique<Stmt>();
        s->type = StmtType::text;
        s->line = tok.line;
        s->text = tok.value;
        body.push_back(std::move(s));
        next();
      } else if (tok.type == TokenType::var_begin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->type = StmtType::output;
        s->line = tok.line;
        s->expr = parse_tuple(true);
        if (peek().type != TokenType::var_end) fail("expected '}}'");
        next();
        body.push_back(std::move(s));
      } else if (tok.type == TokenType::block_begin) {
        const Token& name = peek(1);
        if (name.type == TokenType::name && ends.count(name.value)) {
          next();
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        fail("unexpected token");
      }
    }
  }

  // After '{%' of a tag that ends a body: its name, which must be one of `names`.
  std::string end_tag() {
    std::string name = expect_name();
    return name;
  }

  StmtPtr parse_statement() {
    const Token& tok = peek();
    if (tok.type != TokenType::name) fail("expected a statement name");
    std::string name = tok.value;
    int line = tok.line;
    auto s = std::make_unique<Stmt>();
    s->line = line;
    next();
    if (name == "if") {
      s->type = StmtType::if_;
      s->conditions.push_back(parse_tuple(true));
      expect_block_end();
      for (;;) {
        s->bodies.push_back(parse_body({"elif", "else", "endif"}));
        std::string end = end_tag();
        if (end == "elif") {
          s->conditions.push_back(parse_tuple(true));
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          s->else_body = parse_body({"endif"});
          end_tag();
          expect_block_end();
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (name == "for") {
      s->type = StmtType::for_;
      s->targets = parse_targets();
      if (!accept_name("in")) fail("expected 'in' in a for loop");
      s->expr = parse_tuple(false);
      if (accept_name("if")) s->condition = parse_expression(true);
      if (accept_name("recursive")) s->recursive = true;
      expect_block_end();
      s->body = parse_body({"endfor", "else"});
      if (end_tag() == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"});
        end_tag();
      }
      expect_block_end();
    } else if (name == "set") {
      if (peek().type == TokenType::name && peek(1).type == TokenType::op && peek(1).value == ".") {
        s->type = StmtType::set;
        s->targets.push_back(next().value);
        next();
        s->attr = expect_name();
        expect_op("=");
        s->expr = parse_tuple(true);
        expect_block_end();
      } else {
        s->targets = parse_targets();
        if (accept_op("=")) {
          s->type = StmtType::set;
          s->expr = parse_tuple(true);
          expect_block_end();
        } else {
          if (s->targets.size() != 1) fail("a block set assigns one name");
          s->type = StmtType::set_block;
          if (at_op("|")) s->expr = parse_filters(nullptr);
          expect_block_end();
          s->body = parse_body({"endset"});
          end_tag();
          expect_block_end();
        }
      }
    } else if (name == "macro") {
      s->type = StmtType::macro;
      s->text = expect_name();
      s->params = parse_params();
      expect_block_end();
      s->body = parse_body({"endmacro"});
      end_tag();
      if (peek().type == TokenType::name) next();  // {% endmacro name %}
      expect_block_end();
    } else if (name == "call") {
      s->type = StmtType::call_block;
      if (at_op("(")) s->params = parse_params();
      s->expr = parse_expression(true);
      if (s->expr->type != ExprType::call) fail("expected a call after 'call'");
      expect_block_end();
      s->body = parse_body({"endcall"});
      end_tag();
      expect_block_end();
    } else if (name == "filter") {
      s->type = StmtType::filter_block;
      s->expr = parse_filter_chain_head();
      expect_block_end();
      s->body = parse_body({"endfilter"});
      end_tag();
      expect_block_end();
    } else if (name == "break" || name == "continue") {
      s->type = name == "break" ? StmtType::break_ : StmtType::continue_;
      expect_block_end();
    } else if (name == "generation") {
      s->type = StmtType::generation;
      expect_block_end();
      s->body = parse_body({"endgeneration"});
      end_tag();
      expect_block_end();
    } else {
      static const std::set<std::string> known = {"extends", "include", "import", "from", "block", "with",
                                                  "autoescape", "do", "trans", "pluralize", "print"};
      if (known.count(name))
        throw TemplateError(TemplateError::Kind::unsupported, line, "unsupported construct '{% " + name + " %}'");
      throw TemplateError(TemplateError::Kind::syntax, line, "unknown tag '" + name + "'");
    }
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = accept_op("(");
    names.push_back(expect_name());
    while (accept_op(",")) {
      if (peek().type != TokenType::name) break;
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  std::vector<Param> parse_params() {
    std::vector<Param> params;
    expect_op("(");
    while (!at_op(")")) {
      if (!params.empty()) expect_op(",");
      if (at_op(")")) break;
      Param p;
      p.name = expect_name();
      if (accept_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  ExprPtr make(ExprType type, int line) {
    auto e = std::make_unique<Expr>();
    e->type = type;
    e->line = line;
    return e;
  }

  // A tuple without parentheses where Jinja2 allows one: {{ a, b }}, for ... in a, b.
  ExprPtr parse_tuple(bool with_condition) {
    int line = peek().line;
    ExprPtr first = parse_expression(with_condition);
    if (!at_op(",")) return first;
    auto tuple = make(ExprType::tuple, line);
    tuple->items.push_back(std::move(first));
    while (accept_op(",")) {
      if (peek().type == TokenType::var_end || peek().type == TokenType::block_end || at_name("if")) break;
      tuple->items.push_back(parse_expression(with_condition));
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_condition) {
    Nest nest(*this);
    ExprPtr e = parse_or();
    if (!with_condition) return e;
    while (at_name("if")) {
      int line = next().line;
      auto cond = make(ExprType::condition, line);
      cond->items.push_back(parse_or());
      cond->items.push_back(std::move(e));
      if (accept_name("else")) cond->items.push_back(parse_expression(true));
      else cond->items.push_back(nullptr);
      e = std::move(cond);
    }
    return e;
  }

  ExprPtr binary(std::string op, ExprPtr a, ExprPtr b, int line) {
    auto e = make(ExprType::binary, line);
    e->name = std::move(op);
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (at_name("or")) {
      int line = next().line;
      e = binary("or", std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (at_name("and")) {
      int line = next().line;
      e = binary("and", std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprPtr parse_not() {
    if (at_name("not")) {
      Nest nest(*this);
      int line = next().line;
      auto e = make(ExprType::unary, line);
      e->name = "not";
      e->items.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    int start_line = peek().line;
    ExprPtr e = parse_math1();
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    operands.push_back(std::move(e));
    for (;;) {
      int line = peek().line;
      std::string op;
      if (peek().type == TokenType::op &&
          (peek().value == "==" || peek().value == "!=" || peek().value == "<" || peek().value == ">" ||
           peek().value == "<=" || peek().value == ">=")) {
        op = next().value;
      } else if (at_name("in")) {
        next();
        op = "in";
      } else if (at_name("not") && peek(1).type == TokenType::name && peek(1).value == "in") {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      (void)line;
      ops.push_back(op);
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return std::move(operands[0]);
    if (ops.size() == 1) return binary(ops[0], std::move(operands[0]), std::move(operands[1]), start_line);
    // a < b < c is (a < b) and (b < c), b evaluated once, as in Python.
    auto chain = make(ExprType::binary, start_line);
    chain->name = "chain";
    chain->items = std::move(operands);
    chain->ops = std::move(ops);
    return chain;
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (at_op("+") || at_op("-")) {
      const Token& op = next();
      e = binary(op.value, std::move(e), parse_concat(), op.line);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (at_op("~")) {
      int line = next().line;
      e = binary("~", std::move(e), parse_math2(), line);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& op = next();
      e = binary(op.value, std::move(e), parse_pow(), op.line);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (at_op("**")) {
      int line = next().line;
      e = binary("**", std::move(e), parse_unary(true), line);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    Nest nest(*this);
    ExprPtr e;
    if (at_op("-") || at_op("+")) {
      const Token& op = next();
      e = make(ExprType::unary, op.line);
      e->name = op.value;
      e->items.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tok = peek();
    int line = tok.line;
    if (tok.type == TokenType::name) {
      next();
      const std::string& n = tok.value;
      if (n == "true" || n == "True") return constant(Value::boolean(true), line);
      if (n == "false" || n == "False") return constant(Value::boolean(false), line);
      if (n == "none" || n == "None") return constant(Value::none(), line);
      auto e = make(ExprType::name, line);
      e->name = n;
      return e;
    }
    if (tok.type == TokenType::string) {
      std::string s;
      while (peek().type == TokenType::string) s += next().value;  // adjacent strings join
      return constant(Value::string(std::move(s)), line);
    }
    if (tok.type == TokenType::integer) {
      next();
      errno = 0;
      long long v = std::strtoll(tok.value.c_str(), nullptr, 10);
      if (errno == ERANGE)
        throw TemplateError(TemplateError::Kind::unsupported, line, "integer literal beyond 64 bits: " + tok.value);
      return constant(Value::integer(v), line);
    }
    if (tok.type == TokenType::floating) {
      next();
      return constant(Value::floating(std::strtod(tok.value.c_str(), nullptr)), line);
    }
    if (accept_op("(")) {
      if (accept_op(")")) {
        auto e = make(ExprType::tuple, line);
        return e;
      }
      ExprPtr first = parse_expression(true);
      if (accept_op(")")) return first;
      auto e = make(ExprType::tuple, line);
      e->items.push_back(std::move(first));
      while (accept_op(",")) {
        if (at_op(")")) break;
        e->items.push_back(parse_expression(true));
      }
      expect_op(")");
      return e;
    }
    if (accept_op("[")) {
      auto e = make(ExprType::list, line);
      while (!at_op("]")) {
        if (!e->items.empty()) expect_op(",");
        if (at_op("]")) break;
        e->items.push_back(parse_expression(true));
      }
      expect_op("]");
      return e;
    }
    if (accept_op("{")) {
      auto e = make(ExprType::dict, line);
      while (!at_op("}")) {
        if (!e->items.empty()) expect_op(",");
        if (at_op("}")) break;
        e->items.push_back(parse_expression(true));
        expect_op(":");
        e->items.push_back(parse_expression(true));
      }
      expect_op("}");
      return e;
    }
    fail("unexpected token in an expression");
  }

  ExprPtr constant(Value v, int line) {
    auto e = make(ExprType::constant, line);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      int line = peek().line;
      if (accept_op(".")) {
        auto a = make(ExprType::attr, line);
        if (peek().type == TokenType::integer) {  // foo.0 is foo[0]
          a->type = ExprType::item;
          a->items.push_back(std::move(e));
          a->items.push_back(constant(Value::integer(std::strtoll(next().value.c_str(), nullptr, 10)), line));
        } else {
          a->name = expect_name();
          a->items.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (accept_op("[")) {
        e = parse_subscript(std::move(e), line);
      } else if (at_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj, int line) {
    ExprPtr parts[3];
    int n_colons = 0;
    if (!at_op(":")) parts[0] = parse_expression(true);
    while (n_colons < 2 && accept_op(":")) {
      ++n_colons;
      if (!at_op(":") && !at_op("]")) parts[n_colons] = parse_expression(true);
    }
    expect_op("]");
    if (n_colons == 0) {
      auto e = make(ExprType::item, line);
      e->items.push_back(std::move(obj));
      e->items.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(ExprType::slice, line);
    e->items.push_back(std::move(obj));
    for (auto& p : parts) e->items.push_back(std::move(p));
    return e;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!at_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (at_op(")")) break;
      if (at_op("*") || at_op("**"))
        throw TemplateError(TemplateError::Kind::unsupported, peek().line, "unsupported construct '*args' in a call");
      if (peek().type == TokenType::name && peek(1).type == TokenType::op && peek(1).value == "=") {
        std::string key = next().value;
        next();
        e.kwargs.emplace_back(key, parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("positional argument after a keyword argument");
        e.items.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(ExprType::call, peek().line);
    e->items.push_back(std::move(callee));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (at_op(".") && peek(1).type == TokenType::name) {
      next();
      name += "." + next().value;
    }
    return name;
  }

  // '|' name [(args)], repeated; `input` null for a filter block's chain.
  ExprPtr parse_filters(ExprPtr input) {
    while (accept_op("|")) {
      auto f = make(ExprType::filter, peek().line);
      f->name = dotted_name();
      f->items.push_back(std::move(input));
      if (at_op("(")) parse_call_args(*f);
      input = std::move(f);
    }
    return input;
  }

  ExprPtr parse_filter_chain_head() {
    auto f = make(ExprType::filter, peek().line);
    f->name = dotted_name();
    f->items.push_back(nullptr);
    if (at_op("(")) parse_call_args(*f);
    return parse_filters(std::move(f));
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    for (;;) {
      if (at_op("|")) {
        e = parse_filters(std::move(e));
      } else if (at_name("is")) {
        int line = next().line;
        auto t = make(ExprType::test, line);
        t->negated = accept_name("not");
        t->name = dotted_name();
        t->items.push_back(std::move(e));
        const Token& tok = peek();
        if (at_op("(")) {
          parse_call_args(*t);
        } else if ((tok.type == TokenType::name || tok.type == TokenType::string || tok.type == TokenType::integer ||
                    tok.type == TokenType::floating || at_op("[") || at_op("{")) &&
                   !at_name("else") && !at_name("or") && !at_name("and")) {
          if (at_name("is")) fail("cannot chain tests with 'is'");
          t->items.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else if (at_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  const std::vector<Token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
  int max_nesting_;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, int max_nesting) {
  return Parser(tokens, max_nesting).parse();
}

}  // namespace ingot::chat_template
