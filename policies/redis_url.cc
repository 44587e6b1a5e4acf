#include "policies/redis_url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sb::config {
namespace {

constexpr std::size_t kMaxHostChars = 253;

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// RFC 3986 percent-decoding of one userinfo part; nullopt on a '%' without two hex digits.
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

bool valid_host_name(std::string_view host) {
  return host.size() <= kMaxHostChars && std::all_of(host.begin(), host.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
         });
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 ||
      value > 65535 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

std::size_t scheme_length(std::string_view url) {
  std::string lower(url.substr(0, std::min<std::size_t>(url.size(), 9)));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.starts_with("redis://")) {
    return 8;
  }
  if (lower.starts_with("rediss://")) {
    return 9;
  }
  return 0;
}

}  // namespace

std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& problem) {
  const std::size_t scheme_len = scheme_length(url);
  if (scheme_len == 0) {
    problem = "expected a redis:// or rediss:// URL, got '" + redact_redis_url(url) + "'";
    return std::nullopt;
  }
  if (std::any_of(url.begin(), url.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    problem = "URL must not contain spaces or control characters";
    return std::nullopt;
  }
  RedisUrl out;
  out.tls = scheme_len == 9;
  std::string_view rest = url.substr(scheme_len);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  const std::string_view path = rest.substr(authority.size());
  std::string_view hostport = authority;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    std::optional<std::string> user = percent_decode(userinfo.substr(0, colon));
    if (!user) {
      problem = "URL user name has an invalid percent-encoding (expected %XX with hex digits)";
      return std::nullopt;
    }
    out.username = std::move(*user);
    if (colon != std::string_view::npos) {
      out.password = percent_decode(userinfo.substr(colon + 1));
      if (!out.password) {
        problem = "URL password has an invalid percent-encoding (expected %XX with hex digits)";
        return std::nullopt;
      }
    }
  }
  // After the userinfo: a '?' or '#' anywhere is a query or fragment we do not support.
  if (hostport.find_first_of("?#") != std::string_view::npos ||
      path.find_first_of("?#") != std::string_view::npos) {
    problem = "URL must not contain a query or fragment";
    return std::nullopt;
  }
  std::string_view host = hostport;
  std::string_view port;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {
    const std::size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      problem = "URL has an unterminated IPv6 address (missing ']')";
      return std::nullopt;
    }
    host = hostport.substr(1, close - 1);
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        problem = "URL has unexpected characters after the IPv6 address";
        return std::nullopt;
      }
      has_port = true;
      port = after.substr(1);
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
      problem = "invalid IPv6 address '" + std::string(host) + "' in URL";
      return std::nullopt;
    }
  } else {
    const std::size_t colon = hostport.find(':');
    if (colon != std::string_view::npos) {
      if (hostport.find(':', colon + 1) != std::string_view::npos) {
        problem = "URL host has several ':' (write an IPv6 address in brackets: [::1]:6379)";
        return std::nullopt;
      }
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      has_port = true;
    }
    if (!host.empty() && !valid_host_name(host)) {
      problem = "invalid host '" + std::string(host) + "' in URL";
      return std::nullopt;
    }
  }
  if (host.empty()) {
    problem = "URL has no host";
    return std::nullopt;
  }
  out.host = std::string(host);
  if (has_port && !parse_port(port, out.port)) {
    problem = "invalid port '" + std::string(port) + "' in URL (expected 1-65535)";
    return std::nullopt;
  }
  if (path.size() > 1) {
    const std::string_view db = path.substr(1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), value);
    if (ec != std::errc{} || end != db.data() + db.size() || value > kMaxRedisDatabase ||
        !std::all_of(db.begin(), db.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      problem = "invalid database '" + std::string(db) + "' in URL (expected /0 to /" +
                std::to_string(kMaxRedisDatabase) + ")";
      return std::nullopt;
    }
    out.database = value;
  }
  return out;
}

std::string redact_redis_url(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // Not a URL we know; a ':' ... '@' may still hold a password.
    const std::size_t at = url.rfind('@');
    return at == std::string_view::npos ? std::string(url) : "***" + std::string(url.substr(at));
  }
  const std::size_t start = scheme_end + 3;
  const std::size_t slash = url.find('/', start);
  const std::string_view authority =
      url.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  const std::size_t colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos) {
    return std::string(url);
  }
  return std::string(url.substr(0, start + colon + 1)) + "***" +
         std::string(url.substr(start + at));
}

}  // namespace sb::config
