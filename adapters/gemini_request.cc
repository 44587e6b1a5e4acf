// OpenAI chat request → Gemini generateContent request (GeminiTranslator::build_request, from the
// typed request; request() reads the typed reading of its text): messages, parts and generation
// config. Tools are in gemini_tools.cc; responses and streams in
// gemini_response.cc.
#include "adapters/gemini.h"
#include "adapters/json_write.h"

#include <algorithm>
#include <array>
#include <cctype>
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
#include "adapters/gemini_internal.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace gemini_detail {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace gemini_detail

namespace {

namespace json = boost::json;
using gemini_detail::gemini_schema;
using gemini_detail::lower;
using gemini_detail::translate_tools;

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
  const std::optional<DataUrl> data = base64_data_url(url, "Gemini", fail);
  if (!data) {
    return false;
  }
  if (data->media_type.empty()) {
    return fail("data URL without a media type");
  }
  json::object blob{{"mimeType", data->media_type}, {"data", data->data}};
  parts.push_back(json::object{{"inlineData", std::move(blob)}});
  return true;
}

/// An OpenAI image URL as a Gemini part: data URLs inline, http(s) URLs as `fileData` (Gemini
/// fetches them; https://ai.google.dev/gemini-api/docs/file-input-methods).
bool image_part(std::string_view url, json::array& parts, const RequestFailure& fail) {
  if (is_data_url(url)) {
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

/// Appends an image, audio or file part (`p.type`) of a user message.
bool media_part(const ChatContentPart& p, json::array& parts, const RequestFailure& fail) {
  const ChatPartMedia& m = p.media();
  if (p.type == "image_url") {
    if (m.url.empty()) {
      return fail("image_url part without a url");
    }
    return image_part(m.url, parts, fail);
  }
  if (p.type == "input_audio") {
    // https://platform.openai.com/docs/api-reference/chat/create (input_audio: data, format)
    if (m.data.empty() || m.format.empty()) {
      return fail("input_audio part needs data and format");
    }
    json::object blob{{"mimeType", "audio/" + lower(m.format)}, {"data", m.data}};
    parts.push_back(json::object{{"inlineData", std::move(blob)}});
    return true;
  }
  if (!is_data_url(m.file_data)) {
    return fail(
        "file parts need file_data as a base64 data: URL for Gemini (file_id is "
        "not supported)");
  }
  return data_url_part(m.file_data, parts, fail);
}

/// Appends one part of an OpenAI message `content`; `media` as for content_parts().
bool content_part(const ChatContentPart& p, bool media, json::array& parts,
                  const RequestFailure& fail) {
  const std::string_view type = p.type;
  if (type == "text" || (type == "refusal" && !media)) {
    text_part(p.text, parts);  // a refusal part's text is its refusal
    return true;
  }
  if (!media || (type != "image_url" && type != "input_audio" && type != "file")) {
    return fail("content part type '" + std::string(type) + "' is not supported by Gemini" +
                (media ? "" : " in this message role"));
  }
  return media_part(p, parts, fail);
}

/// Appends the parts of message `m`'s `content` (string, array of parts, or none).
/// `media`: whether image, audio and file parts are allowed (user messages only).
bool content_parts(const ChatMessage& m, bool media, json::array& parts,
                   const RequestFailure& fail) {
  if (m.content_kind == ChatMessage::Content::text) {
    text_part(m.text, parts);
    return true;
  }
  for (const ChatContentPart& p : m.parts) {  // none unless content is an array
    if (!content_part(p, media, parts, fail)) {
      return false;
    }
  }
  return true;
}

/// The text of a tool result: a string, or its text parts joined.
bool tool_result_text(const ChatMessage& m, std::string& out, const RequestFailure& fail) {
  if (m.content_kind == ChatMessage::Content::text) {
    out.assign(m.text);
    return true;
  }
  for (const ChatContentPart& p : m.parts) {
    if (p.type != "text") {
      return fail("tool message content parts must be text");
    }
    out += p.text;
  }
  return true;
}

// ---- request: messages ------------------------------------------------------------------------

/// messages → `systemInstruction` and `contents`. Gemini wants alternating turns, so
/// consecutive messages of the same Gemini role are merged into one content
/// (https://ai.google.dev/api/caching#Content); tool results travel as functionResponse parts
/// of a "user" turn, all results of a parallel call together.
/// Gemini `contents`: consecutive messages of one role merge into one content, as Gemini wants
/// turns to alternate; a content without parts is dropped (Gemini rejects it).
class Contents {
 public:
  void append(std::string_view role, json::array&& parts) {
    if (parts.empty()) {
      return;
    }
    if (!contents_.empty() && role == last_role_) {
      json::array& prev = contents_.back().as_object()["parts"].as_array();
      for (json::value& p : parts) {
        prev.push_back(std::move(p));
      }
      return;
    }
    contents_.push_back(json::object{{"role", role}, {"parts", std::move(parts)}});
    last_role_ = role;
  }
  bool empty() const { return contents_.empty(); }
  json::array take() { return std::move(contents_); }

 private:
  json::array contents_;
  std::string_view last_role_;
};

/// An assistant message's text, tool calls and legacy function_call as model parts.
bool assistant_parts(const ChatRequest& r, const ChatMessage& m, json::array& parts,
                     const RequestFailure& fail) {
  if (!content_parts(m, false, parts, fail)) {
    return false;
  }
  // `functionCall{name, args}` parts: https://ai.google.dev/api/caching#FunctionCall
  return assistant_function_calls(m, r.body, "Gemini", "functionCall", "args", parts, fail);
}

/// A `tool` (or legacy `function`) message, messages[i], as a functionResponse part.
bool function_response_part(const ChatRequest& r, std::size_t i, json::array& parts,
                            const RequestFailure& fail) {
  const ChatMessage& m = r.messages[i];
  std::string_view name;
  if (m.role == ChatMessage::Role::tool) {
    // Gemini matches function responses by name, not by call id:
    // https://ai.google.dev/api/caching#FunctionResponse
    name = tool_name_for(r.messages, i, m.tool_call_id);
    if (name.empty()) {
      return fail("tool message with tool_call_id '" + std::string(m.tool_call_id) +
                  "' answers no earlier assistant tool call");
    }
  } else {
    name = m.name;
    if (name.empty()) {
      return fail("function message without a name");
    }
  }
  std::string result;
  if (!tool_result_text(m, result, fail)) {
    return false;
  }
  json::object response{{"name", name}, {"response", json::object{{"content", std::move(result)}}}};
  parts.push_back(json::object{{"functionResponse", std::move(response)}});
  return true;
}

/// messages → `systemInstruction` and `contents` (see Contents).
bool translate_messages(const ChatRequest& r, json::object& out, const RequestFailure& fail) {
  using Role = ChatMessage::Role;
  json::array system_parts;
  Contents contents;
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    const ChatMessage& m = r.messages[i];
    json::array parts;
    bool ok = true;
    if (m.role == Role::system || m.role == Role::developer) {
      // Gemini has one system instruction; every system message contributes to it, in order.
      ok = content_parts(m, false, system_parts, fail);
    } else if (m.role == Role::user) {
      ok = content_parts(m, true, parts, fail);
      contents.append("user", std::move(parts));
    } else if (m.role == Role::assistant) {
      ok = assistant_parts(r, m, parts, fail);
      contents.append("model", std::move(parts));
    } else if (m.role == Role::tool || m.role == Role::function) {
      ok = function_response_part(r, i, parts, fail);
      contents.append("user", std::move(parts));
    } else {
      return fail("message role '" + std::string(m.role_text) + "' is not supported by Gemini");
    }
    if (!ok) {
      return false;
    }
  }
  if (contents.empty()) {
    return fail("Gemini needs at least one user or assistant message with content");
  }
  if (!system_parts.empty()) {
    out["systemInstruction"] = json::object{{"parts", std::move(system_parts)}};
  }
  out["contents"] = contents.take();
  return true;
}

// ---- request: generation config ---------------------------------------------------------------

/// response_format → responseMimeType (and responseSchema):
/// https://ai.google.dev/api/generate-content#generationconfig
bool response_config(const ChatResponseFormat& rf, json::object& gc, const RequestFailure& fail) {
  const std::string_view type = rf.type;
  if (type == "json_object") {
    gc["responseMimeType"] = "application/json";
  } else if (type == "json_schema") {
    const json::value spec = json_of(rf.json_schema);
    const json::value* schema = member_of(spec.if_object(), "schema");
    if (schema == nullptr || !schema->is_object()) {
      return fail("response_format json_schema needs a schema object");
    }
    gc["responseMimeType"] = "application/json";
    gc["responseSchema"] = gemini_schema(*schema);
  } else if (type != "text" && !type.empty()) {
    return fail("response_format type '" + std::string(type) + "' is not supported");
  }
  return true;
}

/// https://ai.google.dev/api/generate-content#generationconfig; numbers as the client wrote them.
bool generation_config(const ChatRequest& r, json::object& out, const RequestFailure& fail) {
  json::object gc;
  auto copy_number = [&](std::string_view from, std::string_view to, bool set) {
    if (set) {
      gc[to] = json_of(r.raw(from));
    }
  };
  copy_number("temperature", "temperature", r.temperature.has_value());
  copy_number("top_p", "topP", r.top_p.has_value());
  copy_number("presence_penalty", "presencePenalty", r.presence_penalty.has_value());
  copy_number("frequency_penalty", "frequencyPenalty", r.frequency_penalty.has_value());
  copy_number("seed", "seed", r.seed.has_value());
  copy_number("n", "candidateCount", r.n.has_value());
  if (json::value cap = output_cap_json(r); !cap.is_null()) {
    gc["maxOutputTokens"] = std::move(cap);
  }
  if (!r.stop.empty()) {
    gc["stopSequences"] = stop_json(r);
  }
  if (r.response_format && !response_config(*r.response_format, gc, fail)) {
    return false;
  }
  if (!gc.empty()) {
    out["generationConfig"] = std::move(gc);
  }
  return true;
}

// ---- request: target --------------------------------------------------------------------------

/// `POST {base_path}/models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`) with
/// the key in a header, sending `out`.
UpstreamRequest upstream_request(const json::object& out, bool stream, const BackendSpec& spec) {
  UpstreamRequest req;
  req.stream = stream;
  req.target.assign(trimmed_base(spec.base_path));
  req.target += '/';
  const std::string_view model = spec.model;
  if (!model.starts_with("models/") && !model.starts_with("tunedModels/")) {
    req.target += "models/";
  }
  req.target += percent_encode(model, true);  // '/' kept: "tunedModels/x"
  // https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
  req.target += req.stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
  req.headers.emplace_back("content-type", "application/json");
  if (!spec.api_key.empty()) {
    // The key goes in a header, never in the URL (where access logs would keep it).
    req.headers.emplace_back("x-goog-api-key", spec.api_key);
  }
  req.body = to_json(out);
  return req;
}

}  // namespace

template <>
Result<UpstreamRequest, TranslateError> GeminiTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const {
  TranslateError error;
  const RequestFailure fail{error};
  json::object out;
  if (!translate_messages(r, out, fail) || !translate_tools(r, out, fail) ||
      !generation_config(r, out, fail)) {
    return error;
  }
  return upstream_request(out, r.stream.value_or(false), spec);
}

}  // namespace sb::adapters
