#include "gateway/pipeline/client_dialect.h"

#include <utility>

#include "adapters/anthropic_inbound.h"
#include "gateway/net/http_response.h"

namespace sb::gateway {
namespace {

std::string openai_error_body(unsigned, std::string body) {
  return body;
}
std::optional<std::string> openai_answer(std::string body, std::string_view, std::string&,
                                         std::int64_t) {
  return body;
}

std::string anthropic_error_body(unsigned status, std::string body) {
  return adapters::openai_error_to_anthropic(status, body);
}
std::optional<std::string> anthropic_answer(std::string body, std::string_view model,
                                            std::string& error, std::int64_t cache_write) {
  return adapters::try_openai_to_anthropic_response(body, model, error, cache_write);
}

constexpr ClientDialect kOpenAI{
    Dialect::openai, &openai_error_body,
    &openai_answer,  {},
    false,           "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."};
// The Responses API's errors are OpenAI's; its answers and streams need the request's context
// (ids, the request echoed), so the request's ResponsesSide converts them (responses.cc).
constexpr ClientDialect kResponses{
    Dialect::responses,
    &openai_error_body,
    &openai_answer,
    "application/json",
    true,
    "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."};
constexpr ClientDialect kAnthropic{Dialect::anthropic,
                                   &anthropic_error_body,
                                   &anthropic_answer,
                                   "application/json",
                                   true,
                                   "x-api-key header is required"};

// An upstream's 5xx is a gateway failure for the client: 502, or the 503/504 it reported.
unsigned gateway_failure(unsigned status) {
  return status == 503 || status == 504 ? status : 502;
}

}  // namespace

unsigned http_status(const ErrorCause& cause) {
  switch (cause.kind) {
    case ErrorKind::invalid_request:
      return 400;
    case ErrorKind::unauthenticated:
      return 401;
    case ErrorKind::forbidden:
      return 403;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::method_not_allowed:
      return 405;
    case ErrorKind::unsupported_media_type:
      return 415;
    case ErrorKind::rate_limited:
      return 429;
    case ErrorKind::unavailable:
      return 503;
    case ErrorKind::upstream_transport:
      return upstream::is_timeout(cause.transport) ? 504 : 502;
    case ErrorKind::upstream_status:
      return cause.status >= 400 && cause.status < 500 ? cause.status
                                                       : gateway_failure(cause.status);
    case ErrorKind::upstream_error:
      return cause.status >= 500 ? gateway_failure(cause.status) : cause.status;
    case ErrorKind::upstream_unreadable:
      return 502;
    case ErrorKind::untranslatable:
      return cause.status;
  }
  return 500;
}

const ClientDialect& client_dialect(Dialect d) {
  return d == Dialect::anthropic ? kAnthropic : d == Dialect::responses ? kResponses : kOpenAI;
}

std::string error_body(const ClientDialect& dialect, unsigned status, std::string_view message,
                       std::string_view code) {
  return dialect.error_body(status, error_json(message, error_type_for(status), code));
}

std::string error_response(const ClientDialect& dialect, unsigned status, std::string_view message,
                           std::string_view code, std::string_view headers) {
  return json_response(status, error_body(dialect, status, message, code), headers);
}

}  // namespace sb::gateway
