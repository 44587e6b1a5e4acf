// Amazon Bedrock's Converse API: POST /model/{modelId}/converse and /converse-stream
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html). Streams are
// binary `application/vnd.amazon.eventstream` messages: a prelude (total length, headers length,
// prelude CRC32), typed headers, a JSON payload and a message CRC32. Bedrock pads each event
// payload with a "p" field of varying length so sizes do not leak the text; clients ignore it.
#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

constexpr std::string_view kPadding =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kErrorTypeSuffix =
    ":http://internal.amazon.com/coral/com.amazon.bedrock/";

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFF));
  out.push_back(static_cast<char>((v >> 16) & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

/// One string-typed (type 7) header: name length, name, type, value length (u16 BE), value.
void put_header(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(static_cast<char>(name.size()));
  out += name;
  out.push_back(static_cast<char>(7));
  out.push_back(static_cast<char>((value.size() >> 8) & 0xFF));
  out.push_back(static_cast<char>(value.size() & 0xFF));
  out += value;
}

std::string frame(const std::vector<std::pair<std::string_view, std::string_view>>& headers,
                  std::string_view payload) {
  std::string h;
  for (const auto& [name, value] : headers) {
    put_header(h, name, value);
  }
  std::string out;
  const auto total = static_cast<std::uint32_t>(12 + h.size() + payload.size() + 4);
  out.reserve(total);
  put_u32(out, total);
  put_u32(out, static_cast<std::uint32_t>(h.size()));
  put_u32(out, crc32(out));
  out += h;
  out += payload;
  put_u32(out, crc32(out));
  return out;
}

std::string event_frame(std::string_view event_type, std::string_view payload) {
  return frame({{":event-type", event_type},
                {":content-type", "application/json"},
                {":message-type", "event"}},
               payload);
}

std::string_view pad(std::size_t i) {
  return kPadding.substr(0, 1 + (i * 7) % kPadding.size());
}

json::object usage_object(const Usage& u) {
  return json::object{{"inputTokens", u.prompt},
                      {"outputTokens", u.completion},
                      {"totalTokens", u.prompt + u.completion}};
}

std::string_view stop_reason_of(const Turn& t) {
  return t.tool_call ? "tool_use" : t.truncated ? "max_tokens" : "end_turn";
}

std::string converse_body(const Turn& t, const Usage& usage, std::string_view stop_reason,
                          std::int64_t latency_ms, std::string_view tool_id) {
  json::object block;
  if (t.tool_call) {
    block["toolUse"] = json::object{
        {"input", json::parse(t.arguments_json)}, {"name", t.tool_name}, {"toolUseId", tool_id}};
  } else {
    block["text"] = t.text;
  }
  json::object body{
      {"metrics", json::object{{"latencyMs", latency_ms}}},
      {"output", json::object{{"message", json::object{{"content", json::array{std::move(block)}},
                                                       {"role", "assistant"}}}}},
      {"stopReason", stop_reason},
      {"usage", usage_object(usage)}};
  return to_json(body, JsonStyle::compact);
}

std::vector<std::string> stream_events(const Turn& t, const Usage& usage,
                                       std::string_view stop_reason, std::int64_t latency_ms,
                                       std::string_view tool_id) {
  std::vector<std::string> events;
  std::size_t n = 0;
  auto emit = [&](std::string_view type, const json::object& payload) {
    events.push_back(event_frame(type, to_json(payload, JsonStyle::compact)));
    ++n;
  };
  emit("messageStart", {{"p", pad(n)}, {"role", "assistant"}});
  if (t.tool_call) {
    emit("contentBlockStart",
         {{"contentBlockIndex", 0},
          {"p", pad(n)},
          {"start", json::object{{"toolUse",
                                  json::object{{"name", t.tool_name}, {"toolUseId", tool_id}}}}}});
    for (const auto& fragment : split_arguments(t.arguments_json)) {
      emit("contentBlockDelta",
           {{"contentBlockIndex", 0},
            {"delta", json::object{{"toolUse", json::object{{"input", fragment}}}}},
            {"p", pad(n)}});
    }
  } else {
    for (const auto& piece : t.pieces) {
      emit("contentBlockDelta",
           {{"contentBlockIndex", 0}, {"delta", json::object{{"text", piece}}}, {"p", pad(n)}});
    }
  }
  emit("contentBlockStop", {{"contentBlockIndex", 0}, {"p", pad(n)}});
  emit("messageStop", {{"p", pad(n)}, {"stopReason", stop_reason}});
  emit("metadata", {{"metrics", json::object{{"latencyMs", latency_ms}}},
                    {"p", pad(n)},
                    {"usage", usage_object(usage)}});
  return events;
}

std::string request_id(std::uint64_t serial) {
  return "x-amzn-RequestId: " + uuid_from(serial) + "\r\n";
}

WireReply error(unsigned status, std::string_view type, std::string_view message,
                const WireContext& c) {
  std::string headers = request_id(c.serial);
  headers += "x-amzn-ErrorType: ";
  headers += type;
  headers += kErrorTypeSuffix;
  headers += "\r\n";
  if (status == 429) {
    headers += "retry-after: 1\r\n";
  }
  return json_reply(status, to_json(json::object{{"message", message}}, JsonStyle::compact),
                    std::move(headers));
}

/// Text of a message's content blocks; toolResult blocks make it a tool result.
std::string blocks_text(const json::value& content, bool& tool_result) {
  std::string text;
  std::string results;
  const auto* blocks = content.if_array();
  if (blocks == nullptr) {
    return text;
  }
  for (const auto& block : *blocks) {
    const auto* o = block.if_object();
    if (o == nullptr) {
      continue;
    }
    if (const auto* t = o->if_contains("text"); t != nullptr && t->is_string()) {
      text += std::string_view(t->get_string());
    } else if (const auto* r = o->if_contains("toolResult"); r != nullptr && r->is_object()) {
      tool_result = true;
      if (const auto* inner = r->get_object().if_contains("content")) {
        results += tool_result_text(*inner);
      }
    }
  }
  return tool_result ? results : text;
}

}  // namespace

namespace wire {

WireReply bedrock_answer(const WireRequest& r, const WireContext& c) {
  auto auth = r.header("authorization");
  if (!auth || !auth->starts_with("AWS4-HMAC-SHA256 Credential=")) {
    std::string headers =
        request_id(c.serial) + "x-amzn-ErrorType: MissingAuthenticationTokenException\r\n";
    return json_reply(403, R"({"message":"Missing Authentication Token"})", std::move(headers));
  }
  const bool streaming = r.path.ends_with("/converse-stream");
  std::string_view rest = r.path.substr(7);  // after "/model/"
  std::string model_id = url_decode(rest.substr(0, rest.rfind('/')));
  if (model_id.empty()) {
    return error(400, "ValidationException", "The provided model identifier is invalid.", c);
  }
  error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) {
    return error(400, "SerializationException", "Unexpected content in the request body.", c);
  }
  const auto& obj = doc.get_object();
  const auto* messages = obj.if_contains("messages");
  if (messages == nullptr || !messages->is_array() || messages->get_array().empty()) {
    return error(400, "ValidationException",
                 "A conversation must start with a user message. Try again with a conversation "
                 "that starts with a user message.",
                 c);
  }
  Dialogue d;
  d.model = model_id;
  d.stream = streaming;
  if (const auto* system = obj.if_contains("system")) {
    bool ignored = false;
    d.prompt_tokens += static_cast<std::int64_t>(count_words(blocks_text(*system, ignored))) + 3;
  }
  const auto& list = messages->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* m = list[i].if_object();
    if (m == nullptr) {
      continue;
    }
    bool tool_result = false;
    std::string text;
    if (const auto* content = m->if_contains("content")) {
      text = blocks_text(*content, tool_result);
    }
    d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
    const auto* role = m->if_contains("role");
    if (role == nullptr || !role->is_string() || role->get_string() != "user") {
      continue;
    }
    const bool last = i + 1 == list.size();
    if (tool_result) {
      if (last) {
        d.last_text = std::move(text);
        d.last_is_tool_result = true;
      }
    } else {
      d.last_text = std::move(text);
      d.last_is_user = last;
    }
  }
  if (const auto* config = obj.if_contains("toolConfig");
      config != nullptr && config->is_object()) {
    const auto* tools = config->get_object().if_contains("tools");
    if (tools != nullptr && tools->is_array()) {
      for (const auto& tool : tools->get_array()) {
        const auto* spec = tool.is_object() ? tool.get_object().if_contains("toolSpec") : nullptr;
        const auto* name =
            spec != nullptr && spec->is_object() ? spec->get_object().if_contains("name") : nullptr;
        if (name != nullptr && name->is_string()) {
          d.first_tool.assign(name->get_string());
          break;
        }
      }
    }
  }
  if (const auto* config = obj.if_contains("inferenceConfig");
      config != nullptr && config->is_object()) {
    if (const auto* max = config->get_object().if_contains("maxTokens");
        max != nullptr && max->is_int64()) {
      d.max_tokens = max->get_int64();
    }
  }

  Turn t = plan_turn(d, c.name);
  Usage usage{t.prompt_tokens, t.completion_tokens, -1};
  std::int64_t latency_ms =
      std::max<std::int64_t>(1, c.latency.count() * static_cast<std::int64_t>(t.pieces.size() + 1));
  std::string tool_id = vendor_id("tooluse_", ~c.serial, 22);
  if (!streaming) {
    return json_reply(200, converse_body(t, usage, stop_reason_of(t), latency_ms, tool_id),
                      request_id(c.serial));
  }
  WireReply reply;
  reply.content_type = "application/vnd.amazon.eventstream";
  reply.headers = request_id(c.serial) + "x-amzn-bedrock-content-type: application/json\r\n";
  reply.events = stream_events(t, usage, stop_reason_of(t), latency_ms, tool_id);
  return reply;
}

WireReply bedrock_status_error(unsigned status, const WireContext& c) {
  switch (status) {
    case 400:
      return error(status, "ValidationException", "Invalid request.", c);
    case 403:
      return error(status, "AccessDeniedException",
                   "You don't have access to the model with the specified model ID.", c);
    case 404:
      return error(status, "ResourceNotFoundException", "Model not found.", c);
    case 408:
      return error(status, "ModelTimeoutException",
                   "Model has timed out in processing the request.", c);
    case 424:
      return error(status, "ModelErrorException", "The model returned an error.", c);
    case 429:
      return error(status, "ThrottlingException",
                   "Too many requests, please wait before trying again.", c);
    case 503:
      return error(status, "ServiceUnavailableException",
                   "Bedrock is unable to process your request.", c);
    default:
      return status >= 500
                 ? error(status, "InternalServerException", "The server encountered an error.", c)
                 : error(status, "ValidationException", "Invalid request.", c);
  }
}

}  // namespace wire

// --- public builders ---

std::string bedrock_event(std::string_view event_type, std::string_view json_payload) {
  return event_frame(event_type, json_payload);
}

std::string bedrock_exception_event(std::string_view exception_type, std::string_view message) {
  return frame({{":exception-type", exception_type},
                {":content-type", "application/json"},
                {":message-type", "exception"}},
               to_json(json::object{{"message", message}}, JsonStyle::compact));
}

std::string bedrock_converse_body(std::string_view text, Usage usage, std::string_view stop_reason,
                                  std::int64_t latency_ms) {
  Turn t;
  t.text.assign(text);
  return converse_body(t, usage, stop_reason, latency_ms, "");
}

std::vector<std::string> bedrock_stream_events(const std::vector<std::string>& pieces, Usage usage,
                                               std::string_view stop_reason,
                                               std::int64_t latency_ms) {
  Turn t;
  t.pieces = pieces;
  return stream_events(t, usage, stop_reason, latency_ms, "");
}

Response eventstream_response(const std::vector<std::string>& events,
                              std::chrono::milliseconds gap) {
  Response r;
  r.headers = {{"Content-Type", "application/vnd.amazon.eventstream"}};
  r.chunks.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    r.chunks.push_back(Chunk{events[i], i == 0 ? std::chrono::milliseconds{0} : gap});
  }
  return r;
}

}  // namespace sb::testing
