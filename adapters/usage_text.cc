// usage_from_openai_usage_text: an OpenAI `usage` value read in one pass of Boost.JSON's SAX
// parser (usage_sax.h), without building it as a DOM, under exactly the rules (and the JSON
// acceptance) of parsing it and calling usage_from_openai_usage.

#include "adapters/usage.h"

#include <cstddef>
#include <optional>
#include <string_view>

#include <boost/json/basic_parser_impl.hpp>

#include "adapters/usage_sax.h"

namespace sb::adapters {

namespace json = boost::json;
using usage_detail::UsageSax;

std::optional<Usage> usage_from_openai_usage_text(std::string_view text) {
  json::basic_parser<UsageSax> p(json::parse_options{});
  boost::system::error_code ec;
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (ec || n != text.size() || !p.done()) {
    return std::nullopt;
  }
  return usage_of(p.handler());
}

bool read_usage_at(std::string_view text, std::size_t& at, std::optional<Usage>& out) {
  if (at > text.size()) {
    return false;
  }
  json::basic_parser<UsageSax> p(json::parse_options{});
  boost::system::error_code ec;
  // More may follow: the parse stops where the value (and the whitespace after it) ends.
  const std::size_t n = p.write_some(true, text.data() + at, text.size() - at, ec);
  if (ec || !p.done()) {
    return false;
  }
  at += n;
  out = usage_of(p.handler());
  return true;
}

}  // namespace sb::adapters
