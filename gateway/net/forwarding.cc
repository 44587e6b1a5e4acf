#include "gateway/net/forwarding.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <span>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "gateway/net/header_name.h"
#include "policies/providers.h"

namespace sb::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Headers never forwarded upstream: hop-by-hop (RFC 9110 §7.6.1), the client's credentials (the
// backend's own key replaces them), what the gateway sets itself, and the addresses proxies in
// front of the gateway record (they describe the client's network, not the request).
bool never_forwarded(std::string_view name) {
  if (name.size() >= 13 && is_name(name.substr(0, 13), "x-switchboard")) {
    return true;
  }
  // By length first: a request's few headers meet one or two comparisons each, not the list.
  switch (name.size()) {
    case 2:
      return is_name(name, "te");
    case 4:
      return is_name(name, "host");
    case 6:
      return is_name(name, "cookie") || is_name(name, "expect") || is_name(name, "accept");
    case 7:
      return is_name(name, "trailer") || is_name(name, "upgrade") || is_name(name, "api-key");
    case 9:
      return is_name(name, "x-api-key") || is_name(name, "forwarded") || is_name(name, "x-real-ip");
    case 10:
      return is_name(name, "connection") || is_name(name, "keep-alive");
    case 12:
      return is_name(name, "x-request-id") || is_name(name, "content-type");
    case 13:
      return is_name(name, "authorization");
    case 14:
      return is_name(name, "content-length") || is_name(name, "openai-project");
    case 15:
      return is_name(name, "accept-encoding") || is_name(name, "x-forwarded-for");
    case 16:
      return is_name(name, "proxy-connection") || is_name(name, "x-forwarded-host");
    case 17:
      return is_name(name, "x-capability-tier") || is_name(name, "transfer-encoding") ||
             is_name(name, "x-forwarded-proto");
    case 18:
      return is_name(name, "proxy-authenticate");
    case 19:
      return is_name(name, "proxy-authorization") || is_name(name, "openai-organization");
    case 21:
      return is_name(name, "x-data-classification");
    default:
      return false;
  }
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

// The headers a closed backend may receive besides its `forward_headers`: two every client
// sends, and those of its provider's row (e.g. anthropic-version and anthropic-beta).
bool on_allow_list(std::string_view name, std::span<const std::string_view> provider_headers) {
  if (beast::iequals(name, "user-agent") || beast::iequals(name, "accept-language")) {
    return true;
  }
  return std::any_of(provider_headers.begin(), provider_headers.end(),
                     [name](std::string_view h) { return !h.empty() && beast::iequals(name, h); });
}

}  // namespace

void forwardable_headers(std::span<const HeaderLine> lines, std::vector<HeaderLine>& out) {
  out.clear();
  std::string_view connection;
  for (const auto& [name, value] : lines) {
    if (is_name(name, "connection")) {
      connection = value;
      break;
    }
  }
  std::size_t bytes = 0;
  for (const auto& [name, value] : lines) {
    if (never_forwarded(name) || (!connection.empty() && named_in_connection(connection, name))) {
      continue;
    }
    bytes += name.size() + value.size();
    if (out.size() >= kMaxForwardedHeaders || bytes > kMaxForwardedBytes) {
      break;  // the extras are dropped
    }
    out.emplace_back(name, value);
  }
}

void forward_headers(std::span<const HeaderLine> forwardable, const config::Backend& backend,
                     upstream::Request& out) {
  const bool closed = backend.hosting == config::Hosting::closed;
  const auto& provider_headers = config::provider_info(backend.provider).client_headers;
  for (const auto& [name, value] : forwardable) {
    const std::string_view n = name;  // clang 14 cannot capture a structured binding
    const auto listed = [&backend, n] {
      return std::any_of(backend.forward_headers.begin(), backend.forward_headers.end(),
                         [n](const std::string& h) { return beast::iequals(h, n); });
    };
    // Another provider's protocol headers (Claude Code's anthropic-version and anthropic-beta)
    // mean nothing to this backend, self-hosted or not, unless it asks for them.
    const bool foreign_protocol = n.size() > 10 && beast::iequals(n.substr(0, 10), "anthropic-") &&
                                  !on_allow_list(n, provider_headers);
    if ((closed || foreign_protocol) && !on_allow_list(n, provider_headers) && !listed()) {
      continue;
    }
    out.insert(name, value);
  }
}

}  // namespace sb::gateway
