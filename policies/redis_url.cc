#include "policies/redis_url.h"

#include "policies/url.h"

#include <algorithm>
#include <charconv>

namespace sb::config {
namespace {

constexpr std::string_view kSchemes[] = {"redis", "rediss"};

std::string problem_text(const Parsed<Url>& parsed, std::string_view url) {
  const std::string part(parsed.part);
  switch (parsed.problem) {
    case UrlProblem::scheme:
      return "expected a redis:// or rediss:// URL, got '" + redact_redis_url(url) + "'";
    case UrlProblem::ipv6_unterminated:
      return "URL has an unterminated IPv6 address (missing ']')";
    case UrlProblem::ipv6_trailing:
      return "URL has unexpected characters after the IPv6 address";
    case UrlProblem::ipv6_invalid:
      return "invalid IPv6 address '" + part + "' in URL";
    case UrlProblem::host_colons:
      return "URL host has several ':' (write an IPv6 address in brackets: [::1]:6379)";
    case UrlProblem::host_invalid:
      return "invalid host '" + part + "' in URL";
    case UrlProblem::port_invalid:
      return "invalid port '" + part + "' in URL (expected 1-65535)";
    default:
      return std::string(common_url_problem(parsed.problem));
  }
}

// user[:password], each percent-decoded.
bool read_userinfo(std::string_view userinfo, RedisUrl& out, std::string& problem) {
  const std::size_t colon = userinfo.find(':');
  std::optional<std::string> user = percent_decode(userinfo.substr(0, colon));
  if (!user) {
    problem = "URL user name has an invalid percent-encoding (expected %XX with hex digits)";
    return false;
  }
  out.username = std::move(*user);
  if (colon != std::string_view::npos) {
    out.password = percent_decode(userinfo.substr(colon + 1));
    if (!out.password) {
      problem = "URL password has an invalid percent-encoding (expected %XX with hex digits)";
      return false;
    }
  }
  return true;
}

// `/N`: the database index.
bool read_database(std::string_view path, RedisUrl& out, std::string& problem) {
  if (path.size() <= 1) {
    return true;
  }
  const std::string_view db = path.substr(1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), value);
  if (ec != std::errc{} || end != db.data() + db.size() || value > kMaxRedisDatabase ||
      !std::all_of(db.begin(), db.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    problem = "invalid database '" + std::string(db) + "' in URL (expected /0 to /" +
              std::to_string(kMaxRedisDatabase) + ")";
    return false;
  }
  out.database = value;
  return true;
}

}  // namespace

std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& problem) {
  const Parsed<Url> parsed = parse_url(url, kSchemes, true);
  if (!parsed.value) {
    problem = problem_text(parsed, url);
    return std::nullopt;
  }
  const Url& u = *parsed.value;
  RedisUrl out;
  out.tls = u.scheme.size() == 6;  // rediss
  if (u.userinfo && !read_userinfo(*u.userinfo, out, problem)) {
    return std::nullopt;
  }
  out.host = std::string(u.host.host);
  if (u.host.has_port) {
    out.port = u.port;
  }
  if (!read_database(u.path, out, problem)) {
    return std::nullopt;
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
