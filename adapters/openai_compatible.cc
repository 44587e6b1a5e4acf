#include "adapters/openai_compatible.h"

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/engines.h"
#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/text_find.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using upstream::Splice;

constexpr std::size_t npos = std::string_view::npos;
constexpr std::string_view kIncludeUsage = R"({"include_usage":true})";

/// A top-level member the translator owns: its new raw value and the last occurrence (the one a
/// parser keeps) in the client's body.
struct Owned {
  std::string_view key;
  std::string_view value;
  std::size_t last = npos;
};

/// `model` as a JSON string: a thread's requests name the same few models, so the last one's
/// quoted form is kept (no escape pass and no allocation per request).
std::string_view quoted_model(std::string_view model) {
  thread_local std::string plain;
  thread_local std::string quoted = quote("");
  if (model != plain) {
    plain.assign(model);
    quoted = quote(model);
  }
  return quoted;
}

Owned* owner_of(std::span<Owned> owned, std::string_view key) {
  for (Owned& o : owned) {
    if (o.key == key) {
      return &o;
    }
  }
  return nullptr;
}

/// Appends the members of `body` from the first to the last, each as rewrite_members says, with
/// the separators between kept ones; whether any was kept.
bool append_members(Splice& out, std::span<const JsonMember> members, std::span<Owned> owned,
                    std::span<const MemberEdit> quirks, std::span<const char> superseded) {
  bool any_kept = false;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const JsonMember& m = members[k];
    const Owned* o = owner_of(owned, m.key);
    if ((o != nullptr && o->last != k) || (!superseded.empty() && superseded[k] != 0)) {
      continue;  // an earlier duplicate
    }
    const MemberEdit quirk = quirks.empty() ? MemberEdit::keep : quirks[k];
    if (quirk == MemberEdit::drop) {
      continue;
    }
    if (any_kept) {
      const std::size_t sep = members[k - 1].value_end;
      out.keep(sep, m.begin - sep);
    }
    any_kept = true;
    if (o != nullptr) {
      out.keep(m.begin, m.value_begin - m.begin);
      out.add(o->value);
    } else if (quirk == MemberEdit::rename_to_max_tokens) {
      out.add("\"max_tokens\":");
      out.keep(m.value_begin, m.value_end - m.value_begin);
    } else {
      out.keep(m.begin, m.value_end - m.begin);
    }
  }
  return any_kept;
}

/// Rewrites the owned members of `body` in one pass over its original bytes: the last occurrence
/// of each owned key gets the new value in place, earlier duplicates are dropped (so an upstream
/// that keeps the first duplicate cannot see the client's value), absent ones are appended after
/// the last member. Every other byte is kept, as a range of `body` (not copied).
/// `members` is the scan of `body`; `quirks` (empty, or one edit per member) the engine's edits;
/// `superseded` (empty, or mark_superseded's marks) the earlier duplicates of any key, dropped.
Splice rewrite_members(std::string_view body, std::span<const JsonMember> members,
                       std::span<Owned> owned, std::span<const MemberEdit> quirks,
                       std::span<const char> superseded) {
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (Owned* o = owner_of(owned, members[k].key)) {
      o->last = k;
    }
  }
  Splice out;
  std::size_t tail = 0;  // where the bytes after the last member start
  bool any_kept = false;
  if (members.empty()) {
    tail = body.rfind('}');
    out.keep(0, tail);
  } else {
    out.keep(0, members.front().begin);
    any_kept = append_members(out, members, owned, quirks, superseded);
    tail = members.back().value_end;
  }
  for (const Owned& o : owned) {
    if (o.last != npos) {
      continue;
    }
    if (any_kept) {
      out.add(",");
    }
    any_kept = true;
    out.add(quote(o.key));
    out.add(":");
    out.add(o.value);
  }
  out.keep(tail, body.size() - tail);
  return out;
}

/// Fallback when the body text cannot be spliced (never expected for a body Boost.JSON
/// accepted): the same edits on a copy of the parsed object, re-serialized.
std::string rewrite_dom(const json::object& parsed, std::string_view upstream_model, bool stream) {
  json::object copy = parsed;
  copy["model"] = upstream_model;
  if (stream) {
    json::value& so = copy["stream_options"];
    if (json::object* obj = so.if_object()) {
      (*obj)["include_usage"] = true;
    } else {
      so = json::object{{"include_usage", true}};
    }
  }
  return json::serialize(copy);
}

/// True for `[]`, whitespace inside allowed.
bool is_empty_array(std::string_view value) {
  if (value.size() < 2 || value.front() != '[' || value.back() != ']') {
    return false;
  }
  for (const char c : value.substr(1, value.size() - 2)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      return false;
    }
  }
  return true;
}

/// The plan from what both readings of a body give: whether it streams, whether its
/// stream_options is an object, whether the client wants usage, and the scan of its top-level
/// members. nullopt when the client's stream_options cannot be edited (never expected).
std::optional<ChatRequestPlan> plan_from_members(std::string_view client_body,
                                                 std::span<const JsonMember> members, bool stream,
                                                 bool so_object, bool wants_usage,
                                                 std::string_view upstream_model,
                                                 const EngineProfile* engine,
                                                 std::span<const char> superseded) {
  ChatRequestPlan plan;
  plan.stream = stream;
  plan.client_wants_usage = wants_usage;
  std::array<Owned, 2> owned{Owned{"model", quoted_model(upstream_model)},
                             Owned{"stream_options", kIncludeUsage}};
  std::size_t owned_count = 1;
  std::string so_value;  // the client's stream_options with include_usage set
  if (plan.stream) {
    owned_count = 2;
    if (so_object) {
      // Keep the client's other stream_options members byte for byte; only force include_usage.
      const JsonMember* so = last_of(members, "stream_options");
      so_value.assign(so != nullptr ? raw_value(client_body, *so) : kIncludeUsage);
      if (!set_member(so_value, "include_usage", "true")) {
        return std::nullopt;
      }
      owned[1].value = so_value;
    }
  }
  thread_local std::vector<MemberEdit> quirks;
  const bool quirky =
      engine != nullptr && engine_member_edits(*engine, client_body, members, plan.stream, quirks);
  plan.body = rewrite_members(
      client_body, members, std::span<Owned>(owned.data(), owned_count),
      quirky ? std::span<const MemberEdit>(quirks) : std::span<const MemberEdit>(), superseded);
  return plan;
}

}  // namespace

ChatRequestPlan plan_chat_request(std::string_view client_body, const json::object& parsed,
                                  std::string_view upstream_model, const EngineProfile* engine) {
  const bool stream = is_true(parsed.if_contains("stream"));
  const json::value* so = parsed.if_contains("stream_options");
  // One scan of the client's top level serves every edit: the owned members, the engine's
  // quirks, and the client's stream_options kept byte for byte.
  thread_local std::vector<JsonMember> members;
  thread_local std::vector<char> superseded;
  std::optional<ChatRequestPlan> plan;
  if (scan_object(client_body, members)) {
    // The upstream reads each key once, as the gateway did: the last occurrence.
    const bool repeats = mark_superseded(members, superseded);
    plan = plan_from_members(client_body, members, stream, so != nullptr && so->is_object(),
                             asks_for_usage(parsed), upstream_model, engine,
                             repeats ? std::span<const char>(superseded) : std::span<const char>());
  }
  if (!plan) {
    // Never expected for a body Boost.JSON accepted: the same edits on the parsed object.
    plan.emplace();
    plan->stream = stream;
    plan->client_wants_usage = asks_for_usage(parsed);
    std::string text = rewrite_dom(parsed, upstream_model, stream);
    if (engine != nullptr) {
      text = adapt_chat_body(*engine, std::move(text), stream);
    }
    plan->body.add(text);
  }
  return std::move(*plan);
}

std::optional<ChatRequestPlan> plan_chat_request(std::string_view client_body,
                                                 const ChatRequest& typed,
                                                 std::string_view upstream_model,
                                                 const EngineProfile* engine) {
  // The parse gave the members: no second scan. Its typed values are the last occurrence's, as
  // a DOM's, but a null that follows a value is not told apart: with a duplicate top-level key
  // the DOM decides.
  thread_local std::vector<JsonMember> members;
  members.clear();
  for (const RawMember& m : typed.members) {
    members.push_back(JsonMember{std::string(m.key), m.key_begin, m.value_begin, m.value_end});
  }
  thread_local std::vector<char> superseded;
  if (mark_superseded(members, superseded)) {
    return std::nullopt;
  }
  const JsonMember* so = last_of(members, "stream_options");
  const bool so_object = so != nullptr && client_body[so->value_begin] == '{';
  return plan_from_members(client_body, members, typed.stream.value_or(false), so_object,
                           so_object && typed.include_usage.value_or(false), upstream_model, engine,
                           {});
}

bool asks_for_usage(const json::object& body) {
  const json::value* so = body.if_contains("stream_options");
  const json::object* so_obj = so != nullptr ? so->if_object() : nullptr;
  return so_obj != nullptr && is_true(so_obj->if_contains("include_usage"));
}

void ChatStreamRelay::feed(std::string_view upstream_bytes, std::string& out) {
  // Whole events in the canonical form (`data: {...}\n\n`, as OpenAI and the engines send them)
  // that need no reading go out as the upstream's bytes: no event is built or framed again.
  std::size_t size = 0;
  while (!saw_error_) {
    const std::optional<std::string_view> data = parser_.canonical_event(upstream_bytes, size);
    if (!data || !relay_raw(*data, upstream_bytes.substr(0, size), out)) {
      break;
    }
    upstream_bytes.remove_prefix(size);
  }
  scratch_.clear();
  parser_.feed(upstream_bytes, scratch_);
  for (SseEvent& ev : scratch_) {
    if (saw_error_) {
      break;  // an error event ends the stream: nothing after it is the answer
    }
    relay(ev, out);
  }
}

namespace {

constexpr std::string_view kNullUsageTail = R"(,"usage":null})";

/// Where `"usage"` stands in a chunk's data (npos when nowhere), or nullopt when the chunk needs
/// reading: it holds `"error"`, a `\u` escape (which could spell either key), or `"usage"` twice.
/// Only the places find_key_mark finds are looked at.
std::optional<std::size_t> plain_usage_at(std::string_view data) {
  std::size_t usage = npos;
  for (std::size_t i = find_key_mark(data); i != npos; i = find_key_mark(data, i + 1)) {
    const std::string_view rest = data.substr(i);
    if (data[i] == '\\' || rest.starts_with(R"("error")")) {
      return std::nullopt;
    }
    if (rest.starts_with(R"("usage")")) {
      if (usage != npos) {
        return std::nullopt;
      }
      usage = i;
    }
  }
  return usage;
}

}  // namespace

// Most chunks need no reading: one with no `"error"`, no `"usage"` and no `\u` escape has
// neither member, and one whose only `"usage"` ends it as `,"usage":null}` (the chunk OpenAI and
// the engines send while include_usage is on, which the gateway asks for) has a null usage as the
// top level's last member: only one brace follows it. A quote inside a JSON string is escaped, so
// no needle matches inside one.
ChatStreamRelay::Plain ChatStreamRelay::plain(std::string_view data) const {
  if (!data.starts_with('{')) {
    return Plain::no;
  }
  const std::optional<std::size_t> usage = plain_usage_at(data);
  if (!usage) {
    return Plain::no;
  }
  if (*usage == std::string_view::npos) {
    return Plain::as_is;
  }
  if (!data.ends_with(kNullUsageTail) || *usage != data.size() - kNullUsageTail.size() + 1) {
    return Plain::no;
  }
  return client_wants_usage_ ? Plain::as_is : Plain::without_usage;
}

bool ChatStreamRelay::relay_plain(SseEvent& ev, std::string& out) {
  if (!ev.event.empty()) {
    return false;
  }
  switch (plain(ev.data)) {
    case Plain::no:
      return false;
    case Plain::without_usage:
      ev.data.resize(ev.data.size() - kNullUsageTail.size());
      ev.data.push_back('}');
      break;
    case Plain::as_is:
      break;
  }
  append_sse(out, ev.data);
  ++events_;
  return true;
}

bool ChatStreamRelay::relay_raw(std::string_view data, std::string_view raw, std::string& out) {
  if (data == "[DONE]") {
    saw_done_ = true;
  } else {
    switch (plain(data)) {
      case Plain::no:
        return false;
      case Plain::without_usage:
        out.append("data: ");
        out.append(data.substr(0, data.size() - kNullUsageTail.size()));
        out.append("}\n\n");
        ++events_;
        return true;
      case Plain::as_is:
        break;
    }
  }
  out.append(raw);  // `data: X\n\n`, what append_sse(out, X) writes
  ++events_;
  return true;
}

void ChatStreamRelay::relay(SseEvent& ev, std::string& out) {
  if (ev.data == "[DONE]") {
    saw_done_ = true;
    append_sse(out, ev.data, ev.event);
    ++events_;
    return;
  }
  if (relay_plain(ev, out)) {
    return;
  }
  if (ev.event == "error") {
    saw_error_ = true;
  }
  // Upstreams differ; anything that is not a JSON object is relayed untouched.
  if (!scan_object(ev.data, members_)) {
    append_sse(out, ev.data, ev.event);
    ++events_;
    return;
  }
  const std::string_view data = ev.data;
  std::string_view usage;    // value of the last "usage" member, null or not
  std::string_view choices;  // value of the last "choices" member
  bool has_error = false;
  for (const JsonMember& m : members_) {
    const std::string_view value = raw_value(data, m);
    if (m.key == "usage") {
      usage = value;
    } else if (m.key == "choices") {
      choices = value;
    } else if (m.key == "error" && value != "null") {
      has_error = true;
    }
  }
  saw_error_ = saw_error_ || has_error;
  const bool has_usage = !usage.empty() && usage != "null";
  if (has_usage) {
    // Only the usage value is read, in one SAX pass: no DOM per chunk.
    if (auto u = usage_from_openai_usage_text(usage)) {
      usage_ = *u;
    }
  }
  if (!client_wants_usage_ && !usage.empty()) {
    if (has_usage && !has_error && (choices.empty() || is_empty_array(choices))) {
      return;  // the usage-only chunk the client did not ask for
    }
    // OpenAI sends "usage" on chunks only when include_usage was asked for; without it the
    // member is absent. Some engines also put usage on content chunks: strip that too.
    remove_member(ev.data, "usage", members_);  // members_ is the scan of ev.data
  }
  append_sse(out, ev.data, ev.event);
  ++events_;
}

TranslateError oversized_stream_event(std::string& out) {
  // An upstream that never ends its line or event is cut off at SseParser's limit.
  static constexpr std::string_view kMessage = "upstream stream event larger than 1 MiB";
  append_sse(out, error_body(kMessage, "api_error", "upstream_stream_interrupted"));
  return TranslateError{502, std::string(kMessage)};
}

bool OpenAIStreamTranslator::feed(std::string_view bytes, std::string& out) {
  relay_.feed(bytes, out);
  return relayed(relay_.overflowed(), out);
}

bool OpenAIStreamTranslator::relayed(bool overflowed, std::string& out) {
  if (relay_.saw_error()) {
    // The upstream ended its answer with an error event (relayed as it came): the stream is over.
    error_ = TranslateError{502, std::string(error_event_)};
    return false;
  }
  if (overflowed) {
    error_ = oversized_stream_event(out);
    return false;
  }
  return true;
}

bool OpenAIStreamTranslator::finish(std::string& /*out*/) {
  if (error_) {
    return false;
  }
  if (!relay_.saw_done()) {
    error_ = TranslateError{502, std::string(cut_short_)};
    return false;
  }
  return true;
}

}  // namespace sb::adapters
