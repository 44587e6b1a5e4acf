// Native wires (see native_wire.h).

#include "gateway/pipeline/native_wire.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

#include "adapters/anthropic_inbound.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/client_dialect.h"
#include "gateway/pipeline/scrub.h"

namespace sb::gateway::chat {

namespace http = boost::beast::http;

namespace {

// The most output a native request may ask of backend `b`: the pipeline's limit, within the
// backend's declared one; 0 when neither says.
std::uint64_t output_cap(const BackendRuntime& b, WireBody& chat) {
  const std::uint64_t declared = b.spec->max_output_tokens_declared ? b.spec->max_output_tokens : 0;
  const std::uint64_t limit = chat.output_limit();
  return limit != 0 && (declared == 0 || limit < declared) ? limit : declared;
}

}  // namespace

bool AnthropicNativeWire::request(WireBody& chat, upstream::Request& up,
                                  adapters::TranslateError& error) {
  const std::uint64_t cap = output_cap(b_, chat);
  std::optional<adapters::UpstreamRequest> ureq = adapters::anthropic_native_request(
      client_body_, b_.spec->model, cap, b_.translator_spec, version_, beta_, error, query_);
  if (!ureq) {
    return false;
  }
  stream_ = ureq->stream;
  to_upstream_request(std::move(*ureq), request_id_, b_, up);
  return true;
}

WireAnswer AnthropicNativeWire::answer(unsigned status, std::string_view content_type,
                                       std::string body, const upstream::ResponseHead& headers) {
  adapters::AnthropicNativeAnswer read =
      adapters::anthropic_native_answer(status, body, headers[http::field::retry_after]);
  WireAnswer a;
  a.content_type = content_type.empty() ? std::string_view("application/json") : content_type;
  if (status == 200) {
    a.usage = read.usage;
    a.body = std::move(body);
    return a;
  }
  a.retryable = read.retryable;
  a.failed = status >= 500 || status == 429 || read.retryable;
  a.status = http_status({ErrorKind::upstream_status, status});
  if (read.retry_after) {
    retry_after_ = std::move(*read.retry_after);
    a.retry_after = retry_after_;
  }
  if (status >= 400 && status < 500) {
    // Anthropic's own word on the request (its validator's message): passed on, scrubbed.
    a.body = scrub_upstream_text(body, b_.secret(), b_.endpoint.host);
    return a;
  }
  std::string msg =
      "Upstream backend '" + b_.spec->name + "' returned HTTP " + std::to_string(status);
  a.content_type = "application/json";
  a.body = adapters::openai_error_to_anthropic(
      a.status, error_json(msg, error_type_for(a.status), "upstream_error"));
  return a;
}

// ---- Responses ----

bool ResponsesNativeWire::request(WireBody& chat, upstream::Request& up,
                                  adapters::TranslateError& error) {
  const std::uint64_t cap = output_cap(b_, chat);
  std::optional<adapters::UpstreamRequest> ureq = adapters::responses_native_request(
      client_body_, b_.spec->model, cap, b_.endpoint.base_path, b_.azure, error);
  if (!ureq) {
    return false;
  }
  stream_ = ureq->stream;
  up.method(http::verb::post);
  up.target(ureq->target);
  up.version(11);
  forward_headers(forwardable_, *b_.spec, up);
  up.set(http::field::content_type, "application/json");
  up.set(http::field::accept, stream_ ? "text/event-stream" : "application/json");
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", request_id_);
  if (!b_.credential_header.empty()) {
    up.set(b_.credential_header, b_.credential);  // authorization for OpenAI, api-key for Azure
  }
  for (const auto& [k, v] : b_.headers) {
    up.set(k, v);
  }
  up.body() = std::move(ureq->body);
  return true;
}

const std::string& ResponsesNativeWire::final_response() const {
  return stream_translator_ ? stream_translator_->final_response() : response_;
}

WireAnswer ResponsesNativeWire::answer(unsigned status, std::string_view content_type,
                                       std::string body, const upstream::ResponseHead&) {
  const adapters::ResponsesNativeAnswer read = adapters::responses_native_answer(status, body);
  WireAnswer a;
  a.content_type = content_type.empty() ? std::string_view("application/json") : content_type;
  if (read.ok) {
    a.usage = read.usage;
    if (keep_response_) {
      response_ = body;
    }
    a.body = std::move(body);
    return a;
  }
  a.retryable = read.retryable;
  a.failed = read.retryable || read.unreadable;
  a.status = http_status(
      {read.unreadable ? ErrorKind::upstream_unreadable : ErrorKind::upstream_status, status});
  if (status >= 400 && status < 500 && !read.retryable) {
    // OpenAI's own word on the request (its validator's message): passed on, scrubbed.
    a.body = scrub_upstream_text(body, b_.secret(), b_.endpoint.host);
    return a;
  }
  std::string msg = "Upstream backend '" + b_.spec->name +
                    (read.unreadable ? "' answered with something that is not a Response"
                                     : "' returned HTTP " + std::to_string(status));
  a.content_type = "application/json";
  a.body = error_json(msg, error_type_for(a.status), "upstream_error");
  return a;
}

}  // namespace sb::gateway::chat
