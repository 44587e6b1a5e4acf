// The faithful Anthropic lane: the client's Messages body spliced for an Anthropic-format backend,
// and the upstream's answer and event stream read (not rewritten) on their way back.
#include "adapters/anthropic_native.h"

#include <algorithm>
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

#include "adapters/anthropic.h"
#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

bool refuse(TranslateError& error, std::string message) {
  error = TranslateError{400, std::move(message)};
  return false;
}

/// One replacement of a member's value bytes.
struct Replacement {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

/// `text` with the splices applied (they do not overlap), in one copy.
std::string apply(std::string_view text, std::vector<Replacement>& splices) {
  std::sort(splices.begin(), splices.end(),
            [](const Replacement& a, const Replacement& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size() + 64);
  std::size_t at = 0;
  for (const Replacement& s : splices) {
    out.append(text.substr(at, s.begin - at));
    out += s.text;
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

/// Scans the body and checks its `model` as Anthropic's validator does; the new model (when
/// given) goes to `splices`.
bool read_model(std::string_view body, std::string_view upstream_model,
                std::vector<JsonMember>& members, std::vector<Replacement>& splices,
                TranslateError& error) {
  if (!scan_object(body, members)) {
    return refuse(error, "Input should be a valid dictionary");
  }
  const JsonMember* model = last_of(members, "model");
  if (model == nullptr) {
    return refuse(error, "model: Field required");
  }
  if (body[model->value_begin] != '"') {
    return refuse(error, "model: Input should be a valid string");
  }
  if (!upstream_model.empty()) {
    splices.push_back({model->value_begin, model->value_end, quote(upstream_model)});
  }
  // The upstream reads each key once, as the gateway did: the last occurrence (the edits here
  // touch only last occurrences, so these ranges never overlap them).
  thread_local std::vector<char> superseded;
  if (mark_superseded(members, superseded)) {
    for (std::size_t k = 0; k + 1 < members.size(); ++k) {
      if (superseded[k] != 0) {
        splices.push_back({members[k].begin, members[k + 1].begin, std::string()});
      }
    }
  }
  return true;
}

/// `thinking` with budget_tokens lowered below `max_tokens` when an enabled thinking budget no
/// longer fits (Anthropic: "`max_tokens` must be greater than `thinking.budget_tokens`").
void fit_thinking_budget(std::string_view body, const JsonMember& member, std::uint64_t max_tokens,
                         std::vector<Replacement>& splices) {
  boost::system::error_code ec;
  json::value thinking = json::parse(raw_value(body, member), ec);
  json::object* t = !ec ? thinking.if_object() : nullptr;
  const json::value* budget = t != nullptr ? t->if_contains("budget_tokens") : nullptr;
  const std::optional<std::int64_t> b =
      budget != nullptr ? positive_integer(*budget) : std::nullopt;
  if (!b || static_cast<std::uint64_t>(*b) < max_tokens || max_tokens < 2) {
    return;
  }
  (*t)["budget_tokens"] = max_tokens - 1;
  splices.push_back({member.value_begin, member.value_end, json::serialize(thinking)});
}

/// `max_tokens` lowered to `cap` when the client asked for more (a cap of 0 is none).
void clamp_max_tokens(std::string_view body, const std::vector<JsonMember>& members,
                      std::uint64_t cap, std::vector<Replacement>& splices) {
  const JsonMember* max = cap != 0 ? last_of(members, "max_tokens") : nullptr;
  const std::optional<std::uint64_t> asked =
      max != nullptr ? raw_unsigned(raw_value(body, *max)) : std::nullopt;
  if (!asked || *asked <= cap) {
    return;  // absent or not an integer: Anthropic's validator answers that
  }
  splices.push_back({max->value_begin, max->value_end, std::to_string(cap)});
  if (const JsonMember* thinking = last_of(members, "thinking")) {
    fit_thinking_budget(body, *thinking, cap, splices);
  }
}

/// Whether `block` is a thinking block with an empty signature.
bool unsigned_thinking(const json::value& block) {
  const json::object* b = block.if_object();
  const json::value* sig = b != nullptr ? b->if_contains("signature") : nullptr;
  return sig != nullptr && sig->is_string() && sig->get_string().empty() &&
         string_member(*b, "type") == "thinking";
}

/// `messages` without the thinking blocks whose signature is empty: the translated lane writes
/// those for an engine's reasoning (it cannot sign), a client such as Claude Code sends them back
/// in its history, and Anthropic refuses a thinking block it did not sign. Only when the raw
/// `messages` holds an empty signature is it parsed and re-serialized; otherwise untouched.
void drop_unsigned_thinking(std::string_view body, const std::vector<JsonMember>& members,
                            std::vector<Replacement>& splices) {
  const JsonMember* m = last_of(members, "messages");
  const std::string_view raw = m != nullptr ? raw_value(body, *m) : std::string_view();
  if (raw.find(R"("signature":"")") == std::string_view::npos &&
      raw.find(R"("signature": "")") == std::string_view::npos) {
    return;
  }
  boost::system::error_code ec;
  json::value messages = json::parse(raw, ec);
  json::array* list = !ec ? messages.if_array() : nullptr;
  if (list == nullptr) {
    return;
  }
  bool changed = false;
  for (json::value& turn : *list) {
    json::object* t = turn.if_object();
    json::value* c = t != nullptr ? t->if_contains("content") : nullptr;
    json::array* blocks = c != nullptr ? c->if_array() : nullptr;
    if (blocks == nullptr) {
      continue;
    }
    const auto end = std::remove_if(blocks->begin(), blocks->end(), unsigned_thinking);
    changed = changed || end != blocks->end();
    blocks->erase(end, blocks->end());
  }
  if (changed) {
    splices.push_back({m->value_begin, m->value_end, json::serialize(messages)});
  }
}

std::string native_target(const BackendSpec& spec, std::string_view endpoint,
                          std::string_view query) {
  std::string target(trimmed_base(spec.base_path));
  target += endpoint;
  // Only a plain query (`beta=true` and the like) is carried: nothing that could end the target.
  const bool plain = std::all_of(query.begin(), query.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~=&%+").find(c) != std::string_view::npos;
  });
  if (!query.empty() && plain) {
    target.append("?").append(query);
  }
  return target;
}

UpstreamRequest native_post(std::string target, std::string body, bool stream,
                            const BackendSpec& spec, std::string_view version,
                            std::string_view beta) {
  UpstreamRequest req;
  req.target = std::move(target);
  req.body = std::move(body);
  req.stream = stream;
  req.headers.reserve(5);
  req.headers.emplace_back("x-api-key", std::string(spec.api_key));
  req.headers.emplace_back("anthropic-version", !version.empty() ? std::string(version)
                                                : !spec.api_version.empty()
                                                    ? spec.api_version
                                                    : std::string(kAnthropicVersion));
  if (!beta.empty()) {
    req.headers.emplace_back("anthropic-beta", std::string(beta));
  }
  req.headers.emplace_back("content-type", "application/json");
  if (stream) {
    req.headers.emplace_back("accept", "text/event-stream");
  }
  return req;
}

/// Whether an Anthropic error type is worth another backend.
bool retryable_type(std::string_view type) {
  return type == "overloaded_error" || type == "rate_limit_error" || type == "api_error" ||
         type == "timeout_error";
}

/// The HTTP status an error event of `type` stands for (the stream's own status is 200).
unsigned status_of_type(std::string_view type) {
  if (type == "overloaded_error") {
    return 529;
  }
  if (type == "rate_limit_error") {
    return 429;
  }
  if (type == "timeout_error") {
    return 504;
  }
  if (type.empty() || type == "api_error" || !type.ends_with("_error")) {
    return 500;
  }
  return 400;
}

/// Anthropic's usage object in the gateway's units (absent counters read as 0).
Usage usage_of(const json::object& u) {
  return split_prompt_usage(count_member(u, "input_tokens").value_or(0),
                            count_member(u, "output_tokens").value_or(0),
                            count_member(u, "cache_read_input_tokens").value_or(0),
                            count_member(u, "cache_creation_input_tokens").value_or(0));
}

}  // namespace

std::optional<UpstreamRequest> anthropic_native_request(
    std::string_view client_body, std::string_view upstream_model, std::uint64_t max_tokens_cap,
    const BackendSpec& spec, std::string_view client_anthropic_version,
    std::string_view client_anthropic_beta, TranslateError& error, std::string_view client_query) {
  std::vector<JsonMember> members;
  std::vector<Replacement> splices;
  if (!read_model(client_body, upstream_model, members, splices, error)) {
    return std::nullopt;
  }
  clamp_max_tokens(client_body, members, max_tokens_cap, splices);
  drop_unsigned_thinking(client_body, members, splices);
  const JsonMember* stream = last_of(members, "stream");
  const bool streaming = stream != nullptr && raw_value(client_body, *stream) == "true";
  std::string target = native_target(spec, "/messages", client_query);
  return native_post(std::move(target), apply(client_body, splices), streaming, spec,
                     client_anthropic_version, client_anthropic_beta);
}

std::optional<UpstreamRequest> anthropic_count_tokens_request(
    std::string_view client_body, std::string_view upstream_model, const BackendSpec& spec,
    std::string_view client_anthropic_version, std::string_view client_anthropic_beta,
    TranslateError& error, std::string_view client_query) {
  std::vector<JsonMember> members;
  std::vector<Replacement> splices;
  if (!read_model(client_body, upstream_model, members, splices, error)) {
    return std::nullopt;
  }
  drop_unsigned_thinking(client_body, members, splices);
  std::string body = apply(client_body, splices);
  for (const std::string_view key : kNotCounted) {
    remove_member(body, key);
  }
  std::string target = native_target(spec, "/messages/count_tokens", client_query);
  return native_post(std::move(target), std::move(body), false, spec, client_anthropic_version,
                     client_anthropic_beta);
}

std::optional<std::int64_t> anthropic_count_tokens_answer(std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  return count_member(v.get_object(), "input_tokens");
}

AnthropicNativeAnswer anthropic_native_answer(unsigned status, std::string_view body,
                                              std::string_view retry_after_header) {
  AnthropicNativeAnswer a;
  std::vector<JsonMember> members;
  if (status == 200 && scan_object(body, members)) {
    // A message is read by its top-level members only: answers can be large.
    const JsonMember* type = last_of(members, "type");
    if (type != nullptr && raw_value(body, *type) == "\"message\"") {
      a.ok = true;
      if (const JsonMember* u = last_of(members, "usage")) {
        boost::system::error_code ec;
        const json::value usage = json::parse(raw_value(body, *u), ec);
        if (!ec && usage.is_object()) {
          a.usage = usage_of(usage.get_object());
        }
      }
      return a;
    }
  }
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::object* o = !ec ? v.if_object() : nullptr;
  if (o != nullptr) {
    if (const json::value* e = member(*o, "error"); e != nullptr && e->is_object()) {
      a.error_type = string_member(e->get_object(), "type");
      a.error_message = string_member(e->get_object(), "message");
    }
  }
  if (status == 200 && a.error_type.empty()) {
    a.unreadable = true;
    a.error_type = "api_error";
    a.error_message = "upstream answer is not a message";
  }
  a.retryable = status == 408 || status == 429 || status >= 500 ||
                (status == 200 && retryable_type(a.error_type)) ||
                a.error_type == "overloaded_error";
  if (a.retryable) {
    a.retry_after = parse_retry_after(retry_after_header);
  }
  return a;
}

std::string anthropic_error_body(std::string_view type, std::string_view message) {
  return R"({"type":"error","error":{"type":)" + quote(type) + R"(,"message":)" + quote(message) +
         "}}";
}

std::string anthropic_error_event(std::string_view type, std::string_view message) {
  std::string out;
  append_sse(out, anthropic_error_body(type, message), "error");
  return out;
}

// ---- stream relay ------------------------------------------------------------------------

void AnthropicNativeStream::on_event(const SseEvent& ev) {
  boost::system::error_code ec;
  const json::value v = json::parse(ev.data, ec);
  const json::object* o = !ec ? v.if_object() : nullptr;
  std::string_view type = o != nullptr ? string_member(*o, "type") : std::string_view();
  if (type.empty()) {
    type = ev.event;
  }
  if (type == "message_start") {
    started_ = true;
    const json::value* m = o != nullptr ? member(*o, "message") : nullptr;
    read_usage(m != nullptr && m->is_object() ? member(m->get_object(), "usage") : nullptr);
  } else if (type == "message_delta") {
    read_usage(o != nullptr ? member(*o, "usage") : nullptr);
  } else if (type == "message_stop") {
    done_ = true;
  } else if (type == "error") {
    const json::value* e = o != nullptr ? member(*o, "error") : nullptr;
    const json::object* eo = e != nullptr ? e->if_object() : nullptr;
    error_type_ = eo != nullptr ? string_member(*eo, "type") : std::string_view();
    std::string message(eo != nullptr ? string_member(*eo, "message") : std::string_view());
    retryable_ = retryable_type(error_type_) || error_type_.empty();
    fail(status_of_type(error_type_),
         "upstream error event (" + (error_type_.empty() ? std::string("error") : error_type_) +
             "): " + (message.empty() ? std::string("no message") : message));
  }
}

void AnthropicNativeStream::read_usage(const json::value* usage) {
  if (usage == nullptr || !usage->is_object()) {
    return;
  }
  const json::object& u = usage->get_object();
  input_ = count_member(u, "input_tokens").value_or(input_);
  output_ = count_member(u, "output_tokens").value_or(output_);
  cache_read_ = count_member(u, "cache_read_input_tokens").value_or(cache_read_);
  cache_creation_ = count_member(u, "cache_creation_input_tokens").value_or(cache_creation_);
  usage_ = split_prompt_usage(input_, output_, cache_read_, cache_creation_);
}

}  // namespace sb::adapters
