#include "policies/url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace sb::config {
namespace {

constexpr std::size_t kMaxHostChars = 253;

bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool valid_ipv6(std::string_view host) {
  in6_addr v6{};
  return inet_pton(AF_INET6, std::string(host).c_str(), &v6) == 1;
}

Parsed<HostPort> fail(UrlProblem problem, std::string_view part) {
  return Parsed<HostPort>{std::nullopt, problem, part};
}

Parsed<HostPort> parse_bracketed(std::string_view text, bool port_required) {
  const std::size_t close = text.find(']');
  if (close == std::string_view::npos) {
    return fail(UrlProblem::ipv6_unterminated, text);
  }
  HostPort out;
  out.ipv6 = true;
  out.host = text.substr(1, close - 1);
  const std::string_view after = text.substr(close + 1);
  if (!after.empty()) {
    if (after.front() != ':') {
      return fail(UrlProblem::ipv6_trailing, after);
    }
    out.has_port = true;
    out.port = after.substr(1);
  }
  if (!valid_ipv6(out.host)) {
    return fail(UrlProblem::ipv6_invalid, out.host);
  }
  if (port_required && !out.has_port) {
    return fail(UrlProblem::port_missing, text);
  }
  return Parsed<HostPort>{out, UrlProblem::none, {}};
}

// The port of a URL: 1 to 65535, digits only.
std::optional<std::uint16_t> url_port(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const unsigned value = static_cast<unsigned>(std::stoul(std::string(text)));
  if (value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

int hex_value(char c) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  const char lower = c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
  const std::size_t i = kDigits.find(lower);
  return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return std::nullopt;
    }
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool valid_host_name(std::string_view host) {
  return !host.empty() && host.size() <= kMaxHostChars &&
         std::all_of(host.begin(), host.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
         });
}

Parsed<HostPort> parse_host_port(std::string_view text, bool port_required) {
  if (text.empty()) {
    return fail(UrlProblem::no_host, text);
  }
  if (text.front() == '[') {
    return parse_bracketed(text, port_required);
  }
  HostPort out;
  out.host = text;
  if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) {
      return fail(UrlProblem::host_colons, text.substr(colon + 1));
    }
    out.host = text.substr(0, colon);
    out.port = text.substr(colon + 1);
    out.has_port = true;
  }
  if (out.host.empty()) {
    return fail(UrlProblem::no_host, text);
  }
  if (!valid_host_name(out.host)) {
    return fail(UrlProblem::host_invalid, out.host);
  }
  if (port_required && !out.has_port) {
    return fail(UrlProblem::port_missing, text);
  }
  return Parsed<HostPort>{out, UrlProblem::none, {}};
}

Parsed<Url> parse_url(std::string_view text, std::span<const std::string_view> schemes,
                      bool allow_userinfo) {
  auto failed = [](UrlProblem problem, std::string_view part) {
    return Parsed<Url>{std::nullopt, problem, part};
  };
  Url url;
  const std::size_t sep = text.find("://");
  const std::string_view scheme = text.substr(0, sep == std::string_view::npos ? 0 : sep);
  if (sep == std::string_view::npos ||
      std::none_of(schemes.begin(), schemes.end(),
                   [&](std::string_view s) { return ascii_iequals(s, scheme); })) {
    return failed(UrlProblem::scheme, text);
  }
  url.scheme = scheme;
  if (has_space_or_control(text)) {
    return failed(UrlProblem::control, text);
  }
  const std::string_view rest = text.substr(sep + 3);
  url.authority = rest.substr(0, rest.find('/'));
  url.path = rest.substr(url.authority.size());
  std::string_view hostport = url.authority;
  if (const std::size_t at = url.authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = url.authority.substr(0, at);
    hostport = url.authority.substr(at + 1);
  }
  // A '?' or '#' outside the userinfo starts a query or fragment, which no caller accepts.
  if (hostport.find_first_of("?#") != std::string_view::npos ||
      url.path.find_first_of("?#") != std::string_view::npos) {
    return failed(UrlProblem::query, text);
  }
  if (url.userinfo && !allow_userinfo) {
    return failed(UrlProblem::userinfo, *url.userinfo);
  }
  Parsed<HostPort> hp = parse_host_port(hostport, false);
  if (!hp.value) {
    return failed(hp.problem, hp.part);
  }
  url.host = *hp.value;
  if (url.host.has_port) {
    std::optional<std::uint16_t> port = url_port(url.host.port);
    if (!port) {
      return failed(UrlProblem::port_invalid, url.host.port);
    }
    url.port = *port;
  }
  return Parsed<Url>{url, UrlProblem::none, {}};
}

std::string_view common_url_problem(UrlProblem problem) {
  switch (problem) {
    case UrlProblem::control:
      return "URL must not contain spaces or control characters";
    case UrlProblem::query:
      return "URL must not contain a query or fragment";
    default:
      return "URL has no host";
  }
}

}  // namespace sb::config
