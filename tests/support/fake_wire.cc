#include "tests/support/fake_wire.h"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace sb::testing::wire {

namespace json = boost::json;
namespace http = boost::beast::http;

void append_json_string(std::string& out, std::string_view s, bool go_html) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '<':
      case '>':
      case '&':
        if (go_html) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(s[i]);
        }
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else if (go_html && c == 0xE2 && i + 2 < s.size() &&
                   static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                    static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
          // Go also escapes the JavaScript line terminators U+2028 and U+2029.
          out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out.push_back(s[i]);
        }
    }
  }
  out.push_back('"');
}

void append_int(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void append_hex_padded(std::string& out, std::uint64_t v, int width) {
  std::array<char, 17> hex{};
  auto [end, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), v, 16);
  auto digits = static_cast<int>(end - hex.data());
  if (digits < width) {
    out.append(static_cast<std::size_t>(width - digits), '0');
  }
  out.append(hex.data(), end);
}

namespace {

/// Shortest round-trip digits with ".0" on integral values, as Python's json prints floats
/// (1.0, 0.98, 1e-07): how OpenAI writes temperature and the penalties.
void append_double(std::string& out, double d) {
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  std::string_view digits(buf.data(), static_cast<std::size_t>(end - buf.data()));
  out += digits;
  if (digits.find_first_of(".eEin") == std::string_view::npos) {
    out += ".0";
  }
}

void newline(std::string& out, int depth) {
  out.push_back('\n');
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

void write_value(std::string& out, const json::value& v, JsonStyle style, int depth) {
  const bool pretty = style == JsonStyle::pretty;
  const std::string_view colon = style == JsonStyle::spaced || pretty ? ": " : ":";
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      append_int(out, v.get_int64());
      return;
    case json::kind::uint64:
      out += json::serialize(v);
      return;
    case json::kind::double_:
      append_double(out, v.get_double());
      return;
    case json::kind::string:
      append_json_string(out, v.get_string(), style == JsonStyle::go);
      return;
    case json::kind::array: {
      const auto& a = v.get_array();
      out.push_back('[');
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i > 0) {
          out.push_back(',');
        }
        if (pretty) {
          newline(out, depth + 1);
        }
        write_value(out, a[i], style, depth + 1);
      }
      if (pretty && !a.empty()) {
        newline(out, depth);
      }
      out.push_back(']');
      return;
    }
    case json::kind::object: {
      const auto& o = v.get_object();
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : o) {
        if (!first) {
          out.push_back(',');
        }
        first = false;
        if (pretty) {
          newline(out, depth + 1);
        }
        append_json_string(out, key, style == JsonStyle::go);
        out += colon;
        write_value(out, value, style, depth + 1);
      }
      if (pretty && !o.empty()) {
        newline(out, depth);
      }
      out.push_back('}');
      return;
    }
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

}  // namespace

void write_json(std::string& out, const json::value& v, JsonStyle style) {
  write_value(out, v, style, 0);
}

std::string to_json(const json::value& v, JsonStyle style) {
  std::string out;
  write_json(out, v, style);
  return out;
}

std::size_t count_words(std::string_view s) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = is_space(c);
    if (!space && !in_word) {
      ++words;
    }
    in_word = !space;
  }
  return words;
}

std::vector<std::string> split_pieces(std::string_view s) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (is_space(s[i]) && !is_space(s[i - 1])) {
      pieces.emplace_back(s.substr(start, i - start));
      start = i;
    }
  }
  if (start < s.size()) {
    pieces.emplace_back(s.substr(start));
  }
  return pieces;
}

std::vector<std::string> split_arguments(std::string_view arguments_json) {
  // Like a tokenizer would: the opening up to the first value, then the value in words, then the
  // closing. Always at least two fragments so clients must join them.
  std::vector<std::string> out;
  std::size_t open = arguments_json.find(":\"");
  if (open == std::string_view::npos || arguments_json.size() < 4) {
    std::size_t half = arguments_json.size() / 2;
    out.emplace_back(arguments_json.substr(0, half));
    out.emplace_back(arguments_json.substr(half));
    return out;
  }
  out.emplace_back(arguments_json.substr(0, open + 2));
  std::string_view rest = arguments_json.substr(open + 2);
  std::string_view value = rest.substr(0, rest.size() - 2);  // without the closing "}
  for (auto& piece : split_pieces(value)) {
    out.push_back(std::move(piece));
  }
  out.emplace_back(rest.substr(rest.size() - 2));
  return out;
}

std::string url_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex(s[i + 1]);
      int lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
  static const std::array<std::uint32_t, 256> kTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      }
      table[i] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (char ch : data) {
    crc = kTable[(crc ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (crc >> 8);
  }
  return ~crc;
}

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string rfc3339_nano_now() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 40> buf{};
  std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf.data(), n);
  if (nanos > 0) {
    std::array<char, 16> frac{};
    std::snprintf(frac.data(), frac.size(), ".%09lld", static_cast<long long>(nanos));
    std::string f(frac.data());
    while (f.back() == '0') {
      f.pop_back();  // Go's RFC3339Nano drops trailing zeros
    }
    out += f;
  }
  out.push_back('Z');
  return out;
}

Turn plan_turn(const Dialogue& d, std::string_view name) {
  Turn t;
  t.prompt_tokens = d.prompt_tokens;
  if (!d.first_tool.empty() && d.last_is_user) {
    t.tool_call = true;
    t.tool_name = d.first_tool;
    t.query = d.last_text;
    t.arguments_json = "{\"query\":";
    append_json_string(t.arguments_json, d.last_text);
    t.arguments_json += "}";
    t.completion_tokens =
        static_cast<std::int64_t>(count_words(t.tool_name) + count_words(t.arguments_json));
    return t;
  }
  if (d.last_is_tool_result) {
    t.text = "Tool said: ";
  } else {
    t.text = "Hello from ";
    t.text += name;
    t.text += ": ";
  }
  t.text += d.last_text;
  t.pieces = split_pieces(t.text);
  if (d.max_tokens && *d.max_tokens >= 0 &&
      static_cast<std::size_t>(*d.max_tokens) < t.pieces.size()) {
    t.pieces.resize(static_cast<std::size_t>(*d.max_tokens));
    t.text.clear();
    for (const auto& p : t.pieces) {
      t.text += p;
    }
    t.truncated = true;
  }
  t.completion_tokens = static_cast<std::int64_t>(count_words(t.text));
  return t;
}

std::string tool_result_text(const json::value& v) {
  if (const auto* s = v.if_string()) {
    return std::string(*s);
  }
  if (const auto* a = v.if_array()) {
    std::string out;
    for (const auto& part : *a) {
      if (const auto* o = part.if_object()) {
        if (const auto* text = o->if_contains("text"); text != nullptr && text->is_string()) {
          out += std::string_view(text->get_string());
        } else if (const auto* j = o->if_contains("json")) {
          out += tool_result_text(*j);
        }
      } else if (part.is_string()) {
        out += std::string_view(part.get_string());
      }
    }
    return out;
  }
  if (const auto* o = v.if_object()) {
    for (std::string_view key : {"content", "result", "output", "text"}) {
      if (const auto* inner = o->if_contains(key); inner != nullptr && inner->is_string()) {
        return std::string(inner->get_string());
      }
    }
  }
  return to_json(v, JsonStyle::compact);
}

std::string record_line(std::string_view method, std::string_view target,
                        const http::fields& headers, std::string_view body) {
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& field : headers) {
    std::string name(field.name_string());
    for (auto& ch : name) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    auto same =
        std::find_if(seen.begin(), seen.end(), [&name](const auto& h) { return h.first == name; });
    if (same != seen.end()) {
      same->second += ", ";
      same->second += std::string_view(field.value());
    } else {
      seen.emplace_back(std::move(name), std::string(field.value()));
    }
  }
  std::string line = "{\"method\":";
  append_json_string(line, method);
  line += ",\"target\":";
  append_json_string(line, target);
  line += ",\"headers\":{";
  for (std::size_t i = 0; i < seen.size(); ++i) {
    line += i == 0 ? "" : ",";
    append_json_string(line, seen[i].first);
    line += ':';
    append_json_string(line, seen[i].second);
  }
  line += "},\"body\":";
  append_json_string(line, body);
  line += "}\n";
  return line;
}

std::optional<std::string_view> WireRequest::header(std::string_view name) const {
  auto it = headers.find(name);
  if (it == headers.end()) {
    return std::nullopt;
  }
  return std::string_view(it->value());
}

WireReply json_reply(unsigned status, std::string body, std::string headers) {
  WireReply r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string vendor_id(std::string_view prefix, std::uint64_t serial, int width) {
  // A splitmix64 walk: distinct serials give distinct, random-looking ids.
  std::string out(prefix);
  std::uint64_t x = serial;
  for (int i = 0; i < width; ++i) {
    x += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    out.push_back(kAlphabet[z % kAlphabet.size()]);
  }
  return out;
}

std::string uuid_from(std::uint64_t serial) {
  auto mix = [](std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::string hex;
  append_hex_padded(hex, mix(serial + 0x9E3779B97F4A7C15ull), 16);
  append_hex_padded(hex, mix(serial ^ 0x2545F4914F6CDD1Dull), 16);
  hex[12] = '4';
  hex[16] = '8';
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::optional<Format> route(http::verb method, std::string_view path) {
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;
  if (get && (path == "/" || path == "/health")) {
    return path == "/" ? Format::ollama : Format::health;
  }
  if (path.starts_with("/api/")) {
    if ((post && path == "/api/chat") || (get && (path == "/api/tags" || path == "/api/version"))) {
      return Format::ollama;
    }
    return std::nullopt;
  }
  if (path.starts_with("/openai/deployments/") ||
      (post && (path == "/openai/v1/responses" || path == "/openai/responses"))) {
    return Format::azure;
  }
  if (post && path.starts_with("/model/") &&
      (path.ends_with("/converse") || path.ends_with("/converse-stream"))) {
    return Format::bedrock;
  }
  if (post && path.find("/models/") != std::string_view::npos &&
      (path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent"))) {
    return Format::gemini;
  }
  if (post && path.ends_with("/messages")) {
    return Format::anthropic;
  }
  if (post && path.ends_with("/messages/count_tokens")) {
    return Format::anthropic;
  }
  if ((post && (path.ends_with("/chat/completions") || path.ends_with("/completions") ||
                path.ends_with("/embeddings") || path.ends_with("/responses"))) ||
      (get && path.ends_with("/models"))) {
    return Format::openai;
  }
  return std::nullopt;
}

WireReply health_answer(const WireRequest&, const WireContext&) {
  // llama.cpp's answer; vLLM, TGI and SGLang answer 200 too and clients only read the status.
  return json_reply(200, "{\"status\":\"ok\"}");
}

}  // namespace sb::testing::wire
