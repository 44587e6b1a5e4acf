#include "gateway/net/http_response.h"

#include <boost/asio/awaitable.hpp>

#include "adapters/openai_shapes.h"
#include "gateway/net/handler.h"
#include "gateway/observability/log.h"

namespace sb::gateway {

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 529:
      return "Site Overloaded";
    default:
      return "Unknown";
  }
}

void append_status_line(std::string& out, unsigned status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out.push_back(' ');
  out += reason_phrase(status);
  out += "\r\n";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

std::string_view error_type_for(unsigned status) {
  // The translators' mapping, and the gateway's own answer to an oversized body.
  return status == 413 ? "request_too_large" : adapters::error_type_for(status);
}

std::string error_json(std::string_view message, std::string_view type, std::string_view code) {
  return error_json(message, type, code, {});
}

std::string error_json(std::string_view message, std::string_view type, std::string_view code,
                       std::string_view param) {
  std::string body;
  body.reserve(96 + message.size());
  body += "{\"error\":{\"message\":";
  log::append_json_string(body, message);
  body += ",\"type\":";
  log::append_json_string(body, type);
  body += ",\"param\":";
  if (param.empty()) {
    body += "null";
  } else {
    log::append_json_string(body, param);
  }
  body += ",\"code\":";
  if (code.empty()) {
    body += "null";
  } else {
    log::append_json_string(body, code);
  }
  body += "}}";
  return body;
}

std::string json_response(unsigned status, std::string_view body, std::string_view extra_headers) {
  std::string out;
  out.reserve(160 + extra_headers.size() + body.size());
  append_status_line(out, status);
  append_header(out, "Content-Type", "application/json");
  append_header(out, "Content-Length", std::to_string(body.size()));
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

boost::asio::awaitable<void> Handler::refuse_body(RequestContext& ctx, unsigned status,
                                                  std::string_view message,
                                                  std::string_view extra_headers) {
  std::string headers = "Connection: close\r\n";
  headers += extra_headers;
  co_await ctx.downstream.write(error_response(status, message, {}, headers));
}

std::string error_response(unsigned status, std::string_view message, std::string_view code,
                           std::string_view extra_headers) {
  return json_response(status, error_json(message, error_type_for(status), code), extra_headers);
}

}  // namespace sb::gateway
