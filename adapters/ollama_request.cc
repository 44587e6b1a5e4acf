// OpenAI chat request → Ollama native /api/chat request (OllamaTranslator::request). Answers,
// NDJSON streams and errors are in ollama_response.cc.
#include "adapters/json_write.h"
#include "adapters/ollama.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

// ---- request: messages ------------------------------------------------------------------------

/// `data:<mime>;base64,<data>` → the base64 payload, which is what Ollama's `images` takes:
/// https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-with-images
bool image_payload(std::string_view url, json::array& images, const RequestFailure& fail) {
  if (!is_data_url(url)) {
    // Ollama has no way to fetch a URL; another backend may take the request.
    return fail("Ollama accepts images only as base64 data: URLs, not remote URLs");
  }
  const std::optional<DataUrl> data = base64_data_url(url, "Ollama", fail);
  if (!data) {
    return false;
  }
  if (data->data.empty()) {
    return fail("data URL without data");
  }
  images.push_back(json::string(data->data));
  return true;
}

/// A message's `content` (string, parts, or none) as Ollama's `content` string and `images`.
/// `media`: whether image parts are allowed (user messages only).
bool read_content(const ChatMessage& m, bool media, std::string& text, json::array& images,
                  const RequestFailure& fail) {
  if (m.content_kind == ChatMessage::Content::text) {
    text.assign(m.text);
    return true;
  }
  bool first = true;
  for (const ChatContentPart& p : m.parts) {
    if (p.type == "text" || (p.type == "refusal" && !media)) {
      // Ollama takes one string per message; parts are joined one per line.
      if (!first) {
        text.push_back('\n');
      }
      first = false;
      text.append(p.text);
    } else if (p.type == "image_url" && media) {
      if (p.media().url.empty()) {
        return fail("image_url part without a url");
      }
      if (!image_payload(p.media().url, images, fail)) {
        return false;
      }
    } else {
      return fail("content part type '" + std::string(p.type) + "' is not supported by Ollama" +
                  (media ? "" : " in this message role"));
    }
  }
  return true;
}

/// An assistant message's tool calls and legacy function_call as `tool_calls` of `msg`, in
/// Ollama's `{function{name, arguments}}` with the arguments an object:
/// https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-with-tools
bool assistant_tool_calls(const ChatMessage& m, std::string_view body, json::object& msg,
                          const RequestFailure& fail) {
  json::array calls;
  if (!assistant_function_calls(m, body, "Ollama", "function", "arguments", calls, fail)) {
    return false;
  }
  if (!calls.empty()) {
    msg["tool_calls"] = std::move(calls);
  }
  return true;
}

/// Ollama's role for an OpenAI one; empty when Ollama has none. Ollama knows no "developer"
/// role (the system prompt of newer OpenAI models); tool and legacy function results are "tool".
std::string_view ollama_role(std::string_view role) {
  if (role == "system" || role == "developer") {
    return "system";
  }
  if (role == "user" || role == "assistant") {
    return role;
  }
  return role == "tool" || role == "function" ? "tool" : "";
}

bool translate_messages(const ChatRequest& r, json::array& out, const RequestFailure& fail) {
  const std::span<const ChatMessage> messages = r.messages;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const std::string_view role = m.role_text;
    const std::string_view as = ollama_role(role);
    if (as.empty()) {
      return fail("message role '" + std::string(role) + "' is not supported by Ollama");
    }
    std::string text;
    json::array images;
    if (!read_content(m, role == "user", text, images, fail)) {
      return false;
    }
    json::object msg{{"role", as}, {"content", std::move(text)}};
    if (!images.empty()) {
      msg["images"] = std::move(images);  // user messages only: read_content takes none elsewhere
    }
    if (role == "assistant" && !assistant_tool_calls(m, r.body, msg, fail)) {
      return false;
    }
    if (as == "tool") {
      // Newer Ollama versions read `tool_name` to tie the result to its call (older ones ignore
      // the member).
      const std::string_view name =
          role == "tool" ? tool_name_for(messages, i, m.tool_call_id) : m.name;
      if (!name.empty()) {
        msg["tool_name"] = name;
      }
    }
    out.push_back(std::move(msg));
  }
  return true;
}

// ---- request: tools, options, format ---------------------------------------------------------

/// OpenAI tools keep their shape in Ollama (`{type: "function", function{name, description,
/// parameters}}`). Ollama has no tool_choice: "none" sends no tools, "auto" sends them, forcing a
/// call cannot be expressed.
bool translate_tools(const ChatRequest& r, json::object& out, const RequestFailure& fail) {
  bool send = true;
  json::object holder;
  if (const std::optional<ToolChoice> choice = tool_choice_of(r, true, holder)) {
    if (choice->kind == ToolChoice::Kind::none) {
      send = false;
    } else if (choice->kind != ToolChoice::Kind::automatic) {
      return fail("Ollama cannot force a tool call (tool_choice must be \"auto\" or \"none\")");
    }
  }
  json::array tools;
  for (const ChatTool& t : r.tools) {
    if (t.type != "function") {
      return fail("only function tools are supported by Ollama");
    }
    if (t.name.empty()) {
      return fail("tool function without a name");
    }
    json::object function{{"name", t.name}};
    if (!t.description.empty()) {
      function["description"] = t.description;
    }
    if (t.parameters.starts_with('{')) {
      function["parameters"] = json_of(t.parameters);
    }
    tools.push_back(json::object{{"type", "function"}, {"function", std::move(function)}});
  }
  if (const json::value fns = json_of(r.raw("functions")); fns.is_array()) {
    for (const json::value& f : fns.get_array()) {
      const json::object* fn = f.if_object();
      if (string_of(member_of(fn, "name")).empty()) {
        return fail("function without a name");
      }
      tools.push_back(json::object{{"type", "function"}, {"function", *fn}});
    }
  }
  if (send && !tools.empty()) {
    out["tools"] = std::move(tools);
  }
  return true;
}

/// Sampling parameters go in `options`, with Ollama's names, as the client wrote the numbers:
/// https://github.com/ollama/ollama/blob/main/docs/modelfile.md#valid-parameters-and-values
bool translate_options(const ChatRequest& r, json::object& out, const RequestFailure& fail) {
  if (r.n && *r.n > 1) {
    return fail("Ollama answers one choice per request (n must be 1)");
  }
  json::object options;
  auto copy_number = [&](std::string_view key, bool set) {
    if (set) {
      options[key] = json_of(r.raw(key));
    }
  };
  copy_number("temperature", r.temperature.has_value());
  copy_number("top_p", r.top_p.has_value());
  copy_number("seed", r.seed.has_value());
  copy_number("presence_penalty", r.presence_penalty.has_value());
  copy_number("frequency_penalty", r.frequency_penalty.has_value());
  if (json::value cap = output_cap_json(r); !cap.is_null()) {
    options["num_predict"] = std::move(cap);
  }
  if (!r.stop.empty()) {
    options["stop"] = stop_json(r);
  }
  if (!options.empty()) {
    out["options"] = std::move(options);
  }
  return true;
}

/// `format`: "json" for JSON mode, or the JSON schema itself for structured outputs:
/// https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-structured-outputs
bool translate_format(const ChatRequest& r, json::object& out, const RequestFailure& fail) {
  if (!r.response_format) {
    return true;
  }
  const std::string_view type = r.response_format->type;
  if (type == "json_object") {
    out["format"] = "json";
  } else if (type == "json_schema") {
    const json::value spec = json_of(r.response_format->json_schema);
    const json::value* schema = member_of(spec.if_object(), "schema");
    if (schema == nullptr || !schema->is_object()) {
      return fail("response_format json_schema needs a schema object");
    }
    out["format"] = *schema;
  } else if (!type.empty() && type != "text") {
    return fail("response_format type '" + std::string(type) + "' is not supported by Ollama");
  }
  return true;
}

}  // namespace

template <>
Result<UpstreamRequest, TranslateError> OllamaTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const {
  TranslateError error;
  const RequestFailure fail{error};
  UpstreamRequest req;
  req.stream = r.stream.value_or(false);

  json::object out;
  out["model"] = spec.model;
  json::array msgs;
  if (!translate_messages(r, msgs, fail)) {
    return error;
  }
  out["messages"] = std::move(msgs);
  if (!translate_tools(r, out, fail) || !translate_options(r, out, fail) ||
      !translate_format(r, out, fail)) {
    return error;
  }
  // Ollama streams unless told otherwise: always say which.
  out["stream"] = req.stream;

  std::string_view base = trimmed_base(spec.base_path);
  if (base.ends_with("/v1")) {
    base.remove_suffix(3);  // the OpenAI-compatible prefix; the native API is beside it
  }
  req.target.assign(base);
  req.target += "/api/chat";
  req.headers.emplace_back("content-type", "application/json");
  if (!spec.api_key.empty()) {
    req.headers.emplace_back("authorization", std::string("Bearer ").append(spec.api_key));
  }
  req.body = to_json(out);
  return req;
}

}  // namespace sb::adapters
