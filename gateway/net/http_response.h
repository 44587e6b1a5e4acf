#pragma once
// Building HTTP/1.1 response bytes directly: the gateway controls every byte it sends, with no
// serializer object per response. Also the one place that maps gateway errors to OpenAI-shaped
// error responses (status, type, code), as the user contract lists them.

#include <string>
#include <string_view>

namespace sb::gateway {

/// Reason phrase for a status code ("OK", "Bad Gateway", ...).
std::string_view reason_phrase(unsigned status);

/// Appends "HTTP/1.1 <status> <reason>\r\n".
void append_status_line(std::string& out, unsigned status);
/// Appends "<name>: <value>\r\n".
void append_header(std::string& out, std::string_view name, std::string_view value);

/// The OpenAI error type for a status: invalid_request_error, authentication_error,
/// permission_error, not_found_error, rate_limit_error, timeout_error, api_error.
std::string_view error_type_for(unsigned status);

/// `{"error":{"message":...,"type":...,"param":null,"code":...}}`; `code` may be empty (null).
std::string error_json(std::string_view message, std::string_view type, std::string_view code);
/// The same naming the request member at fault (`param`; null when empty).
std::string error_json(std::string_view message, std::string_view type, std::string_view code,
                       std::string_view param);

/// A complete response (status line, headers, body) with Content-Type application/json and
/// Content-Length. `extra_headers` must be a block of complete header lines ("Name: value\r\n"...)
/// and carries Connection when the connection closes (see RequestContext::common_headers).
std::string json_response(unsigned status, std::string_view body,
                          std::string_view extra_headers = {});

/// A complete OpenAI-shaped error response.
std::string error_response(unsigned status, std::string_view message, std::string_view code,
                           std::string_view extra_headers = {});

}  // namespace sb::gateway
