// Jinja2 subset for chat templates: the API of Jinja.h over the lexer (JinjaLexer.cpp), the
// parser (JinjaParser.cpp, JinjaExprParser.cpp) and the tree-walking interpreter (JinjaInterp.h).
// Internally errors are thrown as JinjaError and turned into sl::Status here.
#include "runtime/text/Jinja.h"

#include "runtime/text/JinjaInterp.h"
#include "runtime/text/JinjaLexer.h"
#include "runtime/text/JinjaParser.h"

#include <exception>

namespace sl::text::jinja {

struct Template::Impl {
  std::string name;
  detail::Body body;
};

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::Template(Template &&) noexcept = default;
Template &Template::operator=(Template &&) noexcept = default;
Template::~Template() = default;

StatusOr<Template> Template::parse(const std::string &source, const std::string &name) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  try {
    detail::Parser parser(detail::lex(source));
    impl->body = parser.parseTemplate();
  } catch (detail::JinjaError &e) {
    return Status::error(name + ":" + std::to_string(e.line) + ":" + std::to_string(e.col) + ": " + e.message);
  }
  return Template(std::move(impl));
}

StatusOr<std::string> Template::render(const nlohmann::ordered_json &vars) const {
  if (!vars.is_object()) return Status::error(impl_->name + ": template variables must be a JSON object");
  try {
    detail::Interp interp;
    detail::ScopeP g = interp.globals();
    detail::ScopeP top = detail::child(g);
    for (auto it = vars.begin(); it != vars.end(); ++it) top->vars[it.key()] = detail::fromJson(it.value());
    return interp.render(impl_->body, top);
  } catch (detail::JinjaError &e) {
    // A raised message is the template author's words, shown as they are; an empty one would
    // leave the user with no error at all, so it is named for where it came from.
    if (e.raised && !e.message.empty()) return Status::error(e.message);
    if (e.raised) return Status::error(impl_->name + ":" + std::to_string(e.line) + ": raise_exception() with an empty message");
    return Status::error(impl_->name + ":" + std::to_string(e.line) + ": " + e.message);
  } catch (std::exception &e) {
    return Status::error(impl_->name + ": " + e.what());
  }
}

}  // namespace sl::text::jinja
