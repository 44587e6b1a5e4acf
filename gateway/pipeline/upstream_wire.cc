// The pass-through and translated wires of an attempt (see upstream_wire.h).

#include "gateway/pipeline/upstream_wire.h"

#include <chrono>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/json_edit.h"
#include "adapters/usage.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/client_dialect.h"
#include "gateway/pipeline/scrub.h"
#include "gateway/runtime/translators.h"

namespace sb::gateway::chat {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

constexpr std::string_view kJson = "application/json";

// The error message of an upstream's OpenAI-shaped error body, if it has one.
std::string upstream_error_message(std::string_view body) {
  error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    return {};
  }
  const auto* err = v.as_object().if_contains("error");
  if (err == nullptr) {
    return {};
  }
  if (err->is_object()) {
    if (const auto* m = err->as_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->as_string());
    }
  } else if (err->is_string()) {
    return std::string(err->as_string());
  }
  return {};
}

// Embeddings report `usage: {prompt_tokens, total_tokens}` beside arrays of floats that can run
// to megabytes: only the usage member is parsed.
std::optional<adapters::Usage> embedding_usage(std::string_view body) {
  std::vector<adapters::JsonMember> members;
  const std::optional<std::string_view> usage = adapters::last_member_value(body, "usage", members);
  if (!usage) {
    return std::nullopt;
  }
  error_code ec;
  const boost::json::value v = boost::json::parse(*usage, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  const auto* prompt = v.as_object().if_contains("prompt_tokens");
  if (prompt == nullptr || !(prompt->is_int64() || prompt->is_uint64())) {
    return std::nullopt;
  }
  adapters::Usage u;
  u.input =
      prompt->is_int64() ? prompt->get_int64() : static_cast<std::int64_t>(prompt->get_uint64());
  return u.input >= 0 ? std::optional<adapters::Usage>(u) : std::nullopt;
}

}  // namespace

// ---- pass-through ----

bool PassThroughWire::request(WireBody& body, upstream::Request& up,
                              adapters::TranslateError& error) {
  const adapters::EngineProfile* engine = endpoint_ == Endpoint::chat ? b_.engine : nullptr;
  // The typed reading serves when there is one (no DOM, no second scan); else the DOM.
  std::optional<adapters::ChatRequestPlan> typed_plan;
  if (body.typed() != nullptr) {
    typed_plan = adapters::plan_chat_request(body.text(), *body.typed(), b_.spec->model, engine);
  }
  const boost::json::object* parsed = typed_plan ? nullptr : body.dom();
  if (!typed_plan && parsed == nullptr) {
    error = adapters::TranslateError{500, "the request could not be read again"};
    return false;
  }
  adapters::ChatRequestPlan plan =
      typed_plan ? std::move(*typed_plan)
                 : adapters::plan_chat_request(body.text(), *parsed, b_.spec->model, engine);
  stream_ = plan.stream;
  client_wants_usage_ = plan.client_wants_usage;
  up.method(http::verb::post);
  if (b_.azure) {
    up.target(adapters::azure_target(b_.endpoint.base_path, b_.spec->model, b_.spec->api_version,
                                     endpoint_ == Endpoint::embeddings
                                         ? adapters::AzureOperation::embeddings
                                         : adapters::AzureOperation::completions));
  } else {
    up.target(b_.endpoint.base_path, upstream_path(endpoint_));
  }
  up.version(11);
  forward_headers(forwardable_, *b_.spec, up);
  up.set(http::field::content_type, kJson);
  up.set(http::field::accept, plan.stream ? "text/event-stream" : "application/json");
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", request_id_);
  if (!b_.credential_header.empty()) {
    up.set(b_.credential_header, b_.credential);
  }
  for (const auto& [k, v] : b_.headers) {
    up.set(k, v);
  }
  // The client's bytes are lent, not copied: the text outlives the exchange (WireBody).
  up.body(std::move(plan.body), body.text());
  return true;
}

bool PassThroughWire::streams(std::string_view content_type) const {
  return stream_ && content_type.substr(0, 17) == "text/event-stream";
}

adapters::StreamTranslator& PassThroughWire::stream_translator() {
  if (b_.azure) {
    translator_ = std::make_unique<adapters::AzureStreamTranslator>(client_wants_usage_);
  } else {
    translator_ = std::make_unique<adapters::OpenAIStreamTranslator>(client_wants_usage_);
  }
  return *translator_;
}

WireAnswer PassThroughWire::answer(unsigned status, std::string_view content_type, std::string body,
                                   const upstream::ResponseHead&) {
  WireAnswer a;
  if (status == 200) {
    a.usage = endpoint_ == Endpoint::embeddings ? embedding_usage(body)
                                                : adapters::usage_from_openai_text(body);
    if (b_.azure && endpoint_ != Endpoint::embeddings) {
      body = adapters::clean_azure_response(std::move(body));  // content-filter members
    }
    a.body = std::move(body);
    a.content_type = content_type.empty() ? kJson : content_type;
    return a;
  }
  a.retryable = status >= 500 || status == 429;
  a.failed = a.retryable;
  a.status = http_status({ErrorKind::upstream_status, status});
  if (status >= 400 && status < 500) {
    // The upstream's own answer (bad parameter, rate limit, ...) is the truth: pass it on.
    a.content_type = content_type.empty() ? kJson : content_type;
    a.body = scrub_upstream_text(body, b_.secret(), b_.endpoint.host);
    return a;
  }
  std::string msg =
      "Upstream backend '" + b_.spec->name + "' returned HTTP " + std::to_string(status);
  if (const std::string m = upstream_error_message(body); !m.empty()) {
    msg += ": " + scrub_upstream_text(m.substr(0, 512), b_.secret(), b_.endpoint.host);
  }
  a.content_type = kJson;
  a.body = error_json(msg, error_type_for(a.status), "upstream_error");
  return a;
}

// ---- translated ----

void to_upstream_request(adapters::UpstreamRequest ureq, std::string_view request_id,
                         const BackendRuntime& b, upstream::Request& up) {
  up.method(ureq.method == "GET" ? http::verb::get : http::verb::post);
  up.target(ureq.target);
  up.version(11);
  for (const auto& [k, v] : ureq.headers) {
    up.set(k, v);
  }
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", request_id);
  for (const auto& [k, v] : b.headers) {
    up.set(k, v);
  }
  up.body() = std::move(ureq.body);
}

TranslatedWire::TranslatedWire(const BackendRuntime& b, std::string_view request_id,
                               std::string_view alias)
    : b_(b), request_id_(request_id), alias_(alias) {
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  translator_ = make_translator(*b.spec, created, request_id);
}

bool TranslatedWire::request(WireBody& body, upstream::Request& up,
                             adapters::TranslateError& error) {
  // The pipeline's typed reading when it made one (no DOM at all); else the translator reads the
  // text itself (a body past the typed reading's memory budget, a clamped body).
  const adapters::ChatRequest* typed = body.typed();
  adapters::Result<adapters::UpstreamRequest, adapters::TranslateError> ureq =
      typed != nullptr ? translator_->request_from(*typed, b_.translator_spec)
                       : translator_->request(body.text(), b_.translator_spec);
  if (!ureq) {
    error = ureq.error();
    return false;
  }
  stream_ = ureq->stream;
  if (typed != nullptr) {
    client_wants_usage_ = typed->include_usage.value_or(false);
  } else {
    const boost::json::object* parsed = body.dom();
    client_wants_usage_ = parsed != nullptr && adapters::asks_for_usage(*parsed);
  }
  to_upstream_request(std::move(*ureq), request_id_, b_, up);
  return true;
}

adapters::StreamTranslator& TranslatedWire::stream_translator() {
  stream_translator_ = translator_->stream(client_wants_usage_, alias_);
  return *stream_translator_;
}

WireAnswer TranslatedWire::answer(unsigned status, std::string_view content_type, std::string body,
                                  const upstream::ResponseHead& headers) {
  const std::string_view header_name = translator_->response_header();
  adapters::TranslatedResponse r = translator_->response_with_header(
      status, content_type, body, alias_,
      header_name.empty() ? std::string_view() : std::string_view(headers[header_name]));
  WireAnswer a;
  a.content_type = kJson;
  if (r.status == 200) {
    a.usage = r.usage;
    a.body = std::move(r.body);
    return a;
  }
  a.status = http_status({ErrorKind::upstream_error, r.status});
  a.body = scrub_upstream_text(r.body, b_.secret(), b_.endpoint.host);
  a.retryable = r.retryable;
  a.failed = status >= 500 || status == 429 || r.retryable;
  retry_after_ = std::move(r.retry_after);
  if (retry_after_) {
    a.retry_after = *retry_after_;
  }
  return a;
}

}  // namespace sb::gateway::chat
