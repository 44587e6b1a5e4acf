#include "adapters/prometheus_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

namespace sb::adapters::prometheus {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// A read position in one line (without its '\n').
struct Cursor {
  std::string_view s;
  std::size_t pos = 0;

  bool done() const { return pos >= s.size(); }
  char peek() const { return done() ? '\0' : s[pos]; }
  void skip_blanks() {
    while (!done() && is_blank(s[pos])) {
      ++pos;
    }
  }
  /// The run of non-blank characters from here.
  std::string_view token() {
    const std::size_t start = pos;
    while (!done() && !is_blank(s[pos])) {
      ++pos;
    }
    return s.substr(start, pos - start);
  }
};

/// A name of [first][rest]* at the cursor; empty when none starts here.
std::string_view read_name(Cursor& c, bool allow_colon) {
  const std::size_t start = c.pos;
  while (!c.done()) {
    const char ch = c.s[c.pos];
    const bool ok =
        is_alpha(ch) || ch == '_' || (allow_colon && ch == ':') || (c.pos > start && is_digit(ch));
    if (!ok) {
      break;
    }
    ++c.pos;
  }
  return c.s.substr(start, c.pos - start);
}

/// Length of the UTF-8 sequence starting with `lead`, 0 when `lead` cannot start one.
int utf8_length(unsigned char lead) {
  if (lead < 0x80) {
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    return 2;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    return 4;
  }
  return 0;
}

/// Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF), as Go's utf8.ValidString.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const int n = utf8_length(lead);
    if (n == 0 || i + n > s.size()) {
      return false;
    }
    for (int k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    const auto second = n > 1 ? static_cast<unsigned char>(s[i + 1]) : 0x80;
    if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
        (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) {
      return false;
    }
    i += n;
  }
  return true;
}

/// Reads a quoted label value at the cursor (on its opening quote) and leaves the cursor past
/// the closing quote. Checks the escapes and UTF-8.
bool read_label_value(Cursor& c, std::string_view& raw, std::string& why) {
  if (c.peek() != '"') {
    why = "expected '\"' to open a label value";
    return false;
  }
  const std::size_t start = ++c.pos;
  for (; !c.done(); ++c.pos) {
    const char ch = c.s[c.pos];
    if (ch == '"') {
      raw = c.s.substr(start, c.pos - start);
      ++c.pos;
      if (!valid_utf8(raw)) {
        why = "label value is not valid UTF-8";
        return false;
      }
      return true;
    }
    if (ch == '\\') {
      const char next = c.pos + 1 < c.s.size() ? c.s[c.pos + 1] : '\0';
      if (next != '\\' && next != '"' && next != 'n') {
        why = "invalid escape sequence in a label value (only \\\\, \\\" and \\n)";
        return false;
      }
      ++c.pos;
    }
  }
  why = "unterminated label value";
  return false;
}

/// Reads `{...}` at the cursor (on '{'), validating every label; `labels` is the text between
/// the braces. Label names seen are kept on the stack to find duplicates.
bool read_labels(Cursor& c, std::size_t max_labels, std::string_view& labels, std::string& why) {
  constexpr std::size_t kMaxTracked = 256;
  std::array<std::string_view, kMaxTracked> names;
  std::size_t count = 0;
  const std::size_t open = c.pos++;
  while (true) {
    c.skip_blanks();
    if (c.peek() == '}') {
      labels = c.s.substr(open + 1, c.pos - open - 1);
      ++c.pos;
      return true;
    }
    if (c.done()) {
      why = "unterminated label set (no '}')";
      return false;
    }
    const std::string_view name = read_name(c, false);
    if (name.empty()) {
      why = "invalid label name";
      return false;
    }
    if (name == "__name__") {
      why = "label name __name__ is reserved";
      return false;
    }
    if (count >= std::min(max_labels, kMaxTracked)) {
      why = "more than " + std::to_string(std::min(max_labels, kMaxTracked)) + " labels";
      return false;
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (names[i] == name) {
        why = "duplicate label name '" + std::string(name) + "'";
        return false;
      }
    }
    names[count++] = name;
    c.skip_blanks();
    if (c.peek() != '=') {
      why = "expected '=' after label name '" + std::string(name) + "'";
      return false;
    }
    ++c.pos;
    c.skip_blanks();
    std::string_view raw;
    if (!read_label_value(c, raw, why)) {
      return false;
    }
    c.skip_blanks();
    if (c.peek() == ',') {
      ++c.pos;
    } else if (c.peek() != '}') {
      why = c.done() ? "unterminated label set (no '}')" : "expected ',' or '}' after a label";
      return false;
    }
  }
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) {
      return false;
    }
  }
  return true;
}

/// The power of ten of the leading significant digit of a decimal token (which from_chars found
/// out of range): negative means the value underflowed, not overflowed.
long decimal_magnitude(std::string_view digits) {
  long exponent = 0;
  const std::size_t e = digits.find_first_of("eE");
  if (e != std::string_view::npos) {
    long parsed = 0;
    std::string_view exp = digits.substr(e + 1);
    const bool neg = !exp.empty() && exp[0] == '-';
    if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) {
      exp.remove_prefix(1);
    }
    const auto [p, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), parsed);
    exponent = ec == std::errc{} ? (neg ? -parsed : parsed)
                                 : (neg ? std::numeric_limits<long>::min() / 2
                                        : std::numeric_limits<long>::max() / 2);
    digits = digits.substr(0, e);
  }
  const std::size_t dot = std::min(digits.find('.'), digits.size());
  const std::size_t first = digits.find_first_of("123456789");
  if (first == std::string_view::npos) {
    return std::numeric_limits<long>::min() / 2;
  }
  const long place =
      first < dot ? static_cast<long>(dot - first - 1) : -static_cast<long>(first - dot);
  return place + exponent;
}

/// An unsigned decimal or hexadecimal number, whole token.
std::optional<double> parse_unsigned(std::string_view t) {
  double v = 0;
  const bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  if (hex) {
    t.remove_prefix(2);
    // Go requires the 'p' exponent on a hexadecimal float; from_chars would not.
    if (t.find_first_of("pP") == std::string_view::npos || t[0] == '+' || t[0] == '-') {
      return std::nullopt;
    }
  } else if (t.empty() || !(is_digit(t[0]) || t[0] == '.')) {
    return std::nullopt;
  }
  const auto fmt = hex ? std::chars_format::hex : std::chars_format::general;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, fmt);
  if (p != t.data() + t.size()) {
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    const std::size_t p_at = t.find_first_of("pP");
    const bool underflow =
        hex ? (p_at + 1 < t.size() && t[p_at + 1] == '-') : decimal_magnitude(t) < 0;
    if (underflow) {
      return 0.0;  // Go rounds an underflow to zero without an error.
    }
    return std::nullopt;
  }
  if (ec != std::errc{}) {
    return std::nullopt;
  }
  return v;
}

bool parse_timestamp(std::string_view t, std::int64_t& out) {
  bool neg = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || !is_digit(t[0])) {
    return false;
  }
  std::uint64_t magnitude = 0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), magnitude);
  if (ec != std::errc{} || p != t.data() + t.size()) {
    return false;
  }
  const std::uint64_t limit =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (neg ? 1 : 0);
  if (magnitude > limit) {
    return false;
  }
  out = neg ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  return true;
}

/// `text` of a HELP line: only \\ and \n may be escaped.
bool valid_help(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      if (i + 1 >= text.size() || (text[i + 1] != '\\' && text[i + 1] != 'n')) {
        return false;
      }
      ++i;
    }
  }
  return true;
}

/// A line starting with '#' (the cursor past it).
bool parse_comment(Cursor& c, std::string& why) {
  c.skip_blanks();
  const std::string_view keyword = c.token();
  if (keyword != "HELP" && keyword != "TYPE") {
    return true;  // an ordinary comment
  }
  c.skip_blanks();
  if (read_name(c, true).empty() || !(c.done() || is_blank(c.peek()))) {
    why = "invalid metric name in " + std::string(keyword) + " line";
    return false;
  }
  c.skip_blanks();
  if (keyword == "HELP") {
    if (!valid_help(c.s.substr(c.pos))) {
      why = "invalid escape sequence in HELP text (only \\\\ and \\n)";
      return false;
    }
    return true;
  }
  const std::string_view type = c.token();
  c.skip_blanks();
  const bool known = type == "counter" || type == "gauge" || type == "histogram" ||
                     type == "summary" || type == "untyped";
  if (!known) {
    why = "unknown metric type '" + std::string(type) + "'";
    return false;
  }
  if (!c.done()) {
    why = "unexpected text after the metric type";
    return false;
  }
  return true;
}

/// A sample line, the cursor on its first non-blank character.
bool parse_sample(Cursor& c, const Limits& limits, Sample& out, std::string& why) {
  out.name = read_name(c, true);
  if (out.name.empty()) {
    why = "invalid metric name";
    return false;
  }
  out.labels = {};
  c.skip_blanks();
  if (c.peek() == '{') {
    if (!read_labels(c, limits.max_labels, out.labels, why)) {
      return false;
    }
    c.skip_blanks();
  } else if (c.pos < c.s.size() && !is_blank(c.s[c.pos - 1])) {
    why = "invalid character in metric name";
    return false;
  }
  const std::string_view value = c.token();
  if (value.empty()) {
    why = "missing value";
    return false;
  }
  const std::optional<double> v = parse_value(value);
  if (!v) {
    why = "invalid value '" + std::string(value) + "'";
    return false;
  }
  out.value = *v;
  c.skip_blanks();
  out.timestamp_ms.reset();
  if (!c.done()) {
    const std::string_view ts = c.token();
    std::int64_t parsed = 0;
    if (!parse_timestamp(ts, parsed)) {
      why = "invalid timestamp '" + std::string(ts) + "'";
      return false;
    }
    out.timestamp_ms = parsed;
    c.skip_blanks();
    if (!c.done()) {
      why = "unexpected text after the timestamp";
      return false;
    }
  }
  return true;
}

std::string at_line(std::size_t line, std::string_view why) {
  return "line " + std::to_string(line) + ": " + std::string(why);
}

}  // namespace

std::optional<double> parse_value(std::string_view t) {
  bool neg = false;
  std::string_view rest = t;
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    neg = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (equals_ignore_case(rest, "inf") || equals_ignore_case(rest, "infinity")) {
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (equals_ignore_case(t, "nan")) {  // Go takes no sign on NaN
    return std::numeric_limits<double>::quiet_NaN();
  }
  const std::optional<double> v = parse_unsigned(rest);
  if (!v) {
    return std::nullopt;
  }
  return neg ? -*v : *v;
}

bool parse_text(std::string_view text, const SampleHandler& on_sample, std::string& error,
                const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    error = "text is " + std::to_string(text.size()) + " bytes, over the limit of " +
            std::to_string(limits.max_bytes);
    return false;
  }
  std::size_t line_no = 0;
  std::size_t samples = 0;
  std::string why;
  Sample sample;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.size() > limits.max_line) {
      error = at_line(line_no, "longer than " + std::to_string(limits.max_line) + " bytes");
      return false;
    }
    if (line.find('\r') != std::string_view::npos) {
      error = at_line(line_no, "carriage return (CRLF line ends are not accepted)");
      return false;
    }
    if (line.find('\0') != std::string_view::npos) {
      error = at_line(line_no, "NUL byte");
      return false;
    }
    Cursor c{line};
    c.skip_blanks();
    if (c.done()) {
      continue;
    }
    if (c.peek() == '#') {
      ++c.pos;
      if (!parse_comment(c, why)) {
        error = at_line(line_no, why);
        return false;
      }
      continue;
    }
    if (++samples > limits.max_samples) {
      error = at_line(line_no, "more than " + std::to_string(limits.max_samples) + " samples");
      return false;
    }
    sample.line = line_no;
    if (!parse_sample(c, limits, sample, why) || !on_sample(sample, why)) {
      error = at_line(line_no, why);
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> find_label(std::string_view labels, std::string_view name) {
  Cursor c{labels};
  while (true) {
    c.skip_blanks();
    const std::string_view label = read_name(c, false);
    if (label.empty()) {
      return std::nullopt;
    }
    c.skip_blanks();
    if (c.peek() != '=') {
      return std::nullopt;
    }
    ++c.pos;
    c.skip_blanks();
    std::string_view raw;
    std::string why;
    if (!read_label_value(c, raw, why)) {
      return std::nullopt;
    }
    if (label == name) {
      return raw;
    }
    c.skip_blanks();
    if (c.peek() != ',') {
      return std::nullopt;
    }
    ++c.pos;
  }
}

std::optional<std::string> label_value(std::string_view labels, std::string_view name) {
  const std::optional<std::string_view> raw = find_label(labels, name);
  if (!raw) {
    return std::nullopt;
  }
  return unescape_label_value(*raw);
}

std::string unescape_label_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      ++i;
      out.push_back(raw[i] == 'n' ? '\n' : raw[i]);
    } else {
      out.push_back(raw[i]);
    }
  }
  return out;
}

}  // namespace sb::adapters::prometheus
