#include "adapters/translate_common.h"
#include "adapters/json_write.h"

#include <algorithm>
#include <array>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"

namespace sb::adapters {

namespace json = boost::json;

namespace {

/// Whether `v` is present and not JSON null.
bool is_set(const json::value* v) {
  return v != nullptr && !v->is_null();
}

}  // namespace

bool is_data_url(std::string_view url) {
  return starts_with_ci(url, "data:");
}

std::optional<DataUrl> parse_data_url(std::string_view url) {
  constexpr std::string_view kBase64 = ";base64";
  const std::size_t comma = url.find(',');
  if (!is_data_url(url) || comma == std::string_view::npos) {
    return std::nullopt;
  }
  DataUrl d;
  d.header = url.substr(5, comma - 5);
  d.media_type = d.header.substr(0, d.header.find(';'));
  d.base64 = d.header.size() >= kBase64.size() &&
             starts_with_ci(d.header.substr(d.header.size() - kBase64.size()), kBase64);
  d.data = url.substr(comma + 1);
  return d;
}

std::optional<DataUrl> base64_data_url(std::string_view url, std::string_view provider,
                                       const RequestFailure& fail) {
  std::optional<DataUrl> data = parse_data_url(url);
  if (!data) {
    fail("data URL without a comma");
    return std::nullopt;
  }
  if (!data->base64) {
    fail("only base64 data URLs can be sent to " + std::string(provider));
    return std::nullopt;
  }
  return data;
}

std::optional<ToolChoice> tool_choice_of(const json::object& body, bool or_function_call) {
  const json::value* v = body.if_contains("tool_choice");
  if (!is_set(v) && or_function_call) {
    v = body.if_contains("function_call");
  }
  if (!is_set(v)) {
    return std::nullopt;
  }
  ToolChoice c;
  using Kind = ToolChoice::Kind;
  if (const json::string* s = v->if_string()) {
    c.is_string = true;
    c.text = view(*s);
    c.kind = c.text == "none"       ? Kind::none
             : c.text == "auto"     ? Kind::automatic
             : c.text == "required" ? Kind::required
                                    : Kind::unknown;
    return c;
  }
  c.object = v->if_object();
  if (c.object == nullptr) {
    return c;
  }
  c.type = string_of(c.object->if_contains("type"));
  c.name = string_of(member_of(object_of(c.object->if_contains("function")), "name"));
  if (c.name.empty() && c.type.empty()) {
    c.name = string_of(c.object->if_contains("name"));
    c.legacy_name = !c.name.empty();
  }
  if (c.type == "allowed_tools") {
    c.kind = Kind::allowed_tools;
  } else if (!c.name.empty() && (c.type.empty() || c.type == "function")) {
    c.kind = Kind::function;
  }
  return c;
}

json::value json_of(std::string_view raw) {
  if (raw.empty()) {
    return nullptr;
  }
  std::optional<json::value> v = parse_request_json(raw);
  return v ? std::move(*v) : json::value();
}

std::string_view message_member(const ChatMessage& m, std::string_view body, std::string_view key) {
  for (auto it = m.unknown.rbegin(); it != m.unknown.rend(); ++it) {
    if (it->key == key) {
      return body.substr(it->value_begin, it->value_end - it->value_begin);
    }
  }
  return {};
}

std::optional<ToolChoice> tool_choice_of(const ChatRequest& r, bool or_function_call,
                                         json::object& holder) {
  if (const std::string_view raw = r.raw("tool_choice"); !raw.empty()) {
    holder["tool_choice"] = json_of(raw);
  }
  if (const std::string_view raw = r.raw("function_call"); !raw.empty()) {
    holder["function_call"] = json_of(raw);
  }
  return tool_choice_of(holder, or_function_call);
}

bool assistant_function_calls(const ChatMessage& m, std::string_view body,
                              std::string_view provider, std::string_view wrapper,
                              std::string_view arguments_key, json::array& out,
                              const RequestFailure& fail) {
  for (const ChatToolCall& c : m.tool_calls) {
    if (c.type != "function") {
      return fail("assistant tool calls must be of type function");
    }
    if (c.name.empty()) {
      return fail("assistant tool call without a function name");
    }
    std::optional<json::value> args = tool_arguments_object(c.arguments);
    if (!args) {
      return fail("tool call arguments of '" + std::string(c.name) +
                  "' must be a JSON object for " + std::string(provider));
    }
    json::object call{{"name", c.name}, {arguments_key, std::move(*args)}};
    out.push_back(json::object{{wrapper, std::move(call)}});
  }
  const std::string_view legacy = message_member(m, body, "function_call");
  if (legacy.empty()) {
    return true;
  }
  // the legacy form, read as the DOM helper reads it
  const json::object holder{{"function_call", json_of(legacy)}};
  return assistant_function_calls(holder, provider, wrapper, arguments_key, out, fail);
}

json::value output_cap_json(const ChatRequest& r) {
  if (r.max_completion_tokens) {
    return json_of(r.raw("max_completion_tokens"));
  }
  return r.max_tokens ? json_of(r.raw("max_tokens")) : json::value();
}

json::array stop_json(const ChatRequest& r) {
  json::array stop;
  stop.reserve(r.stop.size());
  for (const std::string_view s : r.stop) {
    stop.emplace_back(s);
  }
  return stop;
}

std::string_view tool_name_for(std::span<const ChatMessage> messages, std::size_t before,
                               std::string_view id) {
  for (std::size_t i = before; i-- > 0;) {
    if (messages[i].role_text != "assistant") {
      continue;
    }
    for (const ChatToolCall& c : messages[i].tool_calls) {
      if (c.id == id) {
        return c.name;
      }
    }
  }
  return {};
}

namespace {

bool append_function_call(const json::object* fn, std::string_view provider,
                          std::string_view wrapper, std::string_view arguments_key,
                          json::array& out, const RequestFailure& fail) {
  std::string_view name;
  json::value args;
  if (!function_call_of(fn, provider, fail, name, args)) {
    return false;
  }
  json::object call{{"name", name}, {arguments_key, std::move(args)}};
  out.push_back(json::object{{wrapper, std::move(call)}});
  return true;
}

}  // namespace

bool assistant_function_calls(const json::object& message, std::string_view provider,
                              std::string_view wrapper, std::string_view arguments_key,
                              json::array& out, const RequestFailure& fail) {
  if (const json::array* calls = array_of(message.if_contains("tool_calls"))) {
    for (const json::value& c : *calls) {
      const json::object* co = c.if_object();
      if (co == nullptr || string_of(co->if_contains("type")) != "function") {
        return fail("assistant tool calls must be of type function");
      }
      if (!append_function_call(object_of(co->if_contains("function")), provider, wrapper,
                                arguments_key, out, fail)) {
        return false;
      }
    }
  }
  const json::object* legacy = object_of(message.if_contains("function_call"));
  return legacy == nullptr ||
         append_function_call(legacy, provider, wrapper, arguments_key, out, fail);
}

bool SamplingText::read(const json::object& body, std::string& error) {
  return number_text(body, "temperature", temperature, error) &&
         number_text(body, "top_p", top_p, error);
}

void SamplingText::write(std::string& json) const {
  if (!temperature.empty()) {
    set_member(json, "temperature", temperature);
  }
  if (!top_p.empty()) {
    set_member(json, "top_p", top_p);
  }
}

std::string percent_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

std::string_view trimmed_base(std::string_view base_path) {
  while (!base_path.empty() && base_path.back() == '/') {
    base_path.remove_suffix(1);
  }
  return base_path;
}

std::string_view openai_finish_reason(std::string_view provider_reason) {
  struct Row {
    std::string_view from;
    std::string_view to;
  };
  static constexpr Row kReasons[] = {
      // Anthropic: https://docs.anthropic.com/en/api/handling-stop-reasons (end_turn,
      // stop_sequence and pause_turn, a server tool pausing a long turn whose text so far is a
      // complete answer for an OpenAI client, read as "stop").
      {"max_tokens", "length"},
      {"model_context_window_exceeded", "length"},
      {"tool_use", "tool_calls"},
      {"refusal", "content_filter"},
      // Bedrock Converse:
      // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
      {"guardrail_intervened", "content_filter"},
      {"content_filtered", "content_filter"},
      // Gemini: https://ai.google.dev/api/generate-content#FinishReason
      {"MAX_TOKENS", "length"},
      {"SAFETY", "content_filter"},
      {"RECITATION", "content_filter"},
      {"BLOCKLIST", "content_filter"},
      {"PROHIBITED_CONTENT", "content_filter"},
      {"SPII", "content_filter"},
      {"IMAGE_SAFETY", "content_filter"},
      {"IMAGE_PROHIBITED_CONTENT", "content_filter"},
      {"IMAGE_RECITATION", "content_filter"},
      // Ollama's done_reason: "stop", "length", or "load"/"unload" for a request without messages.
      {"length", "length"},
  };
  for (const Row& r : kReasons) {
    if (r.from == provider_reason) {
      return r.to;
    }
  }
  return "stop";
}

std::string_view map_status(std::span<const StatusMapping> table, unsigned status,
                            std::string_view otherwise) {
  const auto it = std::find_if(table.begin(), table.end(),
                               [&](const StatusMapping& m) { return m.status == status; });
  return it != table.end() ? it->to : otherwise;
}

std::string content_text(const json::value* content) {
  std::string text;
  if (content == nullptr) {
    return text;
  }
  if (content->is_string()) {
    text = view(content->get_string());
  } else if (const json::array* parts = content->if_array()) {
    for (const json::value& p : *parts) {
      if (const json::object* part = p.if_object()) {
        text += string_member(*part, "text");
      }
    }
  }
  return text;
}

TranslatedResponse completion_response(json::object completion, std::optional<Usage> usage) {
  if (usage) {
    completion["usage"] = usage_object(*usage);
  }
  TranslatedResponse r;
  r.body = to_json(completion);
  r.usage = usage;
  return r;
}

Usage split_prompt_usage(std::int64_t uncached_input, std::int64_t output, std::int64_t cache_read,
                         std::int64_t cache_write) {
  Usage u;
  u.input = uncached_input + cache_read + cache_write;
  u.output = output;
  u.cached_input = cache_read;
  u.cache_write = cache_write;
  return u;
}

}  // namespace sb::adapters
