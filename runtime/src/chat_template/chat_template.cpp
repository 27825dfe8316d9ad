#include "chat_template/chat_template.h"

#include "chat_template/evaluator.h"
#include "chat_template/lexer.h"
#include "chat_template/parser.h"

namespace ingot::chat_template {

namespace {

std::string what_of(TemplateError::Kind kind, int line, const std::string& message) {
  std::string where = line > 0 ? "chat template line " + std::to_string(line) + ": " : "chat template: ";
  switch (kind) {
    case TemplateError::Kind::raised: return where + "raise_exception: " + message;
    case TemplateError::Kind::unsupported: return where + message;
    case TemplateError::Kind::limit: return where + "limit exceeded: " + message;
    case TemplateError::Kind::syntax: return where + "syntax error: " + message;
    default: return where + message;
  }
}

// Jinja2 checks filter and test names when it compiles a template, before any rendering, except
// directly inside an if statement or an inline if (its "soft" frames: there the name is looked up
// when the filter runs). Loops, macros and blocks start a frame that is not soft again.
void check_expr(const Expr* e, bool soft) {
  if (!e) return;
  if (e->type == ExprType::condition) soft = true;
  if (soft) {
  } else if (e->type == ExprType::filter) {
    if (!filter_known(e->name)) {
      if (filter_jinja_builtin(e->name))
        throw TemplateError(TemplateError::Kind::unsupported, e->line, "unsupported construct: filter '" + e->name + "'");
      throw TemplateError(TemplateError::Kind::syntax, e->line, "No filter named '" + e->name + "'");
    }
  }
  if (!soft && e->type == ExprType::test && !test_known(e->name))
    throw TemplateError(TemplateError::Kind::syntax, e->line, "No test named '" + e->name + "'");
  for (const auto& item : e->items) check_expr(item.get(), soft);
  for (const auto& [k, v] : e->kwargs) check_expr(v.get(), soft);
}

void check_body(const Body& body, bool soft) {
  for (const auto& s : body) {
    bool is_if = s->type == StmtType::if_;
    check_expr(s->expr.get(), s->type == StmtType::filter_block ? false : soft);
    check_expr(s->condition.get(), false);
    for (const auto& c : s->conditions) check_expr(c.get(), true);
    for (const auto& p : s->params) check_expr(p.default_value.get(), false);
    for (const auto& b : s->bodies) check_body(b, true);
    check_body(s->body, false);  // for, macro, call, filter and set blocks: a new frame
    check_body(s->else_body, is_if);
  }
}

}  // namespace

TemplateError::TemplateError(Kind kind, int line, const std::string& message)
    : std::runtime_error(what_of(kind, line, message)), kind_(kind), line_(line), message_(message) {}

struct TemplateImpl {
  Body body;
};

Template::Template(std::unique_ptr<TemplateImpl> impl) : impl_(std::move(impl)) {}
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Template Template::parse(const std::string& source, const Limits& limits) {
  auto impl = std::make_unique<TemplateImpl>();
  impl->body = parse_template(tokenize(source), limits.max_nesting);
  check_body(impl->body, false);
  return Template(std::move(impl));
}

std::string Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  Evaluator ev(options, Value::from_json(context));
  try {
    return ev.render(impl_->body);
  } catch (const std::bad_alloc&) {
    throw TemplateError(TemplateError::Kind::limit, 0, "out of memory while rendering");
  }
}

std::string render(const std::string& source, const nlohmann::ordered_json& context, const RenderOptions& options) {
  return Template::parse(source, options.limits).render(context, options);
}

}  // namespace ingot::chat_template
