#include "adapters/json_edit.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/byte_scan.h"

namespace sb::adapters {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t skip_ws(std::string_view t, std::size_t i) {
  while (i < t.size() && is_ws(t[i])) {
    ++i;
  }
  return i;
}

/// `i` is at an opening quote; returns the offset past the closing quote, or npos. Runs of plain
/// bytes are skipped sixteen at a time (plain_json_run): bodies are mostly long strings, and a
/// byte loop here was most of the gateway's instructions on a 20 KB conversation.
std::size_t skip_string(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); i += 2) {  // past an escape: the escaped byte cannot end the string
    i += plain_json_run(t.substr(i));
    if (i >= t.size()) {
      return npos;
    }
    if (t[i] == '"') {
      return i + 1;
    }
    if (t[i] != '\\') {
      return npos;  // a raw control byte
    }
  }
  return npos;
}

/// The offset of the first of `"{}[]` at or after `i` (t.size() when none): inside a container
/// nothing else matters to the walk, and pretty-printed answers are mostly indentation.
std::size_t next_structural(std::string_view t, std::size_t i) {
  const char* p = t.data();
  const std::size_t n = t.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i brace = _mm_set1_epi8('{');
  const __m128i close_brace = _mm_set1_epi8('}');
  const __m128i bracket = _mm_set1_epi8('[');
  const __m128i close_bracket = _mm_set1_epi8(']');
  while (i + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, brace)),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, close_brace), _mm_cmpeq_epi8(v, bracket)),
                     _mm_cmpeq_epi8(v, close_bracket)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
    i += 16;
  }
#endif
  for (; i < n; ++i) {
    const char c = p[i];
    if (c == '"' || c == '{' || c == '}' || c == '[' || c == ']') {
      return i;
    }
  }
  return n;
}

std::size_t skip_number(std::string_view t, std::size_t i) {
  const std::size_t start = i;
  while (i < t.size()) {
    const char c = t[i];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
      ++i;
    } else {
      break;
    }
  }
  return i == start ? npos : i;
}

std::size_t skip_literal(std::string_view t, std::size_t i, std::string_view word) {
  return t.substr(i, word.size()) == word ? i + word.size() : npos;
}

/// `i` is at the first byte of a value; returns the offset one past its last byte, or npos.
/// Containers are walked iteratively, so deep nesting cannot exhaust the stack.
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) {
    return npos;
  }
  switch (t[i]) {
    case '"':
      return skip_string(t, i);
    case 't':
      return skip_literal(t, i, "true");
    case 'f':
      return skip_literal(t, i, "false");
    case 'n':
      return skip_literal(t, i, "null");
    case '{':
    case '[':
      break;
    default:
      return skip_number(t, i);
  }
  std::string open;  // expected closers; short enough for the small-string buffer in practice
  while (i < t.size()) {
    i = next_structural(t, i);
    if (i >= t.size()) {
      break;
    }
    const char c = t[i];
    if (c == '"') {
      i = skip_string(t, i);
      if (i == npos) {
        return npos;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      open.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (open.empty() || open.back() != c) {
        return npos;
      }
      open.pop_back();
      if (open.empty()) {
        return i + 1;
      }
    }
    ++i;
  }
  return npos;
}

/// The byte `\<letter>` stands for, or -1 when it is not a simple escape (\u is not).
int unescaped_byte(char letter) {
  const char byte = byte_scan::simple_escape(letter);  // no simple escape stands for NUL
  return byte != 0 ? static_cast<unsigned char>(byte) : -1;
}

/// Reads the 4 hex digits at `raw[i..i+4)`; -1 when malformed.
long read_hex4(std::string_view raw, std::size_t i) {
  if (i + 4 > raw.size()) {
    return -1;
  }
  long v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const int d = hex_digit(raw[i + k]);
    if (d < 0) {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  char bytes[4];
  out.append(bytes, byte_scan::utf8_encode(cp, bytes));
}

/// Unescapes the body of a JSON string (quotes excluded) into `out`.
bool unescape(std::string_view raw, std::string& out) {
  out.clear();
  // Keys are short and almost never escaped: a plain loop beats a memchr call on them.
  if (raw.size() <= 32) {
    bool plain = true;
    for (const char c : raw) {
      plain = plain && c != '\\';
    }
    if (plain) {
      out.assign(raw);
      return true;
    }
  }
  std::size_t i = 0;
  while (i < raw.size()) {
    const std::size_t bs = raw.find('\\', i);
    if (bs == npos) {
      out.append(raw.substr(i));
      break;
    }
    out.append(raw.substr(i, bs - i));
    if (bs + 1 >= raw.size()) {
      return false;
    }
    i = bs + 2;
    if (const int b = unescaped_byte(raw[bs + 1]); b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    switch (raw[bs + 1]) {
      case 'u': {
        const long hi = read_hex4(raw, i);
        if (hi < 0) {
          return false;
        }
        i += 4;
        auto cp = static_cast<std::uint32_t>(hi);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          const long lo = (i + 1 < raw.size() && raw[i] == '\\' && raw[i + 1] == 'u')
                              ? read_hex4(raw, i + 2)
                              : -1;
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;  // lone high surrogate (Boost.JSON rejects these; be safe anyway)
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        append_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  const char lower = static_cast<char>(c | 0x20);
  return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

bool decode_escapes_lenient(std::string_view s, std::string& out) {
  out.reserve(out.size() + s.size());
  bool changed = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char e = s[i + 1];
    if (const int b = unescaped_byte(e); b >= 0) {
      out.push_back(static_cast<char>(b));
      ++i;
      changed = true;
      continue;
    }
    const long hi = e == 'u' ? read_hex4(s, i + 2) : -1;
    if (hi >= 0) {
      auto cp = static_cast<std::uint32_t>(hi);
      std::size_t used = 6;
      if (cp >= 0xD800 && cp < 0xDC00 && i + 11 < s.size() && s[i + 6] == '\\' && s[i + 7] == 'u') {
        const long lo = read_hex4(s, i + 8);
        if (lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00);
          used = 12;
        }
      }
      append_utf8(out, cp);
      i += used - 1;
      changed = true;
      continue;
    }
    out.push_back(s[i]);
  }
  return changed;
}

namespace {

/// Scans a top-level object. `close` receives the offset of its closing brace.
bool scan(std::string_view t, std::vector<JsonMember>& out, std::size_t& close) {
  std::size_t count = 0;
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '{') {
    return false;
  }
  i = skip_ws(t, i + 1);
  if (i < t.size() && t[i] == '}') {
    close = i;
  } else {
    for (;;) {
      if (i >= t.size() || t[i] != '"') {
        return false;
      }
      const std::size_t key_end = skip_string(t, i);
      if (key_end == npos) {
        return false;
      }
      // Reuse the slot (and its key's capacity) left by an earlier scan.
      JsonMember& m = count < out.size() ? out[count] : out.emplace_back();
      ++count;
      if (!unescape(t.substr(i + 1, key_end - i - 2), m.key)) {
        return false;
      }
      m.begin = i;
      i = skip_ws(t, key_end);
      if (i >= t.size() || t[i] != ':') {
        return false;
      }
      m.value_begin = skip_ws(t, i + 1);
      m.value_end = skip_value(t, m.value_begin);
      if (m.value_end == npos) {
        return false;
      }
      i = skip_ws(t, m.value_end);
      if (i < t.size() && t[i] == ',') {
        i = skip_ws(t, i + 1);
        continue;
      }
      if (i < t.size() && t[i] == '}') {
        close = i;
        break;
      }
      return false;
    }
  }
  out.resize(count);
  return skip_ws(t, close + 1) == t.size();
}

}  // namespace

std::optional<std::vector<JsonMember>> scan_object(std::string_view text) {
  std::vector<JsonMember> members;
  if (!scan_object(text, members)) {
    return std::nullopt;
  }
  return members;
}

bool scan_object(std::string_view text, std::vector<JsonMember>& out) {
  std::size_t close = 0;
  return scan(text, out, close);
}

std::optional<std::string_view> last_member_value(std::string_view text, std::string_view key,
                                                  std::vector<JsonMember>& scratch) {
  if (!scan_object(text, scratch)) {
    return std::nullopt;
  }
  const JsonMember* m = last_of(scratch, key);
  return m != nullptr ? std::optional<std::string_view>(raw_value(text, *m)) : std::nullopt;
}

namespace {

/// Whether the last `"key"` of `text` may start at `i` (its quotes and letters are there).
bool quoted_at(std::string_view text, std::size_t i, std::string_view key) {
  return text[i] == '"' && text[i + key.size() + 1] == '"' && text.substr(i + 1, key.size()) == key;
}

/// The offset of the opening quote of the last `"key"` in `text` (npos when none), an unescaped
/// quote: a quote preceded by an odd run of backslashes is inside a string. `key` is not empty.
/// Sixteen candidate offsets at a time where SSE2 is there: a quote followed by the key's first
/// letter.
std::size_t last_quoted(std::string_view text, std::string_view key) {
  const std::size_t len = key.size() + 2;
  if (key.empty() || text.size() < len) {
    return npos;
  }
  std::size_t end = text.size() - len + 1;  // candidate offsets left to look at: [0, end)
  std::size_t found = npos;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i first = _mm_set1_epi8(key.front());
  while (found == npos && end >= 16) {
    const char* p = text.data() + end - 16;  // p[16] exists: end - 1 + len <= text.size()
    const __m128i q = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), quote);
    const __m128i f =
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)), first);
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(q, f)));
    while (mask != 0) {
      const int top = 31 - __builtin_clz(mask);
      if (const std::size_t i = end - 16 + static_cast<std::size_t>(top); quoted_at(text, i, key)) {
        found = i;
        break;
      }
      mask &= ~(1u << top);
    }
    end -= 16;
  }
#endif
  while (found == npos && end > 0) {
    --end;
    if (quoted_at(text, end, key)) {
      found = end;
    }
  }
  if (found == npos) {
    return npos;
  }
  std::size_t slashes = 0;
  while (slashes < found && text[found - 1 - slashes] == '\\') {
    ++slashes;
  }
  return slashes % 2 == 0 ? found : npos;
}

/// `i` at a scalar value: one past it, or npos (also for a container).
std::size_t skip_scalar(std::string_view t, std::size_t i) {
  if (i >= t.size() || t[i] == '{' || t[i] == '[') {
    return npos;
  }
  return skip_value(t, i);
}

}  // namespace

std::size_t tail_member_begin(std::string_view text, std::string_view key) {
  const std::size_t at = last_quoted(text, key);
  if (at == npos) {
    return npos;
  }
  const std::size_t i = skip_ws(text, at + key.size() + 2);
  if (i >= text.size() || text[i] != ':') {
    return npos;  // a string value, not a key
  }
  return skip_ws(text, i + 1);
}

bool tail_closes(std::string_view text, std::size_t value_end) {
  std::size_t i = skip_ws(text, value_end);
  while (i < text.size() && text[i] == ',') {
    i = skip_ws(text, i + 1);
    if (i >= text.size() || text[i] != '"') {
      return false;
    }
    i = skip_string(text, i);
    if (i == npos) {
      return false;
    }
    i = skip_ws(text, i);
    if (i >= text.size() || text[i] != ':') {
      return false;
    }
    i = skip_scalar(text, skip_ws(text, i + 1));
    if (i == npos) {
      return false;
    }
    i = skip_ws(text, i);
  }
  return i < text.size() && text[i] == '}' && skip_ws(text, i + 1) == text.size();
}

std::optional<std::string_view> tail_member_value(std::string_view text, std::string_view key) {
  const std::size_t value_begin = tail_member_begin(text, key);
  if (value_begin == npos) {
    return std::nullopt;
  }
  const std::size_t value_end = skip_value(text, value_begin);
  if (value_end == npos || !tail_closes(text, value_end)) {
    return std::nullopt;
  }
  return text.substr(value_begin, value_end - value_begin);
}

std::optional<std::uint64_t> raw_unsigned(std::string_view raw) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
  if (ec != std::errc() || end != raw.data() + raw.size()) {
    return std::nullopt;
  }
  return n;
}

const JsonMember* last_of(std::span<const JsonMember> members, std::string_view key) {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key == key) {
      return &*it;
    }
  }
  return nullptr;
}

bool mark_superseded(std::span<const JsonMember> members, std::vector<char>& superseded) {
  constexpr std::size_t kPairwise = 16;
  superseded.assign(members.size(), 0);
  bool any = false;
  if (members.size() <= kPairwise) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      for (std::size_t j = i + 1; j < members.size(); ++j) {
        if (members[i].key == members[j].key) {
          superseded[i] = 1;
          any = true;
          break;
        }
      }
    }
    return any;
  }
  std::vector<std::size_t> order(members.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    order[k] = k;
  }
  // Stable: within a run of one key the positions ascend, and all but the run's last go.
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return members[a].key < members[b].key; });
  for (std::size_t k = 0; k + 1 < order.size(); ++k) {
    if (members[order[k]].key == members[order[k + 1]].key) {
      superseded[order[k]] = 1;
      any = true;
    }
  }
  return any;
}

std::string without_superseded(std::string_view text, std::span<const JsonMember> members,
                               std::span<const char> superseded) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (std::size_t k = 0; k + 1 < members.size(); ++k) {
    if (superseded[k] != 0) {
      out.append(text.substr(at, members[k].begin - at));
      at = members[k + 1].begin;
    }
  }
  out.append(text.substr(at));
  return out;
}

bool set_member(std::string& text, std::string_view key, std::string_view raw_value) {
  std::vector<JsonMember> members;
  std::size_t close = 0;
  if (!scan(text, members, close)) {
    return false;
  }
  // Parsers keep the last of duplicate keys, so the last occurrence is the one that counts.
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key == key) {
      text.replace(it->value_begin, it->value_end - it->value_begin, raw_value);
      return true;
    }
  }
  std::string member;
  member.reserve(key.size() + raw_value.size() + 8);
  if (!members.empty()) {
    member.push_back(',');
  }
  member.append(quote(key));
  member.push_back(':');
  member.append(raw_value);
  // After the last value, so whitespace before the closing brace stays where it was.
  text.insert(members.empty() ? close : members.back().value_end, member);
  return true;
}

bool remove_member(std::string& text, std::string_view key) {
  std::vector<JsonMember> members;
  std::size_t close = 0;
  if (!scan(text, members, close)) {
    return false;
  }
  return remove_member(text, key, members);
}

bool remove_member(std::string& text, std::string_view key, std::span<const JsonMember> members) {
  bool any = false;
  for (const JsonMember& m : members) {
    any = any || m.key == key;
  }
  if (!any) {
    return false;
  }
  // Rebuild from the original bytes: the opening up to the first member, each kept member
  // preceded by the separator that preceded it originally, then everything after the last member.
  std::string out;
  out.reserve(text.size());
  out.append(text, 0, members.front().begin);
  bool first_kept = true;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const JsonMember& m = members[k];
    if (m.key == key) {
      continue;
    }
    if (!first_kept) {
      const std::size_t sep = members[k - 1].value_end;
      out.append(text, sep, m.begin - sep);
    }
    first_kept = false;
    out.append(text, m.begin, m.value_end - m.begin);
  }
  out.append(text, members.back().value_end);
  text = std::move(out);
  return true;
}

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
  };
  const unsigned lead = b(0);
  const auto cont = [&](std::size_t k) { return (b(k) & 0xC0u) == 0x80u; };
  if (lead >= 0xC2 && lead <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    const unsigned lo = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = lead == 0xED ? 0x9F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const unsigned lo = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = lead == 0xF4 ? 0x8F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::size_t plain_json_run(std::string_view s) {
  return static_cast<std::size_t>(byte_scan::find_json_unsafe(s.data(), s.data() + s.size()) -
                                  s.data());
}

std::string_view json_array_elements(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t open = text.find('[');
  const std::size_t close = text.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open) {
    return {};
  }
  const std::string_view inside = text.substr(open + 1, close - open - 1);
  const std::size_t first = inside.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  return inside.substr(first, inside.find_last_not_of(kSpace) + 1 - first);
}

std::string quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

void append_decimal(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;  // start of the pending run of bytes that need no escaping
  // Runs of plain ASCII are skipped many bytes a step; a search stops at what needs a look: a
  // quote, a backslash, a control byte, or a byte of 0x80 and up.
  while ((p = byte_scan::find_json_special(p, end)) != end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      // Valid UTF-8 passes as it is; anything else (upstream text in error messages can be any
      // bytes) becomes U+FFFD, so the literal is always valid JSON for strict clients.
      const std::size_t n = utf8_sequence_length(s, static_cast<std::size_t>(p - s.data()));
      if (n > 0) {
        p += n;
        continue;
      }
      out.append(run, static_cast<std::size_t>(p - run));
      out.append("\xEF\xBF\xBD");
      run = ++p;
      continue;
    }
    out.append(run, static_cast<std::size_t>(p - run));
    out.push_back('\\');
    if (const char letter = byte_scan::escape_letter(static_cast<char>(c)); letter != 0) {
      out.push_back(letter);
    } else {
      out.append("u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
    run = ++p;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out.push_back('"');
}

std::optional<std::string> json_number_text(const boost::json::value& v) {
  if (const double* d = v.if_double()) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *d);
    if (!std::isfinite(*d) || ec != std::errc()) {
      return std::nullopt;
    }
    return std::string(buf, end);
  }
  if (!v.is_number()) {
    return std::nullopt;
  }
  return boost::json::serialize(v);
}

}  // namespace sb::adapters
