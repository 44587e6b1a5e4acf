// The native Responses lane: the client's body spliced for an OpenAI or Azure backend, and the
// upstream's answer and event stream read (not rewritten) on their way back.
#include "adapters/responses_native.h"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// A counter of a usage object: absent or null reads as 0; nullopt when present and invalid.
std::optional<std::int64_t> counter(const json::object* o, std::string_view key) {
  const json::value* v = o != nullptr ? o->if_contains(key) : nullptr;
  if (v == nullptr || v->is_null()) {
    return 0;
  }
  return count_member(*o, key);
}

/// The HTTP status an error code of a stream stands for (the stream's own status is 200).
unsigned status_of_code(std::string_view code) {
  if (code == "rate_limit_exceeded" || code == "insufficient_quota") {
    return 429;
  }
  if (code.empty() || code == "server_error" || code == "api_error") {
    return 500;
  }
  return 400;
}

std::string_view text_of(const json::object* o, std::string_view key) {
  return o != nullptr ? string_member(*o, key) : std::string_view();
}

}  // namespace

std::string responses_native_target(std::string_view base_path, bool azure) {
  base_path = trimmed_base(base_path);
  if (!azure) {
    return std::string(base_path) + "/responses";
  }
  if (base_path.ends_with("/openai")) {
    base_path.remove_suffix(7);
  }
  return std::string(base_path) + "/openai/v1/responses";
}

std::optional<UpstreamRequest> responses_native_request(std::string_view client_body,
                                                        std::string_view upstream_model,
                                                        std::uint64_t max_output_tokens_cap,
                                                        std::string_view base_path, bool azure,
                                                        TranslateError& error) {
  std::vector<JsonMember> members;
  if (!scan_object(client_body, members)) {
    error = TranslateError{400, "Invalid type for request body: expected an object."};
    return std::nullopt;
  }
  const std::optional<std::string_view> model = last_member_value(client_body, "model", members);
  if (!model) {
    error = TranslateError{400, "Missing required parameter: 'model'."};
    return std::nullopt;
  }
  if (model->empty() || model->front() != '"') {
    error = TranslateError{400, "Invalid type for 'model': expected a string."};
    return std::nullopt;
  }
  UpstreamRequest req;
  // The upstream reads each key once, as the gateway did: the last occurrence.
  thread_local std::vector<char> superseded;
  if (mark_superseded(members, superseded)) {
    req.body = without_superseded(client_body, members, superseded);
  } else {
    req.body.assign(client_body);
  }
  if (!upstream_model.empty() && !set_member(req.body, "model", quote(upstream_model))) {
    error = TranslateError{400, "Invalid type for request body: expected an object."};
    return std::nullopt;
  }
  if (max_output_tokens_cap != 0) {
    const std::optional<std::string_view> max =
        last_member_value(client_body, "max_output_tokens", members);
    const std::optional<std::uint64_t> asked = max ? raw_unsigned(*max) : std::nullopt;
    if (asked && *asked > max_output_tokens_cap) {
      set_member(req.body, "max_output_tokens", std::to_string(max_output_tokens_cap));
    }
  }
  const std::optional<std::string_view> stream = last_member_value(client_body, "stream", members);
  req.stream = stream && *stream == "true";
  req.target = responses_native_target(base_path, azure);
  return req;
}

std::optional<Usage> usage_from_responses(const json::value& usage) {
  const json::object* u = usage.if_object();
  if (u == nullptr) {
    return std::nullopt;
  }
  const std::optional<std::int64_t> input = count_member(*u, "input_tokens");
  const std::optional<std::int64_t> output = count_member(*u, "output_tokens");
  const json::value* in_details = u->if_contains("input_tokens_details");
  const json::value* out_details = u->if_contains("output_tokens_details");
  const std::optional<std::int64_t> cached =
      counter(in_details != nullptr ? in_details->if_object() : nullptr, "cached_tokens");
  const std::optional<std::int64_t> reasoning =
      counter(out_details != nullptr ? out_details->if_object() : nullptr, "reasoning_tokens");
  if (!input || !output || !cached || !reasoning) {
    return std::nullopt;
  }
  Usage r;
  r.input = *input;
  r.output = *output;
  r.cached_input = *cached;
  r.reasoning = *reasoning;
  return r;
}

std::string response_id_of(std::string_view response) {
  std::vector<JsonMember> members;
  const std::optional<std::string_view> id = last_member_value(response, "id", members);
  if (!id || id->size() < 2 || id->front() != '"') {
    return {};
  }
  boost::system::error_code ec;
  const json::value v = json::parse(*id, ec);
  return !ec && v.is_string() ? std::string(v.get_string()) : std::string();
}

ResponsesNativeAnswer responses_native_answer(unsigned status, std::string_view body) {
  ResponsesNativeAnswer a;
  if (status != 200) {
    a.retryable = status == 408 || status == 429 || status >= 500;
    return a;
  }
  // Read by its top-level members only: answers can be large.
  std::vector<JsonMember> members;
  const std::optional<std::string_view> object = last_member_value(body, "object", members);
  if (!object || *object != "\"response\"") {
    a.unreadable = true;
    return a;
  }
  a.ok = true;
  a.id = response_id_of(body);
  if (const std::optional<std::string_view> u = last_member_value(body, "usage", members)) {
    boost::system::error_code ec;
    const json::value usage = json::parse(*u, ec);
    if (!ec) {
      a.usage = usage_from_responses(usage);
    }
  }
  return a;
}

std::string responses_native_failure(std::string_view openai_sse, std::string_view response_id,
                                     std::int64_t next_sequence) {
  std::string_view data = openai_sse;
  if (const std::size_t at = data.find("data:"); at != std::string_view::npos) {
    data.remove_prefix(at + 5);
  }
  boost::system::error_code ec;
  const json::value v = json::parse(data, ec);
  const json::object* e = !ec && v.is_object() ? object_member(v.get_object(), "error") : nullptr;
  std::string message(text_of(e, "message"));
  const std::string_view type = text_of(e, "type");
  std::string code(text_of(e, "code"));
  if (type.find("rate_limit") != std::string_view::npos ||
      code.find("rate_limit") != std::string::npos) {
    code = "rate_limit_exceeded";
  } else if (code.empty()) {
    code = "server_error";
  }
  if (message.empty()) {
    message = "The gateway ended the stream.";
  }
  std::string out;
  append_sse(out,
             R"({"type":"error","code":)" + quote(code) + R"(,"message":)" + quote(message) +
                 R"(,"param":null,"sequence_number":)" + std::to_string(next_sequence) + "}",
             "error");
  append_sse(out,
             R"({"type":"response.failed","response":{"id":)" + quote(response_id) +
                 R"(,"object":"response","status":"failed","error":{"code":)" + quote(code) +
                 R"(,"message":)" + quote(message) +
                 R"(},"incomplete_details":null,"output":[],"usage":null},"sequence_number":)" +
                 std::to_string(next_sequence + 1) + "}",
             "response.failed");
  return out;
}

// ---- stream relay ------------------------------------------------------------------------

void ResponsesNativeStream::on_event(const SseEvent& ev) {
  std::string_view type = ev.event;
  if (!scan_object(ev.data, members_)) {
    return;  // not JSON: relayed, not read
  }
  if (const JsonMember* t = last_of(members_, "type"); t != nullptr) {
    const std::string_view raw = raw_value(ev.data, *t);
    if (raw.size() >= 2 && raw.front() == '"') {
      type = raw.substr(1, raw.size() - 2);
    }
  }
  if (const JsonMember* n = last_of(members_, "sequence_number"); n != nullptr) {
    if (const std::optional<std::uint64_t> seq = raw_unsigned(raw_value(ev.data, *n));
        seq && *seq < static_cast<std::uint64_t>(INT64_MAX)) {
      next_sequence_ = static_cast<std::int64_t>(*seq) + 1;
    }
  }
  const std::string_view response = raw_value_of(ev.data, members_, "response");
  if (type == "response.created" && !response.empty()) {
    response_id_ = response_id_of(response);
  } else if (type == "response.completed" || type == "response.incomplete") {
    if (!response.empty() && response.front() == '{') {
      final_response_.assign(response);
      if (const std::optional<std::string_view> u =
              last_member_value(final_response_, "usage", members_)) {
        boost::system::error_code ec;
        const json::value usage = json::parse(*u, ec);
        usage_ = !ec ? usage_from_responses(usage) : std::nullopt;
      }
    }
    done_ = true;
  } else if (type == "error" || type == "response.failed") {
    on_failure(ev.data, type == "response.failed");
  }
}

void ResponsesNativeStream::on_failure(std::string_view data, bool failed_event) {
  boost::system::error_code ec;
  const json::value v = json::parse(data, ec);
  const json::object* o = !ec ? v.if_object() : nullptr;
  if (failed_event && o != nullptr) {
    // The failure is response.error ({code, message}).
    const json::object* r = object_member(*o, "response");
    o = r != nullptr ? object_member(*r, "error") : nullptr;
  }
  const std::string code(text_of(o, "code"));
  const std::string message(text_of(o, "message"));
  const unsigned status = status_of_code(code);
  retryable_ = status == 429 || status >= 500;
  fail(status, "upstream " + std::string(failed_event ? "response.failed" : "error") + " event (" +
                   (code.empty() ? std::string("no code") : code) +
                   "): " + (message.empty() ? std::string("no message") : message));
}

}  // namespace sb::adapters
