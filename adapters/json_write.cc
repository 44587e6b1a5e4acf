#include "adapters/json_write.h"

#include "adapters/byte_scan.h"
#include "adapters/json_edit.h"

#include <charconv>
#include <cstddef>
#include <string_view>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace sb::adapters {

namespace json = boost::json;

namespace {

/// A string literal (`Nested` false), or the same literal as it reads inside another JSON string
/// (true: its quotes and its escapes' backslashes escaped again, `\"` as `\\\"`).
template <bool Nested>
void write_literal(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr std::string_view kQuote = Nested ? "\\\"" : "\"";
  // A short string with nothing to escape (a key, a name, an id: most strings a request holds)
  // in one append, its quotes included.
  if (constexpr std::size_t kShort = 30; s.size() <= kShort) {
    constexpr std::size_t q = kQuote.size();
    char quoted[kShort + 2 * q];
    quoted[q - 1] = '"';
    std::size_t n = 0;
    for (; n < s.size() && !byte_scan::stops_unsafe(s[n]); ++n) {
      quoted[q + n] = s[n];
    }
    if (n == s.size()) {
      if constexpr (Nested) {
        quoted[0] = quoted[q + n] = '\\';
      }
      quoted[q + n + q - 1] = '"';
      out.append(quoted, n + 2 * q);
      return;
    }
  }
  out += kQuote;
  const char* p = s.data();
  const char* const end = p + s.size();
  for (;;) {
    const char* const stop = byte_scan::find_json_unsafe(p, end);  // a run of plain bytes
    out.append(p, static_cast<std::size_t>(stop - p));
    if (stop == end) {
      break;
    }
    const auto c = static_cast<unsigned char>(*stop);
    p = stop + 1;
    const char letter = byte_scan::escape_letter(*stop);
    if constexpr (!Nested) {
      if (letter != 0) {
        const char two[2] = {'\\', letter};
        out.append(two, 2);
      } else {
        const char six[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(six, 6);
      }
    } else if (letter == '"' || letter == '\\') {
      const char four[4] = {'\\', '\\', '\\', letter};  // the escape's backslash, escaped
      out.append(four, 4);
    } else if (letter != 0) {
      const char three[3] = {'\\', '\\', letter};
      out.append(three, 3);
    } else {
      const char seven[7] = {'\\', '\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(seven, 7);
    }
  }
  out += kQuote;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  write_literal<false>(out, s);
}

namespace {

template <class Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

/// The JSON text of `v`, as it is (`Nested` false) or as it reads inside a JSON string (true):
/// the two differ only in their strings, numbers and brackets reading the same either way.
template <bool Nested>
void write_value(std::string& out, const json::value& v);

/// `open`, then `write(element)` for each element of `range` with commas between, then `close`.
template <class Range, class Write>
void append_list(std::string& out, char open, const Range& range, char close, Write write) {
  out.push_back(open);
  bool first = true;
  for (const auto& element : range) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    write(element);
  }
  out.push_back(close);
}

template <bool Nested>
void write_array(std::string& out, const json::array& a) {
  append_list(out, '[', a, ']', [&out](const json::value& e) { write_value<Nested>(out, e); });
}

template <bool Nested>
void write_object(std::string& out, const json::object& o) {
  append_list(out, '{', o, '}', [&out](const json::key_value_pair& m) {
    write_literal<Nested>(out, std::string_view(m.key().data(), m.key().size()));
    out.push_back(':');
    write_value<Nested>(out, m.value());
  });
}

template <bool Nested>
void write_value(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return out.append("null"), void();
    case json::kind::bool_:
      return out.append(v.get_bool() ? "true" : "false"), void();
    case json::kind::int64:
      return append_integer(out, v.get_int64());
    case json::kind::uint64:
      return append_integer(out, v.get_uint64());
    case json::kind::double_:
      // Boost's own shortest form (rare in a request: a bound in a tool's schema).
      return out.append(json::serialize(v)), void();
    case json::kind::string:
      return write_literal<Nested>(out,
                                   std::string_view(v.get_string().data(), v.get_string().size()));
    case json::kind::array:
      return write_array<Nested>(out, v.get_array());
    case json::kind::object:
      return write_object<Nested>(out, v.get_object());
  }
}

}  // namespace

void append_json(std::string& out, const json::value& v) {
  write_value<false>(out, v);
}

void append_json(std::string& out, const json::array& a) {
  write_array<false>(out, a);
}

void append_json(std::string& out, const json::object& o) {
  write_object<false>(out, o);
}

void append_json_text_string(std::string& out, const json::object& o) {
  out.push_back('"');
  write_object<true>(out, o);
  out.push_back('"');
}

std::string to_json(const json::object& o, std::size_t expected) {
  std::string out;
  out.reserve(expected);
  append_json(out, o);
  return out;
}

}  // namespace sb::adapters
