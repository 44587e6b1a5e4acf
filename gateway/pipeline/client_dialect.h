#pragma once
// The client's dialect as a type (OpenAI's, or Anthropic's Messages API for POST /v1/messages):
// how its error bodies, answers and streams are shaped. And the one mapping from what went wrong
// to the HTTP status the client sees, whatever the dialect. Pure (unit-tested in
// pipeline_test.cc).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/upstream/client.h"
#include "gateway/net/handler.h"

namespace sb::gateway {

/// Why the gateway answers with an error (its own, or an upstream's it passes on).
enum class ErrorKind : std::uint8_t {
  invalid_request,     ///< 400: the body or a header cannot be served
  unauthenticated,     ///< 401: no API key, or a wrong one
  forbidden,           ///< 403: sensitive data no eligible backend is cleared for
  not_found,           ///< 404: an unknown URL or model
  method_not_allowed,  ///< 405
  /// 415: a compressed body (Content-Encoding), which the gateway neither reads nor forwards
  unsupported_media_type,
  rate_limited,        ///< 429: rates, budget, load shed
  unavailable,         ///< 503: no backend, the shared store out of reach, every backend busy
  upstream_transport,  ///< 502, or 504 when the transport timed out
  /// A pass-through upstream's status other than 200: a 4xx is the upstream's own word (passed
  /// on); anything else is a gateway failure, 502, or the 503/504 it reported.
  upstream_status,
  /// A translator's error status (already mapped from the provider's): a 5xx becomes 502, or the
  /// 503/504 it reported; below 500 it is passed on.
  upstream_error,
  upstream_unreadable,  ///< 502: a 200 answer the gateway cannot read
  untranslatable,       ///< the translator's status for a request its provider cannot express
};

struct ErrorCause {
  ErrorKind kind = ErrorKind::invalid_request;
  unsigned status = 0;  ///< the upstream's or translator's (upstream_*, untranslatable)
  upstream::ErrorKind transport = upstream::ErrorKind::none;  ///< upstream_transport
};

/// The HTTP status the client sees for `cause`: the one place an error becomes a status.
unsigned http_status(const ErrorCause& cause);

/// A client dialect: a small table of functions, chosen once per request from its route.
struct ClientDialect {
  Dialect id;
  /// An OpenAI-shaped error body (the gateway's own, or an upstream's) in this dialect; `status`
  /// is the HTTP status it goes out with.
  std::string (*error_body)(unsigned status, std::string openai_body);
  /// A complete chat completion (OpenAI's JSON) in this dialect; nullopt with `error` set when it
  /// cannot be read. `cache_write`: prompt-cache writes the OpenAI shape cannot carry.
  std::optional<std::string> (*answer)(std::string body, std::string_view model, std::string& error,
                                       std::int64_t cache_write);
  /// The Content-Type of a converted answer; empty: the upstream's is kept.
  std::string_view answer_content_type;
  /// Streams are rewritten event by event (AnthropicOutbound), not relayed as OpenAI SSE.
  bool rewrites_stream = false;
  /// What a 401 says when the request carries no API key.
  std::string_view missing_key_message;
};

const ClientDialect& client_dialect(Dialect d);

/// The gateway's own error body, `{"error":{message,type,code}}` in `dialect`.
std::string error_body(const ClientDialect& dialect, unsigned status, std::string_view message,
                       std::string_view code);

/// A complete error response: status line, Content-Type and Content-Length, `headers` (complete
/// lines), and the error body in `dialect`.
std::string error_response(const ClientDialect& dialect, unsigned status, std::string_view message,
                           std::string_view code, std::string_view headers);

}  // namespace sb::gateway
