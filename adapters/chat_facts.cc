#include "adapters/chat_facts.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts_internal.h"
#include "adapters/json_edit.h"
#include "adapters/string_room.h"

namespace sb::adapters {
namespace facts_detail {
namespace {

namespace json = boost::json;

// Strings holding JSON are decoded at most this many levels deep, up to this size each; the
// nested documents themselves are parsed to this depth. Beyond the bounds the raw string (which
// is always scanned) is all there is.
constexpr int kMaxNestedLevels = 4;
constexpr std::size_t kMaxNestedBytes = std::size_t{1} << 20;
constexpr unsigned kMaxNestedDepth = 64;

std::string_view view(const json::string& s) {
  return {s.data(), s.size()};
}

std::string_view string_of(const json::value* v) {
  return v != nullptr && v->is_string() ? view(v->get_string()) : std::string_view();
}

}  // namespace

void Walker::string(std::string_view s, int nested, bool escaped) {
  if (s.starts_with("data:") && s.substr(0, s.find(',')).ends_with(";base64")) {
    // A base64 data URL: bytes, not read as text (the cost), flagged by its media type.
    const std::string_view type = s.substr(5, 6);
    if (type == "image/") {
      f_.images = true;
    } else if (type.starts_with("audio/")) {
      f_.audio = true;
    } else {
      f_.files = true;
    }
    return;
  }
  line(s);
  f_.text_bytes += s.size();
  nested_text(s, nested, escaped);
}

void Walker::integer(std::int64_t v) {
  if (v < kMinScannedInteger && v > -kMinScannedInteger) {
    return;
  }
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  line(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void Walker::integer(std::uint64_t v) {
  if (v < static_cast<std::uint64_t>(kMinScannedInteger)) {
    return;
  }
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  line(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void Walker::number(double v) {
  if (!(v >= static_cast<double>(kMinScannedInteger) ||
        v <= -static_cast<double>(kMinScannedInteger))) {
    return;  // small, or NaN
  }
  if (std::isinf(v)) {
    return;
  }
  // Below 10^21, the whole part's digits (at most 21 and a sign): a card or phone number sent as a
  // float. Beyond, the shortest form that reads back as the same double (`1e+308`): its whole
  // part would be up to 309 digits of a number written in five bytes, text (and time to write
  // it) sixty times the body's for a body of such numbers, and no identifier is that long.
  constexpr double kWholeBelow = 1e21;
  char buf[32];
  const auto r =
      v < kWholeBelow && v > -kWholeBelow
          ? std::to_chars(buf, buf + sizeof buf, std::trunc(v), std::chars_format::fixed, 0)
          : std::to_chars(buf, buf + sizeof buf, v);
  line(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

double json_double(std::string_view text) {
  unsigned char buf[256];
  json::monotonic_resource mr(buf, sizeof buf);
  json::error_code ec;
  const json::value v = json::parse(text, ec, &mr);
  return ec ? 0 : v.to_number<double>(ec);
}

void Walker::value(const json::value& v, int nested, Slot slot) {
  switch (v.kind()) {
    case json::kind::string:
      string(view(v.get_string()), nested);
      break;
    case json::kind::object:
      object(v.get_object(), nested);
      break;
    case json::kind::array:
      for (const json::value& item : v.get_array()) {
        value(item, nested, slot);
      }
      break;
    case json::kind::int64:
    case json::kind::uint64:
      if (slot == Slot::prompt) {
        f_.token_ids = true;
      } else if (v.is_uint64()) {
        integer(v.get_uint64());
      } else {
        integer(v.get_int64());
      }
      break;
    case json::kind::double_:
      number(v.get_double());
      break;
    default:
      break;  // booleans, null: nothing to read
  }
}

// Every member; `skip_text` leaves out a string `text` member (already in the transcript).
void Walker::object(const json::object& o, int nested, bool skip_text) {
  const std::string_view type = string_of(o.if_contains("type"));
  flag_type(type);
  const bool base64_source = type == "base64";
  for (const auto& m : o) {
    const std::string_view k = m.key();
    const json::value& v = m.value();
    if (skip_text && k == "text" && v.is_string()) {
      continue;
    }
    key(k);
    if (v.is_string() && (k == "file_data" || (k == "data" && base64_source))) {
      // Base64 bytes (an OpenAI file part, an Anthropic image or document source).
      flag_media(string_of(o.if_contains("media_type")));
      continue;
    }
    if (k == "input_audio" && v.is_object() && v.get_object().contains("data")) {
      // {data: base64, format}: the format is text, the data is not.
      f_.audio = true;
      for (const auto& a : v.get_object()) {
        key(a.key());
        if (a.key() != "data" || !a.value().is_string()) {  // base64 is not read; anything else is
          value(a.value(), nested);
        }
      }
      continue;
    }
    if (k == "file_id" && v.is_string()) {
      f_.files = true;  // a file uploaded earlier: its content is not in the request
    }
    value(v, nested);
  }
}

// The conversation as the model reads it: each message's text concatenated, messages joined by
// one space. Everything else of the messages is walked by messages_rest().
void Walker::transcript(const json::array& messages) {
  bool first = true;
  for (const json::value& m : messages) {
    const json::value* content = m.is_object() ? m.get_object().if_contains("content") : nullptr;
    if (content == nullptr) {
      continue;
    }
    const std::size_t before = text_size();
    if (!first) {
      push(' ');
    }
    if (content->is_string()) {
      append(view(content->get_string()));
    } else if (content->is_array()) {
      for (const json::value& part : content->get_array()) {
        if (part.is_string()) {
          append(view(part.get_string()));
        } else if (part.is_object()) {
          append(string_of(part.get_object().if_contains("text")));
        }
      }
    }
    if (text_size() == before + (first ? 0 : 1)) {
      truncate(before);  // nothing read: no separator either
      continue;
    }
    f_.text_bytes += text_size() - before - (first ? 0 : 1);
    first = false;
  }
  if (!first) {
    push('\n');
  }
}

// Every member of the messages but the text transcript() took.
void Walker::messages_rest(const json::array& messages) {
  for (const json::value& m : messages) {
    if (!m.is_object()) {
      value(m, 0);
      continue;
    }
    flag_type(string_of(m.get_object().if_contains("type")));
    for (const auto& member : m.get_object()) {
      const std::string_view k = member.key();
      const json::value& v = member.value();
      key(k);
      if (k == "content") {
        content_rest(v);
      } else if (k == "role" && v.is_string()) {
        line(view(v.get_string()));  // scanned, but not prompt size
      } else {
        if (k == "audio") {
          f_.audio = true;  // a reference to audio the model produced earlier
        }
        value(v, 0);
      }
    }
  }
}

// What transcript() did not take; text it took is decoded here when it holds JSON.
void Walker::content_rest(const json::value& content) {
  if (content.is_string()) {
    decode_nested(view(content.get_string()), 0);
    return;
  }
  if (!content.is_array()) {
    value(content, 0);  // content sent as an object (or a number): every key and string
    return;
  }
  for (const json::value& part : content.get_array()) {
    if (part.is_object()) {
      object(part.get_object(), 0, true);
      decode_nested(string_of(part.get_object().if_contains("text")), 0);
    } else if (part.is_string()) {
      decode_nested(view(part.get_string()), 0);
    } else {
      value(part, 0);
    }
  }
}

void Walker::flag_type(std::string_view t) {
  if (t == "image_url" || t == "input_image" || t == "image") {
    f_.images = true;
  } else if (t == "input_audio" || t == "audio") {
    f_.audio = true;
  } else if (t == "file" || t == "input_file" || t == "document") {
    f_.files = true;
  }
}

void Walker::flag_media(std::string_view media) {
  if (media.starts_with("image/")) {
    f_.images = true;
  } else if (media.starts_with("audio/")) {
    f_.audio = true;
  } else {
    f_.files = true;
  }
}

namespace {

// Whether the 'e' or 'E' at `i` (0 < i < s.size() - 1) is a number's exponent: a digit before
// it, and one after it or after its sign.
bool exponent_at(std::string_view s, std::size_t i) {
  const char before = s[i - 1];
  const char after =
      s[i + 1] == '+' || s[i + 1] == '-' ? (i + 2 < s.size() ? s[i + 2] : ' ') : s[i + 1];
  return before >= '0' && before <= '9' && after >= '0' && after <= '9';
}

// Whether `s` holds a number with an exponent (`4.1e15`): its digits are not in the text. One
// pass: sixteen bytes a compare, then the letters found checked one by one (tool-call arguments,
// JSON with an `e` in most words, are read on every request that carries them).
bool has_exponent(std::string_view s) {
  std::size_t i = 1;
#if defined(__SSE2__)
  const __m128i lower = _mm_set1_epi8(0x20);
  const __m128i e = _mm_set1_epi8('e');
  for (; i + 16 < s.size(); i += 16) {  // each byte of the step has one after it
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // 'e' or 'E' (no other byte is 'e' with bit 0x20 set)
    auto bits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(v, lower), e)));
    for (; bits != 0; bits &= bits - 1) {
      if (exponent_at(s, i + static_cast<std::size_t>(__builtin_ctz(bits)))) {
        return true;
      }
    }
  }
#endif
  for (; i + 1 < s.size(); ++i) {
    if ((s[i] | 0x20) == 'e' && exponent_at(s, i)) {
      return true;
    }
  }
  return false;
}

}  // namespace

// A string with escapes in it: what they stand for is scanned too (`\u0034` as `4`). JSON held
// in the string is parsed and walked; any other string is unescaped as JSON would unescape it.
// Without a backslash the raw string already shows every character, but for JSON whose numbers
// have exponents (their digits are the parsed value's).
void Walker::decode_nested(std::string_view s, int nested) {
  if (nested >= kMaxNestedLevels || s.size() < 2 || s.size() > kMaxNestedBytes) {
    return;
  }
  const std::size_t first = s.find_first_not_of(" \t\r\n");
  const bool json_like = first != std::string_view::npos && (s[first] == '{' || s[first] == '[');
  const bool escaped = s.find('\\') != std::string_view::npos;
  if (!escaped && !(json_like && has_exponent(s))) {
    return;
  }
  if (json_like) {
    unsigned char arena[2048];
    json::monotonic_resource mr(arena, sizeof arena);
    json::parse_options opts;
    opts.max_depth = kMaxNestedDepth;
    boost::system::error_code ec;
    const json::value doc = json::parse(s, ec, &mr, opts);
    if (!ec) {
      value(doc, nested + 1);
      return;
    }
  }
  std::string decoded;
  if (escaped && decode_escapes_lenient(s, decoded)) {
    line(decoded);
    decode_nested(decoded, nested + 1);
  }
}

// Every field of the facts cleared, their storage kept (the text's among it).
void Walker::restart() {
  ChatFacts& out = f_;
  out.texts.clear();
  out.text.clear();
  out.text_bytes = 0;
  out.estimated_prompt_tokens = 0;
  out.prompt_tokens_bound = 0;
  out.max_tokens.reset();
  out.choices = 1;
  out.tools = false;
  out.images = false;
  out.json_schema = false;
  out.token_ids = false;
  out.audio = false;
  out.files = false;
  out.depth = 0;
  out.reasoning_effort.clear();
  begin_ = at_ = end_ = f_.text.data();  // empty: the first write grows it
}

// Room for `n` more bytes: the string sized to twice what it holds (at least), without writing
// the bytes it gains.
void Walker::grow(std::size_t n) {
  const std::size_t used = text_size();
  resize_for_overwrite(f_.text, std::max({used + n, 2 * f_.text.size(), std::size_t{256}}));
  begin_ = f_.text.data();
  at_ = begin_ + used;
  end_ = begin_ + f_.text.size();
}

void Walker::close() {
  f_.text.resize(text_size());  // shorter: nothing written
  begin_ = f_.text.data();
  at_ = end_ = begin_ + f_.text.size();
}

void finish(Walker& w) {
  w.close();
  ChatFacts& out = w.facts();
  out.prompt_tokens_bound =
      out.text.size() + kTokensPerMessage * out.depth + (out.tools ? kToolPreambleTokens : 0);
  if (!out.text.empty()) {
    out.text.pop_back();  // the last line's newline
  }
  if (!out.text.empty()) {
    out.texts.emplace_back(out.text);
  }
}

}  // namespace facts_detail

namespace {

namespace json = boost::json;
using facts_detail::finish;
using facts_detail::Slot;
using facts_detail::Walker;

std::string_view view(const json::string& s) {
  return {s.data(), s.size()};
}

void read_max_tokens(const json::object& body, ChatFacts& out) {
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const auto* mt = body.if_contains(key); mt != nullptr && !out.max_tokens) {
      out.max_tokens = output_tokens_asked(*mt);
    }
  }
}

// `n` (and, for completions, `best_of`): how many answers the output bound covers.
void read_choices(const json::object& body, bool completions, ChatFacts& out) {
  const auto asked = [&body](const char* key) -> std::uint64_t {
    const auto* v = body.if_contains(key);
    return v != nullptr ? output_tokens_asked(*v).value_or(1) : 1;
  };
  out.choices = std::max<std::uint64_t>({1, asked("n"), completions ? asked("best_of") : 1});
}

// Every member of a body; `prompt_key` names the member whose numbers are token ids, `messages`
// whether `messages` is a chat conversation (its text already in the transcript).
void walk_body(Walker& w, const json::object& body, std::string_view prompt_key, bool messages) {
  for (const auto& m : body) {
    const std::string_view k = m.key();
    const json::value& v = m.value();
    w.key(k);
    if (k == "model" && v.is_string()) {
      w.line(view(v.get_string()));  // scanned, but not prompt size
    } else if (messages && k == "messages" && v.is_array()) {
      w.messages_rest(v.get_array());
    } else {
      w.value(v, 0, !prompt_key.empty() && k == prompt_key ? Slot::prompt : Slot::plain);
    }
  }
}

// A body whose prompt is one member (`prompt`, `input`): one message, ~4 bytes per token.
void collect_single_prompt(Walker& w, const json::object& body, std::string_view member) {
  walk_body(w, body, member, false);
  ChatFacts& out = w.facts();
  out.depth = 1;
  out.estimated_prompt_tokens = (out.text_bytes + 3) / 4;
}

}  // namespace

std::optional<std::uint64_t> output_tokens_asked(const json::value& v) {
  if (v.is_uint64()) {
    return v.get_uint64();
  }
  if (v.is_int64()) {
    return v.get_int64() >= 0
               ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(v.get_int64()))
               : std::nullopt;
  }
  double d = 0;
  if (v.is_double()) {
    d = v.get_double();
  } else if (v.is_string()) {
    std::string_view s = view(v.get_string());
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front())) {
      s.remove_prefix(1);
    }
    while (!s.empty() && space(s.back())) {
      s.remove_suffix(1);
    }
    const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (!(d >= 0) || std::isinf(d)) {
    return std::nullopt;  // negative or NaN: no limit an engine takes
  }
  constexpr double kTop = 18446744073709551616.0;  // 2^64
  return d >= kTop ? std::numeric_limits<std::uint64_t>::max()
                   : static_cast<std::uint64_t>(std::ceil(d));
}

void collect_completion_facts(const json::object& body, ChatFacts& out) {
  Walker w(out);
  collect_single_prompt(w, body, "prompt");
  read_max_tokens(body, out);
  read_choices(body, true, out);
  finish(w);
}

void collect_embedding_facts(const json::object& body, ChatFacts& out) {
  Walker w(out);
  collect_single_prompt(w, body, "input");
  out.max_tokens = 0;
  finish(w);
}

void collect_body_facts(const json::object& body, ChatFacts& out) {
  Walker w(out);
  walk_body(w, body, {}, false);
  finish(w);
}

void collect_chat_facts(const json::object& body, ChatFacts& out) {
  Walker w(out);
  const json::value* messages = body.if_contains("messages");
  const bool conversation = messages != nullptr && messages->is_array();
  if (conversation) {
    out.depth = messages->get_array().size();
    w.transcript(messages->get_array());
  }
  walk_body(w, body, {}, conversation);

  if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
    out.tools = !tools->get_array().empty();
  }
  if (const auto* fns = body.if_contains("functions"); fns && fns->is_array()) {
    out.tools = out.tools || !fns->get_array().empty();
  }
  if (const auto* rf = body.if_contains("response_format"); rf && rf->is_object()) {
    if (const auto* type = rf->get_object().if_contains("type"); type && type->is_string()) {
      out.json_schema = type->get_string() == "json_schema";
    }
  }
  read_max_tokens(body, out);
  read_choices(body, false, out);
  if (const auto* re = body.if_contains("reasoning_effort"); re && re->is_string()) {
    out.reasoning_effort = view(re->get_string());
  }
  facts_detail::estimate_chat(out);
  finish(w);
}

}  // namespace sb::adapters
