// libFuzzer target: the one-pass chat-completions parser (adapters/canonical.h).
//
// Oracles: it never crashes (ASan, UBSan); it accepts exactly the JSON objects Boost.JSON's DOM
// parser accepts at the gateway's depth limit; where the gateway's checks on that DOM refuse a body
// it refuses it with the same words, and where they accept it, it refuses only a member of the
// wrong type; it reads the same model, stream and message count as the DOM; every recorded range
// lies inside the body, the top-level ranges are the ones the structural scanner
// (adapters/json_edit.h) finds, every view points into the body or the arena, and parsing the same
// bytes again gives the same request (compared as a dump of every field).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/json_edit.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

using sb::adapters::ChatPartMedia;
using sb::adapters::ChatRequest;
using sb::fuzz::check;

// Appends every field of `r` to `out`, checking each view and range on the way.
class Dump {
 public:
  explicit Dump(const ChatRequest& r) : r_(r) {}

  void s(std::string_view v) {
    check(r_.holds(v));
    out += v;
    out += '\x1f';
  }
  template <class T>
  void o(const std::optional<T>& v) {
    out += v ? std::to_string(*v) : "-";
    out += '\x1f';
  }
  void n(std::size_t v) { o(std::optional<std::size_t>(v)); }
  void range(std::size_t begin, std::size_t end) {
    check(begin <= end && end <= r_.body.size());
    n(begin);
    n(end);
  }
  void member(const sb::adapters::RawMember& m) {
    s(m.key);
    check(m.key_begin < m.value_begin);
    range(m.value_begin, m.value_end);
  }

  std::string out;

 private:
  const ChatRequest& r_;
};

void dump_message(Dump& d, const sb::adapters::ChatMessage& m) {
  d.n(static_cast<std::size_t>(m.role));
  d.s(m.role_text);
  d.s(m.name);
  d.n(static_cast<std::size_t>(m.content_kind));
  d.s(m.text);
  for (const auto& p : m.parts) {
    d.n(static_cast<std::size_t>(p.kind));
    const ChatPartMedia& m = p.media();
    for (std::string_view v : {p.type, p.text, m.url, m.detail, m.media_type, m.data, m.format,
                               m.file_id, m.filename, m.file_data}) {
      d.s(v);
    }
    d.range(p.begin, p.end);
  }
  for (const auto& c : m.tool_calls) {
    for (std::string_view v : {c.id, c.type, c.name, c.arguments}) {
      d.s(v);
    }
    d.range(c.begin, c.end);
  }
  d.s(m.tool_call_id);
  for (const auto& u : m.unknown) {
    d.member(u);
  }
  d.range(m.begin, m.end);
}

std::string dump(const ChatRequest& r) {
  Dump d(r);
  d.s(r.model);
  d.o(r.stream), d.o(r.include_usage), d.o(r.max_completion_tokens), d.o(r.max_tokens);
  d.o(r.temperature), d.o(r.top_p), d.o(r.n), d.o(r.seed), d.o(r.presence_penalty);
  d.o(r.frequency_penalty), d.o(r.parallel_tool_calls);
  for (std::string_view v : r.stop) {
    d.s(v);
  }
  if (r.response_format) {
    d.s(r.response_format->type);
    d.s(r.response_format->json_schema);
  }
  d.s(r.reasoning_effort);
  d.s(r.user);
  for (const auto& t : r.tools) {
    for (std::string_view v : {t.type, t.name, t.description, t.parameters}) {
      d.s(v);
    }
    d.o(t.strict);
    d.range(t.begin, t.end);
  }
  if (r.tool_choice) {
    d.n(static_cast<std::size_t>(r.tool_choice->kind));
    d.s(r.tool_choice->type);
    d.s(r.tool_choice->name);
    d.s(r.tool_choice->raw);
  }
  for (const auto& m : r.messages) {
    dump_message(d, m);
  }
  for (const auto& m : r.members) {
    d.member(m);
  }
  for (const auto& m : r.unknown) {
    d.member(m);
  }
  return std::move(d.out);
}

std::optional<boost::json::value> dom_of(std::string_view bytes) {
  boost::json::parse_options opts;
  opts.max_depth = 128;  // as the data plane parses bodies
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec, {}, opts);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  return v;
}

// The gateway's checks on its DOM (gateway/pipeline/chat.cc, ChatHandler::parse), in its order;
// empty when they pass.
std::string_view gateway_refusal(const boost::json::object& body) {
  const boost::json::value* model = body.if_contains("model");
  if (model == nullptr || !model->is_string() || model->as_string().empty()) {
    return "you must provide a model parameter";
  }
  const boost::json::value* messages = body.if_contains("messages");
  if (messages == nullptr) {
    return "Missing required parameter: 'messages'.";
  }
  if (!messages->is_array()) {
    return "Invalid type for 'messages': expected an array.";
  }
  const boost::json::value* stream = body.if_contains("stream");
  if (stream != nullptr && !stream->is_bool() && !stream->is_null()) {
    return "Invalid type for 'stream': expected a boolean.";
  }
  return {};
}

// The typed request agrees with the DOM on what both read.
void agree(const ChatRequest& r, const boost::json::object& body) {
  check(r.model == std::string_view(body.at("model").as_string()));
  check(r.messages.size() == body.at("messages").as_array().size());
  const boost::json::value* stream = body.if_contains("stream");
  check(r.stream ==
        (stream != nullptr && stream->is_bool() ? std::optional(stream->as_bool()) : std::nullopt));
  check(r.members.size() >= body.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy of exactly `size` bytes, so reading past the body is an ASan report.
  const std::string owned(reinterpret_cast<const char*>(data), size);
  const std::string_view body(owned);
  const auto first = sb::adapters::parse_chat_request(body);
  const std::optional<boost::json::value> dom = dom_of(body);
  const bool json_ok = first.ok() || !first.error().message.starts_with("We could not parse");
  check(json_ok == dom.has_value());
  if (dom) {
    // Where the gateway refuses, the same words; where it accepts, this parser may refuse only a
    // member of the wrong type.
    const std::string_view refusal = gateway_refusal(dom->get_object());
    check(refusal.empty() ? first.ok() || first.error().message.starts_with("Invalid type for '")
                          : !first.ok() && first.error().message == refusal);
  }
  if (!first.ok()) {
    check(first.error().offset <= body.size() && !first.error().message.empty());
    return 0;
  }
  agree(first.value(), dom->get_object());
  const std::string a = dump(first.value());
  const auto again = sb::adapters::parse_chat_request(body);
  check(again.ok() && dump(again.value()) == a);

  const auto scanned = sb::adapters::scan_object(body);
  check(scanned && scanned->size() == first->members.size());
  for (std::size_t i = 0; i < scanned->size(); ++i) {
    const auto& want = (*scanned)[i];
    const auto& got = first->members[i];
    check(want.key == got.key && want.begin == got.key_begin &&
          want.value_begin == got.value_begin && want.value_end == got.value_end);
  }
  return 0;
}
