// `server:` (listen address, threads, limits, TLS) and `admin:` (listen address and token).
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "policies/config/builder.h"
#include "policies/url.h"

namespace sb::config::detail {
namespace {

constexpr std::string_view kThreadsExpected = "expected a positive integer or 'auto'";
constexpr std::uint64_t kMaxThreads = 1024;
constexpr std::size_t kMinAdminTokenChars = 16;

std::optional<std::string> listen_problem(std::string_view s) {
  Parsed<HostPort> hp = parse_host_port(s, true);
  if (!hp.value) {
    return "expected 'host:port' or '[ipv6]:port', got '" + std::string(s) + "'";
  }
  std::optional<std::uint64_t> n = parse_uint(hp.value->port);
  if (!n || *n > 65535) {
    return "invalid port '" + std::string(hp.value->port) + "' (expected 0-65535)";
  }
  return std::nullopt;
}

// Whether a listen address accepts connections from this machine only: `localhost`, 127.0.0.0/8,
// ::1 (also as ::ffff:127.x.y.z). Any other name may resolve to anything, so it is not loopback.
bool loopback_listen(std::string_view listen) {
  Parsed<HostPort> hp = parse_host_port(listen, true);
  if (!hp.value) {
    return false;
  }
  if (lowercase(hp.value->host) == "localhost") {
    return true;
  }
  const std::string h(hp.value->host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

}  // namespace

std::optional<std::string> ConfigBuilder::listen(const Located& v) {
  std::optional<std::string> s = r_.string(v);
  if (!s) {
    return std::nullopt;
  }
  if (std::optional<std::string> problem = listen_problem(*s)) {
    r_.error(v, std::move(*problem));
    return std::nullopt;
  }
  return s;
}

void ConfigBuilder::read_server(const Located& section) {
  ServerSettings& s = config_.server;
  std::optional<Located> buffered;  // read after max_body_bytes, which it must not be below
  r_.read_map(section,
              {
                  {"listen", kOptional, [&](const Located& v) { read_server_listen(v); }},
                  {"threads", kOptional, [&](const Located& v) { read_threads(v); }},
                  {"max_body_bytes", kOptional, set_size(s.max_body_bytes, false)},
                  {"max_header_bytes", kOptional, set_size(s.max_header_bytes, false)},
                  {"header_timeout", kOptional, set_duration(s.header_timeout, false)},
                  {"idle_timeout", kOptional, set_duration(s.idle_timeout, false)},
                  // Zero is meaningful here: stop at once, without waiting for requests in flight.
                  {"drain_timeout", kOptional, set_duration(s.drain_timeout, true)},
                  // Zero is meaningful here too: no keep-alive comments.
                  {"stream_keepalive", kOptional, set_duration(s.stream_keepalive, true)},
                  {"max_connections", kOptional,
                   [&](const Located& v) {
                     assign(
                         s.max_connections,
                         r_.integer(v, 0, 10'000'000, "expected 0 (auto) or a positive integer"));
                   }},
                  {"max_buffered_body_bytes", kOptional, keep(buffered)},
                  {"tls", kOptional, [&](const Located& v) { read_listener_tls(v); }},
              });
  if (!buffered) {
    s.max_buffered_body_bytes = std::max(s.max_buffered_body_bytes, s.max_body_bytes);
  } else if (std::optional<std::uint64_t> n = r_.size(*buffered, false)) {
    if (*n < s.max_body_bytes) {
      r_.error(*buffered,
               "must be at least max_body_bytes (" + std::to_string(s.max_body_bytes) + ")");
    } else {
      s.max_buffered_body_bytes = *n;
    }
  }
}

// `server.listen`: an address, or `auto` (the same as not setting it; see
// resolve_server_listen).
void ConfigBuilder::read_server_listen(const Located& v) {
  std::optional<std::string> s = r_.string(v);
  if (!s || *s == "auto") {
    return;
  }
  if (std::optional<std::string> problem = listen_problem(*s)) {
    r_.error(v, std::move(*problem));
    return;
  }
  config_.server.listen = std::move(*s);
  server_listen_given_ = true;
}

// Without an explicit address the data plane opens to other machines only when every request
// must carry an API key: an open gateway spends the operator's provider keys for anyone who can
// reach it. Runs once tenants and auth are known.
void ConfigBuilder::resolve_server_listen() {
  ServerSettings& s = config_.server;
  const bool keyed = std::any_of(config_.tenants.begin(), config_.tenants.end(),
                                 [](const Tenant& t) { return !t.key_hashes.empty(); });
  const bool keys_required = keyed && config_.auth.anonymous_tenant.empty();
  if (server_listen_given_) {
    s.listen_reason = "set by server.listen";
    if (!keys_required && !loopback_listen(s.listen)) {
      s.listen_reason += "; no API key is required, so anyone who can reach this address is served";
    }
    return;
  }
  constexpr std::string_view kOpenUp =
      ": only this machine can connect (add tenants with api_keys, or set server.listen, e.g. "
      "\"0.0.0.0:8080\", to serve other machines)";
  if (keys_required) {
    s.listen = "0.0.0.0:8080";
    s.listen_reason =
        "server.listen is not set and every request needs an API key (tenants with api_keys, "
        "no auth.anonymous_tenant): other machines may connect";
  } else if (keyed) {
    s.listen = "127.0.0.1:8080";
    s.listen_reason =
        "server.listen is not set and auth.anonymous_tenant serves requests "
        "without an API key" +
        std::string(kOpenUp);
  } else {
    s.listen = "127.0.0.1:8080";
    s.listen_reason = "server.listen is not set and no tenant has api_keys" + std::string(kOpenUp);
  }
}

void ConfigBuilder::read_threads(const Located& v) {
  std::optional<std::string> s = r_.text(v, kThreadsExpected);
  if (!s) {
    return;
  }
  if (*s == "auto") {
    config_.server.threads = 0;
    return;
  }
  std::optional<std::uint64_t> n = detail::parse_uint(*s);
  if (!n || *n == 0) {
    r_.error(v, std::string(kThreadsExpected));
    return;
  }
  if (*n > kMaxThreads) {
    r_.error(v, "must be at most " + std::to_string(kMaxThreads));
    return;
  }
  config_.server.threads = static_cast<unsigned>(*n);
}

void ConfigBuilder::read_listener_tls(const Located& section) {
  TlsListener tls;
  bool ok = r_.read_map(
      section,
      {
          {"cert", kRequired,
           [&](const Located& v) { assign(tls.cert_file, r_.readable_file(v)); }},
          {"key", kRequired, [&](const Located& v) { assign(tls.key_file, r_.readable_file(v)); }},
      });
  if (ok) {
    config_.server.tls = std::move(tls);
  }
}

void ConfigBuilder::read_admin(const Located& section) {
  AdminSettings& a = config_.admin;
  std::optional<Located> listen_node;
  std::optional<Located> token;
  std::optional<Located> token_file;
  bool token_ok = true;
  r_.read_map(section, {
                           {"listen", kOptional,
                            [&](const Located& v) {
                              listen_node = v;
                              assign(a.listen, listen(v));
                            }},
                           {"token", kOptional, keep(token)},
                           {"token_file", kOptional, keep(token_file)},
                       });
  if (token && token_file) {
    r_.error(*token_file, "only one of token and token_file may be set");
    return;
  }
  if (token) {
    std::optional<std::string> t = r_.string(*token);
    token_ok = t && valid_admin_token(*token, *t);
    if (token_ok) {
      // Empty (`${SWITCHBOARD_ADMIN_TOKEN:-}` unset) = no token.
      assign_secret(a.token, std::move(t));
    }
  } else if (token_file) {
    token_ok = read_admin_token_file(*token_file, a);
  }
  // Anyone who can reach a non-loopback admin plane could reload the config or probe the
  // routing: beyond loopback its mutating and explaining endpoints need a token.
  if (token_ok && a.token.empty() && listen_node && !loopback_listen(a.listen)) {
    r_.error(*listen_node, "'" + a.listen +
                               "' is not a loopback address: set admin.token or "
                               "admin.token_file (/admin/reload and /admin/explain need a "
                               "Bearer token beyond loopback)");
  }
}

// An admin token travels as `Authorization: Bearer TOKEN`: visible ASCII, long enough that it
// cannot be guessed. Empty is allowed and means no token.
bool ConfigBuilder::valid_admin_token(const Located& v, std::string_view token) {
  if (token.empty()) {
    return true;
  }
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    r_.error(v, "must be visible ASCII characters only (no spaces or control characters)");
    return false;
  }
  if (token.size() < kMinAdminTokenChars) {
    r_.error(v, "must be at least " + std::to_string(kMinAdminTokenChars) + " characters");
    return false;
  }
  return true;
}

bool ConfigBuilder::read_admin_token_file(const Located& v, AdminSettings& a) {
  return read_secret_file(
      v, {"token", ""}, [&](const std::string& t) { return valid_admin_token(v, t); }, a.token,
      a.token_file);
}

}  // namespace sb::config::detail
