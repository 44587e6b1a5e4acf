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
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "adapters/usage_sax.h"

namespace sb::adapters {

namespace json = boost::json;
using usage_detail::UsageSax;

namespace {

/// The end of the key whose text starts at `p`: its closing quote, or nullptr when a byte before
/// that is not printable ASCII (an escape, a control byte, non-ASCII) or the text ends first.
const char* key_end(const char* p, const char* end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(' ');
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compare: bytes of 0x80 and up read as negative, below the space, as controls do.
    const __m128i odd = _mm_or_si128(
        _mm_cmplt_epi8(v, space),
        _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
    const unsigned stop =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(odd, _mm_cmpeq_epi8(v, quote))));
    if (stop != 0) {
      const int i = __builtin_ctz(stop);
      return p[i] == '"' ? p + i : nullptr;
    }
  }
#endif
  for (; p != end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      return p;
    }
    if (c < 0x20 || c > 0x7e || c == '\\') {
      return nullptr;
    }
  }
  return nullptr;
}

/// The usual usage value read by hand: objects (four deep at most) whose keys are printable ASCII
/// without escapes and whose values are objects, `null`, or integers of 0 to 18 digits (so they
/// fit an int64). This is a subset of JSON on which basic_parser sends the handler the same
/// events, so the handler ends in the same state. Returns the offset past the value and the
/// whitespace after it, or npos for anything else (a string, an array, a literal other than null,
/// a sign, a fraction, an exponent, an escape, a non-ASCII key, a syntax error, the text's end),
/// which basic_parser then reads from the start with a fresh handler.
std::size_t read_usual(std::string_view text, std::size_t at, UsageSax& h) {
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
    p = key_end(key, end);
    if (p == nullptr) {
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

}  // namespace

std::optional<Usage> usage_from_openai_usage_text(std::string_view text) {
  if (UsageSax usual; read_usual(text, 0, usual) == text.size()) {
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
  if (const std::size_t end = read_usual(text, at, usual); end != std::string_view::npos) {
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
