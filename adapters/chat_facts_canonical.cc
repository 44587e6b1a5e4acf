// collect_chat_facts() from a ChatRequest (adapters/canonical.h): the facts the DOM collector
// (chat_facts.cc) finds, found without a DOM.
//
// Document order matters (the detector scans the text as one document) and the typed request
// keeps neither the order of the members of a message nor the members it does not type. So the
// values are walked over the body's own bytes, through the tape of its tokens the parser recorded
// as it went (ChatRequest::tokens): the body is not scanned again. A member repeated in one object
// is walked as Boost.JSON's DOM keeps it: at its first position, with its last value. What a key, a
// string or a number adds to the facts is the shared Walker's decision. The texts of strings with
// escapes come unescaped from the request.

#include <algorithm>
#include <charconv>
#include <memory_resource>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"
#include "adapters/chat_facts_internal.h"

namespace sb::adapters {
namespace {

using facts_detail::Walker;

constexpr std::size_t kNone = std::size_t(-1);
// Objects of this many members or fewer are merged pair by pair; wider ones by sorting.
constexpr std::size_t kPairwiseKeys = 16;

struct Member {
  std::string_view key;  // unescaped
  std::size_t value;     // token
};

class RawWalker {
 public:
  RawWalker(Walker& w, const ChatRequest& r)
      : w_(w), r_(r), tape_(r.tokens), pool_(buffer_, sizeof buffer_), stack_(&pool_) {
    stack_.reserve(32);
  }

  void body();
  /// Whether an object walked named a key twice.
  bool repeated() const { return repeated_; }

  // `tools` declared: a non-empty `tools` (the request's) or `functions` (as the DOM keeps it).
  bool tools() const {
    const std::size_t fns = find(0, "functions");
    return !r_.tools.empty() || (fns != kNone && first(fns) == '[' && tape_[fns].next > fns + 1);
  }

 private:
  char first(std::size_t t) const { return r_.token_first(t); }
  bool is_string(std::size_t t) const { return t != kNone && first(t) == '"'; }
  // The text of a string token (inline: every key and string is read through it).
  std::string_view text(std::size_t t) const { return r_.token_text(t); }
  std::size_t members(std::size_t t);
  void push(std::size_t base, std::string_view key, std::size_t value);
  void merge_wide(std::size_t base);
  std::size_t find(std::size_t base, std::string_view key) const;
  void value(std::size_t t, int nested);
  void number(std::size_t t);
  void object(std::size_t t, int nested, bool skip_text);
  void members_of(std::size_t base, int nested, bool skip_text);
  bool input_audio(std::size_t t, int nested);
  void transcript(std::size_t messages);
  void part_text(std::size_t part);
  void message_rest(std::size_t message, const ChatMessage& m);
  void content_rest(std::size_t content, const ChatMessage& m);

  Walker& w_;
  const ChatRequest& r_;
  std::span<const ChatToken> tape_;  // every token of the body, in order
  alignas(std::max_align_t) char buffer_[2048];
  std::pmr::monotonic_buffer_resource pool_;
  std::pmr::vector<Member> stack_;  // the members of the objects being walked, innermost last
  bool repeated_ = false;
};

// A member of the object whose members start at `base`: a repeated key keeps its first place and
// takes the new value, as Boost.JSON's DOM builds an object.
void RawWalker::push(std::size_t base, std::string_view key, std::size_t value) {
  // By pointer: the vector's size is a division by the member's size at every step.
  for (Member *m = stack_.data() + base, *end = stack_.data() + stack_.size(); m != end; ++m) {
    if (m->key == key) {
      m->value = value;
      repeated_ = true;
      return;
    }
  }
  stack_.push_back(Member{key, value});
}

// Pushes the members of object token `t` onto the stack; returns where they start. The first
// kPairwiseKeys are merged as they come; a wider object's are merged at the end, by sorting (a
// pass over the object per member would make a body of one wide object cost its square).
std::size_t RawWalker::members(std::size_t t) {
  const std::size_t base = stack_.size();
  std::size_t i = t + 1;
  for (std::size_t n = 0; i < tape_[t].next && n < kPairwiseKeys; ++n) {
    push(base, text(i), i + 1);
    i = tape_[i + 1].next;
  }
  if (i < tape_[t].next) {
    for (; i < tape_[t].next; i = tape_[i + 1].next) {
      stack_.push_back(Member{text(i), i + 1});
    }
    merge_wide(base);
  }
  return base;
}

// push() for the members from `base` at once: each repeated key keeps its first place and takes
// its last value.
void RawWalker::merge_wide(std::size_t base) {
  std::vector<std::size_t> order(stack_.size() - base);
  for (std::size_t k = 0; k < order.size(); ++k) {
    order[k] = base + k;
  }
  // By key, then by place: each run of one key lists its members in order.
  std::sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
    return stack_[a].key != stack_[b].key ? stack_[a].key < stack_[b].key : a < b;
  });
  bool merged = false;
  for (std::size_t k = 0; k < order.size();) {
    std::size_t run = k + 1;
    while (run < order.size() && stack_[order[run]].key == stack_[order[k]].key) {
      ++run;
    }
    if (run > k + 1) {
      stack_[order[k]].value = stack_[order[run - 1]].value;
      for (std::size_t d = k + 1; d < run; ++d) {
        stack_[order[d]].value = kNone;  // dropped below
      }
      merged = true;
    }
    k = run;
  }
  if (merged) {
    repeated_ = true;
    stack_.erase(std::remove_if(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end(),
                                [](const Member& m) { return m.value == kNone; }),
                 stack_.end());
  }
}

// The value token of `key` among the members from `base`, or kNone.
std::size_t RawWalker::find(std::size_t base, std::string_view key) const {
  for (const Member *m = stack_.data() + base, *end = stack_.data() + stack_.size(); m != end;
       ++m) {
    if (m->key == key) {
      return m->value;
    }
  }
  return kNone;
}

// Walker::value over the tape.
void RawWalker::value(std::size_t t, int nested) {
  switch (first(t)) {
    case '"':
      w_.string(text(t), nested, tape_[t].text != 0);
      break;
    case '{':
      object(t, nested, false);
      break;
    case '[':
      for (std::size_t i = t + 1; i < tape_[t].next; i = tape_[i].next) {
        value(i, nested);
      }
      break;
    case 't':
    case 'f':
    case 'n':
      break;
    default:
      number(t);
      break;
  }
}

// A number as Boost.JSON reads it: int64 when it fits, else uint64, else a double (as are
// fractions and exponents), read by Boost.JSON itself so that the digits scanned are the DOM's.
void RawWalker::number(std::size_t t) {
  const std::string_view raw = r_.token_bytes(t);
  const std::size_t dot = raw.find_first_of(".eE");
  const char* end = raw.data() + raw.size();
  if (dot == std::string_view::npos) {
    std::int64_t i = 0;
    if (const auto r = std::from_chars(raw.data(), end, i); r.ec == std::errc() && r.ptr == end) {
      w_.integer(i);
      return;
    }
    std::uint64_t u = 0;
    if (const auto r = std::from_chars(raw.data(), end, u); r.ec == std::errc() && r.ptr == end) {
      w_.integer(u);
      return;
    }
  } else if (raw[dot] == '.' && dot - (raw[0] == '-' ? 1 : 0) < 6 &&
             raw.find_first_of("eE", dot) == std::string_view::npos) {
    return;  // a fraction under 100,000 (temperature, top_p): nothing to scan
  }
  w_.number(facts_detail::json_double(raw));
}

void RawWalker::object(std::size_t t, int nested, bool skip_text) {
  const std::size_t base = members(t);
  members_of(base, nested, skip_text);
  stack_.resize(base);
}

// Walker::object over the members from `base`.
void RawWalker::members_of(std::size_t base, int nested, bool skip_text) {
  const std::size_t type_token = find(base, "type");
  const std::string_view type = is_string(type_token) ? text(type_token) : std::string_view();
  w_.flag_type(type);
  const bool base64_source = type == "base64";
  const std::size_t end = stack_.size();
  for (std::size_t i = base; i < end; ++i) {
    const Member m = stack_[i];  // a copy: the walk below pushes onto the stack
    const bool string = is_string(m.value);
    if (skip_text && string && m.key == "text") {
      continue;
    }
    w_.key(m.key);
    if (string && (m.key == "file_data" || (m.key == "data" && base64_source))) {
      const std::size_t media = find(base, "media_type");
      w_.flag_media(is_string(media) ? text(media) : std::string_view());
      continue;
    }
    if (m.key == "input_audio" && first(m.value) == '{' && input_audio(m.value, nested)) {
      continue;
    }
    if (string && m.key == "file_id") {
      w_.facts().files = true;
    }
    value(m.value, nested);
  }
}

// {data: base64, format}: the format is text, the data is not. False without `data`.
bool RawWalker::input_audio(std::size_t t, int nested) {
  const std::size_t base = members(t);
  const bool data = find(base, "data") != kNone;
  if (data) {
    w_.facts().audio = true;
    for (std::size_t i = base; i < stack_.size(); ++i) {
      const Member a = stack_[i];
      w_.key(a.key);
      if (a.key != "data" || !is_string(a.value)) {  // base64 is not read; anything else is
        value(a.value, nested);
      }
    }
  }
  stack_.resize(base);
  return data;
}

// The conversation as the model reads it (Walker::transcript): the texts come from the request,
// whose messages are the elements of token `messages`, in order.
void RawWalker::transcript(std::size_t messages) {
  bool first = true;
  std::size_t index = 0;
  for (std::size_t t = messages + 1; t < tape_[messages].next && index < r_.messages.size();
       t = tape_[t].next) {
    const ChatMessage& m = r_.messages[index++];
    if (m.content_kind == ChatMessage::Content::absent) {
      continue;
    }
    const std::size_t before = w_.text_size();
    if (!first) {
      w_.push(' ');
    }
    if (m.content_kind == ChatMessage::Content::text) {
      w_.append(m.text);
    } else if (m.content_kind == ChatMessage::Content::parts) {
      const std::size_t base = members(t);
      const std::size_t content = find(base, "content");
      std::size_t part = content + 1;
      for (std::size_t k = 0; k < m.parts.size(); ++k) {
        part_text(part);
        part = tape_[part].next;
      }
      stack_.resize(base);
    }
    if (w_.text_size() == before + (first ? 0 : 1)) {
      w_.truncate(before);  // nothing read: no separator either
      continue;
    }
    w_.facts().text_bytes += w_.text_size() - before - (first ? 0 : 1);
    first = false;
  }
  if (!first) {
    w_.push('\n');
  }
}

// A part's string `text` (of any part: a refusal part's too, whose typed `text` is its refusal).
void RawWalker::part_text(std::size_t part) {
  const std::size_t base = members(part);
  const std::size_t t = find(base, "text");
  if (is_string(t)) {
    w_.append(text(t));
  }
  stack_.resize(base);
}

// Walker::messages_rest for one message.
void RawWalker::message_rest(std::size_t message, const ChatMessage& m) {
  const std::size_t base = members(message);
  const std::size_t type = find(base, "type");
  w_.flag_type(is_string(type) ? text(type) : std::string_view());
  const std::size_t end = stack_.size();
  for (std::size_t i = base; i < end; ++i) {
    const Member member = stack_[i];
    w_.key(member.key);
    if (member.key == "content") {
      content_rest(member.value, m);
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
void RawWalker::content_rest(std::size_t content, const ChatMessage& m) {
  if (is_string(content)) {
    w_.nested_text(m.text, 0, tape_[content].text != 0);
    return;
  }
  if (first(content) != '[') {
    value(content, 0);
    return;
  }
  for (std::size_t part = content + 1; part < tape_[content].next; part = tape_[part].next) {
    if (first(part) == '{') {
      const std::size_t base = members(part);
      members_of(base, 0, true);
      const std::size_t t = find(base, "text");
      if (is_string(t)) {
        w_.nested_text(text(t), 0, tape_[t].text != 0);
      }
      stack_.resize(base);
    } else if (is_string(part)) {
      w_.nested_text(text(part), 0, tape_[part].text != 0);
    } else {
      value(part, 0);
    }
  }
}

// walk_body (chat_facts.cc) for a chat request: the top-level members as the DOM keeps them.
void RawWalker::body() {
  members(0);  // stays on the stack: the top level
  const std::size_t messages = find(0, "messages");
  if (messages != kNone && first(messages) == '[') {
    transcript(messages);
  }
  const std::size_t end = stack_.size();
  for (std::size_t i = 0; i < end; ++i) {
    const Member m = stack_[i];
    w_.key(m.key);
    if (m.key == "model" && is_string(m.value)) {
      w_.line(r_.model);  // the last `model`, as the member kept here
    } else if (m.key == "messages" && first(m.value) == '[') {
      std::size_t index = 0;
      for (std::size_t t = m.value + 1; t < tape_[m.value].next && index < r_.messages.size();
           t = tape_[t].next) {
        message_rest(t, r_.messages[index++]);
      }
    } else {
      value(m.value, 0);
    }
  }
}

}  // namespace

void collect_chat_facts(const ChatRequest& request, ChatFacts& out, bool* repeated) {
  Walker w(out);
  // The text holds the body's strings and keys one per line, without their quotes: at most about
  // the body's size, so one allocation for a conversation. Bounded, since base64 payloads (most
  // of a large body, often) are not scanned and would hold memory no text uses.
  constexpr std::size_t kMaxReserve = 256 * 1024;
  w.reserve(std::min(request.body.size(), kMaxReserve) + 64);
  RawWalker raw(w, request);
  out.depth = request.messages.size();
  raw.body();
  out.tools = raw.tools();
  out.json_schema = request.response_format && request.response_format->type == "json_schema";
  const std::optional<std::int64_t> mct = request.max_completion_tokens;
  const std::optional<std::int64_t> mt = request.max_tokens;
  if (mct && *mct >= 0) {
    out.max_tokens = static_cast<std::uint64_t>(*mct);
  } else if (mt && *mt >= 0) {
    out.max_tokens = static_cast<std::uint64_t>(*mt);
  }
  out.choices = request.n && *request.n > 1 ? static_cast<std::uint64_t>(*request.n) : 1;
  out.reasoning_effort = request.reasoning_effort;
  facts_detail::estimate_chat(out);
  facts_detail::finish(w);
  if (repeated != nullptr) {
    *repeated = raw.repeated();
  }
}

}  // namespace sb::adapters
