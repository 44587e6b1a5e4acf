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

namespace {

constexpr std::size_t kNo = std::string_view::npos;
constexpr int kMaxDepth = 4;

// A cursor over the usual usage value (see read_usual_usage), feeding `h` as basic_parser would.
struct UsualReader {
  const char* p;
  const char* end;
  UsageSax& h;
  boost::system::error_code ec;

  void skip_space() { p = json::detail::count_whitespace(p, end); }
  bool at(char c) const { return p != end && *p == c; }

  // At '{': one level more, and the whitespace after it.
  bool open(int& depth) {
    if (++depth > kMaxDepth) {
      return false;
    }
    h.on_object_begin(ec);
    ++p;
    skip_space();
    return true;
  }

  // At '}': one level less; false when what follows cannot follow a member.
  bool close(int& depth) {
    h.on_object_end(0, ec);
    ++p;
    skip_space();
    return --depth == 0 || at(',') || at('}');
  }

  // `"key" :` and the whitespace after it; false for an escape or a non-ASCII key
  // (basic_parser's) and for the text's end.
  bool key() {
    if (!at('"')) {
      return false;
    }
    const char* const k = ++p;
    p = byte_scan::find_json_special(k, end);
    if (!at('"')) {
      return false;
    }
    h.on_key({k, static_cast<std::size_t>(p - k)}, 0, ec);
    ++p;
    skip_space();
    if (!at(':')) {
      return false;
    }
    ++p;
    skip_space();
    return p != end;
  }

  // null or an integer of at most 18 digits without a leading zero, then ',' or '}'.
  bool scalar() {
    if (*p == 'n') {
      if (end - p < 4 || std::string_view(p, 4) != "null") {
        return false;
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
        return false;  // a leading zero (a 19th digit, a fraction or an exponent fails below)
      }
      h.on_int64(v, {}, ec);
    } else {
      return false;
    }
    skip_space();
    return at(',') || at('}');
  }
};

}  // namespace

// The usual usage value read by hand (usage_sax.h). This is a subset of JSON on which
// basic_parser sends the handler the same events, so the handler ends in the same state. npos for
// a string, an array, a literal other than null, a sign, a fraction, an exponent, an escape, a
// non-ASCII key, a syntax error or the text's end, which basic_parser then reads from the start
// with a fresh handler.
std::size_t read_usual_usage(std::string_view text, std::size_t at, UsageSax& h) {
  UsualReader r{text.data() + at, text.data() + text.size(), h, {}};
  r.skip_space();
  if (!r.at('{')) {
    return kNo;
  }
  int depth = 0;
  // One object member, or the object's end, per turn; the cursor is at '{' or ',' or '}'.
  for (;;) {
    if (*r.p == '{') {
      if (!r.open(depth)) {
        return kNo;
      }
      if (r.at('}')) {
        continue;  // an empty object
      }
    } else if (*r.p == ',') {
      ++r.p;
      r.skip_space();
    } else {  // '}'
      if (!r.close(depth)) {
        return kNo;
      }
      if (depth == 0) {
        return static_cast<std::size_t>(r.p - text.data());
      }
      continue;
    }
    if (!r.key()) {
      return kNo;
    }
    if (*r.p != '{' && !r.scalar()) {  // a nested object opens at the top of the loop
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
