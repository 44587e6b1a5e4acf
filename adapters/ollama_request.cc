// OpenAI chat request → Ollama native /api/chat request (OllamaTranslator::request). Answers,
// NDJSON streams and errors are in ollama_response.cc.
#include "adapters/ollama.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

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
  const std::optional<DataUrl> data = parse_data_url(url);
  if (!data) {
    return fail("data URL without a comma");
  }
  if (!data->base64) {
    return fail("only base64 data URLs can be sent to Ollama");
  }
  if (data->data.empty()) {
    return fail("data URL without data");
  }
  images.push_back(json::string(data->data));
  return true;
}

/// Reads an OpenAI message `content` (string, array of parts, or null) into Ollama's `content`
/// string and `images`. `media`: whether image parts are allowed (user messages only).
bool read_content(const json::value* content, bool media, std::string& text, json::array& images,
                  const RequestFailure& fail) {
  if (content == nullptr || content->is_null()) {
    return true;
  }
  if (const json::string* s = content->if_string()) {
    text.assign(s->data(), s->size());
    return true;
  }
  const json::array* parts = content->if_array();
  if (parts == nullptr) {
    return fail("message content must be a string or an array of parts");
  }
  bool first = true;
  auto append_text = [&](std::string_view t) {
    // Ollama takes one string per message; parts are joined one per line.
    if (!first) {
      text.push_back('\n');
    }
    first = false;
    text.append(t);
  };
  for (const json::value& pv : *parts) {
    const json::object* p = pv.if_object();
    if (p == nullptr) {
      return fail("content parts must be objects");
    }
    const std::string_view type = string_of(p->if_contains("type"));
    if (type == "text") {
      append_text(string_of(p->if_contains("text")));
    } else if (type == "refusal" && !media) {
      append_text(string_of(p->if_contains("refusal")));
    } else if (type == "image_url" && media) {
      const std::string_view url = image_url_of(*p);
      if (url.empty()) {
        return fail("image_url part without a url");
      }
      if (!image_payload(url, images, fail)) {
        return false;
      }
    } else {
      return fail("content part type '" + std::string(type) + "' is not supported by Ollama" +
                  (media ? "" : " in this message role"));
    }
  }
  return true;
}

/// An assistant message's tool calls and legacy function_call as `tool_calls` of `msg`.
bool assistant_tool_calls(const json::object& m, json::object& msg, const RequestFailure& fail) {
  // Ollama's `{function{name, arguments}}`, arguments an object:
  // https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-with-tools
  json::array calls;
  if (!assistant_function_calls(m, "Ollama", "function", "arguments", calls, fail)) {
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

bool translate_messages(const json::array& messages, json::array& out, const RequestFailure& fail) {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json::object* m = messages[i].if_object();
    if (m == nullptr) {
      return fail("messages must be objects");
    }
    const std::string_view role = string_of(m->if_contains("role"));
    const std::string_view as = ollama_role(role);
    if (as.empty()) {
      return fail("message role '" + std::string(role) + "' is not supported by Ollama");
    }
    std::string text;
    json::array images;
    if (!read_content(m->if_contains("content"), role == "user", text, images, fail)) {
      return false;
    }
    json::object msg{{"role", as}, {"content", std::move(text)}};
    if (!images.empty()) {
      msg["images"] = std::move(images);  // user messages only: read_content takes none elsewhere
    }
    if (role == "assistant" && !assistant_tool_calls(*m, msg, fail)) {
      return false;
    }
    if (as == "tool") {
      // Newer Ollama versions read `tool_name` to tie the result to its call (older ones ignore
      // the member).
      const std::string_view name =
          role == "tool" ? tool_name_for(messages, i, string_of(m->if_contains("tool_call_id")))
                         : string_of(m->if_contains("name"));
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
bool translate_tools(const json::object& body, json::object& out, const RequestFailure& fail) {
  bool send = true;
  if (const std::optional<ToolChoice> choice = tool_choice_of(body, true)) {
    if (choice->kind == ToolChoice::Kind::none) {
      send = false;
    } else if (choice->kind != ToolChoice::Kind::automatic) {
      return fail("Ollama cannot force a tool call (tool_choice must be \"auto\" or \"none\")");
    }
  }
  json::array tools;
  if (const json::array* ts = array_of(body.if_contains("tools"))) {
    for (const json::value& t : *ts) {
      const json::object* to = t.if_object();
      if (to == nullptr || string_of(to->if_contains("type")) != "function") {
        return fail("only function tools are supported by Ollama");
      }
      const json::object* fn = object_of(to->if_contains("function"));
      if (string_of(member_of(fn, "name")).empty()) {
        return fail("tool function without a name");
      }
      json::object function{{"name", *member_of(fn, "name")}};
      if (const json::value* d = member_of(fn, "description"); d != nullptr && d->is_string()) {
        function["description"] = *d;
      }
      if (const json::value* p = member_of(fn, "parameters"); p != nullptr && p->is_object()) {
        function["parameters"] = *p;
      }
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(function)}});
    }
  }
  if (const json::array* fns = array_of(body.if_contains("functions"))) {
    for (const json::value& f : *fns) {
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

/// Sampling parameters go in `options`, with Ollama's names:
/// https://github.com/ollama/ollama/blob/main/docs/modelfile.md#valid-parameters-and-values
bool translate_options(const json::object& body, json::object& out, const RequestFailure& fail) {
  if (const json::value* n = body.if_contains("n"); is_number(n) && count_of(n) > 1) {
    return fail("Ollama answers one choice per request (n must be 1)");
  }
  json::object options;
  auto copy_number = [&](std::string_view key) {
    if (const json::value* v = body.if_contains(key); is_number(v)) {
      options[key] = *v;
    }
  };
  copy_number("temperature");
  copy_number("top_p");
  copy_number("seed");
  copy_number("presence_penalty");
  copy_number("frequency_penalty");
  if (const json::value* max = max_tokens_member(body, is_number)) {
    options["num_predict"] = *max;
  }
  if (const json::value* stop = body.if_contains("stop")) {
    if (stop->is_string()) {
      options["stop"] = json::array{*stop};
    } else if (stop->is_array() && !stop->get_array().empty()) {
      options["stop"] = *stop;
    }
  }
  if (!options.empty()) {
    out["options"] = std::move(options);
  }
  return true;
}

/// `format`: "json" for JSON mode, or the JSON schema itself for structured outputs:
/// https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-structured-outputs
bool translate_format(const json::object& body, json::object& out, const RequestFailure& fail) {
  const json::object* rf = object_of(body.if_contains("response_format"));
  if (rf == nullptr) {
    return true;
  }
  const std::string_view type = string_of(rf->if_contains("type"));
  if (type == "json_object") {
    out["format"] = "json";
  } else if (type == "json_schema") {
    const json::value* schema = member_of(object_of(rf->if_contains("json_schema")), "schema");
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

Result<UpstreamRequest, TranslateError> OllamaTranslator::request(const json::object& body,
                                                                  std::string_view /*raw*/,
                                                                  const BackendSpec& spec) const {
  TranslateError error;
  const RequestFailure fail{error};
  const json::array* messages = configured_chat(body, spec, "Ollama", error);
  if (messages == nullptr) {
    return error;
  }
  UpstreamRequest req;
  req.stream = is_true(body.if_contains("stream"));

  json::object out;
  out["model"] = spec.model;
  json::array msgs;
  if (!translate_messages(*messages, msgs, fail)) {
    return error;
  }
  out["messages"] = std::move(msgs);
  if (!translate_tools(body, out, fail) || !translate_options(body, out, fail) ||
      !translate_format(body, out, fail)) {
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
  req.body = json::serialize(out);
  return req;
}

}  // namespace sb::adapters
