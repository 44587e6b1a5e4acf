// OpenAI's Responses API, POST .../responses, stream and non-stream, as api.openai.com answers it
// (https://platform.openai.com/docs/api-reference/responses and .../responses-streaming), and
// Azure OpenAI's /openai/v1/responses (the same wire; the deployment's model in the answer).
//
// The layout follows captures of the live API (early 2026): the Response object's members in
// OpenAI's order; stream events as `event: NAME\ndata: JSON\n\n` with "type" first and the other
// members in alphabetical order, "sequence_number" counting from 0; text deltas padded by an
// "obfuscation" member (off with stream_options.include_obfuscation: false); the stream ends with
// response.completed (or response.incomplete when max_output_tokens cut the reply), no [DONE].
// The fake keeps no state: a previous_response_id is always unknown, as for an expired response.
#include <boost/json/parse.hpp>

#include <algorithm>
#include <optional>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

constexpr std::string_view kInvalidJsonMessage =
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)";
// Streamed deltas are padded to this many bytes with random characters (the API's defence
// against length side channels).
constexpr std::size_t kObfuscationWidth = 16;

/// What a request asks for: the conversation, and the members the answer echoes.
struct ResponsesRead {
  Dialogue dialogue;
  unsigned error_status = 0;
  std::string error;
  json::object echo;  ///< request members the Response object repeats, normalized
  bool obfuscate = true;
};

ResponsesRead bad_request(std::string message, std::string_view code, std::string_view param) {
  ResponsesRead read;
  read.error_status = 400;
  read.error = openai_error_json(message, "invalid_request_error", code, param);
  return read;
}

std::string_view kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a decimal";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

std::string_view string_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

/// The text of a message's content: a string, or its input_text / output_text parts.
std::string content_text(const json::value& content) {
  if (const auto* s = content.if_string()) {
    return std::string(*s);
  }
  std::string out;
  if (const auto* parts = content.if_array()) {
    for (const auto& part : *parts) {
      if (const auto* o = part.if_object()) {
        std::string_view type = string_member(*o, "type");
        if (type == "input_text" || type == "output_text" || type == "text") {
          out += string_member(*o, "text");
        }
      }
    }
  }
  return out;
}

/// Checks an assistant message's parts: OpenAI refuses input parts in the model's own turns.
std::optional<ResponsesRead> check_assistant_parts(const json::value& content, std::size_t i) {
  const auto* parts = content.if_array();
  if (parts == nullptr) {
    return std::nullopt;
  }
  for (std::size_t k = 0; k < parts->size(); ++k) {
    const auto* o = (*parts)[k].if_object();
    std::string_view type = o != nullptr ? string_member(*o, "type") : std::string_view();
    if (o != nullptr && type != "output_text" && type != "refusal") {
      return bad_request("Invalid value: '" + std::string(type) +
                             "'. Supported values are: 'output_text' and 'refusal'.",
                         "invalid_value",
                         "input[" + std::to_string(i) + "].content[" + std::to_string(k) + "]");
    }
  }
  return std::nullopt;
}

/// Reads `input` (a string or a list of items) into the dialogue; an error when it is invalid.
std::optional<ResponsesRead> read_input(const json::value& input, Dialogue& d) {
  if (const auto* s = input.if_string()) {
    d.last_text.assign(*s);
    d.last_is_user = true;
    d.prompt_tokens += static_cast<std::int64_t>(count_words(*s)) + 3;
    return std::nullopt;
  }
  const auto* items = input.if_array();
  if (items == nullptr) {
    return bad_request(
        "Invalid type for 'input': expected one of a string or array of input "
        "items, but got " +
            std::string(kind_name(input)) + " instead.",
        "invalid_type", "input");
  }
  std::vector<std::string_view> call_ids;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const auto* item = (*items)[i].if_object();
    std::string param = "input[" + std::to_string(i) + "]";
    if (item == nullptr) {
      return bad_request("Invalid type for '" + param + "': expected an input item, but got " +
                             std::string(kind_name((*items)[i])) + " instead.",
                         "invalid_type", param);
    }
    const bool last = i + 1 == items->size();
    std::string_view type = string_member(*item, "type");
    if (type.empty() && item->contains("role")) {
      type = "message";  // an EasyInputMessage: {"role", "content"}
    }
    if (type == "message") {
      std::string_view role = string_member(*item, "role");
      if (role != "user" && role != "assistant" && role != "system" && role != "developer") {
        return bad_request("Invalid value: '" + std::string(role) +
                               "'. Supported values are: 'assistant', 'system', 'developer', "
                               "and 'user'.",
                           "invalid_value", param + ".role");
      }
      const json::value* content = item->if_contains("content");
      if (content == nullptr) {
        return bad_request("Missing required parameter: '" + param + ".content'.",
                           "missing_required_parameter", param + ".content");
      }
      if (role == "assistant") {
        if (auto error = check_assistant_parts(*content, i)) {
          return error;
        }
      }
      std::string text = content_text(*content);
      d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
      if (role == "user") {
        d.last_text = std::move(text);
        d.last_is_user = last;
      }
    } else if (type == "function_call") {
      call_ids.push_back(string_member(*item, "call_id"));
      d.prompt_tokens += static_cast<std::int64_t>(count_words(string_member(*item, "name")) +
                                                   count_words(string_member(*item, "arguments"))) +
                         3;
    } else if (type == "function_call_output") {
      std::string_view call_id = string_member(*item, "call_id");
      if (std::find(call_ids.begin(), call_ids.end(), call_id) == call_ids.end()) {
        return bad_request("No tool call found for function call output with call_id " +
                               std::string(call_id) + ".",
                           "", "input");
      }
      std::string text;
      if (const auto* output = item->if_contains("output")) {
        text = tool_result_text(*output);
      }
      d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
      if (last) {
        d.last_text = std::move(text);
        d.last_is_tool_result = true;
      }
    }
    // reasoning, item_reference and the built-in tools' items: carried, not read.
  }
  return std::nullopt;
}

/// A function tool as the Response object echoes it; other tool types as they came.
json::value normalized_tool(const json::object& tool) {
  if (string_member(tool, "type") != "function") {
    return tool;
  }
  json::object out;
  out["type"] = "function";
  const auto* description = tool.if_contains("description");
  out["description"] = description != nullptr ? *description : json::value(nullptr);
  out["name"] = tool.at("name");
  const auto* parameters = tool.if_contains("parameters");
  out["parameters"] = parameters != nullptr ? *parameters : json::value(nullptr);
  const auto* strict = tool.if_contains("strict");
  out["strict"] = strict != nullptr ? *strict : json::value(true);
  return out;
}

/// Reads `tools`: the first function's name for the dialogue, and the normalized list.
std::optional<ResponsesRead> read_tools(const json::object& obj, Dialogue& d, json::array& out) {
  const auto* tools = obj.if_contains("tools");
  if (tools == nullptr || !tools->is_array()) {
    return std::nullopt;
  }
  const auto& list = tools->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* tool = list[i].if_object();
    if (tool == nullptr) {
      continue;
    }
    if (string_member(*tool, "type") == "function") {
      // A chat-completions tool ({"type":"function","function":{...}}) lands here.
      std::string_view name = string_member(*tool, "name");
      if (name.empty()) {
        std::string param = "tools[" + std::to_string(i) + "].name";
        return bad_request("Missing required parameter: '" + param + "'.",
                           "missing_required_parameter", param);
      }
      if (d.first_tool.empty()) {
        d.first_tool.assign(name);
      }
    }
    out.push_back(normalized_tool(*tool));
  }
  return std::nullopt;
}

json::value member_or(const json::object& obj, std::string_view key, json::value fallback) {
  const auto* v = obj.if_contains(key);
  return v != nullptr && !v->is_null() ? *v : fallback;
}

/// The request's members as the Response object echoes them, defaults filled in.
json::object echo_members(const json::object& obj, json::array tools) {
  json::object e;
  e["instructions"] = member_or(obj, "instructions", nullptr);
  e["max_output_tokens"] = member_or(obj, "max_output_tokens", nullptr);
  e["max_tool_calls"] = member_or(obj, "max_tool_calls", nullptr);
  e["parallel_tool_calls"] = member_or(obj, "parallel_tool_calls", true);
  e["prompt_cache_key"] = member_or(obj, "prompt_cache_key", nullptr);
  e["prompt_cache_retention"] = member_or(obj, "prompt_cache_retention", nullptr);
  json::object reasoning{{"effort", nullptr}, {"summary", nullptr}};
  if (const auto* r = obj.if_contains("reasoning"); r != nullptr && r->is_object()) {
    reasoning["effort"] = member_or(r->get_object(), "effort", nullptr);
    reasoning["summary"] = member_or(r->get_object(), "summary", nullptr);
  }
  e["reasoning"] = std::move(reasoning);
  e["safety_identifier"] = member_or(obj, "safety_identifier", nullptr);
  e["store"] = member_or(obj, "store", true);
  e["temperature"] = member_or(obj, "temperature", 1.0);
  json::object text{{"format", json::object{{"type", "text"}}}, {"verbosity", "medium"}};
  if (const auto* t = obj.if_contains("text"); t != nullptr && t->is_object()) {
    text["format"] = member_or(t->get_object(), "format", text["format"]);
    text["verbosity"] = member_or(t->get_object(), "verbosity", "medium");
  }
  e["text"] = std::move(text);
  e["tool_choice"] = member_or(obj, "tool_choice", "auto");
  e["tools"] = std::move(tools);
  e["top_logprobs"] = member_or(obj, "top_logprobs", 0);
  e["top_p"] = member_or(obj, "top_p", 1.0);
  e["truncation"] = member_or(obj, "truncation", "disabled");
  e["user"] = member_or(obj, "user", nullptr);
  e["metadata"] = member_or(obj, "metadata", json::object{});
  return e;
}

ResponsesRead read_request(std::string_view body) {
  error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    return bad_request(std::string(kInvalidJsonMessage), "", "");
  }
  const auto& obj = doc.get_object();
  const auto* model = obj.if_contains("model");
  if (model == nullptr || !model->is_string()) {
    return bad_request("Missing required parameter: 'model'.", "missing_required_parameter",
                       "model");
  }
  if (const auto* previous = obj.if_contains("previous_response_id");
      previous != nullptr && previous->is_string()) {
    ResponsesRead read = bad_request(
        "Previous response with id '" + std::string(previous->get_string()) + "' not found.",
        "previous_response_not_found", "previous_response_id");
    return read;
  }
  const auto* input = obj.if_contains("input");
  if (input == nullptr) {
    return bad_request("Missing required parameter: 'input'.", "missing_required_parameter",
                       "input");
  }
  ResponsesRead read;
  Dialogue& d = read.dialogue;
  d.model.assign(model->get_string());
  if (const auto* instructions = obj.if_contains("instructions");
      instructions != nullptr && instructions->is_string()) {
    d.prompt_tokens += static_cast<std::int64_t>(count_words(instructions->get_string())) + 3;
  }
  if (auto error = read_input(*input, d)) {
    return std::move(*error);
  }
  json::array tools;
  if (auto error = read_tools(obj, d, tools)) {
    return std::move(*error);
  }
  if (const auto* max = obj.if_contains("max_output_tokens"); max != nullptr && max->is_int64()) {
    d.max_tokens = max->get_int64();
  }
  if (const auto* s = obj.if_contains("stream"); s != nullptr && s->is_bool()) {
    d.stream = s->get_bool();
  }
  if (const auto* so = obj.if_contains("stream_options"); so != nullptr && so->is_object()) {
    const auto* o = so->get_object().if_contains("include_obfuscation");
    read.obfuscate = o == nullptr || !o->is_bool() || o->get_bool();
  }
  read.echo = echo_members(obj, std::move(tools));
  return read;
}

// --- the answer ---

/// A 50-hex-digit item id as OpenAI mints them: a per-response stem, the time, a per-item tail.
std::string item_id(std::string_view prefix, std::uint64_t serial, std::int64_t created,
                    std::uint64_t item) {
  std::string out(prefix);
  std::string stem = vendor_id("", serial, 16);
  for (char ch : stem) {
    append_hex_padded(out, static_cast<unsigned char>(ch) & 0xF, 1);
  }
  out += "01";
  append_hex_padded(out, static_cast<std::uint64_t>(created) & 0xFFFFFFFFu, 8);
  std::string tail = vendor_id("", serial * 131 + item, 24);
  for (char ch : tail) {
    append_hex_padded(out, static_cast<unsigned char>(ch) & 0xF, 1);
  }
  return out;
}

struct Answer {
  std::string model;
  std::string id;       ///< resp_...
  std::string item_id;  ///< msg_... or fc_...
  std::string call_id;  ///< call_... (a tool call)
  std::int64_t created = 0;
  const Turn* turn = nullptr;
  Usage usage;
  const json::object* echo = nullptr;
};

json::object text_part(std::string_view text) {
  return json::object{{"type", "output_text"},
                      {"annotations", json::array{}},
                      {"logprobs", json::array{}},
                      {"text", text}};
}

/// The output item; `done` false: as output_item.added shows it (in progress, empty).
json::object output_item(const Answer& a, bool done) {
  const Turn& t = *a.turn;
  std::string_view status = !done ? "in_progress" : t.truncated ? "incomplete" : "completed";
  if (t.tool_call) {
    return json::object{
        {"id", a.item_id},      {"type", "function_call"},
        {"status", status},     {"arguments", done ? std::string_view(t.arguments_json) : ""},
        {"call_id", a.call_id}, {"name", t.tool_name}};
  }
  json::array content;
  if (done) {
    content.push_back(text_part(t.text));
  }
  return json::object{{"id", a.item_id},
                      {"type", "message"},
                      {"status", status},
                      {"content", std::move(content)},
                      {"role", "assistant"}};
}

json::object usage_object(const Usage& u) {
  return json::object{
      {"input_tokens", u.prompt},
      {"input_tokens_details", json::object{{"cached_tokens", u.cached < 0 ? 0 : u.cached}}},
      {"output_tokens", u.completion},
      {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
      {"total_tokens", u.prompt + u.completion}};
}

/// The Response object in OpenAI's member order; `done` false: as response.created shows it.
json::object response_object(const Answer& a, bool done) {
  const Turn& t = *a.turn;
  const json::object& e = *a.echo;
  json::object r;
  r["id"] = a.id;
  r["object"] = "response";
  r["created_at"] = a.created;
  r["status"] = !done ? "in_progress" : t.truncated ? "incomplete" : "completed";
  r["background"] = false;
  r["completed_at"] = done ? json::value(a.created) : json::value(nullptr);
  r["error"] = nullptr;
  r["frequency_penalty"] = 0.0;
  r["incomplete_details"] = done && t.truncated
                                ? json::value(json::object{{"reason", "max_output_tokens"}})
                                : json::value(nullptr);
  r["instructions"] = e.at("instructions");
  r["max_output_tokens"] = e.at("max_output_tokens");
  r["max_tool_calls"] = e.at("max_tool_calls");
  r["model"] = a.model;
  r["output"] = done ? json::array{output_item(a, true)} : json::array{};
  r["parallel_tool_calls"] = e.at("parallel_tool_calls");
  r["presence_penalty"] = 0.0;
  r["previous_response_id"] = nullptr;
  r["prompt_cache_key"] = e.at("prompt_cache_key");
  r["prompt_cache_retention"] = e.at("prompt_cache_retention");
  r["reasoning"] = e.at("reasoning");
  r["safety_identifier"] = e.at("safety_identifier");
  // The tier asked for while running, the tier that served once done.
  r["service_tier"] = done ? "default" : "auto";
  for (std::string_view key : {"store", "temperature", "text", "tool_choice", "tools",
                               "top_logprobs", "top_p", "truncation"}) {
    r[key] = e.at(key);
  }
  r["usage"] = done ? json::value(usage_object(a.usage)) : json::value(nullptr);
  r["user"] = e.at("user");
  r["metadata"] = e.at("metadata");
  return r;
}

class EventWriter {
 public:
  EventWriter(std::uint64_t serial, bool obfuscate) : serial_(serial), obfuscate_(obfuscate) {}

  /// One event: "type" first, then `members` (given in alphabetical order, sequence_number
  /// placed among them as its name sorts).
  void emit(std::string_view type, json::object members) {
    json::object data;
    data["type"] = type;
    bool placed = false;
    for (auto& [key, value] : members) {
      if (!placed && key > std::string_view("sequence_number")) {
        data["sequence_number"] = sequence_;
        placed = true;
      }
      data[key] = std::move(value);
    }
    if (!placed) {
      data["sequence_number"] = sequence_;
    }
    ++sequence_;
    std::string e = "event: ";
    e += type;
    e += "\ndata: ";
    write_json(e, data, JsonStyle::compact);
    e += "\n\n";
    events_.push_back(std::move(e));
  }

  /// The padding a delta carries; empty when the request turned it off.
  json::value obfuscation(std::string_view delta) const {
    std::size_t width = delta.size() < kObfuscationWidth ? kObfuscationWidth - delta.size() : 1;
    return json::value(vendor_id("", serial_ * 4099 + sequence_, static_cast<int>(width)));
  }
  bool obfuscate() const { return obfuscate_; }

  std::vector<std::string> take() { return std::move(events_); }

 private:
  std::uint64_t serial_;
  bool obfuscate_;
  std::int64_t sequence_ = 0;
  std::vector<std::string> events_;
};

void text_events(EventWriter& w, const Answer& a) {
  const Turn& t = *a.turn;
  w.emit("response.content_part.added", json::object{{"content_index", 0},
                                                     {"item_id", a.item_id},
                                                     {"output_index", 0},
                                                     {"part", text_part("")}});
  for (const auto& piece : t.pieces) {
    json::object m{{"content_index", 0},
                   {"delta", piece},
                   {"item_id", a.item_id},
                   {"logprobs", json::array{}}};
    if (w.obfuscate()) {
      m["obfuscation"] = w.obfuscation(piece);
    }
    m["output_index"] = 0;
    w.emit("response.output_text.delta", std::move(m));
  }
  w.emit("response.output_text.done", json::object{{"content_index", 0},
                                                   {"item_id", a.item_id},
                                                   {"logprobs", json::array{}},
                                                   {"output_index", 0},
                                                   {"text", t.text}});
  w.emit("response.content_part.done", json::object{{"content_index", 0},
                                                    {"item_id", a.item_id},
                                                    {"output_index", 0},
                                                    {"part", text_part(t.text)}});
}

void call_events(EventWriter& w, const Answer& a) {
  const Turn& t = *a.turn;
  for (const auto& fragment : split_arguments(t.arguments_json)) {
    json::object m{{"delta", fragment}, {"item_id", a.item_id}};
    if (w.obfuscate()) {
      m["obfuscation"] = w.obfuscation(fragment);
    }
    m["output_index"] = 0;
    w.emit("response.function_call_arguments.delta", std::move(m));
  }
  w.emit(
      "response.function_call_arguments.done",
      json::object{{"arguments", t.arguments_json}, {"item_id", a.item_id}, {"output_index", 0}});
}

std::vector<std::string> stream_events(const Answer& a, std::uint64_t serial, bool obfuscate) {
  EventWriter w(serial, obfuscate);
  w.emit("response.created", json::object{{"response", response_object(a, false)}});
  w.emit("response.in_progress", json::object{{"response", response_object(a, false)}});
  w.emit("response.output_item.added",
         json::object{{"item", output_item(a, false)}, {"output_index", 0}});
  if (a.turn->tool_call) {
    call_events(w, a);
  } else {
    text_events(w, a);
  }
  w.emit("response.output_item.done",
         json::object{{"item", output_item(a, true)}, {"output_index", 0}});
  w.emit(a.turn->truncated ? "response.incomplete" : "response.completed",
         json::object{{"response", response_object(a, true)}});
  return w.take();
}

std::string request_id_header(std::uint64_t serial) {
  std::string out = "x-request-id: req_";
  append_hex_padded(out, serial, 16);
  out += "\r\n";
  return out;
}

}  // namespace

namespace wire {

WireReply responses_answer(const WireRequest& r, const WireContext& c,
                           std::string_view reported_model) {
  ResponsesRead read = read_request(r.body);
  if (read.error_status != 0) {
    return json_reply(read.error_status, std::move(read.error), request_id_header(c.serial));
  }
  Turn turn = plan_turn(read.dialogue, c.name);
  Answer a;
  a.model = reported_model.empty() ? read.dialogue.model : std::string(reported_model);
  a.id = item_id("resp_", c.serial, c.created, 0);
  a.item_id = item_id(turn.tool_call ? "fc_" : "msg_", c.serial, c.created, 1);
  a.call_id = vendor_id("call_", c.serial, 24);
  a.created = c.created;
  a.turn = &turn;
  a.usage = Usage{turn.prompt_tokens, turn.completion_tokens, 0};
  if (c.report_prompt_tokens >= 0) {
    a.usage.prompt = c.report_prompt_tokens;
  }
  if (c.report_completion_tokens >= 0) {
    a.usage.completion = c.report_completion_tokens;
    if (read.dialogue.max_tokens && *read.dialogue.max_tokens >= 0) {
      a.usage.completion = std::min(a.usage.completion, *read.dialogue.max_tokens);
    }
  }
  a.echo = &read.echo;
  if (!read.dialogue.stream) {
    return json_reply(200, to_json(response_object(a, true), JsonStyle::pretty) + "\n",
                      request_id_header(c.serial));
  }
  WireReply reply;
  reply.content_type = "text/event-stream; charset=utf-8";
  reply.headers = "Cache-Control: no-cache\r\n" + request_id_header(c.serial);
  reply.events = stream_events(a, c.serial, read.obfuscate);
  return reply;
}

}  // namespace wire
}  // namespace sb::testing
