#include "adapters/azure.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/json_edit.h"
#include "adapters/openai_compatible.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

constexpr std::size_t npos = std::string_view::npos;

/// Choice members Azure adds (https://learn.microsoft.com/azure/ai-foundry/openai/concepts/
/// content-filter#annotations and .../content-streaming#asynchronous-filter).
bool is_choice_filter_member(std::string_view key) {
  return key == "content_filter_results" || key == "content_filter_offsets";
}

/// Cheap pre-check: a text that mentions none of the members has nothing to strip.
bool mentions_filters(std::string_view text) {
  return text.find("_filter_") != npos || text.find("prompt_annotations") != npos;
}

/// Offset one past the JSON object or array starting at `i` (strings skipped), or npos.
std::size_t container_end(std::string_view t, std::size_t i) {
  std::size_t depth = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '"') {
      for (++i; i < t.size() && t[i] != '"'; ++i) {
        if (t[i] == '\\') {
          ++i;
        }
      }
      if (i >= t.size()) {
        return npos;
      }
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) {
        return npos;
      }
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return npos;
}

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// The object elements of a JSON array text, as [begin, end) offsets. False when the array
/// holds anything but objects, or is malformed.
bool object_elements(std::string_view array,
                     std::vector<std::pair<std::size_t, std::size_t>>& out) {
  out.clear();
  std::size_t i = 0;
  if (array.empty() || array[0] != '[') {
    return false;
  }
  ++i;
  while (true) {
    while (i < array.size() && is_ws(array[i])) {
      ++i;
    }
    if (i >= array.size()) {
      return false;
    }
    if (array[i] == ']') {
      return out.empty();  // "[]" is fine; "]" after a "," is not
    }
    if (array[i] != '{') {
      return false;
    }
    const std::size_t end = container_end(array, i);
    if (end == npos) {
      return false;
    }
    out.emplace_back(i, end);
    i = end;
    while (i < array.size() && is_ws(array[i])) {
      ++i;
    }
    if (i < array.size() && array[i] == ',') {
      ++i;
      continue;
    }
    return i < array.size() && array[i] == ']';
  }
}

struct CleanChoices {
  std::string array;           ///< the rewritten choices array
  std::size_t kept = 0;        ///< choices left
  bool changed = false;        ///< anything removed
  bool filter_finish = false;  ///< an annotation ending the answer became a finish choice
};

/// The object `choice` (scanned into `members`) without its content-filter members.
std::string without_filter_members(std::string_view choice,
                                   const std::vector<JsonMember>& members) {
  std::string out;
  out.reserve(choice.size());
  out.push_back('{');
  for (const JsonMember& m : members) {
    if (is_choice_filter_member(m.key)) {
      continue;
    }
    if (out.size() > 1) {
      out.push_back(',');
    }
    out.append(choice.substr(m.begin, m.value_end - m.begin));
  }
  out.push_back('}');
  return out;
}

/// Rewrites a choices array: filter members removed from every choice. In a stream, a choice
/// without "delta" is an asynchronous-filter annotation: dropped, unless its finish_reason is
/// set (the filter stopped the answer), in which case it becomes `{index, delta: {},
/// logprobs: null, finish_reason}` as OpenAI ends a choice. nullopt when unreadable.
std::optional<CleanChoices> clean_choices(std::string_view array, bool stream,
                                          std::vector<JsonMember>& members) {
  std::vector<std::pair<std::size_t, std::size_t>> elems;
  if (!object_elements(array, elems)) {
    return std::nullopt;
  }
  CleanChoices r;
  r.array.reserve(array.size());
  r.array.push_back('[');
  for (const auto& [b, e] : elems) {
    const std::string_view choice = array.substr(b, e - b);
    if (!scan_object(choice, members)) {
      return std::nullopt;
    }
    bool has_delta = false;
    bool has_filter = false;
    std::string_view index = "0";
    std::string_view finish = "null";
    for (const JsonMember& m : members) {
      const std::string_view value = raw_value(choice, m);
      has_delta = has_delta || m.key == "delta";
      has_filter = has_filter || is_choice_filter_member(m.key);
      if (m.key == "index") {
        index = value;
      } else if (m.key == "finish_reason") {
        finish = value;
      }
    }
    std::string rewritten;
    if (stream && !has_delta) {
      r.changed = true;
      if (finish == "null") {
        continue;  // an annotation: verdicts on text already sent, nothing OpenAI would send
      }
      r.filter_finish = true;
      rewritten = "{\"index\":" + std::string(index) +
                  ",\"delta\":{},\"logprobs\":null,\"finish_reason\":" + std::string(finish) + "}";
    } else if (has_filter) {
      r.changed = true;
      rewritten = without_filter_members(choice, members);
    } else {
      rewritten.assign(choice);
    }
    if (r.kept > 0) {
      r.array.push_back(',');
    }
    ++r.kept;
    r.array += rewritten;
  }
  r.array.push_back(']');
  return r;
}

/// "Please retry after 6 seconds." → "6": Azure's 429 text, for when the Retry-After header
/// was lost on the way (the gateway prefers the header).
std::optional<std::string> retry_after_in(std::string_view message) {
  constexpr std::string_view kMarker = "retry after ";
  std::size_t at = npos;
  for (std::size_t i = 0; i + kMarker.size() <= message.size(); ++i) {
    bool match = true;
    for (std::size_t k = 0; k < kMarker.size() && match; ++k) {
      match = std::tolower(static_cast<unsigned char>(message[i + k])) == kMarker[k];
    }
    if (match) {
      at = i + kMarker.size();
      break;
    }
  }
  if (at == npos) {
    return std::nullopt;
  }
  std::size_t end = at;
  while (end < message.size() && end - at < 9 &&
         std::isdigit(static_cast<unsigned char>(message[end])) != 0) {
    ++end;
  }
  if (end == at || message.substr(end, 7) != " second") {
    return std::nullopt;
  }
  return std::string(message.substr(at, end - at));
}

/// `{"error":{...}}` with `type` filled from `status` when absent or null, `message`, `param`
/// and `code` always present; `innererror` kept.
json::object normalize_error(unsigned status, const json::object* err, std::string_view fallback) {
  json::object e;
  std::string_view message = string_of(err != nullptr ? err->if_contains("message") : nullptr);
  e["message"] = message.empty() ? fallback : message;
  const std::string_view type = string_of(err != nullptr ? err->if_contains("type") : nullptr);
  e["type"] = type.empty() ? error_type_for(status) : type;
  const json::value* param = err != nullptr ? err->if_contains("param") : nullptr;
  e["param"] = param != nullptr ? *param : json::value(nullptr);
  const json::value* code = err != nullptr ? err->if_contains("code") : nullptr;
  if (code != nullptr && (code->is_int64() || code->is_uint64())) {
    e["code"] = json::serialize(*code);  // Azure's 429 says "code": "429"; some proxies a number
  } else {
    e["code"] = code != nullptr ? *code : json::value(nullptr);
  }
  if (err != nullptr) {
    if (const json::value* inner = err->if_contains("innererror")) {
      e["innererror"] = *inner;
    }
  }
  return json::object{{"error", std::move(e)}};
}

}  // namespace

std::string azure_target(std::string_view base_path, std::string_view deployment,
                         std::string_view api_version, AzureOperation operation) {
  base_path = trimmed_base(base_path);
  if (base_path.ends_with("/openai")) {
    base_path.remove_suffix(7);
  }
  std::string_view op;
  switch (operation) {
    case AzureOperation::chat_completions:
      op = "chat/completions";
      break;
    case AzureOperation::completions:
      op = "completions";
      break;
    case AzureOperation::embeddings:
      op = "embeddings";
      break;
  }
  std::string t(base_path);
  if (api_version.empty()) {
    // https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle (v1 API)
    t += "/openai/v1/";
    t += op;
    return t;
  }
  t += "/openai/deployments/";
  t += percent_encode(deployment, false);
  t.push_back('/');
  t += op;
  t += "?api-version=";
  t += percent_encode(api_version, false);
  return t;
}

bool azure_accepts_stream_options(std::string_view v) {
  // stream_options arrived with 2024-09-01-preview and is GA from 2024-10-21:
  // https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle
  const bool dated = v.size() >= 10 && v[4] == '-' && v[7] == '-' &&
                     std::isdigit(static_cast<unsigned char>(v[0])) != 0;
  if (!dated) {
    return true;
  }
  return v.substr(0, 10) >= "2024-09-01";
}

std::string clean_azure_response(std::string body) {
  if (!mentions_filters(body)) {
    return body;
  }
  std::vector<JsonMember> members;
  if (!scan_object(body, members)) {
    return body;
  }
  const std::string_view choices = raw_value_of(body, members, "choices");
  std::optional<CleanChoices> cleaned;
  if (!choices.empty()) {
    std::vector<JsonMember> scratch;
    cleaned = clean_choices(choices, false, scratch);
  }
  if (cleaned && cleaned->changed) {
    set_member(body, "choices", cleaned->array);
  }
  // Top-level members Azure adds: prompt_filter_results (prompt_annotations in old versions).
  remove_member(body, "prompt_filter_results");
  remove_member(body, "prompt_annotations");
  return body;
}

TranslatedResponse azure_error(unsigned status, std::string_view body) {
  TranslatedResponse r;
  r.status = status;
  r.retryable = retryable_status(status);
  const std::string fallback = "Azure OpenAI returned HTTP " + std::to_string(status);
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::object* top = ec ? nullptr : v.if_object();
  const json::object* err = nullptr;
  if (top != nullptr) {
    if (const json::value* e = top->if_contains("error"); e != nullptr && e->is_object()) {
      err = &e->get_object();
    } else if (top->contains("message")) {
      err = top;  // API Management: {"statusCode": 401, "message": "Access denied ..."}
    }
  }
  json::object out = normalize_error(status, err, fallback);
  r.retry_after = retry_after_in(string_of(out["error"].as_object().if_contains("message")));
  if (!r.retryable) {
    r.retry_after.reset();
  }
  r.body = json::serialize(out);
  return r;
}

void AzureStreamTranslator::remember_identity(std::string_view data) {
  // The id, created and model are the same on every chunk of a stream: read them once.
  if (!id_.empty() || !scan_object(data, members_)) {
    return;
  }
  const std::string_view id = raw_value_of(data, members_, "id");
  if (!id.empty() && id != "\"\"") {
    id_.assign(id);
    created_.assign(raw_value_of(data, members_, "created"));
    model_.assign(raw_value_of(data, members_, "model"));
  }
}

namespace {

/// Azure's in-stream errors may lack "type": an event with a top-level `error` object gets
/// OpenAI's error shape.
void normalize_stream_error(std::string& data, std::vector<JsonMember>& members) {
  if (data.find("\"error\"") == std::string::npos || !scan_object(data, members)) {
    return;
  }
  const bool has_error = std::any_of(members.begin(), members.end(),
                                     [](const JsonMember& m) { return m.key == "error"; });
  if (!has_error) {
    return;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(data, ec);
  const json::object* top = ec ? nullptr : v.if_object();
  const json::value* ev_error = top != nullptr ? top->if_contains("error") : nullptr;
  const json::object* e = ev_error != nullptr ? ev_error->if_object() : nullptr;
  if (e != nullptr) {
    data = json::serialize(normalize_error(500, e, "Azure OpenAI stream error"));
  }
}

}  // namespace

bool AzureStreamTranslator::clean(SseEvent& ev) {
  if (ev.data == "[DONE]") {
    return true;
  }
  remember_identity(ev.data);
  if (!mentions_filters(ev.data)) {
    normalize_stream_error(ev.data, members_);
    return true;
  }
  if (!scan_object(ev.data, members_)) {
    return true;  // not an object: relayed as is
  }
  std::string_view data = ev.data;
  const std::string_view choices = raw_value_of(data, members_, "choices");
  const std::string_view usage = raw_value_of(data, members_, "usage");
  const std::string_view id = raw_value_of(data, members_, "id");
  const bool has_error = last_of(members_, "error") != nullptr;
  std::optional<CleanChoices> cleaned;
  if (!choices.empty()) {
    std::vector<JsonMember> scratch;
    cleaned = clean_choices(choices, true, scratch);
  }
  const bool had_choices = !choices.empty();
  std::string text(data);
  if (cleaned && cleaned->changed) {
    set_member(text, "choices", cleaned->array);
  }
  remove_member(text, "prompt_filter_results");
  remove_member(text, "prompt_annotations");
  const bool has_usage = !usage.empty() && usage != "null";
  const bool no_choices = cleaned ? cleaned->kept == 0 : !had_choices;
  if (no_choices && !has_usage && !has_error) {
    return false;  // the prompt-filter chunk, or annotations only
  }
  if (cleaned && cleaned->filter_finish && (id.empty() || id == "\"\"") && !id_.empty()) {
    // An annotation chunk has an empty id, object and model, and created 0: give the finish
    // chunk the identity of the stream it ends, as OpenAI would.
    set_member(text, "id", id_);
    set_member(text, "object", "\"chat.completion.chunk\"");
    set_member(text, "created", created_.empty() ? "0" : created_);
    set_member(text, "model", model_.empty() ? "\"\"" : model_);
  }
  ev.data = std::move(text);
  return true;
}

bool AzureStreamTranslator::feed(std::string_view bytes, std::string& out) {
  if (error_) {
    return false;
  }
  events_.clear();
  parser_.feed(bytes, events_);
  for (SseEvent& ev : events_) {
    if (clean(ev)) {
      relay_.feed_event(ev, out);
    }
    if (relay_.saw_error()) {
      break;  // an error event ends the stream: nothing after it is the answer
    }
  }
  return relayed(parser_.failed(), out);
}

namespace {

// The request for a planned body: the deployment's path, the key, the body within what the
// api-version accepts. A server error when no deployment is configured.
Result<UpstreamRequest, TranslateError> azure_request(std::string_view client_body,
                                                      const ChatRequestPlan& plan,
                                                      const BackendSpec& spec) {
  if (spec.model.empty()) {
    return TranslateError{500, "the Azure OpenAI backend has no deployment configured"};
  }
  std::string body = plan.body.text(client_body);
  if (!azure_accepts_stream_options(spec.api_version)) {
    remove_member(body, "stream_options");
  }
  UpstreamRequest req;
  req.target =
      azure_target(spec.base_path, spec.model, spec.api_version, AzureOperation::chat_completions);
  req.headers.emplace_back("content-type", "application/json");
  if (!spec.api_key.empty()) {
    // https://learn.microsoft.com/azure/ai-foundry/openai/reference#authentication
    req.headers.emplace_back("api-key", spec.api_key);
  }
  req.body = std::move(body);
  req.stream = plan.stream;
  return req;
}

}  // namespace

Result<UpstreamRequest, TranslateError> AzureTranslator::request(std::string_view raw,
                                                                 const BackendSpec& spec) const {
  const std::optional<json::value> dom = parse_request_json(raw);
  if (!dom || !dom->is_object()) {
    return TranslateError{400, "the request body is not a JSON object"};
  }
  return azure_request(raw, plan_chat_request(raw, dom->get_object(), spec.model), spec);
}

Result<UpstreamRequest, TranslateError> AzureTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const {
  if (std::optional<ChatRequestPlan> plan = plan_chat_request(r.body, r, spec.model)) {
    return azure_request(r.body, *plan, spec);
  }
  // A top-level key the client sent twice: the DOM decides which one counts, as on the
  // pass-through (the body parsed once already, so only memory can make this fail).
  const std::optional<json::value> dom = parse_request_json(r.body);
  if (!dom || !dom->is_object()) {
    return TranslateError{500, "the request could not be read again"};
  }
  return azure_request(r.body, plan_chat_request(r.body, dom->get_object(), spec.model), spec);
}

TranslatedResponse AzureTranslator::response(unsigned status, std::string_view /*content_type*/,
                                             std::string_view body,
                                             std::string_view /*model_alias*/) const {
  if (status < 200 || status >= 300) {
    return azure_error(status, body);
  }
  TranslatedResponse r;
  std::vector<JsonMember> members;
  if (!scan_object(body, members)) {
    return bad_upstream("Azure OpenAI returned a response that is not a JSON object");
  }
  r.status = status;
  r.body = clean_azure_response(std::string(body));
  r.usage = usage_from_openai_text(r.body);
  return r;
}

std::unique_ptr<StreamTranslator> AzureTranslator::stream(bool include_usage,
                                                          std::string_view /*model_alias*/) const {
  return std::make_unique<AzureStreamTranslator>(include_usage);
}

}  // namespace sb::adapters
