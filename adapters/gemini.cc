#include "adapters/gemini.h"

#include <algorithm>
#include <array>
#include <cctype>
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
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// Upstream bytes a stream may hold for one event (SseParser's limit). Gemini events are one JSON
/// object each; generated images (inlineData) make the largest ones, well under this.
constexpr std::size_t kMaxEventBytes = 16 * 1024 * 1024;

// ---- small JSON helpers -----------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// ---- request: parts ---------------------------------------------------------------------------

/// MIME type for an image URL, guessed from the extension of its path (query and fragment
/// ignored); "image/jpeg" when unknown. Gemini requires a mimeType beside every fileUri:
/// https://ai.google.dev/api/caching#FileData
std::string_view guess_image_mime(std::string_view url) {
  const std::size_t end = url.find_first_of("?#");
  std::string_view path = url.substr(0, end);
  const std::size_t slash = path.rfind('/');
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "image/jpeg";
  }
  const std::string ext = lower(path.substr(dot + 1));
  if (ext == "png") {
    return "image/png";
  }
  if (ext == "webp") {
    return "image/webp";
  }
  if (ext == "gif") {
    return "image/gif";
  }
  if (ext == "heic") {
    return "image/heic";
  }
  if (ext == "heif") {
    return "image/heif";
  }
  return "image/jpeg";
}

/// `data:<mime>[;params];base64,<data>` → `inlineData{mimeType, data}`. Gemini takes base64 only:
/// https://ai.google.dev/api/caching#Blob
bool data_url_part(std::string_view url, json::array& parts, const RequestFailure& fail) {
  const std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) {
    return fail("data URL without a comma");
  }
  std::string_view header = url.substr(5, comma - 5);  // after "data:"
  constexpr std::string_view kBase64 = ";base64";
  if (header.size() < kBase64.size() ||
      lower(header.substr(header.size() - kBase64.size())) != kBase64) {
    return fail("only base64 data URLs can be sent to Gemini");
  }
  header.remove_suffix(kBase64.size());
  const std::string_view mime = header.substr(0, header.find(';'));
  if (mime.empty()) {
    return fail("data URL without a media type");
  }
  json::object blob{{"mimeType", mime}, {"data", url.substr(comma + 1)}};
  parts.push_back(json::object{{"inlineData", std::move(blob)}});
  return true;
}

/// An OpenAI image URL as a Gemini part: data URLs inline, http(s) URLs as `fileData` (Gemini
/// fetches them; https://ai.google.dev/gemini-api/docs/file-input-methods).
bool image_part(std::string_view url, json::array& parts, const RequestFailure& fail) {
  if (starts_with_ci(url, "data:")) {
    return data_url_part(url, parts, fail);
  }
  if (starts_with_ci(url, "https://") || starts_with_ci(url, "http://")) {
    json::object file{{"mimeType", guess_image_mime(url)}, {"fileUri", url}};
    parts.push_back(json::object{{"fileData", std::move(file)}});
    return true;
  }
  return fail("image_url must be a data: URL or an http(s) URL for Gemini");
}

void text_part(std::string_view text, json::array& parts) {
  // Gemini rejects a part with empty text ("contents.parts must not be empty" / empty Part).
  if (!text.empty()) {
    parts.push_back(json::object{{"text", text}});
  }
}

/// Appends the parts of an OpenAI message `content` (string, array of parts, or null).
/// `media`: whether image, audio and file parts are allowed (user messages only).
bool content_parts(const json::value* content, bool media, json::array& parts,
                   const RequestFailure& fail) {
  if (content == nullptr || content->is_null()) {
    return true;
  }
  if (const json::string* s = content->if_string()) {
    text_part(*s, parts);
    return true;
  }
  const json::array* arr = content->if_array();
  if (arr == nullptr) {
    return fail("message content must be a string or an array of parts");
  }
  for (const json::value& pv : *arr) {
    const json::object* p = pv.if_object();
    if (p == nullptr) {
      return fail("content parts must be objects");
    }
    const std::string_view type = string_of(p->if_contains("type"));
    if (type == "text") {
      text_part(string_of(p->if_contains("text")), parts);
    } else if (type == "refusal" && !media) {
      text_part(string_of(p->if_contains("refusal")), parts);
    } else if (type == "image_url" && media) {
      const std::string_view url = image_url_of(*p);
      if (url.empty()) {
        return fail("image_url part without a url");
      }
      if (!image_part(url, parts, fail)) {
        return false;
      }
    } else if (type == "input_audio" && media) {
      // https://platform.openai.com/docs/api-reference/chat/create (input_audio: data, format)
      const json::object* a = object_of(p->if_contains("input_audio"));
      const std::string_view data = string_of(member_of(a, "data"));
      const std::string_view format = string_of(member_of(a, "format"));
      if (data.empty() || format.empty()) {
        return fail("input_audio part needs data and format");
      }
      json::object blob{{"mimeType", "audio/" + lower(format)}, {"data", data}};
      parts.push_back(json::object{{"inlineData", std::move(blob)}});
    } else if (type == "file" && media) {
      const json::object* f = object_of(p->if_contains("file"));
      const std::string_view data = string_of(member_of(f, "file_data"));
      if (!starts_with_ci(data, "data:")) {
        return fail(
            "file parts need file_data as a base64 data: URL for Gemini (file_id is "
            "not supported)");
      }
      if (!data_url_part(data, parts, fail)) {
        return false;
      }
    } else {
      return fail("content part type '" + std::string(type) + "' is not supported by Gemini" +
                  (media ? "" : " in this message role"));
    }
  }
  return true;
}

/// The text of a tool result: a string, or its text parts joined.
bool tool_result_text(const json::value* content, std::string& out, const RequestFailure& fail) {
  if (content == nullptr || content->is_null()) {
    return true;
  }
  if (const json::string* s = content->if_string()) {
    out.assign(s->data(), s->size());
    return true;
  }
  const json::array* arr = content->if_array();
  if (arr == nullptr) {
    return fail("tool message content must be a string or an array of text parts");
  }
  for (const json::value& pv : *arr) {
    const json::object* p = pv.if_object();
    if (p == nullptr || string_of(p->if_contains("type")) != "text") {
      return fail("tool message content parts must be text");
    }
    out += string_of(p->if_contains("text"));
  }
  return true;
}

/// `functionCall{name, args}` from an OpenAI function call (`arguments` is a JSON text).
bool function_call_part(const json::object* fn, json::array& parts, const RequestFailure& fail) {
  std::string_view name;
  json::value args;
  if (!function_call_of(fn, "Gemini", fail, name, args)) {
    return false;
  }
  json::object call{{"name", name}, {"args", std::move(args)}};
  parts.push_back(json::object{{"functionCall", std::move(call)}});
  return true;
}

// ---- request: schemas -------------------------------------------------------------------------

/// The fields of Gemini's `Schema` (an OpenAPI 3.0 subset); anything else is rejected upstream
/// with "Invalid JSON payload received. Unknown name". https://ai.google.dev/api/caching#Schema
constexpr std::array<std::string_view, 22> kGeminiSchemaFields = {
    "type",      "format",    "title",      "description", "nullable",      "enum",
    "maxItems",  "minItems",  "properties", "required",    "minProperties", "maxProperties",
    "minLength", "maxLength", "pattern",    "example",     "anyOf",         "propertyOrdering",
    "default",   "items",     "minimum",    "maximum"};

bool gemini_schema_field(std::string_view key) {
  return std::find(kGeminiSchemaFields.begin(), kGeminiSchemaFields.end(), key) !=
         kGeminiSchemaFields.end();
}

/// A JSON Schema reduced to what Gemini's Schema accepts (see gemini.h for what is dropped).
json::value gemini_schema(const json::value& v) {
  const json::object* in = v.if_object();
  if (in == nullptr) {
    return v;
  }
  json::object out;
  for (const auto& kv : *in) {
    const std::string_view key = kv.key();
    const json::value& value = kv.value();
    if (key == "properties" && value.is_object()) {
      json::object props;
      for (const auto& p : value.get_object()) {
        props[p.key()] = gemini_schema(p.value());  // keys here are property names, kept
      }
      out["properties"] = std::move(props);
    } else if (key == "items") {
      out["items"] = gemini_schema(value);
    } else if (key == "anyOf" && value.is_array()) {
      json::array alts;
      for (const json::value& a : value.get_array()) {
        alts.push_back(gemini_schema(a));
      }
      out["anyOf"] = std::move(alts);
    } else if (key == "type" && value.is_array()) {
      // JSON Schema's ["string", "null"] is OpenAPI's type + nullable.
      json::array types;
      for (const json::value& t : value.get_array()) {
        if (string_of(&t) == "null") {
          out["nullable"] = true;
        } else {
          types.push_back(t);
        }
      }
      if (types.size() == 1) {
        out["type"] = types.front();
      } else if (types.size() > 1) {
        json::array alts;
        for (const json::value& t : types) {
          alts.push_back(json::object{{"type", t}});
        }
        out["anyOf"] = std::move(alts);
      }
    } else if (key == "const" && !in->contains("enum")) {
      out["enum"] = json::array{value};
    } else if (gemini_schema_field(key)) {
      out[key] = value;
    }
  }
  return out;
}

/// True for an object schema that declares no properties: Gemini rejects those as function
/// parameters ("properties: should be non-empty for OBJECT type"), and a function without
/// parameters is declared by leaving `parameters` out.
bool empty_object_schema(const json::value& schema) {
  const json::object* o = schema.if_object();
  if (o == nullptr) {
    return true;
  }
  const json::object* props = object_of(o->if_contains("properties"));
  return (props == nullptr || props->empty()) && !o->contains("anyOf");
}

// ---- request: tools ---------------------------------------------------------------------------

bool function_declaration(const json::object* fn, json::array& decls, const RequestFailure& fail) {
  const std::string_view name = string_of(member_of(fn, "name"));
  if (name.empty()) {
    return fail("tool function without a name");
  }
  json::object decl{{"name", name}};
  if (const std::string_view d = string_of(member_of(fn, "description")); !d.empty()) {
    decl["description"] = d;
  }
  if (const json::value* params = member_of(fn, "parameters");
      params != nullptr && !empty_object_schema(*params)) {
    decl["parameters"] = gemini_schema(*params);
  }
  decls.push_back(std::move(decl));
  return true;
}

/// Reads tool_choice (or legacy function_call) into Gemini's FunctionCallingConfig; `allowed`
/// gets the names an `allowed_tools` choice in auto mode restricts the declarations to.
/// https://ai.google.dev/api/caching#FunctionCallingConfig
bool function_calling_config(const json::value* choice, json::object& config,
                             std::vector<std::string>& allowed, const RequestFailure& fail) {
  if (choice == nullptr || choice->is_null()) {
    return true;
  }
  if (const json::string* s = choice->if_string()) {
    if (*s == "auto") {
      config["mode"] = "AUTO";
    } else if (*s == "none") {
      config["mode"] = "NONE";
    } else if (*s == "required") {
      config["mode"] = "ANY";
    } else {
      return fail("tool_choice '" + std::string(*s) + "' is not supported");
    }
    return true;
  }
  const json::object* o = choice->if_object();
  if (o == nullptr) {
    return fail("tool_choice must be a string or an object");
  }
  const std::string_view type = string_of(o->if_contains("type"));
  if (type == "allowed_tools") {
    const json::object* at = object_of(o->if_contains("allowed_tools"));
    const std::string_view mode = string_of(member_of(at, "mode"));
    json::array names;
    if (const json::array* tools = array_of(member_of(at, "tools"))) {
      for (const json::value& t : *tools) {
        const std::string_view n =
            string_of(member_of(object_of(member_of(t.if_object(), "function")), "name"));
        if (!n.empty()) {
          names.push_back(json::string(n));
          allowed.emplace_back(n);
        }
      }
    }
    if (mode == "required") {
      // Gemini takes allowedFunctionNames only in ANY mode.
      config["mode"] = "ANY";
      config["allowedFunctionNames"] = std::move(names);
      allowed.clear();
    } else if (mode == "auto" || mode.empty()) {
      config["mode"] = "AUTO";
    } else {
      return fail("allowed_tools mode '" + std::string(mode) + "' is not supported");
    }
    return true;
  }
  // {"type":"function","function":{"name":...}}, or the legacy function_call {"name":...}.
  std::string_view name = string_of(member_of(object_of(o->if_contains("function")), "name"));
  if (name.empty() && type.empty()) {
    name = string_of(o->if_contains("name"));
  }
  if (name.empty() || !(type.empty() || type == "function")) {
    return fail("tool_choice must name a function");
  }
  config["mode"] = "ANY";
  config["allowedFunctionNames"] = json::array{json::string(name)};
  return true;
}

/// tools / legacy functions → `tools[{functionDeclarations}]`, plus `toolConfig`.
bool translate_tools(const json::object& body, json::object& out, const RequestFailure& fail) {
  json::array decls;
  if (const json::array* tools = array_of(body.if_contains("tools"))) {
    for (const json::value& t : *tools) {
      const json::object* to = t.if_object();
      if (to == nullptr || string_of(to->if_contains("type")) != "function") {
        return fail("only function tools are supported by Gemini");
      }
      if (!function_declaration(object_of(to->if_contains("function")), decls, fail)) {
        return false;
      }
    }
  }
  if (const json::array* fns = array_of(body.if_contains("functions"))) {
    for (const json::value& f : *fns) {
      if (!function_declaration(f.if_object(), decls, fail)) {
        return false;
      }
    }
  }
  json::object config;
  std::vector<std::string> allowed;
  const json::value* choice = body.if_contains("tool_choice");
  if (choice == nullptr || choice->is_null()) {
    choice = body.if_contains("function_call");
  }
  if (!function_calling_config(choice, config, allowed, fail)) {
    return false;
  }
  if (decls.empty()) {
    return true;  // nothing to call: a tool_choice alone means nothing to Gemini
  }
  if (!allowed.empty()) {
    json::array kept;
    for (json::value& d : decls) {
      const std::string_view n = string_of(d.as_object().if_contains("name"));
      if (std::find(allowed.begin(), allowed.end(), n) != allowed.end()) {
        kept.push_back(std::move(d));
      }
    }
    decls = std::move(kept);
  }
  out["tools"] = json::array{json::object{{"functionDeclarations", std::move(decls)}}};
  if (!config.empty()) {
    out["toolConfig"] = json::object{{"functionCallingConfig", std::move(config)}};
  }
  return true;
}

// ---- request: generation config ---------------------------------------------------------------

/// https://ai.google.dev/api/generate-content#generationconfig
bool generation_config(const json::object& body, json::object& out, const RequestFailure& fail) {
  json::object gc;
  auto copy_number = [&](std::string_view from, std::string_view to) {
    const json::value* v = body.if_contains(from);
    if (is_number(v)) {
      gc[to] = *v;
    }
  };
  copy_number("temperature", "temperature");
  copy_number("top_p", "topP");
  copy_number("presence_penalty", "presencePenalty");
  copy_number("frequency_penalty", "frequencyPenalty");
  copy_number("seed", "seed");
  copy_number("n", "candidateCount");
  const json::value* max = body.if_contains("max_completion_tokens");
  if (!is_number(max)) {
    max = body.if_contains("max_tokens");
  }
  if (is_number(max)) {
    gc["maxOutputTokens"] = *max;
  }
  if (const json::value* stop = body.if_contains("stop")) {
    if (stop->is_string()) {
      gc["stopSequences"] = json::array{*stop};
    } else if (stop->is_array() && !stop->get_array().empty()) {
      gc["stopSequences"] = *stop;
    }
  }
  if (const json::object* rf = object_of(body.if_contains("response_format"))) {
    const std::string_view type = string_of(rf->if_contains("type"));
    if (type == "json_object") {
      gc["responseMimeType"] = "application/json";
    } else if (type == "json_schema") {
      const json::value* schema = member_of(object_of(rf->if_contains("json_schema")), "schema");
      if (schema == nullptr || !schema->is_object()) {
        return fail("response_format json_schema needs a schema object");
      }
      gc["responseMimeType"] = "application/json";
      gc["responseSchema"] = gemini_schema(*schema);
    } else if (type != "text" && !type.empty()) {
      return fail("response_format type '" + std::string(type) + "' is not supported");
    }
  }
  if (!gc.empty()) {
    out["generationConfig"] = std::move(gc);
  }
  return true;
}

// ---- request: messages ------------------------------------------------------------------------

/// messages → `systemInstruction` and `contents`. Gemini wants alternating turns, so
/// consecutive messages of the same Gemini role are merged into one content
/// (https://ai.google.dev/api/caching#Content); tool results travel as functionResponse parts
/// of a "user" turn, all results of a parallel call together.
bool translate_messages(const json::array& messages, json::object& out,
                        const RequestFailure& fail) {
  json::array system_parts;
  json::array contents;
  std::string_view last_role;
  auto append = [&](std::string_view role, json::array&& parts) {
    if (parts.empty()) {
      return;  // Gemini rejects a content without parts
    }
    if (!contents.empty() && role == last_role) {
      json::array& prev = contents.back().as_object()["parts"].as_array();
      for (json::value& p : parts) {
        prev.push_back(std::move(p));
      }
      return;
    }
    contents.push_back(json::object{{"role", role}, {"parts", std::move(parts)}});
    last_role = role;
  };

  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json::object* m = messages[i].if_object();
    if (m == nullptr) {
      return fail("messages must be objects");
    }
    const std::string_view role = string_of(m->if_contains("role"));
    const json::value* content = m->if_contains("content");
    json::array parts;
    if (role == "system" || role == "developer") {
      // Gemini has one system instruction; every system message contributes to it, in order.
      if (!content_parts(content, false, system_parts, fail)) {
        return false;
      }
    } else if (role == "user") {
      if (!content_parts(content, true, parts, fail)) {
        return false;
      }
      append("user", std::move(parts));
    } else if (role == "assistant") {
      if (!content_parts(content, false, parts, fail)) {
        return false;
      }
      if (const json::array* calls = array_of(m->if_contains("tool_calls"))) {
        for (const json::value& c : *calls) {
          const json::object* co = c.if_object();
          if (co == nullptr || string_of(co->if_contains("type")) != "function") {
            return fail("assistant tool calls must be of type function");
          }
          if (!function_call_part(object_of(co->if_contains("function")), parts, fail)) {
            return false;
          }
        }
      }
      if (const json::object* fc = object_of(m->if_contains("function_call"))) {
        if (!function_call_part(fc, parts, fail)) {
          return false;
        }
      }
      append("model", std::move(parts));
    } else if (role == "tool" || role == "function") {
      std::string_view name;
      if (role == "tool") {
        // Gemini matches function responses by name, not by call id:
        // https://ai.google.dev/api/caching#FunctionResponse
        const std::string_view id = string_of(m->if_contains("tool_call_id"));
        name = tool_name_for(messages, i, id);
        if (name.empty()) {
          return fail("tool message with tool_call_id '" + std::string(id) +
                      "' answers no earlier assistant tool call");
        }
      } else {
        name = string_of(m->if_contains("name"));
        if (name.empty()) {
          return fail("function message without a name");
        }
      }
      std::string result;
      if (!tool_result_text(content, result, fail)) {
        return false;
      }
      json::object response{{"name", name},
                            {"response", json::object{{"content", std::move(result)}}}};
      parts.push_back(json::object{{"functionResponse", std::move(response)}});
      append("user", std::move(parts));
    } else {
      return fail("message role '" + std::string(role) + "' is not supported by Gemini");
    }
  }
  if (contents.empty()) {
    return fail("Gemini needs at least one user or assistant message with content");
  }
  if (!system_parts.empty()) {
    out["systemInstruction"] = json::object{{"parts", std::move(system_parts)}};
  }
  out["contents"] = std::move(contents);
  return true;
}

/// Percent-encodes a model resource name for the request path ('/' kept: "tunedModels/x").
std::string encode_path(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// ---- responses --------------------------------------------------------------------------------

/// usageMetadata → Usage. https://ai.google.dev/api/generate-content#UsageMetadata
/// Thinking tokens are billed as output and tool-use prompt tokens as input, as OpenAI counts.
std::optional<Usage> usage_of(const json::value* meta) {
  const json::object* m = object_of(meta);
  if (m == nullptr) {
    return std::nullopt;
  }
  Usage u;
  u.input = count_of(m->if_contains("promptTokenCount")) +
            count_of(m->if_contains("toolUsePromptTokenCount"));
  u.reasoning = count_of(m->if_contains("thoughtsTokenCount"));
  u.output = count_of(m->if_contains("candidatesTokenCount")) + u.reasoning;
  u.cached_input = std::min(count_of(m->if_contains("cachedContentTokenCount")), u.input);
  return u;
}

/// Gemini finishReason → OpenAI finish_reason.
/// https://ai.google.dev/api/generate-content#FinishReason
std::string_view finish_reason_of(std::string_view reason, bool tool_calls) {
  if (reason == "MAX_TOKENS") {
    return "length";
  }
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY" ||
      reason == "IMAGE_PROHIBITED_CONTENT" || reason == "IMAGE_RECITATION") {
    return "content_filter";
  }
  // STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ...: OpenAI has no closer reason than stop.
  return tool_calls ? "tool_calls" : "stop";
}

/// HTTP status for a google.rpc status name, for errors that arrive inside a 200 stream.
/// https://cloud.google.com/apis/design/errors#handling_errors
unsigned status_for_rpc(std::string_view rpc) {
  if (rpc == "INVALID_ARGUMENT" || rpc == "FAILED_PRECONDITION" || rpc == "OUT_OF_RANGE") {
    return 400;
  }
  if (rpc == "UNAUTHENTICATED") {
    return 401;
  }
  if (rpc == "PERMISSION_DENIED") {
    return 403;
  }
  if (rpc == "NOT_FOUND") {
    return 404;
  }
  if (rpc == "RESOURCE_EXHAUSTED") {
    return 429;
  }
  if (rpc == "UNAVAILABLE") {
    return 503;
  }
  if (rpc == "DEADLINE_EXCEEDED") {
    return 504;
  }
  return 500;
}

/// "22s" / "1.5s" (google.protobuf.Duration in JSON) → whole seconds, rounded up.
std::optional<std::string> retry_after_of(std::string_view delay) {
  if (delay.size() < 2 || delay.back() != 's') {
    return std::nullopt;
  }
  delay.remove_suffix(1);
  std::uint64_t seconds = 0;
  std::size_t i = 0;
  for (; i < delay.size() && std::isdigit(static_cast<unsigned char>(delay[i])) != 0; ++i) {
    if (seconds > 1'000'000'000) {
      return std::nullopt;
    }
    seconds = seconds * 10 + static_cast<unsigned>(delay[i] - '0');
  }
  if (i == 0) {
    return std::nullopt;
  }
  if (i < delay.size()) {
    if (delay[i] != '.') {
      return std::nullopt;
    }
    bool fraction = false;
    for (++i; i < delay.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(delay[i])) == 0) {
        return std::nullopt;
      }
      fraction = fraction || delay[i] != '0';
    }
    seconds += fraction ? 1 : 0;
  }
  return std::to_string(seconds);
}

/// The google.rpc.Status object of a Google error body: `{"error":{...}}`, or the same wrapped
/// in an array (what streamGenerateContent without alt=sse answers).
const json::object* google_error_of(const json::value& v) {
  if (const json::array* a = v.if_array(); a != nullptr && !a->empty()) {
    return google_error_of(a->front());
  }
  return object_of(member_of(v.if_object(), "error"));
}

/// A Google error translated to an OpenAI error with the given HTTP status (0: from the error's
/// own code or status name). https://ai.google.dev/gemini-api/docs/troubleshooting
TranslatedResponse google_error(unsigned status, const json::object* err) {
  const std::string_view rpc = string_of(member_of(err, "status"));
  if (status == 0) {
    const std::int64_t code = count_of(member_of(err, "code"));
    status = (code >= 400 && code <= 599) ? static_cast<unsigned>(code) : status_for_rpc(rpc);
  }
  TranslatedResponse r;
  r.status = status;
  r.retryable = retryable_status(status);
  std::string message(string_of(member_of(err, "message")));
  if (message.empty()) {
    message = "Gemini returned HTTP " + std::to_string(status);
  }
  if (const json::array* details = array_of(member_of(err, "details"))) {
    for (const json::value& d : *details) {
      const json::object* dobj = d.if_object();
      const std::string_view type = string_of(member_of(dobj, "@type"));
      if (type.ends_with("google.rpc.RetryInfo")) {
        r.retry_after = retry_after_of(string_of(member_of(dobj, "retryDelay")));
      }
    }
  }
  r.body = error_body(message, error_type_for(status), lower(rpc));
  return r;
}

/// What one candidate's parts say.
struct CandidateParts {
  std::string text;
  bool has_text = false;
  json::array tool_calls;  ///< OpenAI tool_calls (with ids and full arguments)
};

/// Reads a candidate's parts; thought parts are skipped. `next_call` numbers the tool calls of
/// the whole response, so ids stay unique across candidates and stream events.
void read_parts(const json::object* candidate, std::string_view call_prefix, std::size_t& next_call,
                CandidateParts& out) {
  const json::array* parts =
      array_of(member_of(object_of(member_of(candidate, "content")), "parts"));
  if (parts == nullptr) {
    return;
  }
  for (const json::value& pv : *parts) {
    const json::object* p = pv.if_object();
    if (p == nullptr) {
      continue;
    }
    if (const json::value* t = p->if_contains("text"); t != nullptr && t->is_string()) {
      const json::value* thought = p->if_contains("thought");
      if (thought != nullptr && thought->is_bool() && thought->get_bool()) {
        continue;
      }
      out.text += t->get_string();
      out.has_text = true;
    } else if (const json::object* fc = object_of(p->if_contains("functionCall"))) {
      std::string id(string_of(fc->if_contains("id")));
      if (id.empty()) {
        id = std::string(call_prefix) + std::to_string(next_call);
      }
      ++next_call;
      const json::value* args = fc->if_contains("args");
      out.tool_calls.push_back(tool_call_object(
          id, string_of(fc->if_contains("name")),
          args != nullptr && !args->is_null() ? json::serialize(*args) : std::string("{}")));
    }
  }
}

std::size_t candidate_index(const json::object* c, std::size_t fallback) {
  const json::value* v = member_of(c, "index");
  if (v != nullptr && (v->is_int64() || v->is_uint64())) {
    const std::int64_t i = count_of(v);
    return static_cast<std::size_t>(std::min<std::int64_t>(i, 1024));
  }
  return fallback;
}

std::string_view model_of(const json::object* resp, std::string_view alias) {
  const std::string_view v = string_of(member_of(resp, "modelVersion"));
  return v.empty() ? alias : v;
}

/// A prompt Gemini refused to answer at all. Azure OpenAI answers a filtered prompt with a 400
/// whose code is "content_filter"; clients handle that shape already.
TranslatedResponse prompt_blocked(std::string_view reason, std::optional<Usage> usage) {
  TranslatedResponse r;
  r.status = 400;
  r.usage = usage;
  r.body =
      error_body("The prompt was blocked by Gemini's content policy (" + std::string(reason) + ").",
                 "invalid_request_error", "content_filter");
  return r;
}

// ---- stream -----------------------------------------------------------------------------------

class GeminiStream final : public StreamTranslator {
 public:
  GeminiStream(std::int64_t created, std::string id, bool include_usage, std::string_view alias)
      : created_(created),
        id_(std::move(id)),
        call_prefix_(tool_call_id_prefix(id_)),
        model_(alias),
        chunks_(include_usage) {
    chunks_.identify(id_, created_, model_);
  }

  bool feed(std::string_view bytes, std::string& out) override {
    if (error_ || finished_) {
      return !error_;
    }
    events_.clear();
    parser_.feed(bytes, events_);
    for (const SseEvent& ev : events_) {
      if (!on_event(ev, out)) {
        return false;
      }
    }
    if (parser_.failed()) {
      return fail(502, "Gemini stream event exceeds the size limit", out);
    }
    return true;
  }

  bool finish(std::string& out) override {
    if (error_) {
      return false;
    }
    if (finished_) {
      return true;
    }
    // Gemini sends no terminator: a finishReason on every choice is the only sign the answer is
    // whole, and an event cut before its blank line means the connection dropped mid-event.
    const bool complete = parser_.at_boundary() && !choices_.empty() &&
                          std::all_of(choices_.begin(), choices_.end(),
                                      [](const Choice& c) { return !c.seen || c.finished; });
    if (!complete) {
      error_ = TranslateError{502, "Gemini stream ended before a finishReason"};
      return false;
    }
    finished_ = true;
    if (chunks_.include_usage() && usage_) {
      chunks_.usage(out, *usage_);
    }
    ChunkWriter::done(out);
    return true;
  }

  const std::optional<Usage>& usage() const override { return usage_; }
  const std::optional<TranslateError>& error() const override { return error_; }

 private:
  struct Choice {
    bool seen = false;
    bool finished = false;
    std::size_t tool_calls = 0;
  };

  bool fail(unsigned status, std::string message, std::string& out,
            std::string_view code = "upstream_error") {
    const std::string_view type = status >= 500 ? "api_error" : error_type_for(status);
    append_sse(out, error_body(message, type, code));
    error_ = TranslateError{status, std::move(message)};
    return false;
  }

  Choice& choice_at(std::size_t index, std::string& out) {
    if (index >= choices_.size()) {
      choices_.resize(index + 1);
    }
    Choice& c = choices_[index];
    if (!c.seen) {
      c.seen = true;
      chunks_.choice(out, index, kRoleDelta);
    }
    return c;
  }

  bool on_event(const SseEvent& ev, std::string& out) {
    if (ev.data.empty() || ev.data == "[DONE]") {
      return true;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(ev.data, ec);
    if (ec) {
      return fail(502, "Gemini sent a stream event that is not JSON", out);
    }
    if (const json::object* err = google_error_of(v)) {
      const TranslatedResponse r = google_error(0, err);
      const std::string message(string_of(member_of(err, "message")));
      append_sse(out, r.body);
      error_ = TranslateError{r.status, message.empty() ? "Gemini stream error" : message};
      return false;
    }
    const json::object* resp = v.if_object();
    if (resp == nullptr) {
      return fail(502, "Gemini sent a stream event that is not an object", out);
    }
    if (const std::string_view model = model_of(resp, model_); model != model_) {
      model_ = std::string(model);
      chunks_.identify(id_, created_, model_);
    }
    if (auto u = usage_of(resp->if_contains("usageMetadata"))) {
      usage_ = u;  // cumulative on every event; the last one is the total
    }
    const json::array* candidates = array_of(resp->if_contains("candidates"));
    if (candidates == nullptr || candidates->empty()) {
      const std::string_view block =
          string_of(member_of(object_of(resp->if_contains("promptFeedback")), "blockReason"));
      if (!block.empty()) {
        // The 200 head is gone: the stream form of a blocked prompt is a content_filter finish.
        Choice& c = choice_at(0, out);
        if (!c.finished) {
          c.finished = true;
          chunks_.choice(out, 0, "{}", "content_filter");
        }
      }
      return true;
    }
    for (std::size_t k = 0; k < candidates->size(); ++k) {
      const json::object* cand = (*candidates)[k].if_object();
      if (cand == nullptr) {
        continue;
      }
      const std::size_t index = candidate_index(cand, k);
      Choice& c = choice_at(index, out);
      if (c.finished) {
        continue;
      }
      CandidateParts parts;
      read_parts(cand, call_prefix_, next_call_, parts);
      if (!parts.text.empty()) {
        chunks_.choice(out, index, content_delta(parts.text));
      }
      for (json::value& call : parts.tool_calls) {
        // Gemini sends each call whole: one delta with id, name and all arguments.
        chunks_.choice(out, index, whole_tool_call_delta(c.tool_calls++, call.as_object()));
      }
      const std::string_view reason = string_of(cand->if_contains("finishReason"));
      if (!reason.empty() && reason != "FINISH_REASON_UNSPECIFIED") {
        c.finished = true;
        chunks_.choice(out, index, "{}", finish_reason_of(reason, c.tool_calls > 0));
      }
    }
    return true;
  }

  std::int64_t created_;
  std::string id_;
  std::string call_prefix_;
  std::string model_;
  ChunkWriter chunks_;
  SseParser parser_{kMaxEventBytes};
  std::vector<SseEvent> events_;
  std::vector<Choice> choices_;
  std::size_t next_call_ = 0;
  std::optional<Usage> usage_;
  std::optional<TranslateError> error_;
  bool finished_ = false;
};

}  // namespace

GeminiTranslator::GeminiTranslator(std::int64_t created, std::string id)
    : created_(created), id_(std::move(id)) {}

std::optional<UpstreamRequest> GeminiTranslator::request(const json::object& body,
                                                         std::string_view /*raw*/,
                                                         const BackendSpec& spec,
                                                         TranslateError& error) const {
  const RequestFailure fail{error};
  if (spec.model.empty()) {
    error = TranslateError{500, "the Gemini backend has no model configured"};
    return std::nullopt;
  }
  const json::array* messages = array_of(body.if_contains("messages"));
  if (messages == nullptr) {
    fail("messages must be an array");
    return std::nullopt;
  }
  json::object out;
  if (!translate_messages(*messages, out, fail) || !translate_tools(body, out, fail) ||
      !generation_config(body, out, fail)) {
    return std::nullopt;
  }

  UpstreamRequest req;
  const json::value* stream = body.if_contains("stream");
  req.stream = stream != nullptr && stream->is_bool() && stream->get_bool();
  std::string_view base = spec.base_path;
  while (!base.empty() && base.back() == '/') {
    base.remove_suffix(1);
  }
  req.target.assign(base);
  req.target += '/';
  const std::string_view model = spec.model;
  if (!model.starts_with("models/") && !model.starts_with("tunedModels/")) {
    req.target += "models/";
  }
  req.target += encode_path(model);
  // https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
  req.target += req.stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
  req.headers.emplace_back("content-type", "application/json");
  if (!spec.api_key.empty()) {
    // The key goes in a header, never in the URL (where access logs would keep it).
    req.headers.emplace_back("x-goog-api-key", spec.api_key);
  }
  req.body = json::serialize(out);
  return req;
}

TranslatedResponse GeminiTranslator::response(unsigned status, std::string_view /*content_type*/,
                                              std::string_view body,
                                              std::string_view model_alias) const {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (status < 200 || status >= 300) {
    const json::object* err = ec ? nullptr : google_error_of(v);
    if (err == nullptr) {
      // Not a Google error body (e.g. an HTML page from a proxy): the status is all we know.
      TranslatedResponse r;
      r.status = status;
      r.retryable = retryable_status(status);
      r.body =
          error_body("Gemini returned HTTP " + std::to_string(status), error_type_for(status), {});
      return r;
    }
    return google_error(status, err);
  }
  const json::object* resp = ec ? nullptr : v.if_object();
  if (resp == nullptr) {
    return bad_upstream("Gemini returned a response that is not a JSON object");
  }
  if (const json::object* err = google_error_of(v)) {
    return google_error(0, err);
  }
  const std::optional<Usage> usage = usage_of(resp->if_contains("usageMetadata"));
  const json::array* candidates = array_of(resp->if_contains("candidates"));
  if (candidates == nullptr || candidates->empty()) {
    const std::string_view block =
        string_of(member_of(object_of(resp->if_contains("promptFeedback")), "blockReason"));
    if (!block.empty()) {
      return prompt_blocked(block, usage);
    }
    return bad_upstream("Gemini returned no candidates");
  }

  const std::string call_prefix = tool_call_id_prefix(id_);
  std::size_t next_call = 0;
  json::array choices;
  for (std::size_t k = 0; k < candidates->size(); ++k) {
    const json::object* cand = (*candidates)[k].if_object();
    if (cand == nullptr) {
      return bad_upstream("Gemini returned a candidate that is not an object");
    }
    CandidateParts parts;
    read_parts(cand, call_prefix, next_call, parts);
    const bool tools = !parts.tool_calls.empty();
    json::object message =
        assistant_message(parts.has_text ? json::value(parts.text) : json::value(nullptr),
                          std::move(parts.tool_calls));
    choices.push_back(
        completion_choice(candidate_index(cand, k), std::move(message),
                          finish_reason_of(string_of(cand->if_contains("finishReason")), tools)));
  }

  json::object out =
      completion_object(id_, created_, model_of(resp, model_alias), std::move(choices));
  if (usage) {
    out["usage"] = usage_object(*usage);
  }
  TranslatedResponse r;
  r.status = 200;
  r.usage = usage;
  r.body = json::serialize(out);
  return r;
}

std::unique_ptr<StreamTranslator> GeminiTranslator::stream(bool include_usage,
                                                           std::string_view model_alias) const {
  return std::make_unique<GeminiStream>(created_, id_, include_usage, model_alias);
}

}  // namespace sb::adapters
