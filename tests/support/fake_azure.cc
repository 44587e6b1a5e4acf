// Azure OpenAI: /openai/deployments/{deployment}/...?api-version=...
// (https://learn.microsoft.com/azure/ai-services/openai/reference). OpenAI's wire format with
// Azure's differences: compact JSON with keys in Azure's order, the deployment's underlying model
// in every answer, content_filter_results on choices and prompt_filter_results beside them, a
// first stream chunk with "choices":[], the api-key header and Azure's own 401/404/429 bodies.
#include <boost/json/parse.hpp>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace wire;
using boost::system::error_code;

constexpr std::string_view kFingerprint = "fp_5154047bf2";
constexpr std::string_view kAccessDenied =
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource.";

json::object severity() {
  return json::object{{"filtered", false}, {"severity", "safe"}};
}
json::object detection() {
  return json::object{{"filtered", false}, {"detected", false}};
}

/// Filter results on a prompt: the four harm categories and jailbreak.
json::array prompt_filter_results() {
  json::object results{{"hate", severity()},
                       {"jailbreak", detection()},
                       {"self_harm", severity()},
                       {"sexual", severity()},
                       {"violence", severity()}};
  return json::array{json::object{{"prompt_index", 0}, {"content_filter_results", results}}};
}

/// Filter results on a whole completion; `streamed` pieces carry only the harm categories.
json::object completion_filter_results(bool streamed) {
  json::object r;
  r["hate"] = severity();
  if (!streamed) {
    r["protected_material_code"] = detection();
    r["protected_material_text"] = detection();
  }
  r["self_harm"] = severity();
  r["sexual"] = severity();
  r["violence"] = severity();
  return r;
}

json::object usage_object(const Usage& u) {
  json::object usage;
  usage["completion_tokens"] = u.completion;
  usage["completion_tokens_details"] = json::object{{"accepted_prediction_tokens", 0},
                                                    {"audio_tokens", 0},
                                                    {"reasoning_tokens", 0},
                                                    {"rejected_prediction_tokens", 0}};
  usage["prompt_tokens"] = u.prompt;
  if (u.cached >= 0) {
    usage["prompt_tokens_details"] = json::object{{"audio_tokens", 0}, {"cached_tokens", u.cached}};
  }
  usage["total_tokens"] = u.prompt + u.completion;
  return usage;
}

std::string_view finish_of(const Turn& t) {
  return t.tool_call ? "tool_calls" : t.truncated ? "length" : "stop";
}

std::string completion_body(std::string_view model, const Turn& t, const Usage& usage,
                            std::string_view id, std::int64_t created, std::uint64_t serial) {
  json::object message;
  message["annotations"] = json::array{};
  message["content"] = t.tool_call ? json::value(nullptr) : json::value(t.text);
  message["refusal"] = nullptr;
  message["role"] = "assistant";
  if (t.tool_call) {
    message["tool_calls"] = json::array{json::object{
        {"function", json::object{{"arguments", t.arguments_json}, {"name", t.tool_name}}},
        {"id", vendor_id("call_", serial, 24)},
        {"type", "function"}}};
  }
  json::object choice{
      {"content_filter_results", t.tool_call ? json::object{} : completion_filter_results(false)},
      {"finish_reason", finish_of(t)},
      {"index", 0},
      {"logprobs", nullptr},
      {"message", std::move(message)}};
  json::object body{{"choices", json::array{std::move(choice)}},
                    {"created", created},
                    {"id", id},
                    {"model", model},
                    {"object", "chat.completion"},
                    {"prompt_filter_results", prompt_filter_results()},
                    {"system_fingerprint", kFingerprint},
                    {"usage", usage_object(usage)}};
  return to_json(body, JsonStyle::compact);
}

std::vector<std::string> stream_events(std::string_view model, const Turn& t, bool include_usage,
                                       const Usage& usage, std::string_view id,
                                       std::int64_t created, std::uint64_t serial) {
  std::vector<std::string> events;
  auto emit = [&](const json::object& o) {
    events.push_back("data: " + to_json(o, JsonStyle::compact) + "\n\n");
  };
  emit(json::object{{"choices", json::array{}},
                    {"created", 0},
                    {"id", ""},
                    {"model", ""},
                    {"object", ""},
                    {"prompt_filter_results", prompt_filter_results()}});
  auto chunk = [&](json::object filter, json::object delta, json::value finish) {
    json::object o{{"choices", json::array{json::object{{"content_filter_results", filter},
                                                        {"delta", std::move(delta)},
                                                        {"finish_reason", finish},
                                                        {"index", 0},
                                                        {"logprobs", nullptr}}}},
                   {"created", created},
                   {"id", id},
                   {"model", model},
                   {"object", "chat.completion.chunk"},
                   {"system_fingerprint", kFingerprint}};
    if (include_usage) {
      o["usage"] = nullptr;
    }
    emit(o);
  };
  if (t.tool_call) {
    chunk({},
          {{"content", nullptr},
           {"refusal", nullptr},
           {"role", "assistant"},
           {"tool_calls", json::array{json::object{
                              {"function", json::object{{"arguments", ""}, {"name", t.tool_name}}},
                              {"id", vendor_id("call_", serial, 24)},
                              {"index", 0},
                              {"type", "function"}}}}},
          nullptr);
    for (const auto& fragment : split_arguments(t.arguments_json)) {
      chunk(
          {},
          {{"tool_calls", json::array{json::object{
                              {"function", json::object{{"arguments", fragment}}}, {"index", 0}}}}},
          nullptr);
    }
  } else {
    chunk({}, {{"content", ""}, {"refusal", nullptr}, {"role", "assistant"}}, nullptr);
    for (const auto& piece : t.pieces) {
      chunk(completion_filter_results(true), {{"content", piece}}, nullptr);
    }
  }
  chunk({}, {}, json::string(finish_of(t)));
  if (include_usage) {
    emit(json::object{{"choices", json::array{}},
                      {"created", created},
                      {"id", id},
                      {"model", model},
                      {"object", "chat.completion.chunk"},
                      {"system_fingerprint", kFingerprint},
                      {"usage", usage_object(usage)}});
  }
  events.emplace_back("data: [DONE]\n\n");
  return events;
}

std::string azure_headers(std::uint64_t serial) {
  std::string id = uuid_from(serial);
  return "apim-request-id: " + id + "\r\nx-request-id: " + id + "\r\nx-ms-region: East US\r\n";
}

WireReply azure_error(unsigned status, std::string_view message, const WireContext& c) {
  std::string body = "{\"error\":{\"code\":\"";
  append_int(body, status);
  body += "\",\"message\":";
  append_json_string(body, message);
  body += "}}";
  std::string headers = azure_headers(c.serial);
  if (status == 429) {
    headers += "retry-after: 1\r\nretry-after-ms: 1000\r\n";
  }
  return json_reply(status, std::move(body), std::move(headers));
}

WireReply not_found(const WireContext& c) {
  // Azure's gateway answers an unknown resource with this exact body, space included.
  return json_reply(404, R"({"error":{"code":"404","message": "Resource not found"}})",
                    azure_headers(c.serial));
}

WireReply chat(const WireRequest& r, const WireContext& c) {
  ChatRead read = read_openai_chat(r.body, false);
  if (read.error_status != 0) {
    return json_reply(read.error_status, std::move(read.error), azure_headers(c.serial));
  }
  Turn t = plan_turn(read.dialogue, c.name);
  Usage usage{t.prompt_tokens, t.completion_tokens, 0};
  std::string id = vendor_id("chatcmpl-", c.serial, 29);
  if (!read.dialogue.stream) {
    return json_reply(200, completion_body(c.azure_model, t, usage, id, c.created, c.serial),
                      azure_headers(c.serial));
  }
  WireReply reply;
  reply.content_type = "text/event-stream; charset=utf-8";
  reply.headers = "Cache-Control: no-cache, must-revalidate\r\n" + azure_headers(c.serial);
  reply.events =
      stream_events(c.azure_model, t, read.include_usage, usage, id, c.created, c.serial);
  return reply;
}

/// Azure's Responses API: /openai/v1/responses (the v1 surface; api-version optional) or
/// /openai/responses?api-version=... (the preview surface); the deployment named in "model".
WireReply azure_responses(const WireRequest& r, const WireContext& c) {
  auto version = query_param(r.query, "api-version");
  if (r.path == "/openai/responses" && (!version || version->empty())) {
    return not_found(c);
  }
  if (!r.header("api-key") && !r.header("authorization")) {
    return azure_error(401, kAccessDenied, c);
  }
  WireReply reply = responses_answer(r, c, c.azure_model);
  std::size_t line = reply.headers.find("x-request-id:");
  if (line != std::string::npos) {
    reply.headers.erase(line, reply.headers.find("\r\n", line) + 2 - line);
  }
  reply.headers += azure_headers(c.serial);
  return reply;
}

}  // namespace

namespace wire {

WireReply azure_answer(const WireRequest& r, const WireContext& c) {
  if (r.path.ends_with("/responses") && !r.path.starts_with("/openai/deployments/")) {
    return azure_responses(r, c);
  }
  constexpr std::string_view kPrefix = "/openai/deployments/";
  std::string_view rest = r.path.substr(kPrefix.size());
  std::size_t slash = rest.find('/');
  std::string_view operation = slash == std::string_view::npos ? "" : rest.substr(slash);
  auto version = query_param(r.query, "api-version");
  const bool known = r.method == boost::beast::http::verb::post &&
                     (operation == "/chat/completions" || operation == "/completions" ||
                      operation == "/embeddings");
  if (!known || !version || version->empty()) {
    return not_found(c);
  }
  if (!r.header("api-key") && !r.header("authorization")) {
    return azure_error(401, kAccessDenied, c);
  }
  if (operation == "/chat/completions") {
    return chat(r, c);
  }
  // Completions and embeddings: OpenAI's answer, reporting the deployment's model.
  error_code ec;
  json::value doc = json::parse(r.body, ec);
  std::string body(r.body);
  if (!ec && doc.is_object()) {
    doc.as_object()["model"] = c.azure_model;
    body = to_json(doc, JsonStyle::compact);
  }
  WireRequest inner{r.method, r.method_name, operation, r.query, body, r.headers};
  WireReply reply = openai_answer(inner, c);
  std::size_t line = reply.headers.find("x-request-id:");
  if (line != std::string::npos) {
    reply.headers.erase(line, reply.headers.find("\r\n", line) + 2 - line);
  }
  reply.headers += azure_headers(c.serial);
  return reply;
}

WireReply azure_status_error(unsigned status, const WireContext& c) {
  switch (status) {
    case 401:
      return azure_error(status, kAccessDenied, c);
    case 404:
      return not_found(c);
    case 429:
      return azure_error(status,
                         "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
                         "version 2024-10-21 have exceeded token rate limit of your current "
                         "OpenAI S0 pricing tier. Please retry after 1 second. Please go here: "
                         "https://aka.ms/oai/quotaincrease if you would like to further increase "
                         "the default rate limit.",
                         c);
    default: {
      WireReply reply = openai_status_error(status, c);
      reply.headers = azure_headers(c.serial);
      return reply;
    }
  }
}

}  // namespace wire

// --- public builders ---

std::string azure_chat_completion_body(std::string_view model, std::string_view content,
                                       Usage usage, std::string_view id) {
  Turn t;
  t.text.assign(content);
  return completion_body(model, t, usage, id, now_seconds(), 0);
}

std::vector<std::string> azure_stream_events(std::string_view model,
                                             const std::vector<std::string>& pieces,
                                             bool include_usage, Usage usage, std::string_view id) {
  Turn t;
  t.pieces = pieces;
  return stream_events(model, t, include_usage, usage, id, now_seconds(), 0);
}

}  // namespace sb::testing
