#include "adapters/upstream/endpoint.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

namespace sb::upstream {
namespace {

std::string_view default_port(bool tls) {
  return tls ? "443" : "80";
}

/// A port is 1..65535 written in decimal digits only (no sign, no spaces).
bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) {
    return false;
  }
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc{} && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

/// RFC 3986 host names are case-insensitive; one spelling keeps pool keys and Host stable.
std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_ipv6_literal(std::string_view host) {
  return host.find(':') != std::string_view::npos;
}

// The host: an address as written, a name in lower case. False for a percent-encoded name (legal
// URI syntax, never a real DNS name), no host, or an IPvFuture literal.
bool host_of(const boost::urls::url_view& u, std::string& host) {
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      host = std::string(u.encoded_host_address());
      return true;
    case boost::urls::host_type::name: {
      const std::string_view name = u.encoded_host();
      if (name.empty() || name.find('%') != std::string_view::npos) {
        return false;
      }
      host = lower(name);
      return true;
    }
    default:  // none, IPvFuture
      return false;
  }
}

// The port, normalized ("0080" is "80", so equal endpoints share pool keys and Host headers); the
// scheme's default when absent or empty ("http://host:/", as RFC 3986 says). False when invalid.
bool port_of(const boost::urls::url_view& u, bool tls, std::string& port) {
  if (!u.has_port() || u.port().empty()) {
    port = std::string(default_port(tls));
    return true;
  }
  if (!valid_port(u.port())) {
    return false;
  }
  std::uint32_t value = 0;
  std::from_chars(u.port().data(), u.port().data() + u.port().size(), value);
  port = std::to_string(value);
  return true;
}

}  // namespace

std::optional<Endpoint> Endpoint::parse(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return std::nullopt;
  }
  const boost::urls::url_view& u = *parsed;

  Endpoint ep;
  switch (u.scheme_id()) {
    case boost::urls::scheme::http:
      ep.tls = false;
      break;
    case boost::urls::scheme::https:
      ep.tls = true;
      break;
    default:
      return std::nullopt;
  }
  // Credentials in a URL would end up in logs and configs; upstream auth belongs in headers.
  if (!u.has_authority() || u.has_userinfo() || u.has_query() || u.has_fragment()) {
    return std::nullopt;
  }

  if (!host_of(u, ep.host) || !port_of(u, ep.tls, ep.port)) {
    return std::nullopt;
  }

  std::string_view path = u.encoded_path();
  // After an authority the path is empty or absolute (RFC 3986 path-abempty). Boost.URL 1.81
  // lets "http://host:abc/v1" through as an empty port followed by the path "abc/v1".
  if (!path.empty() && path.front() != '/') {
    return std::nullopt;
  }
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  ep.base_path = std::string(path);
  return ep;
}

std::string Endpoint::host_header() const {
  std::string out;
  host_header(out);
  return out;
}

void Endpoint::host_header(std::string& out) const {
  out.clear();
  out.reserve(host.size() + port.size() + 3);
  if (is_ipv6_literal(host)) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  if (port != default_port(tls)) {
    out.append(":").append(port);
  }
}

std::string Endpoint::pool_key() const {
  std::string out = tls ? "https://" : "http://";
  if (is_ipv6_literal(host)) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(port);
  return out;
}

}  // namespace sb::upstream
