// usage_from_openai_usage_text: an OpenAI `usage` value read in one pass, without building it as
// a DOM, under exactly the rules (and the JSON acceptance) of parsing it and calling
// usage_from_openai_usage. The events go to one handler (usage_sax.h); two readers feed it: a
// short one for the shape every server sends, and Boost.JSON's basic_parser for the rest.

#include "adapters/usage.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/detail/sse2.hpp>

#include "adapters/byte_scan.h"
#include "adapters/usage_sax.h"

namespace sb::adapters {

namespace json = boost::json;
using usage_detail::UsageSax;

namespace usage_detail {

// The usual usage value read by hand (usage_sax.h). This is a subset of JSON on which
// basic_parser sends the handler the same events, so the handler ends in the same state. npos for
// a string, an array, a literal other than null, a sign, a fraction, an exponent, an escape, a
// non-ASCII key, a syntax error or the text's end, which basic_parser then reads from the start
// with a fresh handler.
std::size_t read_usual_usage(std::string_view text, std::size_t at, UsageSax& h) {
  constexpr std::size_t kNo = std::string_view::npos;
  constexpr int kMaxDepth = 4;
  boost::system::error_code ec;
  const char* p = text.data() + at;
  const char* const end = text.data() + text.size();
  auto skip_space = [&] { p = json::detail::count_whitespace(p, end); };
  skip_space();
  if (p == end || *p != '{') {
    return kNo;
  }
  int depth = 0;
  // One object member, or the object's end, per turn; `p` is at '{' or ',' or '}'.
  for (;;) {
    if (*p == '{') {
      if (++depth > kMaxDepth) {
        return kNo;
      }
      h.on_object_begin(ec);
      ++p;
      skip_space();
      if (p != end && *p == '}') {
        continue;  // an empty object
      }
    } else if (*p == ',') {
      ++p;
      skip_space();
    } else {  // '}'
      h.on_object_end(0, ec);
      ++p;
      skip_space();
      if (--depth == 0) {
        return static_cast<std::size_t>(p - text.data());
      }
      if (p == end || (*p != ',' && *p != '}')) {
        return kNo;
      }
      continue;
    }
    // A member: "key" : value
    if (p == end || *p != '"') {
      return kNo;
    }
    const char* const key = ++p;
    p = byte_scan::find_json_special(key, end);  // an escape or non-ASCII: basic_parser's
    if (p == end || *p != '"') {
      return kNo;
    }
    h.on_key({key, static_cast<std::size_t>(p - key)}, 0, ec);
    ++p;
    skip_space();
    if (p == end || *p != ':') {
      return kNo;
    }
    ++p;
    skip_space();
    if (p == end) {
      return kNo;
    }
    if (*p == '{') {
      continue;  // the nested object opens at the top of the loop
    }
    if (*p == 'n') {
      if (end - p < 4 || std::string_view(p, 4) != "null") {
        return kNo;
      }
      p += 4;
      h.on_null(ec);
    } else if (*p >= '0' && *p <= '9') {
      const char* const digits = p;
      std::int64_t v = 0;
      while (p != end && *p >= '0' && *p <= '9' && p - digits < 18) {
        v = v * 10 + (*p - '0');
        ++p;
      }
      if (*digits == '0' && p - digits > 1) {
        return kNo;  // a leading zero (a 19th digit, a fraction or an exponent fails below)
      }
      h.on_int64(v, {}, ec);
    } else {
      return kNo;
    }
    skip_space();
    if (p == end || (*p != ',' && *p != '}')) {
      return kNo;
    }
  }
}

}  // namespace usage_detail

using usage_detail::read_usual_usage;

std::optional<Usage> usage_from_openai_usage_text(std::string_view text) {
  if (UsageSax usual; read_usual_usage(text, 0, usual) == text.size()) {
    return usage_of(usual);
  }
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
  UsageSax usual;
  if (const std::size_t end = read_usual_usage(text, at, usual); end != std::string_view::npos) {
    at = end;
    out = usage_of(usual);
    return true;
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
