// Ollama's native API: POST /api/chat (NDJSON stream by default), GET /api/tags, /api/version and
// / (https://github.com/ollama/ollama/blob/main/docs/api.md). Ollama is written in Go: its JSON is
// compact with Go's HTML escaping and its times are RFC 3339 with nanoseconds.
#include <boost/json/parse.hpp>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

constexpr std::string_view kVersion = "0.5.7";
constexpr std::string_view kJsonType = "application/json; charset=utf-8";
// Synthetic timings in nanoseconds: a warm model, a fast prompt pass.
constexpr std::int64_t kLoadNs = 500'000;
constexpr std::int64_t kPromptNsPerToken = 100'000;

json::object message(std::string_view content) {
  return json::object{{"role", "assistant"}, {"content", content}};
}

json::object line(std::string_view model, const std::string& created_at, json::object msg) {
  return json::object{
      {"model", model}, {"created_at", created_at}, {"message", std::move(msg)}, {"done", false}};
}

/// The final fields: done_reason, done:true, the durations and counts.
void finish(json::object& o, std::string_view done_reason, const Usage& usage,
            std::chrono::milliseconds latency) {
  o.erase("done");
  std::int64_t per_token =
      std::max<std::int64_t>(std::chrono::nanoseconds(latency).count(), 1'000'000);
  std::int64_t prompt_ns = usage.prompt * kPromptNsPerToken;
  std::int64_t eval_ns = usage.completion * per_token;
  o["done_reason"] = done_reason;
  o["done"] = true;
  o["total_duration"] = kLoadNs + prompt_ns + eval_ns;
  o["load_duration"] = kLoadNs;
  o["prompt_eval_count"] = usage.prompt;
  o["prompt_eval_duration"] = prompt_ns;
  o["eval_count"] = usage.completion;
  o["eval_duration"] = eval_ns;
}

std::vector<std::string> ndjson(std::string_view model, const Turn& t, const Usage& usage,
                                std::string_view done_reason, std::chrono::milliseconds latency) {
  std::vector<std::string> lines;
  if (t.tool_call) {
    json::object msg = message("");
    msg["tool_calls"] = json::array{
        json::object{{"function", json::object{{"name", t.tool_name},
                                               {"arguments", json::parse(t.arguments_json)}}}}};
    lines.push_back(to_json(line(model, rfc3339_nano_now(), std::move(msg)), JsonStyle::go) + "\n");
  } else {
    for (const auto& piece : t.pieces) {
      lines.push_back(to_json(line(model, rfc3339_nano_now(), message(piece)), JsonStyle::go) +
                      "\n");
    }
  }
  json::object last = line(model, rfc3339_nano_now(), message(""));
  finish(last, done_reason, usage, latency);
  lines.push_back(to_json(last, JsonStyle::go) + "\n");
  return lines;
}

std::string whole(std::string_view model, const Turn& t, const Usage& usage,
                  std::string_view done_reason, std::chrono::milliseconds latency) {
  json::object msg = message(t.text);
  if (t.tool_call) {
    msg["tool_calls"] = json::array{
        json::object{{"function", json::object{{"name", t.tool_name},
                                               {"arguments", json::parse(t.arguments_json)}}}}};
  }
  json::object o = line(model, rfc3339_nano_now(), std::move(msg));
  finish(o, done_reason, usage, latency);
  return to_json(o, JsonStyle::go);
}

WireReply error(unsigned status, std::string_view message) {
  WireReply r = json_reply(status, to_json(json::object{{"error", message}}, JsonStyle::go));
  r.content_type = kJsonType;
  if (status == 429) {
    r.headers = "retry-after: 1\r\n";
  }
  return r;
}

std::string tagged(std::string_view name) {
  std::string out(name);
  if (out.find(':') == std::string::npos) {
    out += ":latest";
  }
  return out;
}

WireReply tags(const WireContext& c) {
  std::string name = tagged(c.name);
  std::string digest;
  for (std::uint32_t i = 0; i < 8; ++i) {
    append_hex_padded(digest, crc32(name, i), 8);
  }
  json::object details{{"parent_model", ""},       {"format", "gguf"},
                       {"family", "llama"},        {"families", json::array{"llama"}},
                       {"parameter_size", "8.0B"}, {"quantization_level", "Q4_K_M"}};
  json::object model{{"name", name},       {"model", name},    {"modified_at", rfc3339_nano_now()},
                     {"size", 4920753328}, {"digest", digest}, {"details", std::move(details)}};
  WireReply r = json_reply(
      200, to_json(json::object{{"models", json::array{std::move(model)}}}, JsonStyle::go));
  r.content_type = kJsonType;
  return r;
}

WireReply chat(const WireRequest& r, const WireContext& c) {
  error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) {
    return error(400, "invalid character looking for beginning of value");
  }
  const auto& obj = doc.get_object();
  const auto* model = obj.if_contains("model");
  if (model == nullptr || !model->is_string() || model->get_string().empty()) {
    return error(400, "model is required");
  }
  Dialogue d;
  d.model.assign(model->get_string());
  d.stream = true;  // Ollama streams unless told not to
  if (const auto* s = obj.if_contains("stream"); s != nullptr && s->is_bool()) {
    d.stream = s->get_bool();
  }
  if (const auto* messages = obj.if_contains("messages"); messages != nullptr) {
    if (!messages->is_array()) {
      return error(400,
                   "json: cannot unmarshal messages into Go struct field "
                   "ChatRequest.messages of type []api.Message");
    }
    const auto& list = messages->get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto* m = list[i].if_object();
      if (m == nullptr) {
        continue;
      }
      std::string text;
      if (const auto* content = m->if_contains("content"); content != nullptr) {
        text = tool_result_text(*content);
      }
      d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
      const auto* role = m->if_contains("role");
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
  if (const auto* options = obj.if_contains("options");
      options != nullptr && options->is_object()) {
    if (const auto* n = options->get_object().if_contains("num_predict");
        n != nullptr && n->is_int64() && n->get_int64() >= 0) {
      d.max_tokens = n->get_int64();
    }
  }
  Turn t = plan_turn(d, c.name);
  Usage usage{t.prompt_tokens, t.completion_tokens, -1};
  std::string_view done_reason = t.truncated ? "length" : "stop";
  if (!d.stream) {
    WireReply reply = json_reply(200, whole(d.model, t, usage, done_reason, c.latency));
    reply.content_type = kJsonType;
    return reply;
  }
  WireReply reply;
  reply.content_type = "application/x-ndjson";
  reply.events = ndjson(d.model, t, usage, done_reason, c.latency);
  return reply;
}

}  // namespace

namespace wire {

WireReply ollama_answer(const WireRequest& r, const WireContext& c) {
  if (r.path == "/") {
    WireReply reply = json_reply(200, "Ollama is running");
    reply.content_type = "text/plain; charset=utf-8";
    return reply;
  }
  if (r.path == "/api/version") {
    WireReply reply = json_reply(200, to_json(json::object{{"version", kVersion}}, JsonStyle::go));
    reply.content_type = kJsonType;
    return reply;
  }
  if (r.path == "/api/tags") {
    return tags(c);
  }
  return chat(r, c);
}

WireReply ollama_status_error(unsigned status, const WireContext&) {
  switch (status) {
    case 400:
      return error(status, "invalid request");
    case 404:
      return error(status, "model not found, try pulling it first");
    case 429:
    case 503:
      return error(status, "server busy, please try again.  maximum pending requests exceeded");
    default:
      return error(status, status >= 500 ? "llama runner process has terminated: exit status 2"
                                         : "invalid request");
  }
}

}  // namespace wire

// --- public builders ---

std::vector<std::string> ollama_ndjson_lines(std::string_view model,
                                             const std::vector<std::string>& pieces, Usage usage,
                                             std::string_view done_reason) {
  Turn t;
  t.pieces = pieces;
  return ndjson(model, t, usage, done_reason, std::chrono::milliseconds{0});
}

std::string ollama_chat_body(std::string_view model, std::string_view text, Usage usage,
                             std::string_view done_reason) {
  Turn t;
  t.text.assign(text);
  return whole(model, t, usage, done_reason, std::chrono::milliseconds{0});
}

std::string ollama_error_body(std::string_view message) {
  return to_json(json::object{{"error", message}}, JsonStyle::go);
}

}  // namespace sb::testing
