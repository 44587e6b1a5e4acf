#pragma once
// A JSON reader that drives a Boost.JSON SAX handler (the basic_parser handler concept) over a
// whole buffer, faster than basic_parser where it is slow: a string with escapes. Boost 1.81
// reads everything after a string's first escape one byte at a time (about 16 instructions a
// byte), and the text coding agents send is source code, with `\n` and `\"` on every line. Here a
// string is read up to its next quote, backslash, control or non-ASCII byte, escapes or not: its
// first sixteen bytes inline, the rest by byte_scan, 64 bytes a step (AVX2 where the CPU has it);
// after its first escape, the bytes are copied into the decoded text as they are inspected and
// one-byte escapes decoded in place, with no call per line of code.
//
// It reads the common case only and says when it did not: lex() returns false for anything it
// does not take on (a syntax error, nesting as deep as max_depth, a handler that refused a
// callback) and the caller then parses the same text from scratch with basic_parser, whose answer
// stands. Numbers other than small positive integers are read by basic_parser itself, one by one.
// What it accepts, basic_parser accepts with the same callbacks (a string with escapes may arrive
// in differently cut parts: handlers join the parts). UTF-8 is validated by Boost's own tables. A
// fuzz target (`json_lex`) and a unit test hold the two readers to the same callbacks.
//
// Where it pays: request bodies (long strings, escapes). Short keys and values without escapes
// gain nothing: a streamed chunk costs about as much here as in basic_parser (about 100
// instructions fewer of 4,200), an answer pretty-printed with its `usage` about 1,400 more. Those
// are read by readers that know their shape (chat_chunk_usual.cc, usage_text.cc), with
// basic_parser behind them.
//
// Positions: basic_parser's callbacks say nothing of where a token lies. A handler that wants to
// know defines `void token_at(std::size_t begin, std::size_t end)`; this reader calls it just
// before each callback of a token, with the token's bytes in the text: a string's quotes included,
// a container's opening (on_*_begin) or closing (on_*_end) bracket. A string with escapes is
// told of before its last callback (on_key or on_string), not before its parts.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <boost/json/detail/utf8.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include "adapters/byte_scan.h"

namespace sb::adapters::json_lex {

/// A number as basic_parser reads it.
struct Number {
  enum class Kind { int64, uint64, dbl } kind = Kind::int64;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
};

/// The number of `length` bytes at the start of `rest` (the text from the number to the end of
/// the document) as basic_parser reads it there; false when it reads another. The rest matters:
/// Boost 1.81 reads a number by a faster and slightly different path when 33 bytes or more follow
/// its start (the last bit of a double may differ).
bool read_number(std::string_view rest, std::size_t length, Number& out);

using byte_scan::simple_escape;

/// The four hex digits at `at` (before `end`) as a code unit in `u`, as basic_parser reads a
/// `\u` escape; false when there are not four.
bool hex4(const char* at, const char* end, std::uint32_t& u);

/// The `\u` escape at `p` (its backslash; a surrogate pair as two escapes) as UTF-8 in `out`:
/// its size, with `p` moved past it; 0 for what basic_parser refuses (too few hex digits, a lone
/// surrogate).
std::size_t unicode_escape(const char*& p, const char* end, char (&out)[4]);

/// The size of the valid UTF-8 sequence at `p` (before `end`), whose first byte is 0x80 or more,
/// by Boost's own tables; 0 when it is not valid.
inline std::size_t utf8_length(const char* p, const char* end) {
  const std::uint16_t first = boost::json::detail::classify_utf8(*p);
  const std::size_t n = first & 0xFF;
  if (n == 0 || static_cast<std::size_t>(end - p) < n ||
      !boost::json::detail::is_valid_utf8(p, first)) {
    return 0;
  }
  return n;
}

/// The JSON number at `p` (before `end`), by JSON's grammar: where it ends (nullptr when no number
/// starts at `p`) and how many digits each of its parts has.
struct NumberShape {
  const char* end = nullptr;
  bool negative = false;
  bool fraction = false;
  bool exponent = false;
  std::size_t int_digits = 0;
  std::size_t frac_digits = 0;
  std::size_t exp_digits = 0;

  /// A positive integer of at most 18 digits: an int64 whatever its digits.
  bool plain() const { return !negative && int_digits <= 18 && !fraction && !exponent; }
};

inline NumberShape number_shape(const char* p, const char* end) {
  const auto digits = [end](const char* q) {
    while (q < end && *q >= '0' && *q <= '9') {
      ++q;
    }
    return q;
  };
  NumberShape s;
  s.negative = p < end && *p == '-';
  const char* int_begin = p + (s.negative ? 1 : 0);
  const char* q = digits(int_begin);
  s.int_digits = static_cast<std::size_t>(q - int_begin);
  if (s.int_digits == 0 || (*int_begin == '0' && s.int_digits > 1)) {
    return {};  // not a number, or a leading zero
  }
  if (q < end && *q == '.') {
    const char* f = digits(q + 1);
    s.fraction = true;
    s.frac_digits = static_cast<std::size_t>(f - (q + 1));
    if (s.frac_digits == 0) {
      return {};
    }
    q = f;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    const char* e = q + 1;
    e += (e < end && (*e == '+' || *e == '-')) ? 1 : 0;
    const char* x = digits(e);
    s.exponent = true;
    s.exp_digits = static_cast<std::size_t>(x - e);
    if (s.exp_digits == 0) {
      return {};
    }
    q = x;
  }
  s.end = q;
  return s;
}

template <class Handler>
class Reader {
 public:
  Reader(std::string_view text, Handler& h, std::size_t max_depth)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        h_(h),
        max_depth_(max_depth) {}

  /// One value, then only whitespace. False: not taken on (see the header).
  bool document() {
    if (!h_.on_document_begin(ec_)) {
      return false;
    }
    skip_ws();
    if (!value(0)) {
      return false;
    }
    skip_ws();
    return p_ == end_ && h_.on_document_end(ec_);
  }

 private:
  static constexpr bool kPositions = requires(Handler & h, std::size_t n) { h.token_at(n, n); };

  // Tells a handler that asks (see the header) where the token of its next callback lies.
  void at(const char* b, const char* e) {
    if constexpr (kPositions) {
      h_.token_at(static_cast<std::size_t>(b - begin_), static_cast<std::size_t>(e - begin_));
    }
  }

  // One compare for the usual byte that is not whitespace.
  static bool whitespace(char c) {
    constexpr std::uint64_t kSpace = 1ull << ' ' | 1ull << '\n' | 1ull << '\r' | 1ull << '\t';
    const auto u = static_cast<unsigned char>(c);
    return u <= ' ' && (kSpace >> u & 1) != 0;
  }

  void skip_ws() {
    while (p_ < end_ && whitespace(*p_)) {
      ++p_;
    }
  }

  bool value(std::size_t depth) {
    if (p_ == end_) {
      return false;
    }
    switch (*p_) {
      case '{':
        return container(true, depth + 1);
      case '[':
        return container(false, depth + 1);
      case '"':
        return string(false);
      case 't':
        return literal("true", 4) && h_.on_bool(true, ec_);
      case 'f':
        return literal("false", 5) && h_.on_bool(false, ec_);
      case 'n':
        return literal("null", 4) && h_.on_null(ec_);
      default:
        return number();
    }
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) {
      return false;
    }
    at(p_, p_ + n);
    p_ += n;
    return true;
  }

  // An object or an array, its elements read by member() or value().
  bool container(bool object, std::size_t depth) {
    const char close = object ? '}' : ']';
    at(p_, p_ + 1);
    if (depth >= max_depth_ || !(object ? h_.on_object_begin(ec_) : h_.on_array_begin(ec_))) {
      return false;
    }
    ++p_;
    skip_ws();
    std::size_t n = 0;
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return closed(object, 0);
    }
    for (;;) {
      if (!(object ? member(depth) : value(depth))) {
        return false;
      }
      ++n;
      skip_ws();
      if (p_ == end_) {
        return false;
      }
      if (*p_ == close) {
        ++p_;
        return closed(object, n);
      }
      if (*p_ != ',') {
        return false;
      }
      ++p_;
      skip_ws();
    }
  }

  bool closed(bool object, std::size_t n) {  // p_ is past the closing bracket
    at(p_ - 1, p_);
    return object ? h_.on_object_end(n, ec_) : h_.on_array_end(n, ec_);
  }

  // A key, its colon and its value.
  bool member(std::size_t depth) {
    if (p_ == end_ || *p_ != '"' || !string(true)) {
      return false;
    }
    skip_ws();
    if (p_ == end_ || *p_ != ':') {
      return false;
    }
    ++p_;
    skip_ws();
    return value(depth);
  }

  // A positive integer of at most 18 digits here (an int64 whatever its digits); any other number
  // is read by basic_parser, whose reading (int64, uint64 or double, and the double's value)
  // stands.
  bool number() {
    const char* b = p_;
    const NumberShape shape = number_shape(b, end_);
    if (shape.end == nullptr) {
      return false;
    }
    const bool plain = shape.plain();
    const char* q = shape.end;
    p_ = q;
    at(b, q);
    const std::string_view text(b, static_cast<std::size_t>(q - b));
    if (plain) {
      std::int64_t v = 0;
      for (char c : text) {
        v = v * 10 + (c - '0');
      }
      return h_.on_int64(v, text, ec_);
    }
    Number v;
    if (!read_number(std::string_view(b, static_cast<std::size_t>(end_ - b)), text.size(), v)) {
      return false;
    }
    switch (v.kind) {
      case Number::Kind::int64:
        return h_.on_int64(v.i, text, ec_);
      case Number::Kind::uint64:
        return h_.on_uint64(v.u, text, ec_);
      case Number::Kind::dbl:
        break;
    }
    return h_.on_double(v.d, text, ec_);
  }

  // Decoded bytes of a string with escapes, handed to the handler in parts.
  struct Parts {
    static constexpr std::size_t kCapacity = 4096;
    char buf[kCapacity];
    std::size_t size = 0;
    std::size_t total = 0;
  };

  bool part(bool key, const char* data, std::size_t n, Parts& parts) {
    parts.total += n;
    const std::string_view s(data, n);
    return key ? h_.on_key_part(s, parts.total, ec_) : h_.on_string_part(s, parts.total, ec_);
  }

  bool append(bool key, const char* data, std::size_t n, Parts& parts) {
    if (parts.size + n > Parts::kCapacity) {
      if (parts.size > 0 && !part(key, parts.buf, parts.size, parts)) {
        return false;
      }
      parts.size = 0;
      if (n > Parts::kCapacity) {
        return part(key, data, n, parts);
      }
    }
    std::memcpy(parts.buf + parts.size, data, n);
    parts.size += n;
    return true;
  }

  // One escape at p_ (its backslash), decoded into `parts`.
  bool escape(bool key, Parts& parts) {
    if (end_ - p_ < 2) {
      return false;
    }
    if (p_[1] == 'u') {
      return unicode(key, parts);
    }
    const char c = simple_escape(p_[1]);
    if (c == 0) {
      return false;
    }
    p_ += 2;
    return append(key, &c, 1, parts);
  }

  // After a string's first escape, its text is decoded into `parts` in one pass
  // (byte_scan::copy_escaped); the caller goes on from where it stopped.
  void copy_escaped(Parts& parts) {
    byte_scan::copy_escaped(p_, end_, parts.buf, parts.size, Parts::kCapacity);
  }

  // `\uXXXX`, a surrogate pair as two; a lone surrogate is refused (as basic_parser does).
  bool unicode(bool key, Parts& parts) {
    char out[4];
    const std::size_t n = unicode_escape(p_, end_, out);
    return n != 0 && append(key, out, n, parts);
  }

  // A string at p_ (its opening quote): one on_string()/on_key() viewing the text when it has no
  // escape, else parts and a last piece (escaped_string, out of line with its buffer).
  bool string(bool key) {
    const char* const quote = p_;
    ++p_;
    for (;;) {
      p_ = byte_scan::find_json_special(p_, end_);
      if (p_ == end_) {
        return false;
      }
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        const std::string_view text(quote + 1, static_cast<std::size_t>(p_ - quote - 1));
        ++p_;
        at(quote, p_);
        return key ? h_.on_key(text, text.size(), ec_) : h_.on_string(text, text.size(), ec_);
      }
      if (c < 0x80) {
        return c == '\\' && escaped_string(key, quote);  // else a control byte
      }
      if (!utf8()) {
        return false;
      }
    }
  }

  // The rest of a string from its first escape (at p_).
  [[gnu::noinline]] bool escaped_string(bool key, const char* quote) {
    const char* run = quote + 1;  // the raw bytes not yet handed over
    Parts parts;
    for (;;) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        if (!append(key, run, static_cast<std::size_t>(p_ - run), parts)) {
          return false;
        }
        const std::string_view last(parts.buf, parts.size);
        ++p_;
        at(quote, p_);
        const std::size_t total = parts.total + parts.size;
        return key ? h_.on_key(last, total, ec_) : h_.on_string(last, total, ec_);
      }
      if (c >= 0x80) {
        if (!utf8()) {
          return false;
        }
      } else if (c != '\\' || !append(key, run, static_cast<std::size_t>(p_ - run), parts) ||
                 !escape(key, parts)) {
        return false;  // a control byte, or a bad escape
      } else {
        copy_escaped(parts);
        run = p_;
      }
      p_ = byte_scan::find_json_special(p_, end_);
      if (p_ == end_) {
        return false;
      }
    }
  }

  // A UTF-8 sequence at p_ (its first byte 0x80 or more), validated and passed over.
  bool utf8() {
    const std::size_t n = utf8_length(p_, end_);
    p_ += n;
    return n != 0;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  Handler& h_;
  std::size_t max_depth_;
  boost::system::error_code ec_;
};

/// `text` (one JSON value and whitespace) as a DOM in `sp`: boost::json::parse() with `opts`,
/// faster on strings with escapes. Options that allow what standard JSON does not (comments,
/// trailing commas, invalid UTF-8) are basic_parser's alone.
/// `repeated`, when given, says whether an object of the text names a key twice: the DOM keeps
/// the last value of such a key, the text holds every one (see collect_raw_facts in
/// adapters/chat_facts.h). It is true too when the text was read by basic_parser, which does not
/// count (fail closed).
boost::json::value parse(std::string_view text, boost::system::error_code& ec,
                         boost::json::storage_ptr sp, const boost::json::parse_options& opts,
                         bool* repeated = nullptr);

/// Reads `text` (one JSON value and whitespace) into `h`. False when it did not take the text on
/// (the handler may have seen some callbacks: parse again, from scratch, with basic_parser).
/// `max_depth`: as parse_options::max_depth.
template <class Handler>
bool lex(std::string_view text, Handler& h, std::size_t max_depth) {
  Reader<Handler> r(text, h, max_depth);
  return r.document();
}

}  // namespace sb::adapters::json_lex
