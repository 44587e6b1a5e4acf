// OpenAI's wire format: /chat/completions, /completions, /embeddings and /models, byte for byte as
// api.openai.com sends them (https://platform.openai.com/docs/api-reference/chat).
#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

constexpr std::string_view kServiceTier = "default";
constexpr std::string_view kFingerprint = "fp_f4ce0b1e2d";
constexpr std::string_view kOwnedBy = "system";
// The legacy completions endpoint's default for max_tokens.
constexpr std::int64_t kLegacyMaxTokens = 16;
constexpr std::size_t kDefaultDimensions = 16;

// OpenAI's answer to a body that is not JSON, word for word.
constexpr std::string_view kInvalidJsonMessage =
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)";

/// The usage object on one line, as stream chunks carry it.
void append_usage_compact(std::string& out, const Usage& u) {
  out += "{\"prompt_tokens\":";
  append_int(out, u.prompt);
  out += ",\"completion_tokens\":";
  append_int(out, u.completion);
  out += ",\"total_tokens\":";
  append_int(out, u.prompt + u.completion);
  if (u.cached >= 0) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_int(out, u.cached);
    out += ",\"audio_tokens\":0}";
  }
  out +=
      ",\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
      "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

/// The usage object pretty-printed at the depth of a chat.completion's "usage" key.
void append_usage_pretty(std::string& out, const Usage& u) {
  out += "{\n    \"prompt_tokens\": ";
  append_int(out, u.prompt);
  out += ",\n    \"completion_tokens\": ";
  append_int(out, u.completion);
  out += ",\n    \"total_tokens\": ";
  append_int(out, u.prompt + u.completion);
  if (u.cached >= 0) {
    out += ",\n    \"prompt_tokens_details\": {\n      \"cached_tokens\": ";
    append_int(out, u.cached);
    out += ",\n      \"audio_tokens\": 0\n    }";
  }
  out +=
      ",\n    \"completion_tokens_details\": {\n"
      "      \"reasoning_tokens\": 0,\n"
      "      \"audio_tokens\": 0,\n"
      "      \"accepted_prediction_tokens\": 0,\n"
      "      \"rejected_prediction_tokens\": 0\n"
      "    }\n  }";
}

std::string tool_call_id(std::uint64_t serial) {
  return vendor_id("call_", serial, 24);
}

/// A chat.completion: text (`turn.tool_call` false) or one tool call.
std::string completion_body(std::string_view model, const Turn& turn, const Usage& usage,
                            std::string_view id, std::int64_t created, std::uint64_t serial) {
  std::string out;
  out.reserve(1024 + turn.text.size() + model.size());
  out += "{\n  \"id\": ";
  append_json_string(out, id);
  out += ",\n  \"object\": \"chat.completion\",\n  \"created\": ";
  append_int(out, created);
  out += ",\n  \"model\": ";
  append_json_string(out, model);
  out +=
      ",\n  \"choices\": [\n    {\n      \"index\": 0,\n      \"message\": {\n"
      "        \"role\": \"assistant\",\n        \"content\": ";
  std::string_view finish = "stop";
  if (turn.tool_call) {
    out += "null,\n        \"tool_calls\": [\n          {\n            \"id\": ";
    append_json_string(out, tool_call_id(serial));
    out +=
        ",\n            \"type\": \"function\",\n            \"function\": {\n"
        "              \"name\": ";
    append_json_string(out, turn.tool_name);
    out += ",\n              \"arguments\": ";
    append_json_string(out, turn.arguments_json);
    out += "\n            }\n          }\n        ]";
    finish = "tool_calls";
  } else {
    append_json_string(out, turn.text);
    finish = turn.truncated ? "length" : "stop";
  }
  out += ",\n        \"refusal\": null,\n        \"annotations\": []\n      },\n";
  out += "      \"logprobs\": null,\n      \"finish_reason\": \"";
  out += finish;
  out += "\"\n    }\n  ],\n  \"usage\": ";
  append_usage_pretty(out, usage);
  out += ",\n  \"service_tier\": ";
  append_json_string(out, kServiceTier);
  out += ",\n  \"system_fingerprint\": ";
  append_json_string(out, kFingerprint);
  out += "\n}\n";
  return out;
}

std::vector<std::string> stream_events(std::string_view model, const Turn& turn, bool include_usage,
                                       const Usage& usage, std::string_view id,
                                       std::int64_t created, std::uint64_t serial) {
  std::string prefix = "data: {\"id\":";
  append_json_string(prefix, id);
  prefix += ",\"object\":\"chat.completion.chunk\",\"created\":";
  append_int(prefix, created);
  prefix += ",\"model\":";
  append_json_string(prefix, model);
  prefix += ",\"service_tier\":";
  append_json_string(prefix, kServiceTier);
  prefix += ",\"system_fingerprint\":";
  append_json_string(prefix, kFingerprint);
  prefix += ",\"choices\":";
  // OpenAI marks every non-usage chunk with "usage":null once include_usage is on.
  std::string_view suffix = include_usage ? ",\"usage\":null}\n\n" : "}\n\n";

  std::vector<std::string> events;
  events.reserve(turn.pieces.size() + 8);
  auto choice_event = [&](std::string_view delta_json, std::string_view finish_reason) {
    std::string e = prefix;
    e += "[{\"index\":0,\"delta\":";
    e += delta_json;
    e += ",\"logprobs\":null,\"finish_reason\":";
    e += finish_reason;
    e += "}]";
    e += suffix;
    events.push_back(std::move(e));
  };
  std::string delta;
  if (turn.tool_call) {
    delta = "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":";
    append_json_string(delta, tool_call_id(serial));
    delta += ",\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(delta, turn.tool_name);
    delta += ",\"arguments\":\"\"}}],\"refusal\":null}";
    choice_event(delta, "null");
    for (const auto& fragment : split_arguments(turn.arguments_json)) {
      delta = "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":";
      append_json_string(delta, fragment);
      delta += "}}]}";
      choice_event(delta, "null");
    }
    choice_event("{}", "\"tool_calls\"");
  } else {
    choice_event("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null");
    for (const auto& piece : turn.pieces) {
      delta.assign("{\"content\":");
      append_json_string(delta, piece);
      delta.push_back('}');
      choice_event(delta, "null");
    }
    choice_event("{}", turn.truncated ? "\"length\"" : "\"stop\"");
  }
  if (include_usage) {
    std::string e = prefix;
    e += "[],\"usage\":";
    append_usage_compact(e, usage);
    e += "}\n\n";
    events.push_back(std::move(e));
  }
  events.emplace_back("data: [DONE]\n\n");
  return events;
}

Turn text_turn(std::string_view content, const std::vector<std::string>& pieces) {
  Turn t;
  t.text.assign(content);
  t.pieces = pieces;
  return t;
}

struct ErrorShape {
  std::string_view message;
  std::string_view type;
  std::string_view code;
};

/// The error OpenAI sends with each status, for `x-fake-status`.
ErrorShape error_for_status(unsigned status) {
  switch (status) {
    case 400:
      return {"Invalid request.", "invalid_request_error", ""};
    case 401:
      return {"Incorrect API key provided.", "invalid_request_error", "invalid_api_key"};
    case 403:
      return {"You are not allowed to sample from this model.", "invalid_request_error", ""};
    case 404:
      return {"The model does not exist or you do not have access to it.", "invalid_request_error",
              "model_not_found"};
    case 408:
      return {"Request timed out.", "invalid_request_error", ""};
    case 413:
      return {"Request too large.", "invalid_request_error", ""};
    case 429:
      return {"Rate limit reached for requests. Please try again in 1s.", "requests",
              "rate_limit_exceeded"};
    case 500:
      return {"The server had an error while processing your request. Sorry about that!",
              "server_error", ""};
    case 502:
      return {"Bad gateway.", "server_error", ""};
    case 503:
      return {"The engine is currently overloaded, please try again later.", "server_error", ""};
    case 504:
      return {"Gateway timeout.", "server_error", ""};
    default:
      if (status >= 500) {
        return {"The server had an error while processing your request.", "server_error", ""};
      }
      return {"Invalid request.", "invalid_request_error", ""};
  }
}

/// Text of a message's content: a string, or the concatenated "text" parts of an array.
std::string content_text(const json::value& content) {
  if (const auto* s = content.if_string()) {
    return std::string(*s);
  }
  std::string out;
  if (const auto* parts = content.if_array()) {
    for (const auto& part : *parts) {
      const auto* obj = part.if_object();
      if (obj == nullptr) {
        continue;
      }
      const auto* type = obj->if_contains("type");
      const auto* text = obj->if_contains("text");
      if (type != nullptr && type->is_string() && *type->if_string() == "text" && text != nullptr &&
          text->is_string()) {
        out += std::string_view(*text->if_string());
      }
    }
  }
  return out;
}

std::string_view json_kind(const json::value& v) {
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

ChatRead bad_request(std::string_view message, std::string_view code, std::string_view param) {
  ChatRead read;
  read.error_status = 400;
  read.error = openai_error_json(message, "invalid_request_error", code, param);
  return read;
}

std::optional<std::int64_t> int_field(const json::object& obj, std::string_view key) {
  if (const auto* v = obj.if_contains(key)) {
    if (v->is_int64()) {
      return v->get_int64();
    }
    if (v->is_uint64()) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
  }
  return std::nullopt;
}

std::string request_id_header(std::uint64_t serial) {
  std::string out = "x-request-id: req_";
  append_hex_padded(out, serial, 16);
  out += "\r\n";
  return out;
}

WireReply sse_reply(std::vector<std::string> events, std::string headers) {
  WireReply r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers = "Cache-Control: no-cache\r\n" + headers;
  r.events = std::move(events);
  return r;
}

WireReply chat(const WireRequest& r, const WireContext& c) {
  ChatRead read = read_openai_chat(r.body);
  if (read.error_status != 0) {
    return json_reply(read.error_status, std::move(read.error), request_id_header(c.serial));
  }
  Turn turn = plan_turn(read.dialogue, c.name);
  Usage usage{turn.prompt_tokens, turn.completion_tokens, 0};
  if (c.report_prompt_tokens >= 0) {
    usage.prompt = c.report_prompt_tokens;
  }
  if (c.report_completion_tokens >= 0) {
    usage.completion = c.report_completion_tokens;
    if (read.dialogue.max_tokens && *read.dialogue.max_tokens >= 0) {
      usage.completion = std::min(usage.completion, *read.dialogue.max_tokens);
    }
  }
  std::string id = vendor_id("chatcmpl-", c.serial, 29);
  if (!read.dialogue.stream) {
    return json_reply(200,
                      completion_body(read.dialogue.model, turn, usage, id, c.created, c.serial),
                      request_id_header(c.serial));
  }
  return sse_reply(
      stream_events(read.dialogue.model, turn, read.include_usage, usage, id, c.created, c.serial),
      request_id_header(c.serial));
}

/// The legacy /completions endpoint: echoes the prompt (a string or the strings of an array).
WireReply legacy_completion(const WireRequest& r, const WireContext& c) {
  error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) {
    return json_reply(400, openai_error_json(kInvalidJsonMessage, "invalid_request_error", "", ""),
                      request_id_header(c.serial));
  }
  const auto& obj = doc.get_object();
  const auto* model = obj.if_contains("model");
  const auto* prompt = obj.if_contains("prompt");
  if (model == nullptr || !model->is_string()) {
    return json_reply(
        400,
        openai_error_json("you must provide a model parameter", "invalid_request_error", "", ""),
        request_id_header(c.serial));
  }
  if (prompt == nullptr) {
    return json_reply(
        400,
        openai_error_json("Missing required parameter: 'prompt'.", "invalid_request_error",
                          "missing_required_parameter", "prompt"),
        request_id_header(c.serial));
  }
  Dialogue d;
  d.model.assign(model->get_string());
  d.last_is_user = true;
  d.last_text = tool_result_text(*prompt);
  d.prompt_tokens = static_cast<std::int64_t>(count_words(d.last_text));
  d.max_tokens = int_field(obj, "max_tokens").value_or(kLegacyMaxTokens);
  const auto* stream = obj.if_contains("stream");
  d.stream = stream != nullptr && stream->is_bool() && stream->get_bool();
  bool include_usage = false;
  if (const auto* so = obj.if_contains("stream_options"); so != nullptr && so->is_object()) {
    const auto* include = so->get_object().if_contains("include_usage");
    include_usage = include != nullptr && include->is_bool() && include->get_bool();
  }
  Turn turn = plan_turn(d, c.name);
  std::string id = vendor_id("cmpl-", c.serial, 29);
  std::string_view finish = turn.truncated ? "length" : "stop";
  json::object usage{{"prompt_tokens", turn.prompt_tokens},
                     {"completion_tokens", turn.completion_tokens},
                     {"total_tokens", turn.prompt_tokens + turn.completion_tokens}};
  if (!d.stream) {
    json::value body = {
        {"id", id},
        {"object", "text_completion"},
        {"created", c.created},
        {"model", d.model},
        {"choices",
         json::array{json::object{
             {"text", turn.text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}}}},
        {"usage", usage}};
    return json_reply(200, to_json(body, JsonStyle::pretty) + "\n", request_id_header(c.serial));
  }
  std::vector<std::string> events;
  auto chunk = [&](std::string_view text, json::value finish_reason) {
    json::value e = {{"id", id},
                     {"object", "text_completion"},
                     {"created", c.created},
                     {"choices", json::array{json::object{{"text", text},
                                                          {"index", 0},
                                                          {"logprobs", nullptr},
                                                          {"finish_reason", finish_reason}}}},
                     {"model", d.model}};
    if (include_usage) {
      e.as_object()["usage"] = nullptr;
    }
    events.push_back("data: " + to_json(e, JsonStyle::compact) + "\n\n");
  };
  for (const auto& piece : turn.pieces) {
    chunk(piece, nullptr);
  }
  chunk("", json::string(finish));
  if (include_usage) {
    json::value e = {{"id", id},
                     {"object", "text_completion"},
                     {"created", c.created},
                     {"choices", json::array{}},
                     {"model", d.model},
                     {"usage", usage}};
    events.push_back("data: " + to_json(e, JsonStyle::compact) + "\n\n");
  }
  events.emplace_back("data: [DONE]\n\n");
  return sse_reply(std::move(events), request_id_header(c.serial));
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                      (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kB64[(n >> 18) & 63]);
    out.push_back(kB64[(n >> 12) & 63]);
    out.push_back(kB64[(n >> 6) & 63]);
    out.push_back(kB64[n & 63]);
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) {
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    out.push_back(kB64[(n >> 18) & 63]);
    out.push_back(kB64[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kB64[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
}

/// A deterministic unit vector for `text`: the same text always embeds the same way.
std::vector<float> embed(std::string_view text, std::size_t dimensions) {
  std::vector<float> v(dimensions);
  double norm = 0;
  std::uint32_t seed = crc32(text);
  for (std::size_t i = 0; i < dimensions; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = static_cast<float>(static_cast<double>(seed >> 8) / double(1u << 24) - 0.5);
    norm += static_cast<double>(v[i]) * v[i];
  }
  norm = std::sqrt(norm);
  for (auto& x : v) {
    x = static_cast<float>(x / (norm > 0 ? norm : 1));
  }
  return v;
}

WireReply embeddings(const WireRequest& r, const WireContext& c) {
  error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) {
    return json_reply(400, openai_error_json(kInvalidJsonMessage, "invalid_request_error", "", ""),
                      request_id_header(c.serial));
  }
  const auto& obj = doc.get_object();
  const auto* model = obj.if_contains("model");
  const auto* input = obj.if_contains("input");
  if (input == nullptr) {
    return json_reply(
        400, openai_error_json("'input' is a required property", "invalid_request_error", "", ""),
        request_id_header(c.serial));
  }
  std::vector<std::string> texts;
  if (const auto* list = input->if_array();
      list != nullptr && !list->empty() && !list->front().is_number()) {
    for (const auto& item : *list) {
      texts.push_back(tool_result_text(item));
    }
  } else {
    texts.push_back(tool_result_text(*input));
  }
  std::size_t dimensions = static_cast<std::size_t>(
      std::max<std::int64_t>(1, int_field(obj, "dimensions").value_or(kDefaultDimensions)));
  const auto* format = obj.if_contains("encoding_format");
  const bool base64 = format != nullptr && format->is_string() && format->get_string() == "base64";

  std::string out = "{\n  \"object\": \"list\",\n  \"data\": [";
  std::int64_t tokens = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    tokens += static_cast<std::int64_t>(count_words(texts[i]));
    out += i == 0 ? "\n" : ",\n";
    out += "    {\n      \"object\": \"embedding\",\n      \"index\": ";
    append_int(out, static_cast<std::int64_t>(i));
    out += ",\n      \"embedding\": ";
    std::vector<float> v = embed(texts[i], dimensions);
    if (base64) {
      std::string raw(v.size() * sizeof(float), '\0');
      std::memcpy(raw.data(), v.data(), raw.size());  // little-endian float32, as OpenAI sends
      out.push_back('"');
      append_base64(out, raw);
      out.push_back('"');
    } else {
      out += "[";
      for (std::size_t k = 0; k < v.size(); ++k) {
        std::array<char, 32> num{};
        std::snprintf(num.data(), num.size(), "%.9g", static_cast<double>(v[k]));
        out += k == 0 ? "\n        " : ",\n        ";
        out += num.data();
      }
      out += "\n      ]";
    }
    out += "\n    }";
  }
  out += "\n  ],\n  \"model\": ";
  append_json_string(out, model != nullptr && model->is_string()
                              ? std::string_view(model->get_string())
                              : std::string_view(c.name));
  out += ",\n  \"usage\": {\n    \"prompt_tokens\": ";
  append_int(out, tokens);
  out += ",\n    \"total_tokens\": ";
  append_int(out, tokens);
  out += "\n  }\n}\n";
  return json_reply(200, std::move(out), request_id_header(c.serial));
}

}  // namespace

namespace wire {

std::string openai_error_json(std::string_view message, std::string_view type,
                              std::string_view code, std::string_view param) {
  std::string out;
  out.reserve(128 + message.size());
  out += "{\n  \"error\": {\n    \"message\": ";
  append_json_string(out, message);
  out += ",\n    \"type\": ";
  append_json_string(out, type);
  out += ",\n    \"param\": ";
  if (param.empty()) {
    out += "null";
  } else {
    append_json_string(out, param);
  }
  out += ",\n    \"code\": ";
  if (code.empty()) {
    out += "null";
  } else {
    append_json_string(out, code);
  }
  out += "\n  }\n}\n";
  return out;
}

ChatRead read_openai_chat(std::string_view body, bool model_required) {
  // Small requests parse without touching the heap.
  std::array<unsigned char, 16384> arena;
  json::monotonic_resource memory(arena.data(), arena.size());
  error_code ec;
  json::value doc = json::parse(body, ec, &memory);
  if (ec || !doc.is_object()) {
    return bad_request(kInvalidJsonMessage, "", "");
  }
  const auto& obj = doc.get_object();
  const auto* model = obj.if_contains("model");
  if ((model == nullptr && model_required) || (model != nullptr && !model->is_string())) {
    return bad_request("you must provide a model parameter", "", "");
  }
  const auto* messages = obj.if_contains("messages");
  if (messages == nullptr) {
    return bad_request("Missing required parameter: 'messages'.", "missing_required_parameter",
                       "messages");
  }
  if (!messages->is_array()) {
    return bad_request("Invalid type for 'messages': expected an array of objects, but got " +
                           std::string(json_kind(*messages)) + " instead.",
                       "invalid_type", "messages");
  }
  const auto& list = messages->get_array();
  if (list.empty()) {
    return bad_request("[] is too short - 'messages'", "empty_array", "messages");
  }

  ChatRead read;
  Dialogue& d = read.dialogue;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* message = list[i].if_object();
    if (message == nullptr) {
      std::string param = "messages[" + std::to_string(i) + "]";
      return bad_request("Invalid type for '" + param + "': expected an object, but got " +
                             std::string(json_kind(list[i])) + " instead.",
                         "invalid_type", param);
    }
    std::string text;
    if (const auto* content = message->if_contains("content")) {
      text = content_text(*content);
    }
    d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
    const auto* role = message->if_contains("role");
    std::string_view role_name = role != nullptr && role->is_string()
                                     ? std::string_view(role->get_string())
                                     : std::string_view();
    const bool last = i + 1 == list.size();
    if (role_name == "user") {
      d.last_text = std::move(text);
      d.last_is_user = last;
    } else if (role_name == "tool" && last) {
      d.last_text = std::move(text);
      d.last_is_tool_result = true;
    }
  }
  if (model != nullptr) {
    d.model.assign(model->get_string());
  }
  if (const auto* tools = obj.if_contains("tools"); tools != nullptr && tools->is_array()) {
    for (const auto& tool : tools->get_array()) {
      const auto* fn = tool.is_object() ? tool.get_object().if_contains("function") : nullptr;
      const auto* name =
          fn != nullptr && fn->is_object() ? fn->get_object().if_contains("name") : nullptr;
      if (name != nullptr && name->is_string()) {
        d.first_tool.assign(name->get_string());
        break;
      }
    }
  }
  d.max_tokens = int_field(obj, "max_completion_tokens");
  if (!d.max_tokens) {
    d.max_tokens = int_field(obj, "max_tokens");
  }
  if (const auto* stream = obj.if_contains("stream"); stream != nullptr && stream->is_bool()) {
    d.stream = stream->get_bool();
  }
  if (const auto* so = obj.if_contains("stream_options"); so != nullptr && so->is_object()) {
    const auto* include = so->get_object().if_contains("include_usage");
    read.include_usage = include != nullptr && include->is_bool() && include->get_bool();
  }
  return read;
}

WireReply openai_answer(const WireRequest& r, const WireContext& c) {
  if (r.method == boost::beast::http::verb::get) {
    return openai_models(c.name, c.created, c);
  }
  if (r.path.ends_with("/chat/completions")) {
    return chat(r, c);
  }
  if (r.path.ends_with("/embeddings")) {
    return embeddings(r, c);
  }
  if (r.path.ends_with("/responses")) {
    return responses_answer(r, c);
  }
  return legacy_completion(r, c);
}

WireReply openai_status_error(unsigned status, const WireContext& c) {
  ErrorShape shape = error_for_status(status);
  std::string headers = request_id_header(c.serial);
  if (status == 429) {
    headers += "retry-after: 1\r\n";
  }
  return json_reply(status, openai_error_json(shape.message, shape.type, shape.code, ""),
                    std::move(headers));
}

WireReply openai_not_found(const WireRequest& r, const WireContext& c) {
  std::string message = "Invalid URL (";
  message += r.method_name;
  message += ' ';
  message += r.path;
  message += ')';
  return json_reply(404, openai_error_json(message, "invalid_request_error", "", ""),
                    request_id_header(c.serial));
}

WireReply openai_models(std::string_view name, std::int64_t created, const WireContext& c) {
  std::string out = "{\n  \"object\": \"list\",\n  \"data\": [\n    {\n      \"id\": ";
  append_json_string(out, name);
  out += ",\n      \"object\": \"model\",\n      \"created\": ";
  append_int(out, created);
  out += ",\n      \"owned_by\": ";
  append_json_string(out, kOwnedBy);
  out += "\n    }\n  ]\n}\n";
  return json_reply(200, std::move(out), request_id_header(c.serial));
}

}  // namespace wire

// --- public builders ---

std::string chat_completion_body(std::string_view model, std::string_view content, Usage usage,
                                 std::string_view id) {
  return completion_body(model, text_turn(content, {}), usage, id, now_seconds(), 0);
}

std::vector<std::string> chat_stream_events(std::string_view model,
                                            const std::vector<std::string>& pieces,
                                            bool include_usage, Usage usage, std::string_view id) {
  return stream_events(model, text_turn("", pieces), include_usage, usage, id, now_seconds(), 0);
}

std::vector<std::string> stream_pieces(std::string_view text) {
  return split_pieces(text);
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  return openai_error_json(message, type, code, "");
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code,
                       std::string_view param) {
  return openai_error_json(message, type, code, param);
}

Response sse_response(const std::vector<std::string>& events, std::chrono::milliseconds gap) {
  Response r;
  r.headers = {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-cache"}};
  r.chunks.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    r.chunks.push_back(Chunk{events[i], i == 0 ? std::chrono::milliseconds{0} : gap});
  }
  return r;
}

}  // namespace sb::testing
