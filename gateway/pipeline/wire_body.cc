#include "gateway/pipeline/wire_body.h"

#include <boost/json/parse_options.hpp>

#include "adapters/chat_facts.h"
#include "adapters/json_lex.h"

namespace sb::gateway::chat {
namespace {

boost::json::parse_options body_parse_options() {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  return opts;
}

}  // namespace

BodyDom::Parsed::Parsed(std::string_view text, boost::system::error_code& ec)
    : mr(arena, sizeof arena),
      value(adapters::json_lex::parse(text, ec, &mr, body_parse_options(), &repeated)) {}

const boost::json::object* BodyDom::get(std::string_view text, boost::system::error_code& ec) {
  ec = {};
  if (!parsed_) {
    parsed_ = std::make_unique<Parsed>(text, ec);
  }
  return !ec && parsed_->value.is_object() ? &parsed_->value.get_object() : nullptr;
}

std::uint64_t WireBody::output_limit() {
  if (typed_ != nullptr) {
    for (const std::optional<std::int64_t>& v :
         {typed_->max_completion_tokens, typed_->max_tokens}) {
      if (v && *v > 0) {
        return static_cast<std::uint64_t>(*v);
      }
    }
    return 0;
  }
  const boost::json::object* chat = dom();
  if (chat == nullptr) {
    return 0;
  }
  // Read as the facts and the clamp read a limit on the DOM's lane (adapters/chat_facts.h).
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const auto* v = chat->if_contains(key)) {
      if (const std::optional<std::uint64_t> n = adapters::output_tokens_asked(*v); n && *n > 0) {
        return *n;
      }
    }
  }
  return 0;
}

}  // namespace sb::gateway::chat
