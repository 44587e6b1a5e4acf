// Anthropic's Messages API, POST .../messages and .../messages/count_tokens, as
// api.anthropic.com sends it (https://docs.anthropic.com/en/api/messages, .../messages-streaming,
// .../messages-count-tokens, .../errors, .../extended-thinking). System turns inside `messages`
// are accepted; `thinking` enabled or adaptive starts the answer with a signed thinking block.
#include <boost/json/parse.hpp>

#include <optional>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

std::string event(std::string_view name, std::string_view data) {
  std::string e = "event: ";
  e += name;
  e += "\ndata: ";
  e += data;
  e += "\n\n";
  return e;
}

std::string request_id_header(std::uint64_t serial) {
  return "request-id: " + vendor_id("req_011C", serial, 20) + "\r\n";
}

/// The usage object; `cached` < 0 leaves the cache counters out (older API versions).
json::object usage_object(std::int64_t input, std::int64_t output, std::int64_t cached,
                          bool service_tier) {
  json::object u;
  u["input_tokens"] = input;
  if (cached >= 0) {
    u["cache_creation_input_tokens"] = 0;
    u["cache_read_input_tokens"] = cached;
  }
  u["output_tokens"] = output;
  if (service_tier) {
    u["service_tier"] = "standard";
  }
  return u;
}

std::string_view stop_reason_of(const Turn& t) {
  return t.tool_call ? "tool_use" : t.truncated ? "max_tokens" : "end_turn";
}

/// A thinking block the answer starts with (requests with thinking enabled or adaptive).
struct Thinking {
  std::string text;
  std::vector<std::string> pieces;
  std::string signature;
};

json::object thinking_block(const Thinking& th, bool empty) {
  return json::object{{"type", "thinking"},
                      {"thinking", empty ? std::string_view() : std::string_view(th.text)},
                      {"signature", empty ? std::string_view() : std::string_view(th.signature)}};
}

std::string message_body(std::string_view model, const Turn& t, const Usage& usage,
                         std::string_view id, std::string_view tool_id,
                         std::string_view stop_reason, bool service_tier,
                         const Thinking* thinking = nullptr) {
  json::array content;
  if (thinking != nullptr) {
    content.push_back(thinking_block(*thinking, false));
  }
  if (t.tool_call) {
    json::value input = json::parse(t.arguments_json);
    content.push_back(json::object{
        {"type", "tool_use"}, {"id", tool_id}, {"name", t.tool_name}, {"input", input}});
  } else {
    content.push_back(json::object{{"type", "text"}, {"text", t.text}});
  }
  json::object body;
  body["id"] = id;
  body["type"] = "message";
  body["role"] = "assistant";
  body["model"] = model;
  body["content"] = std::move(content);
  body["stop_reason"] = stop_reason;
  body["stop_sequence"] = nullptr;
  body["usage"] = usage_object(usage.prompt, usage.completion, usage.cached, service_tier);
  return to_json(body, JsonStyle::compact);
}

/// The thinking block's events: start, one thinking_delta per piece, the signature, stop.
void thinking_events(std::vector<std::string>& events, const Thinking& th) {
  events.push_back(event("content_block_start",
                         to_json(json::object{{"type", "content_block_start"},
                                              {"index", 0},
                                              {"content_block", thinking_block(th, true)}},
                                 JsonStyle::compact)));
  events.push_back(event("ping", "{\"type\": \"ping\"}"));
  auto delta = [&](json::object d) {
    events.push_back(event(
        "content_block_delta",
        to_json(
            json::object{{"type", "content_block_delta"}, {"index", 0}, {"delta", std::move(d)}},
            JsonStyle::compact)));
  };
  for (const auto& piece : th.pieces) {
    delta({{"type", "thinking_delta"}, {"thinking", piece}});
  }
  delta({{"type", "signature_delta"}, {"signature", th.signature}});
  events.push_back(event("content_block_stop", R"({"type":"content_block_stop","index":0})"));
}

std::vector<std::string> stream(std::string_view model, const Turn& t, const Usage& usage,
                                std::string_view id, std::string_view tool_id,
                                std::string_view stop_reason, bool service_tier,
                                const Thinking* thinking = nullptr) {
  std::vector<std::string> events;
  json::object message;
  message["model"] = model;
  message["id"] = id;
  message["type"] = "message";
  message["role"] = "assistant";
  message["content"] = json::array{};
  message["stop_reason"] = nullptr;
  message["stop_sequence"] = nullptr;
  // The first event counts one output token, as the real stream does.
  message["usage"] = usage_object(usage.prompt, 1, usage.cached, service_tier);
  events.push_back(event(
      "message_start",
      to_json(json::object{{"type", "message_start"}, {"message", message}}, JsonStyle::compact)));
  json::object block;
  if (t.tool_call) {
    block = {
        {"type", "tool_use"}, {"id", tool_id}, {"name", t.tool_name}, {"input", json::object{}}};
  } else {
    block = {{"type", "text"}, {"text", ""}};
  }
  // The answer's block follows the thinking block when there is one; ping follows the first.
  const int index = thinking != nullptr ? 1 : 0;
  if (thinking != nullptr) {
    thinking_events(events, *thinking);
  }
  events.push_back(event(
      "content_block_start",
      to_json(
          json::object{{"type", "content_block_start"}, {"index", index}, {"content_block", block}},
          JsonStyle::compact)));
  if (thinking == nullptr) {
    events.push_back(event("ping", "{\"type\": \"ping\"}"));
  }
  auto delta = [&](json::object d) {
    events.push_back(
        event("content_block_delta", to_json(json::object{{"type", "content_block_delta"},
                                                          {"index", index},
                                                          {"delta", std::move(d)}},
                                             JsonStyle::compact)));
  };
  if (t.tool_call) {
    delta({{"type", "input_json_delta"}, {"partial_json", ""}});
    for (const auto& fragment : split_arguments(t.arguments_json)) {
      delta({{"type", "input_json_delta"}, {"partial_json", fragment}});
    }
  } else {
    for (const auto& piece : t.pieces) {
      delta({{"type", "text_delta"}, {"text", piece}});
    }
  }
  events.push_back(event(
      "content_block_stop",
      to_json(json::object{{"type", "content_block_stop"}, {"index", index}}, JsonStyle::compact)));
  json::object message_delta{
      {"type", "message_delta"},
      {"delta", json::object{{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
      {"usage", json::object{{"output_tokens", usage.completion}}}};
  events.push_back(event("message_delta", to_json(message_delta, JsonStyle::compact)));
  events.push_back(event("message_stop", R"({"type":"message_stop"})"));
  return events;
}

std::string error_json(std::string_view type, std::string_view message) {
  return to_json(json::object{{"type", "error"},
                              {"error", json::object{{"type", type}, {"message", message}}}},
                 JsonStyle::compact);
}

WireReply error_reply(unsigned status, std::string_view type, std::string_view message,
                      const WireContext& c) {
  std::string headers = request_id_header(c.serial);
  if (status == 429) {
    headers += "retry-after: 1\r\n";
  }
  return json_reply(status, error_json(type, message), std::move(headers));
}

/// Text of a content value: a string, or its "text" blocks (tool results: their content).
std::string blocks_text(const json::value& content, bool& has_tool_result) {
  if (const auto* s = content.if_string()) {
    return std::string(*s);
  }
  std::string text;
  std::string results;
  if (const auto* blocks = content.if_array()) {
    for (const auto& block : *blocks) {
      const auto* o = block.if_object();
      if (o == nullptr) {
        continue;
      }
      const auto* type = o->if_contains("type");
      if (type == nullptr || !type->is_string()) {
        continue;
      }
      if (type->get_string() == "text") {
        if (const auto* t = o->if_contains("text"); t != nullptr && t->is_string()) {
          text += std::string_view(t->get_string());
        }
      } else if (type->get_string() == "tool_result") {
        has_tool_result = true;
        if (const auto* inner = o->if_contains("content")) {
          results += tool_result_text(*inner);
        }
      }
    }
  }
  return has_tool_result ? results : text;
}

/// Reads a content block list's thinking blocks: each must carry its signature, as the API
/// checks before it verifies them. An error message, or empty.
std::string check_thinking_blocks(const json::value& content, std::size_t i) {
  const auto* blocks = content.if_array();
  if (blocks == nullptr) {
    return {};
  }
  for (std::size_t k = 0; k < blocks->size(); ++k) {
    const auto* o = (*blocks)[k].if_object();
    const auto* type = o != nullptr ? o->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string() || type->get_string() != "thinking") {
      continue;
    }
    const auto* signature = o->if_contains("signature");
    if (signature == nullptr || !signature->is_string() || signature->get_string().empty()) {
      return "messages." + std::to_string(i) + ".content." + std::to_string(k) +
             ".thinking.signature: Field required";
    }
  }
  return {};
}

struct MessagesRead {
  Dialogue dialogue;
  std::optional<WireReply> error;
  bool thinking = false;  ///< the answer starts with a thinking block
};

MessagesRead read_failed(unsigned status, std::string_view type, std::string_view message,
                         const WireContext& c) {
  MessagesRead read;
  read.error = error_reply(status, type, message, c);
  return read;
}

/// `thinking`: {"type":"enabled","budget_tokens":N} (N >= 1024 and below max_tokens),
/// {"type":"adaptive"} or {"type":"disabled"}. An error message, or empty.
std::string read_thinking(const json::object& obj, bool& on) {
  const auto* thinking = obj.if_contains("thinking");
  if (thinking == nullptr || !thinking->is_object()) {
    return {};
  }
  const auto* type = thinking->get_object().if_contains("type");
  std::string_view kind =
      type != nullptr && type->is_string() ? std::string_view(type->get_string()) : "";
  if (kind == "adaptive") {
    on = true;
  } else if (kind == "enabled") {
    const auto* budget = thinking->get_object().if_contains("budget_tokens");
    if (budget == nullptr) {
      return "thinking.enabled.budget_tokens: Field required";
    }
    if (!budget->is_int64() || budget->get_int64() < 1024) {
      return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
    }
    const auto* max = obj.if_contains("max_tokens");
    if (max != nullptr && max->is_int64() && max->get_int64() <= budget->get_int64()) {
      return "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
             "documentation at https://docs.claude.com/en/docs/build-with-claude/"
             "extended-thinking#max-tokens-and-context-window-size";
    }
    on = true;
  } else if (kind != "disabled") {
    return "thinking: Input tag '" + std::string(kind) +
           "' found using 'type' does not match any of the expected tags: 'adaptive', "
           "'disabled', 'enabled'";
  }
  return {};
}

/// Reads the conversation. System turns inside `messages` are accepted anywhere (the API takes
/// them, and Claude Code sends them) and count as prompt, never as the user's last words.
std::string read_conversation(const json::array& list, Dialogue& d) {
  std::size_t last = list.size();  // the last message that is not a system turn
  for (std::size_t i = list.size(); i-- > 0;) {
    const auto* m = list[i].if_object();
    const auto* role = m != nullptr ? m->if_contains("role") : nullptr;
    if (role == nullptr || !role->is_string() || role->get_string() != "system") {
      last = i;
      break;
    }
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* m = list[i].if_object();
    if (m == nullptr) {
      return "messages." + std::to_string(i) + ": Input should be an object";
    }
    bool tool_result = false;
    std::string text;
    if (const auto* content = m->if_contains("content")) {
      text = blocks_text(*content, tool_result);
      if (std::string error = check_thinking_blocks(*content, i); !error.empty()) {
        return error;
      }
    }
    d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
    const auto* role = m->if_contains("role");
    if (role == nullptr || !role->is_string() || role->get_string() != "user") {
      continue;
    }
    if (tool_result) {
      if (i == last) {
        d.last_text = std::move(text);
        d.last_is_tool_result = true;
      }
    } else {
      d.last_text = std::move(text);
      d.last_is_user = i == last;
    }
  }
  return {};
}

MessagesRead read_messages(const WireRequest& r, const WireContext& c, bool count_only) {
  if (!r.header("x-api-key") && !r.header("authorization")) {
    return read_failed(401, "authentication_error", "x-api-key header is required", c);
  }
  if (!r.header("anthropic-version")) {
    return read_failed(400, "invalid_request_error", "anthropic-version: header is required", c);
  }
  error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) {
    return read_failed(400, "invalid_request_error",
                       "There was an issue with your request body: it is not valid JSON", c);
  }
  const auto& obj = doc.get_object();
  for (std::string_view field : {"model", "max_tokens", "messages"}) {
    if (!obj.contains(field) && !(count_only && field == "max_tokens")) {
      return read_failed(400, "invalid_request_error", std::string(field) + ": Field required", c);
    }
  }
  const auto* model = obj.if_contains("model");
  const auto* messages = obj.if_contains("messages");
  if (!model->is_string() || !messages->is_array() || messages->get_array().empty()) {
    return read_failed(400, "invalid_request_error",
                       !model->is_string() ? "model: Input should be a valid string"
                                           : "messages: at least one message is required",
                       c);
  }
  MessagesRead read;
  Dialogue& d = read.dialogue;
  d.model.assign(model->get_string());
  if (const auto* system = obj.if_contains("system")) {
    bool ignored = false;
    d.prompt_tokens += static_cast<std::int64_t>(count_words(blocks_text(*system, ignored))) + 3;
  }
  std::string error = read_conversation(messages->get_array(), d);
  if (error.empty()) {
    error = read_thinking(obj, read.thinking);
  }
  if (!error.empty()) {
    return read_failed(400, "invalid_request_error", error, c);
  }
  if (const auto* tools = obj.if_contains("tools"); tools != nullptr && tools->is_array()) {
    for (const auto& tool : tools->get_array()) {
      const auto* name = tool.is_object() ? tool.get_object().if_contains("name") : nullptr;
      if (name != nullptr && name->is_string()) {
        d.first_tool.assign(name->get_string());
        break;
      }
    }
  }
  if (const auto* max = obj.if_contains("max_tokens"); max != nullptr && max->is_int64()) {
    d.max_tokens = max->get_int64();
  }
  if (const auto* s = obj.if_contains("stream"); s != nullptr && s->is_bool()) {
    d.stream = s->get_bool();
  }
  return read;
}

/// The fake's reasoning: "Thinking about: <last user text>" and a signature that varies per
/// answer, as the API's opaque signatures do.
Thinking think_about(const Dialogue& d, std::uint64_t serial) {
  Thinking th;
  th.text = "Thinking about: " + d.last_text;
  th.pieces = split_pieces(th.text);
  th.signature = "EqQBCkgIBxABGAIiQ" + vendor_id("", serial ^ 0x5ea1ull, 96) + "==";
  return th;
}

}  // namespace

namespace wire {

WireReply anthropic_answer(const WireRequest& r, const WireContext& c) {
  const bool count_only = r.path.ends_with("/count_tokens");
  MessagesRead read = read_messages(r, c, count_only);
  if (read.error) {
    return std::move(*read.error);
  }
  Dialogue& d = read.dialogue;
  if (count_only) {
    std::string body = "{\"input_tokens\":";
    append_int(body, d.prompt_tokens);
    body += "}";
    return json_reply(200, std::move(body), request_id_header(c.serial));
  }
  Turn t = plan_turn(d, c.name);
  std::optional<Thinking> thinking;
  if (read.thinking) {
    thinking = think_about(d, c.serial);
    t.completion_tokens += static_cast<std::int64_t>(count_words(thinking->text));
  }
  Usage usage{t.prompt_tokens, t.completion_tokens, 0};
  std::string id = vendor_id("msg_01", c.serial, 22);
  std::string tool_id = vendor_id("toolu_01", ~c.serial, 22);
  const Thinking* th = thinking ? &*thinking : nullptr;
  if (!d.stream) {
    return json_reply(200,
                      message_body(d.model, t, usage, id, tool_id, stop_reason_of(t), true, th),
                      request_id_header(c.serial));
  }
  WireReply reply;
  reply.content_type = "text/event-stream; charset=utf-8";
  reply.headers = "Cache-Control: no-cache\r\n" + request_id_header(c.serial);
  reply.events = stream(d.model, t, usage, id, tool_id, stop_reason_of(t), true, th);
  return reply;
}

WireReply anthropic_status_error(unsigned status, const WireContext& c) {
  switch (status) {
    case 400:
      return error_reply(status, "invalid_request_error", "Invalid request.", c);
    case 401:
      return error_reply(status, "authentication_error", "invalid x-api-key", c);
    case 403:
      return error_reply(status, "permission_error",
                         "Your API key does not have permission to use the specified resource.", c);
    case 404:
      return error_reply(status, "not_found_error", "The requested resource was not found.", c);
    case 413:
      return error_reply(status, "request_too_large", "Request exceeds the maximum allowed size.",
                         c);
    case 429:
      return error_reply(status, "rate_limit_error",
                         "Number of requests has exceeded your rate limit. Please try again later.",
                         c);
    case 500:
      return error_reply(status, "api_error", "Internal server error", c);
    case 529:
      return error_reply(status, "overloaded_error", "Overloaded", c);
    default:
      return status >= 500 ? error_reply(status, "api_error", "Internal server error", c)
                           : error_reply(status, "invalid_request_error", "Invalid request.", c);
  }
}

}  // namespace wire

// --- public builders ---

std::string anthropic_message_body(std::string_view model, std::string_view text, Usage usage,
                                   std::string_view stop_reason, std::string_view id) {
  Turn t;
  t.text.assign(text);
  return message_body(model, t, usage, id, "", stop_reason, false);
}

std::vector<std::string> anthropic_stream_events(std::string_view model,
                                                 const std::vector<std::string>& pieces,
                                                 Usage usage, std::string_view stop_reason,
                                                 std::string_view id) {
  Turn t;
  t.pieces = pieces;
  return stream(model, t, usage, id, "", stop_reason, false);
}

std::string anthropic_error_body(std::string_view type, std::string_view message) {
  return error_json(type, message);
}

}  // namespace sb::testing
