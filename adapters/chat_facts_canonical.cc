// collect_chat_facts() from a ChatRequest (adapters/canonical.h): the facts the DOM collector
// (chat_facts.cc) finds, found without a DOM.
//
// Document order matters (the detector scans the text as one document) and the typed request
// keeps neither the order of the members of a message nor the members it does not type. So the
// values are walked over the body's own bytes: the request gives the top-level members and each
// message as byte ranges, and each object met below them is scanned for its members in place
// (the body is valid JSON, so a scan only has to find where each key and value ends). A member
// repeated in one object is walked as Boost.JSON's DOM keeps it: at its first position, with its
// last value. What a key, a string or a number adds to the facts is the shared Walker's decision.
// Strings are unescaped only where a walker reads them; the message texts come unescaped from the
// request.

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory_resource>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"
#include "adapters/chat_facts_internal.h"
#include "adapters/json_edit.h"

namespace sb::adapters {
namespace {

using facts_detail::Walker;

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_space(s[i])) {
    ++i;
  }
  return i;
}

// One past the closing quote of the string whose opening quote is at `i`.
std::size_t string_end(std::string_view s, std::size_t i) {
  std::size_t from = i + 1;
  // Most keys and values are short: byte by byte up to the first quote or backslash.
  for (const std::size_t stop = std::min(s.size(), from + 32); from < stop; ++from) {
    if (s[from] == '"') {
      return from + 1;
    }
    if (s[from] == '\\') {
      break;
    }
  }
  for (;;) {
    const void* q = from < s.size() ? std::memchr(s.data() + from, '"', s.size() - from) : nullptr;
    if (q == nullptr) {
      return s.size();  // cannot happen in valid JSON
    }
    const auto at = static_cast<std::size_t>(static_cast<const char*>(q) - s.data());
    std::size_t backslashes = 0;
    while (at - backslashes > i + 1 && s[at - backslashes - 1] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) {
      return at + 1;
    }
    from = at + 1;
  }
}

bool has_backslash(std::string_view s) {
  if (s.size() > 32) {
    return std::memchr(s.data(), '\\', s.size()) != nullptr;
  }
  for (const char c : s) {
    if (c == '\\') {
      return true;
    }
  }
  return false;
}

bool is_string(std::string_view raw) {
  return !raw.empty() && raw[0] == '"';
}

struct Member {
  std::string_view key;    // unescaped
  std::string_view value;  // raw JSON
};

class RawWalker {
 public:
  RawWalker(Walker& w, const ChatRequest& r)
      : w_(w),
        r_(r),
        pool_(buffer_, sizeof buffer_),
        stack_(&pool_),
        containers_(&pool_),
        strings_(&pool_) {
    stack_.reserve(32);
    containers_.reserve(64);
  }

  void body();

  // The rules of the facts' DOM flags, from the top-level members as the DOM keeps them.
  void top_flags(ChatFacts& f) {
    const std::string_view fns = find(0, "functions");
    f.tools =
        !r_.tools.empty() || (!fns.empty() && fns[0] == '[' && fns[skip_space(fns, 1)] != ']');
  }

 private:
  void index();
  void know(std::string_view text);
  std::size_t skip_string(std::string_view s, std::size_t i) const;
  std::size_t value_end(std::string_view s, std::size_t i, bool known) const;
  std::string_view unescape(std::string_view raw);
  void push(std::size_t base, std::string_view key, std::string_view value);
  std::size_t members(std::string_view raw, bool known = false);
  std::string_view find(std::size_t base, std::string_view key) const;
  template <class F>
  void elements(std::string_view raw, F&& f);
  void value(std::string_view raw, int nested);
  void number(std::string_view raw);
  void object(std::string_view raw, int nested, bool skip_text);
  void members_of(std::size_t base, int nested, bool skip_text);
  bool input_audio(std::string_view raw, int nested);
  void transcript();
  void part_text(const ChatContentPart& p);
  void message_rest(const ChatMessage& m);
  void content_rest(const ChatMessage& m, std::string_view raw);

  struct Span {
    std::size_t begin;
    std::size_t end;
  };

  Walker& w_;
  const ChatRequest& r_;
  alignas(std::max_align_t) char buffer_[4096];
  std::pmr::monotonic_buffer_resource pool_;  // all below and the unescaped strings
  std::pmr::vector<Member> stack_;     // the members of the objects being walked, innermost last
  std::pmr::vector<Span> containers_;  // every object and array of the body, by position
  std::pmr::vector<Span> strings_;  // the message texts the request found in the body, by position
  std::string scratch_;
};

// Where every object and array of the body ends, found in one pass: the walk below looks each up
// rather than scanning a container once per level it is nested in. The long strings of the
// messages (texts, URLs, payloads) are not scanned at all: the request knows where they are.
void RawWalker::index() {
  for (const ChatMessage& m : r_.messages) {
    know(m.text);
    for (const ChatContentPart& p : m.parts) {
      for (std::string_view v : {p.text, p.url, p.data, p.file_data}) {
        know(v);
      }
    }
  }
  std::sort(strings_.begin(), strings_.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  const std::string_view s = r_.body;
  std::size_t open[132];  // the parser refused deeper bodies
  std::size_t depth = 0;
  containers_.reserve(64);
  std::size_t next = 0;  // the first known string not passed yet
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '"') {
      while (next < strings_.size() && strings_[next].begin < i) {
        ++next;
      }
      i = next < strings_.size() && strings_[next].begin == i ? strings_[next].end
                                                              : string_end(s, i);
      continue;
    }
    if ((c == '{' || c == '[') && depth < std::size(open)) {
      open[depth++] = containers_.size();
      containers_.push_back(Span{i, s.size()});
    } else if ((c == '}' || c == ']') && depth > 0) {
      containers_[open[--depth]].end = i + 1;
    }
    ++i;
  }
}

// A string of the request that is a whole string token of the body (not escaped, so not copied
// into the arena; not part of one, as a data URL's payload is).
void RawWalker::know(std::string_view text) {
  const std::string_view b = r_.body;
  if (text.size() < 64 || text.data() <= b.data() ||
      text.data() + text.size() >= b.data() + b.size()) {
    return;  // short strings cost less to scan than to look up
  }
  const auto begin = static_cast<std::size_t>(text.data() - b.data()) - 1;
  const std::size_t end = begin + text.size() + 2;
  if (b[begin] == '"' && b[end - 1] == '"') {
    strings_.push_back(Span{begin, end});
  }
}

// One past the closing quote of the string at `s[i]` (`s` a view into the body).
std::size_t RawWalker::skip_string(std::string_view s, std::size_t i) const {
  if (!strings_.empty()) {
    const auto at = static_cast<std::size_t>(s.data() + i - r_.body.data());
    const auto it = std::lower_bound(strings_.begin(), strings_.end(), at,
                                     [](const Span& c, std::size_t v) { return c.begin < v; });
    if (it != strings_.end() && it->begin == at) {
      return i + (it->end - at);
    }
  }
  return string_end(s, i);
}

// One past the last byte of the value that starts at `s[i]` (`s` a view into the body); `known`
// when it may be one of the request's long strings.
std::size_t RawWalker::value_end(std::string_view s, std::size_t i, bool known) const {
  if (s[i] == '"') {
    return known ? skip_string(s, i) : string_end(s, i);
  }
  if (s[i] == '{' || s[i] == '[') {
    const auto at = static_cast<std::size_t>(s.data() + i - r_.body.data());
    const auto it = std::lower_bound(containers_.begin(), containers_.end(), at,
                                     [](const Span& c, std::size_t v) { return c.begin < v; });
    return it != containers_.end() && it->begin == at ? i + (it->end - at) : s.size();
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_space(s[i])) {
    ++i;
  }
  return i;
}

// The text of a raw JSON string (quotes included).
std::string_view RawWalker::unescape(std::string_view raw) {
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (!has_backslash(inner)) {
    return inner;
  }
  scratch_.clear();
  decode_escapes_lenient(inner, scratch_);  // exact on valid JSON (no lone surrogate)
  auto* p = static_cast<char*>(pool_.allocate(scratch_.size() + 1, 1));
  std::memcpy(p, scratch_.data(), scratch_.size());
  return {p, scratch_.size()};
}

// A member of the object whose members start at `base`: a repeated key keeps its first place and
// takes the new value, as Boost.JSON's DOM builds an object.
void RawWalker::push(std::size_t base, std::string_view key, std::string_view value) {
  for (std::size_t i = base; i < stack_.size(); ++i) {
    if (stack_[i].key == key) {
      stack_[i].value = value;
      return;
    }
  }
  stack_.push_back(Member{key, value});
}

// Pushes the members of the raw object onto the stack; returns where they start.
std::size_t RawWalker::members(std::string_view raw, bool known) {
  const std::size_t base = stack_.size();
  std::size_t i = skip_space(raw, 1);
  while (i < raw.size() && raw[i] == '"') {
    const std::size_t key_end = string_end(raw, i);
    const std::string_view key = unescape(raw.substr(i, key_end - i));
    const std::size_t begin = skip_space(raw, skip_space(raw, key_end) + 1);  // past ':'
    const std::size_t end = value_end(raw, begin, known);
    push(base, key, raw.substr(begin, end - begin));
    i = skip_space(raw, end);
    i = i < raw.size() && raw[i] == ',' ? skip_space(raw, i + 1) : i;
  }
  return base;
}

// The raw value of `key` among the members from `base` (empty when absent).
std::string_view RawWalker::find(std::size_t base, std::string_view key) const {
  for (std::size_t i = base; i < stack_.size(); ++i) {
    if (stack_[i].key == key) {
      return stack_[i].value;
    }
  }
  return {};
}

template <class F>
void RawWalker::elements(std::string_view raw, F&& f) {
  std::size_t i = skip_space(raw, 1);
  while (i < raw.size() && raw[i] != ']') {
    const std::size_t end = value_end(raw, i, false);
    f(raw.substr(i, end - i));
    i = skip_space(raw, end);
    i = i < raw.size() && raw[i] == ',' ? skip_space(raw, i + 1) : i;
  }
}

// Walker::value over raw bytes.
void RawWalker::value(std::string_view raw, int nested) {
  switch (raw.empty() ? 'n' : raw[0]) {
    case '"':
      w_.string(unescape(raw), nested);
      break;
    case '{':
      object(raw, nested, false);
      break;
    case '[':
      elements(raw, [&](std::string_view e) { value(e, nested); });
      break;
    case 't':
    case 'f':
    case 'n':
      break;
    default:
      number(raw);
      break;
  }
}

// An integer as Boost.JSON reads it: int64 when it fits, else uint64, else a double (as are
// fractions and exponents), which is not read.
void RawWalker::number(std::string_view raw) {
  if (raw.find_first_of(".eE") != std::string_view::npos) {
    return;
  }
  const char* end = raw.data() + raw.size();
  std::int64_t i = 0;
  if (const auto r = std::from_chars(raw.data(), end, i); r.ec == std::errc() && r.ptr == end) {
    w_.integer(i);
    return;
  }
  std::uint64_t u = 0;
  if (const auto r = std::from_chars(raw.data(), end, u); r.ec == std::errc() && r.ptr == end) {
    w_.integer(u);
  }
}

void RawWalker::object(std::string_view raw, int nested, bool skip_text) {
  const std::size_t base = members(raw);
  members_of(base, nested, skip_text);
  stack_.resize(base);
}

// Walker::object over the members from `base`.
void RawWalker::members_of(std::size_t base, int nested, bool skip_text) {
  const std::string_view type_raw = find(base, "type");
  const std::string_view type = is_string(type_raw) ? unescape(type_raw) : std::string_view();
  w_.flag_type(type);
  const bool base64_source = type == "base64";
  const std::size_t end = stack_.size();
  for (std::size_t i = base; i < end; ++i) {
    const Member m = stack_[i];  // a copy: the walk below pushes onto the stack
    if (skip_text && m.key == "text" && is_string(m.value)) {
      continue;
    }
    w_.key(m.key);
    if (is_string(m.value) && (m.key == "file_data" || (m.key == "data" && base64_source))) {
      const std::string_view media = find(base, "media_type");
      w_.flag_media(is_string(media) ? unescape(media) : std::string_view());
      continue;
    }
    if (m.key == "input_audio" && m.value[0] == '{' && input_audio(m.value, nested)) {
      continue;
    }
    if (m.key == "file_id" && is_string(m.value)) {
      w_.facts().files = true;
    }
    value(m.value, nested);
  }
}

// {data: base64, format}: the format is text, the data is not. False without `data`.
bool RawWalker::input_audio(std::string_view raw, int nested) {
  const std::size_t base = members(raw);
  const bool data = !find(base, "data").empty();
  if (data) {
    w_.facts().audio = true;
    for (std::size_t i = base; i < stack_.size(); ++i) {
      const Member a = stack_[i];
      w_.key(a.key);
      if (a.key != "data") {
        value(a.value, nested);
      }
    }
  }
  stack_.resize(base);
  return data;
}

// The conversation as the model reads it (Walker::transcript): the texts come from the request.
void RawWalker::transcript() {
  std::string& text = w_.facts().text;
  bool first = true;
  for (const ChatMessage& m : r_.messages) {
    if (m.content_kind == ChatMessage::Content::absent) {
      continue;
    }
    const std::size_t before = text.size();
    if (!first) {
      text.push_back(' ');
    }
    if (m.content_kind == ChatMessage::Content::text) {
      text += m.text;
    } else {
      for (const ChatContentPart& p : m.parts) {
        part_text(p);
      }
    }
    if (text.size() == before + (first ? 0 : 1)) {
      text.resize(before);  // nothing read: no separator either
      continue;
    }
    w_.facts().text_bytes += text.size() - before - (first ? 0 : 1);
    first = false;
  }
  if (!first) {
    text.push_back('\n');
  }
}

// A part's string `text`. The request's `text` is the last of `text` and `refusal`, so it is the
// part's `text` only when the part has no `refusal`.
void RawWalker::part_text(const ChatContentPart& p) {
  const std::size_t base = members(r_.body.substr(p.begin, p.end - p.begin), true);
  const std::string_view raw = find(base, "text");
  if (is_string(raw)) {
    w_.facts().text += find(base, "refusal").empty() ? p.text : unescape(raw);
  }
  stack_.resize(base);
}

// Walker::messages_rest for one message.
void RawWalker::message_rest(const ChatMessage& m) {
  const std::size_t base = members(r_.body.substr(m.begin, m.end - m.begin), true);
  const std::string_view type = find(base, "type");
  w_.flag_type(is_string(type) ? unescape(type) : std::string_view());
  const std::size_t end = stack_.size();
  for (std::size_t i = base; i < end; ++i) {
    const Member member = stack_[i];
    w_.key(member.key);
    if (member.key == "content") {
      content_rest(m, member.value);
    } else if (member.key == "role" && is_string(member.value)) {
      w_.line(m.role_text);  // the last `role`, as the member kept here
    } else {
      if (member.key == "audio") {
        w_.facts().audio = true;
      }
      value(member.value, 0);
    }
  }
  stack_.resize(base);
}

// Walker::content_rest: the content kept is the last one, as the request's.
void RawWalker::content_rest(const ChatMessage& m, std::string_view raw) {
  if (is_string(raw)) {
    w_.decode_nested(m.text, 0);
    return;
  }
  if (raw.empty() || raw[0] != '[') {
    value(raw, 0);
    return;
  }
  elements(raw, [&](std::string_view part) {
    if (part[0] == '{') {
      const std::size_t base = members(part, true);
      members_of(base, 0, true);
      const std::string_view text = find(base, "text");
      if (is_string(text) && has_backslash(text)) {
        w_.decode_nested(unescape(text), 0);  // without escapes there is nothing to decode
      }
      stack_.resize(base);
    } else if (is_string(part)) {
      w_.decode_nested(unescape(part), 0);
    } else {
      value(part, 0);
    }
  });
}

// walk_body (chat_facts.cc) for a chat request: the top-level members as the DOM keeps them.
void RawWalker::body() {
  index();
  for (const RawMember& m : r_.members) {
    push(0, m.key, r_.body.substr(m.value_begin, m.value_end - m.value_begin));
  }
  transcript();
  const std::size_t end = stack_.size();
  for (std::size_t i = 0; i < end; ++i) {
    const Member m = stack_[i];
    w_.key(m.key);
    if (m.key == "model" && is_string(m.value)) {
      w_.line(r_.model);  // the last `model`, as the member kept here
    } else if (m.key == "messages" && m.value[0] == '[') {
      for (const ChatMessage& message : r_.messages) {
        message_rest(message);
      }
    } else {
      value(m.value, 0);
    }
  }
}

}  // namespace

void collect_chat_facts(const ChatRequest& request, ChatFacts& out) {
  facts_detail::reset(out);
  Walker w(out);
  RawWalker raw(w, request);
  out.depth = request.messages.size();
  raw.body();
  raw.top_flags(out);
  out.json_schema = request.response_format && request.response_format->type == "json_schema";
  const std::optional<std::int64_t> mct = request.max_completion_tokens;
  const std::optional<std::int64_t> mt = request.max_tokens;
  if (mct && *mct >= 0) {
    out.max_tokens = static_cast<std::uint64_t>(*mct);
  } else if (mt && *mt >= 0) {
    out.max_tokens = static_cast<std::uint64_t>(*mt);
  }
  out.reasoning_effort = request.reasoning_effort;
  facts_detail::estimate_chat(out);
  facts_detail::finish(out);
}

}  // namespace sb::adapters
