#include "gateway/forwarding.h"

#include <array>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

namespace sb::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Headers never forwarded upstream: hop-by-hop (RFC 9110 §7.6.1), the client's credentials (the
// backend's own key replaces them), and what the gateway sets itself.
bool never_forwarded(std::string_view name) {
  static constexpr std::array<std::string_view, 24> kDropped = {"x-data-classification",
                                                                "x-capability-tier",
                                                                "connection",
                                                                "keep-alive",
                                                                "proxy-connection",
                                                                "te",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade",
                                                                "proxy-authorization",
                                                                "proxy-authenticate",
                                                                "authorization",
                                                                "x-api-key",
                                                                "api-key",
                                                                "cookie",
                                                                "host",
                                                                "content-length",
                                                                "expect",
                                                                "accept-encoding",
                                                                "x-request-id",
                                                                "content-type",
                                                                "accept",
                                                                "openai-organization",
                                                                "openai-project"};
  for (std::string_view d : kDropped) {
    if (beast::iequals(name, d)) {
      return true;
    }
  }
  return name.size() >= 13 && beast::iequals(name.substr(0, 13), "x-switchboard");
}

// True when `name` is listed in the client's Connection header (those are hop-by-hop too).
bool named_in_connection(std::string_view connection, std::string_view name) {
  while (!connection.empty()) {
    const auto comma = connection.find(',');
    std::string_view token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
      token.remove_prefix(1);
    }
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    if (beast::iequals(token, name)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    connection.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void forward_headers(const Request& in, upstream::Request& out) {
  const std::string_view connection = in[http::field::connection];
  for (const auto& f : in) {
    const std::string_view name = f.name_string();
    if (never_forwarded(name) || (!connection.empty() && named_in_connection(connection, name))) {
      continue;
    }
    out.insert(f.name_string(), f.value());
  }
}

}  // namespace sb::gateway
