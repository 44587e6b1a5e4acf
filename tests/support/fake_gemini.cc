// Gemini's generateContent and streamGenerateContent (https://ai.google.dev/api/generate-content):
// whole answers pretty-printed, `?alt=sse` streams as `data: {...}\r\n\r\n` events in Google's
// spaced style and no [DONE], and without alt=sse a streamed JSON array.
#include <boost/json/parse.hpp>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

constexpr std::string_view kJsonType = "application/json; charset=UTF-8";

std::string_view status_name(unsigned code) {
  switch (code) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

std::string error_json(unsigned code, std::string_view message) {
  json::object error{{"code", code}, {"message", message}, {"status", status_name(code)}};
  return to_json(json::object{{"error", std::move(error)}}, JsonStyle::pretty) + "\n";
}

WireReply error(unsigned code, std::string_view message) {
  WireReply r = json_reply(code, error_json(code, message));
  r.content_type = kJsonType;
  if (code == 429) {
    r.headers = "retry-after: 1\r\n";
  }
  return r;
}

json::array modality(std::int64_t tokens) {
  return json::array{json::object{{"modality", "TEXT"}, {"tokenCount", tokens}}};
}

json::object usage_metadata(const Usage& u, bool final) {
  json::object m;
  m["promptTokenCount"] = u.prompt;
  if (final) {
    m["candidatesTokenCount"] = u.completion;
  }
  m["totalTokenCount"] = u.prompt + (final ? u.completion : 0);
  m["promptTokensDetails"] = modality(u.prompt);
  if (final) {
    m["candidatesTokensDetails"] = modality(u.completion);
  }
  return m;
}

json::object response(json::array parts, std::string_view finish_reason, const Usage& usage,
                      bool final, std::string_view model, std::string_view response_id) {
  json::object candidate;
  candidate["content"] = json::object{{"parts", std::move(parts)}, {"role", "model"}};
  if (final) {
    candidate["finishReason"] = finish_reason;
  }
  json::object r;
  r["candidates"] = json::array{std::move(candidate)};
  r["usageMetadata"] = usage_metadata(usage, final);
  r["modelVersion"] = model;
  r["responseId"] = response_id;
  return r;
}

json::array parts_of(const Turn& t) {
  if (t.tool_call) {
    return json::array{
        json::object{{"functionCall", json::object{{"name", t.tool_name},
                                                   {"args", json::parse(t.arguments_json)}}}}};
  }
  return json::array{json::object{{"text", t.text}}};
}

/// One response object per streamed chunk: each text piece, or the one function call.
std::vector<json::object> chunks(std::string_view model, const Turn& t, const Usage& usage,
                                 std::string_view finish_reason, std::string_view response_id) {
  std::vector<json::object> out;
  if (t.tool_call || t.pieces.empty()) {
    out.push_back(response(parts_of(t), finish_reason, usage, true, model, response_id));
    return out;
  }
  for (std::size_t i = 0; i < t.pieces.size(); ++i) {
    const bool final = i + 1 == t.pieces.size();
    out.push_back(response(json::array{json::object{{"text", t.pieces[i]}}}, finish_reason, usage,
                           final, model, response_id));
  }
  return out;
}

std::vector<std::string> sse(const std::vector<json::object>& objects) {
  std::vector<std::string> events;
  for (const auto& o : objects) {
    events.push_back("data: " + to_json(o, JsonStyle::spaced) + "\r\n\r\n");
  }
  return events;
}

/// Collects the text of a Content's parts; function responses make it a tool result.
std::string parts_text(const json::value& content, bool& function_response) {
  std::string text;
  std::string results;
  const auto* o = content.if_object();
  const auto* parts = o != nullptr ? o->if_contains("parts") : nullptr;
  if (parts == nullptr || !parts->is_array()) {
    return text;
  }
  for (const auto& part : parts->get_array()) {
    const auto* p = part.if_object();
    if (p == nullptr) {
      continue;
    }
    if (const auto* t = p->if_contains("text"); t != nullptr && t->is_string()) {
      text += std::string_view(t->get_string());
    } else if (const auto* fr = p->if_contains("functionResponse"); fr != nullptr) {
      function_response = true;
      if (const auto* resp = fr->is_object() ? fr->get_object().if_contains("response") : nullptr) {
        results += tool_result_text(*resp);
      }
    }
  }
  return function_response ? results : text;
}

}  // namespace

namespace wire {

WireReply gemini_answer(const WireRequest& r, const WireContext& c) {
  if (!r.header("x-goog-api-key") && !query_param(r.query, "key") && !r.header("authorization")) {
    return error(403,
                 "Method doesn't allow unregistered callers (callers without established "
                 "identity). Please use API Key or other form of API consumer identity to call "
                 "this API.");
  }
  std::string_view path = r.path;
  std::size_t at = path.rfind("/models/");
  std::size_t colon = path.rfind(':');
  std::string model = url_decode(path.substr(at + 8, colon - at - 8));
  const bool streaming = path.ends_with(":streamGenerateContent");
  auto alt = query_param(r.query, "alt");
  const bool sse_framing = alt && *alt == "sse";

  error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) {
    return error(400, "Invalid JSON payload received. Unexpected token.");
  }
  const auto& obj = doc.get_object();
  const auto* contents = obj.if_contains("contents");
  if (contents == nullptr || !contents->is_array() || contents->get_array().empty()) {
    return error(400, "* GenerateContentRequest.contents: contents is not specified\n");
  }
  Dialogue d;
  d.model = model;
  d.stream = streaming;
  if (const auto* system = obj.if_contains("systemInstruction")) {
    bool ignored = false;
    d.prompt_tokens += static_cast<std::int64_t>(count_words(parts_text(*system, ignored))) + 3;
  }
  const auto& list = contents->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    bool function_response = false;
    std::string text = parts_text(list[i], function_response);
    d.prompt_tokens += static_cast<std::int64_t>(count_words(text)) + 3;
    const auto* role = list[i].is_object() ? list[i].get_object().if_contains("role") : nullptr;
    const bool from_model = role != nullptr && role->is_string() && role->get_string() == "model";
    const bool last = i + 1 == list.size();
    if (function_response) {
      if (last) {
        d.last_text = std::move(text);
        d.last_is_tool_result = true;
      }
    } else if (!from_model) {
      d.last_text = std::move(text);
      d.last_is_user = last;
    }
  }
  if (const auto* tools = obj.if_contains("tools"); tools != nullptr && tools->is_array()) {
    for (const auto& tool : tools->get_array()) {
      const auto* decls =
          tool.is_object() ? tool.get_object().if_contains("functionDeclarations") : nullptr;
      if (decls == nullptr || !decls->is_array() || decls->get_array().empty()) {
        continue;
      }
      const auto& first = decls->get_array().front();
      const auto* name = first.is_object() ? first.get_object().if_contains("name") : nullptr;
      if (name != nullptr && name->is_string()) {
        d.first_tool.assign(name->get_string());
        break;
      }
    }
  }
  if (const auto* config = obj.if_contains("generationConfig");
      config != nullptr && config->is_object()) {
    if (const auto* max = config->get_object().if_contains("maxOutputTokens");
        max != nullptr && max->is_int64()) {
      d.max_tokens = max->get_int64();
    }
  }

  Turn t = plan_turn(d, c.name);
  Usage usage{t.prompt_tokens, t.completion_tokens, -1};
  std::string_view finish = t.truncated ? "MAX_TOKENS" : "STOP";
  std::string response_id = vendor_id("", c.serial, 23);
  if (!streaming) {
    WireReply reply = json_reply(
        200,
        to_json(response(parts_of(t), finish, usage, true, model, response_id), JsonStyle::pretty) +
            "\n");
    reply.content_type = kJsonType;
    return reply;
  }
  std::vector<json::object> objects = chunks(model, t, usage, finish, response_id);
  WireReply reply;
  if (sse_framing) {
    reply.content_type = "text/event-stream";
    reply.headers = "Content-Disposition: attachment\r\n";
    reply.events = sse(objects);
    return reply;
  }
  // Without alt=sse the stream is one JSON array written element by element.
  reply.content_type = kJsonType;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    std::string e = i == 0 ? "[" : ",\r\n";
    e += to_json(objects[i], JsonStyle::pretty);
    e += "\n";
    if (i + 1 == objects.size()) {
      e += "]";
    }
    reply.events.push_back(std::move(e));
  }
  return reply;
}

WireReply gemini_status_error(unsigned status, const WireContext&) {
  switch (status) {
    case 400:
      return error(status, "Request contains an invalid argument.");
    case 403:
      return error(status, "The caller does not have permission");
    case 404:
      return error(status,
                   "models/unknown is not found for API version v1beta, or is not "
                   "supported for generateContent.");
    case 429:
      return error(status, "Resource has been exhausted (e.g. check quota).");
    case 503:
      return error(status, "The model is overloaded. Please try again later.");
    default:
      return error(status,
                   status >= 500
                       ? "An internal error has occurred. Please retry or "
                         "report in https://developers.generativeai.google/guide/troubleshooting"
                       : "Request contains an invalid argument.");
  }
}

}  // namespace wire

// --- public builders ---

std::string gemini_response_body(std::string_view model, std::string_view text, Usage usage,
                                 std::string_view finish_reason) {
  Turn t;
  t.text.assign(text);
  return to_json(response(parts_of(t), finish_reason, usage, true, model, vendor_id("", 0, 23)),
                 JsonStyle::pretty) +
         "\n";
}

std::vector<std::string> gemini_stream_events(std::string_view model,
                                              const std::vector<std::string>& pieces, Usage usage,
                                              std::string_view finish_reason) {
  Turn t;
  t.pieces = pieces;
  return sse(chunks(model, t, usage, finish_reason, vendor_id("", 0, 23)));
}

std::string gemini_error_body(unsigned code, std::string_view message) {
  return error_json(code, message);
}

}  // namespace sb::testing
