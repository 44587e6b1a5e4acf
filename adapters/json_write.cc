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

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // A short string with nothing to escape (a key, a name, an id: most strings a request holds)
  // in one append, its quotes included.
  if (constexpr std::size_t kShort = 30; s.size() <= kShort) {
    char quoted[kShort + 2];
    std::size_t n = 0;
    quoted[0] = '"';
    for (; n < s.size() && !byte_scan::stops_unsafe(s[n]); ++n) {
      quoted[n + 1] = s[n];
    }
    if (n == s.size()) {
      quoted[n + 1] = '"';
      out.append(quoted, n + 2);
      return;
    }
  }
  out.push_back('"');
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
    if (const char letter = byte_scan::escape_letter(*stop); letter != 0) {
      const char two[2] = {'\\', letter};
      out.append(two, 2);
    } else {
      const char six[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(six, 6);
    }
  }
  out.push_back('"');
}

namespace {

template <class Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

void append_json(std::string& out, const json::value& v) {
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
      return append_json_string(out,
                                std::string_view(v.get_string().data(), v.get_string().size()));
    case json::kind::array:
      return append_json(out, v.get_array());
    case json::kind::object:
      return append_json(out, v.get_object());
  }
}

namespace {

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

}  // namespace

void append_json(std::string& out, const json::array& a) {
  append_list(out, '[', a, ']', [&out](const json::value& e) { append_json(out, e); });
}

void append_json(std::string& out, const json::object& o) {
  append_list(out, '{', o, '}', [&out](const json::key_value_pair& m) {
    append_json_string(out, std::string_view(m.key().data(), m.key().size()));
    out.push_back(':');
    append_json(out, m.value());
  });
}

std::string to_json(const json::object& o, std::size_t expected) {
  std::string out;
  out.reserve(expected);
  append_json(out, o);
  return out;
}

}  // namespace sb::adapters
