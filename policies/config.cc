#include "policies/config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <yaml-cpp/yaml.h>

#include "policies/redis_url.h"
#include "policies/yaml_reader.h"

namespace sb::config {
namespace {

using detail::Located;
using detail::YamlReader;

// ---------------------------------------------------------------------------------------------
// Vocabulary

struct ProviderInfo {
  std::string_view name;
  Provider provider;
  Hosting hosting;  // the default when `hosting` is not given
};

constexpr std::array<ProviderInfo, 11> kProviders{{
    {"vllm", Provider::vllm, Hosting::self_hosted},
    {"llamacpp", Provider::llamacpp, Hosting::self_hosted},
    {"ollama", Provider::ollama, Hosting::self_hosted},
    {"tgi", Provider::tgi, Hosting::self_hosted},
    {"sglang", Provider::sglang, Hosting::self_hosted},
    {"openai-compatible", Provider::openai_compatible, Hosting::self_hosted},
    {"openai", Provider::openai, Hosting::closed},
    {"anthropic", Provider::anthropic, Hosting::closed},
    {"gemini", Provider::gemini, Hosting::closed},
    {"azure-openai", Provider::azure_openai, Hosting::closed},
    {"bedrock", Provider::bedrock, Hosting::closed},
}};

constexpr auto kProviderNames = [] {
  std::array<std::string_view, kProviders.size()> names{};
  for (std::size_t i = 0; i < kProviders.size(); ++i) {
    names[i] = kProviders[i].name;
  }
  return names;
}();
constexpr std::array<std::string_view, 2> kHostings{"self-hosted", "closed"};
constexpr std::array<std::string_view, 2> kStores{"memory", "redis"};
constexpr std::array<std::string_view, 3> kStateUnavailable{"self-hosted-only", "local", "reject"};
constexpr std::array<std::string_view, 2> kEgress{"all", "none"};
constexpr std::array<std::string_view, 2> kTenantUses{"commercial", "research"};
constexpr std::array<std::string_view, 2> kBudgetActions{"reject", "self-hosted-only"};
constexpr std::array<std::string_view, 3> kBudgetPeriods{"any", "daily", "monthly"};
constexpr std::array<std::string_view, 4> kStrategies{"ordered", "cheapest", "least-loaded",
                                                      "weighted"};
constexpr std::array<std::string_view, 2> kOnUnavailable{"next-rule", "reject"};

// Built-in detector entities, in the order builtin_entities() promises, with their default level
// names in the default scale.
struct EntityDefault {
  std::string_view entity;
  std::string_view level;
  bool secret;  // one of the kinds `secret:` sets at once
};
constexpr std::array<EntityDefault, 13> kEntities{{
    {"credit_card", "restricted", false},
    {"us_ssn", "restricted", false},
    {"iban", "restricted", false},
    {"email", "confidential", false},
    {"phone", "confidential", false},
    {"ip_address", "internal", false},
    {"aws_access_key", "restricted", true},
    {"github_token", "restricted", true},
    {"openai_key", "restricted", true},
    {"anthropic_key", "restricted", true},
    {"slack_token", "restricted", true},
    {"private_key", "restricted", true},
    {"jwt", "restricted", true},
}};
constexpr std::string_view kSecretGroup = "secret";
constexpr std::string_view kOff = "off";

// Request headers that carry credentials: routing on them would make key material part of the
// policy, so they cannot be listed in policy_headers.
constexpr std::array<std::string_view, 5> kCredentialHeaders{"authorization", "proxy-authorization",
                                                             "cookie", "x-api-key", "api-key"};

constexpr std::string_view kKeyHashPrefix = "sha256:";
constexpr std::string_view kKeyHashExpected = "expected sha256:<64 hex digits>";

// Headers a backend may not set: hop-by-hop ones (RFC 9110 §7.6.1) and those the gateway owns.
constexpr std::array<std::string_view, 12> kReservedHeaders{
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "host",
    "content-length",
};

// Whether a key of a mapping must be present.
constexpr bool kRequired = true;
constexpr bool kOptional = false;

constexpr std::string_view kThreadsExpected = "expected a positive integer or 'auto'";
constexpr std::uint64_t kMaxThreads = 1024;
constexpr std::uint64_t kMaxWeight = 1'000'000;
constexpr std::uint64_t kMaxOutputTokens = 10'000'000;
// A key file holds one key; anything larger is the wrong file.
constexpr std::uint64_t kMaxKeyFileBytes = 64 * 1024;
constexpr std::size_t kMinAdminTokenChars = 16;
constexpr std::size_t kMaxRedisNameChars = 256;
constexpr Duration kMinLeaseTtl{1'000};

// Editors and `echo` end files with a newline; one is not part of a key or token.
void strip_one_newline(std::string& s) {
  if (s.ends_with('\n')) {
    s.pop_back();
    if (s.ends_with('\r')) {
      s.pop_back();
    }
  }
}

const ProviderInfo& provider_info(Provider p) {
  for (const ProviderInfo& info : kProviders) {
    if (info.provider == p) {
      return info;
    }
  }
  return kProviders.back();  // unreachable: every enumerator is in the table
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  });
  return out;
}

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// ---------------------------------------------------------------------------------------------
// Grammars of single values. Each returns an error message, or nothing when the value is fine.

bool valid_backend_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

// Clients send aliases verbatim in "model" (`gpt-4o`, `meta-llama/Llama-3.1-8B`).
bool valid_alias_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

bool valid_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_';
  });
}

// `state.prefix`: the first part of every Redis key; no braces, so it never forms a hash tag.
bool valid_state_prefix(std::string_view prefix) {
  return !prefix.empty() && prefix.size() <= 64 &&
         std::all_of(prefix.begin(), prefix.end(), [](char c) {
           return is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
         });
}

bool valid_ipv6_literal(std::string_view host) {
  return host.find(':') != std::string_view::npos &&
         std::all_of(host.begin(), host.end(),
                     [](char c) { return is_hex(c) || c == ':' || c == '.'; });
}

// Splits `host:port` / `[v6]:port`. The host comes back without brackets.
bool split_host_port(std::string_view s, std::string_view& host, std::string_view& port) {
  if (!s.empty() && s.front() == '[') {
    std::size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return false;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    return valid_ipv6_literal(host);
  }
  std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  return valid_host_name(host);
}

std::optional<std::string> listen_problem(std::string_view s) {
  std::string_view host;
  std::string_view port;
  if (!split_host_port(s, host, port)) {
    return "expected 'host:port' or '[ipv6]:port', got '" + std::string(s) + "'";
  }
  std::optional<std::uint64_t> n = detail::parse_uint(port);
  if (!n || *n > 65535) {
    return "invalid port '" + std::string(port) + "' (expected 0-65535)";
  }
  return std::nullopt;
}

// Whether a listen address accepts connections from this machine only: `localhost`, 127.0.0.0/8,
// ::1 (also as ::ffff:127.x.y.z). Any other name may resolve to anything, so it is not loopback.
bool loopback_listen(std::string_view listen) {
  std::string_view host;
  std::string_view port;
  if (!split_host_port(listen, host, port)) {
    return false;
  }
  if (lowercase(host) == "localhost") {
    return true;
  }
  const std::string h(host);
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

// A secret file (api_key_file, admin.token_file) that users other than its owner may read has
// already leaked as far as this host goes: it is refused, naming the file and its mode.
std::optional<std::string> exposed_secret_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) {
    return std::nullopt;
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "file '" + path + "' is readable by group or others (mode " + mode +
         "): make it readable by its owner only (chmod 600)";
}

// Validates an upstream base URL and returns it normalized (lower-case scheme, no trailing '/').
std::optional<std::string> normalize_base_url(std::string_view url, std::string& problem) {
  std::string lower = lowercase(url.substr(0, std::min<std::size_t>(url.size(), 8)));
  std::size_t scheme_len = 0;
  if (lower.starts_with("http://")) {
    scheme_len = 7;
  } else if (lower.starts_with("https://")) {
    scheme_len = 8;
  } else {
    problem = "expected an http:// or https:// URL, got '" + std::string(url) + "'";
    return std::nullopt;
  }
  if (std::any_of(url.begin(), url.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    problem = "URL must not contain spaces or control characters";
    return std::nullopt;
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    problem = "URL must not contain a query or fragment";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme_len);
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = rest.substr(authority.size());
  if (authority.find('@') != std::string_view::npos) {
    problem = "URL must not contain credentials (use api_key or headers)";
    return std::nullopt;
  }
  if (authority.empty()) {
    problem = "URL has no host";
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      problem = "URL has an invalid host '" + std::string(authority) + "'";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        problem = "URL has an invalid host '" + std::string(authority) + "'";
        return std::nullopt;
      }
      has_port = true;
      port = after.substr(1);
    }
    if (!valid_ipv6_literal(host)) {
      problem = "URL has an invalid host '" + std::string(authority) + "'";
      return std::nullopt;
    }
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) {
      problem = "URL has no host";
      return std::nullopt;
    }
    if (!valid_host_name(host)) {
      problem = "URL has an invalid host '" + std::string(host) + "'";
      return std::nullopt;
    }
  }
  if (has_port) {
    std::optional<std::uint64_t> n = detail::parse_uint(port);
    if (!n || *n == 0 || *n > 65535) {
      problem = "URL has an invalid port '" + std::string(port) + "'";
      return std::nullopt;
    }
  }
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  return lower.substr(0, scheme_len) + std::string(authority) + std::string(path);
}

// RFC 9110 token characters.
bool valid_header_name(std::string_view name) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return is_alnum(c) || kSpecials.find(c) != std::string_view::npos;
  });
}

// Field values may hold visible characters, spaces, tabs and obs-text, never CR, LF or NUL.
bool valid_header_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

// Sensitivity level and tier names: they appear in headers, metrics labels and explain output.
bool valid_level_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Custom detector names are entity names next to the built-in ones (`credit_card`).
bool valid_detector_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return c - 'A' + 10;
}

// `sha256:<64 hex digits>` (either case) → the 32 raw bytes of the digest.
std::optional<std::string> parse_key_hash(std::string_view text) {
  if (!text.starts_with(kKeyHashPrefix)) {
    return std::nullopt;
  }
  std::string_view hex = text.substr(kKeyHashPrefix.size());
  if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), is_hex)) {
    return std::nullopt;
  }
  std::string bytes(32, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
  }
  return bytes;
}

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

template <class T, class U>
void assign(T& target, std::optional<U>&& value) {
  if (value) {
    target = static_cast<T>(*value);
  }
}

// Key material goes to memory kept out of core dumps (see secret_memory.h); the plain copy it
// came through is wiped rather than left in freed heap memory.
void wipe(std::string& s) {
  explicit_bzero(s.data(), s.size());
  s.clear();
}
// Wipes a plain copy of a secret however the scope is left.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::optional<std::string>& s) : s_(s) {}
  ~WipeOnExit() {
    if (s_) {
      wipe(*s_);
    }
  }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::optional<std::string>& s_;
};

void assign_secret(SecretString& target, std::optional<std::string>&& value) {
  if (value) {
    target.assign(value->data(), value->size());
    wipe(*value);
  }
}

// ---------------------------------------------------------------------------------------------
// The schema. Each section is one table of fields read by `YamlReader::read_map`; a new section
// is one more row in `read()` and one more `read_*` function.

class ConfigBuilder {
 public:
  explicit ConfigBuilder(YamlReader& reader) : r_(reader) {}

  void read(const Located& root) {
    // Sections are read in dependency order, not in file order: level and tier names can only be
    // checked once `sensitivity.levels` and `tiers.levels` are known, and rules name backends,
    // aliases and tenants declared anywhere in the file. Errors are sorted by position at the end.
    struct Sections {
      std::optional<Located> server, admin, state, backends, models, egress, auth, tenants,
          sensitivity, tiers, policy_headers, policies, cost, retries;
    } s;
    r_.read_map(root, {
                          {"server", kOptional, keep(s.server)},
                          {"admin", kOptional, keep(s.admin)},
                          {"state", kOptional, keep(s.state)},
                          {"backends", kRequired, keep(s.backends)},
                          {"models", kOptional, keep(s.models)},
                          {"egress", kOptional, keep(s.egress)},
                          {"auth", kOptional, keep(s.auth)},
                          {"tenants", kOptional, keep(s.tenants)},
                          {"sensitivity", kOptional, keep(s.sensitivity)},
                          {"tiers", kOptional, keep(s.tiers)},
                          {"policy_headers", kOptional, keep(s.policy_headers)},
                          {"policies", kOptional, keep(s.policies)},
                          {"cost", kOptional, keep(s.cost)},
                          {"retries", kOptional, keep(s.retries)},
                      });
    if (s.retries) {
      read_retries(*s.retries);
    }
    if (s.server) {
      read_server(*s.server);
    }
    if (s.admin) {
      read_admin(*s.admin);
    }
    if (s.state) {
      read_state(*s.state);
    }
    read_sensitivity(s.sensitivity);
    if (s.tiers) {
      read_tiers(*s.tiers);
    }
    if (s.backends) {
      read_backends(*s.backends);
    }
    if (s.models) {
      read_models(*s.models);
    }
    resolve_models();
    if (s.egress) {
      read_egress(*s.egress);
    }
    if (s.policy_headers) {
      read_policy_headers(*s.policy_headers);
    }
    read_tenants(s.tenants);
    read_auth(s.auth);
    resolve_server_listen();
    if (s.cost) {
      read_cost(*s.cost);
    }
    if (s.policies) {
      read_policies(*s.policies);
    }
    add_notices();
  }

  Config take() { return std::move(config_); }

 private:
  // A field reader that only remembers where the value is, to be read later.
  static std::function<void(const Located&)> keep(std::optional<Located>& slot) {
    return [&slot](const Located& v) { slot = v; };
  }

  std::optional<std::string> listen(const Located& v) {
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

  void read_server(const Located& section) {
    ServerSettings& s = config_.server;
    std::optional<Located> buffered;  // read after max_body_bytes, which it must not be below
    r_.read_map(
        section,
        {
            {"listen", kOptional, [&](const Located& v) { read_server_listen(v); }},
            {"threads", kOptional, [&](const Located& v) { read_threads(v); }},
            {"max_body_bytes", kOptional,
             [&](const Located& v) { assign(s.max_body_bytes, r_.size(v, false)); }},
            {"max_header_bytes", kOptional,
             [&](const Located& v) { assign(s.max_header_bytes, r_.size(v, false)); }},
            {"header_timeout", kOptional,
             [&](const Located& v) { assign(s.header_timeout, r_.duration(v, false)); }},
            {"idle_timeout", kOptional,
             [&](const Located& v) { assign(s.idle_timeout, r_.duration(v, false)); }},
            // Zero is meaningful here: stop at once, without waiting for requests in flight.
            {"drain_timeout", kOptional,
             [&](const Located& v) { assign(s.drain_timeout, r_.duration(v, true)); }},
            {"max_connections", kOptional,
             [&](const Located& v) {
               assign(s.max_connections,
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
  void read_server_listen(const Located& v) {
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
  void resolve_server_listen() {
    ServerSettings& s = config_.server;
    const bool keyed = std::any_of(config_.tenants.begin(), config_.tenants.end(),
                                   [](const Tenant& t) { return !t.key_hashes.empty(); });
    const bool keys_required = keyed && config_.auth.anonymous_tenant.empty();
    if (server_listen_given_) {
      s.listen_reason = "set by server.listen";
      if (!keys_required && !loopback_listen(s.listen)) {
        s.listen_reason +=
            "; no API key is required, so anyone who can reach this address is served";
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
      s.listen_reason =
          "server.listen is not set and no tenant has api_keys" + std::string(kOpenUp);
    }
  }

  void read_threads(const Located& v) {
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

  void read_listener_tls(const Located& section) {
    TlsListener tls;
    bool ok = r_.read_map(
        section, {
                     {"cert", kRequired,
                      [&](const Located& v) { assign(tls.cert_file, r_.readable_file(v)); }},
                     {"key", kRequired,
                      [&](const Located& v) { assign(tls.key_file, r_.readable_file(v)); }},
                 });
    if (ok) {
      config_.server.tls = std::move(tls);
    }
  }

  void read_admin(const Located& section) {
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
  bool valid_admin_token(const Located& v, std::string_view token) {
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

  bool read_admin_token_file(const Located& v, AdminSettings& a) {
    std::string path;
    std::optional<std::string> token = r_.file_contents(v, kMaxKeyFileBytes, &path);
    const WipeOnExit wipe_token(token);
    if (!token) {
      return false;
    }
    if (std::optional<std::string> exposed = exposed_secret_file(path)) {
      r_.error(v, std::move(*exposed));
      return false;
    }
    strip_one_newline(*token);
    if (token->empty()) {
      r_.error(v, "token file is empty");
      return false;
    }
    if (!valid_admin_token(v, *token)) {
      return false;
    }
    assign_secret(a.token, std::move(token));
    a.token_file = std::move(path);
    return true;
  }

  // `state:`. Every key is read and checked whatever the store; the Redis-only cross-checks
  // (url required, tls only with rediss://) apply to `store: redis`, and with `store: memory`
  // the other keys are reported as unused.
  void read_state(const Located& section) {
    StateSettings& s = config_.state;
    std::string store = "memory";
    std::optional<Located> url, username, password, password_file, database, tls, prefix;
    std::optional<Located> reconnect, lease, sync_interval, on_unavailable;
    std::vector<std::string> given;
    auto note = [&](std::string_view key, std::optional<Located>& slot) {
      return [&slot, &given, key](const Located& v) {
        slot = v;
        given.emplace_back(key);
      };
    };
    auto duration = [&](std::string_view key, Duration& target) {
      return [this, &target, &given, key](const Located& v) {
        given.emplace_back(key);
        assign(target, r_.duration(v, false));
      };
    };
    const std::size_t errors_before = r_.error_count();
    bool ok = r_.read_map(
        section, {
                     {"store", kOptional,
                      [&](const Located& v) { assign(store, r_.one_of(v, "store", kStores)); }},
                     {"url", kOptional, note("url", url)},
                     {"username", kOptional, note("username", username)},
                     {"password", kOptional, note("password", password)},
                     {"password_file", kOptional, note("password_file", password_file)},
                     {"database", kOptional, note("database", database)},
                     {"tls", kOptional, note("tls", tls)},
                     {"prefix", kOptional, note("prefix", prefix)},
                     {"connect_timeout", kOptional, duration("connect_timeout", s.connect_timeout)},
                     {"command_timeout", kOptional, duration("command_timeout", s.command_timeout)},
                     {"reconnect", kOptional, note("reconnect", reconnect)},
                     {"on_unavailable", kOptional, note("on_unavailable", on_unavailable)},
                     {"lease", kOptional, note("lease", lease)},
                     {"sync_interval", kOptional, note("sync_interval", sync_interval)},
                 });
    if (!ok) {
      return;
    }
    s.store = store == "redis" ? StateSettings::Store::redis : StateSettings::Store::memory;
    const bool redis = s.store == StateSettings::Store::redis;
    if (url) {
      read_state_url(*url, s);
    } else if (redis) {
      r_.error(section, "a url is required when store is 'redis'");
    }
    if (username) {
      if (std::optional<std::string> u = r_.non_empty_string(*username)) {
        if (valid_redis_username(*username, *u)) {
          s.username = std::move(*u);
        }
      }
    }
    if (password && password_file) {
      r_.error(*password_file, "only one of password and password_file may be set");
    } else if (password) {
      std::optional<std::string> p = r_.string(*password);
      const WipeOnExit wipe_p(p);
      // Empty (`${REDIS_PASSWORD:-}` unset) = no password, unless the URL gave one.
      if (p && !p->empty() && valid_redis_password(*password, *p)) {
        s.password.assign(p->data(), p->size());
      }
    } else if (password_file) {
      read_redis_password_file(*password_file, s);
    }
    if (database) {
      assign(s.database, r_.integer(*database, 0, kMaxRedisDatabase,
                                    "expected a database index from 0 to " +
                                        std::to_string(kMaxRedisDatabase)));
    }
    if (tls) {
      read_state_tls(*tls, s, redis && url);
    }
    if (prefix) {
      if (std::optional<std::string> p = r_.string(*prefix)) {
        if (valid_state_prefix(*p)) {
          s.prefix = std::move(*p);
        } else {
          r_.error(*prefix, "invalid prefix '" + *p +
                                "' (1 to 64 of letters, digits, '_', '.', ':' and '-')");
        }
      }
    }
    if (reconnect) {
      read_state_reconnect(*reconnect, s);
    }
    if (on_unavailable) {
      if (std::optional<std::string> m = r_.one_of(*on_unavailable, "mode", kStateUnavailable)) {
        s.on_unavailable = *m == "local"    ? StateUnavailable::local
                           : *m == "reject" ? StateUnavailable::reject
                                            : StateUnavailable::self_hosted_only;
      }
    }
    if (lease) {
      read_state_lease(*lease, s);
    }
    if (sync_interval) {
      std::optional<Duration> d = r_.duration(*sync_interval, false);
      if (d && *d * 2 >= s.lease_ttl) {
        r_.error(*sync_interval, "must be less than half of lease.ttl (" +
                                     std::to_string(s.lease_ttl.count()) + "ms)");
      } else {
        assign(s.sync_interval, std::move(d));
      }
    }
    if (redis && !s.username.empty() && s.password.empty() && r_.error_count() == errors_before) {
      r_.error(username ? *username : *url,
               "a user name needs a password (AUTH takes both): set password or password_file");
    }
    if (!redis && !given.empty()) {
      std::string keys;
      for (const std::string& k : given) {
        keys += (keys.empty() ? "" : ", ") + k;
      }
      config_.notices.push_back("state: " + keys +
                                " unused: they apply to store 'redis' only (store is 'memory')");
    }
  }

  void read_state_url(const Located& v, StateSettings& s) {
    std::optional<std::string> text = r_.string(v);
    const WipeOnExit wipe_text(text);
    if (!text) {
      return;
    }
    std::string problem;
    std::optional<RedisUrl> u = parse_redis_url(*text, problem);
    if (!u) {
      r_.error(v, std::move(problem));
      return;
    }
    s.url = redact_redis_url(*text);  // the password lives in `password` only
    s.tls = u->tls;
    s.host = std::move(u->host);
    s.port = u->port;
    s.database = u->database.value_or(0);
    s.username = std::move(u->username);
    if (u->password) {
      assign_secret(s.password, std::move(u->password));
    }
  }

  void read_state_tls(const Located& section, StateSettings& s, bool check_scheme) {
    r_.read_map(section, {
                             {"ca_file", kOptional,
                              [&](const Located& v) { assign(s.ca_file, r_.readable_file(v)); }},
                             {"server_name", kOptional,
                              [&](const Located& v) {
                                std::optional<std::string> n = r_.non_empty_string(v);
                                if (n && (n->size() > 253 || !valid_host_name(*n))) {
                                  r_.error(v, "invalid server name '" + *n + "'");
                                } else {
                                  assign(s.server_name, std::move(n));
                                }
                              }},
                         });
    if (check_scheme && !s.url.empty() && !s.tls) {
      r_.error(section, "tls needs a rediss:// url (the url is redis://, without TLS)");
    }
  }

  void read_state_reconnect(const Located& section, StateSettings& s) {
    std::optional<Located> max_node;
    r_.read_map(section,
                {
                    {"min", kOptional,
                     [&](const Located& v) { assign(s.reconnect_min, r_.duration(v, false)); }},
                    {"max", kOptional,
                     [&](const Located& v) {
                       max_node = v;
                       assign(s.reconnect_max, r_.duration(v, false));
                     }},
                });
    if (s.reconnect_min > s.reconnect_max) {
      r_.error(max_node ? *max_node : section, "reconnect.max (" +
                                                   std::to_string(s.reconnect_max.count()) +
                                                   "ms) must not be less than reconnect.min (" +
                                                   std::to_string(s.reconnect_min.count()) + "ms)");
    }
  }

  void read_state_lease(const Located& section, StateSettings& s) {
    std::optional<Located> ttl_node, horizon_node;
    r_.read_map(section, {
                             {"ttl", kOptional,
                              [&](const Located& v) {
                                ttl_node = v;
                                std::optional<Duration> d = r_.duration(v, false);
                                if (d && *d < kMinLeaseTtl) {
                                  r_.error(v, "must be at least 1s");
                                } else {
                                  assign(s.lease_ttl, std::move(d));
                                }
                              }},
                             {"horizon", kOptional,
                              [&](const Located& v) {
                                horizon_node = v;
                                assign(s.lease_horizon, r_.duration(v, false));
                              }},
                         });
    if (s.lease_horizon >= s.lease_ttl) {
      r_.error(horizon_node ? *horizon_node
               : ttl_node   ? *ttl_node
                            : section,
               "lease.horizon (" + std::to_string(s.lease_horizon.count()) +
                   "ms) must be less than lease.ttl (" + std::to_string(s.lease_ttl.count()) +
                   "ms)");
    }
  }

  // ACL user names are one word of visible characters.
  bool valid_redis_username(const Located& v, std::string_view name) {
    if (name.size() > kMaxRedisNameChars ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      r_.error(v, "must be at most " + std::to_string(kMaxRedisNameChars) +
                      " visible ASCII characters (no spaces or control characters)");
      return false;
    }
    return true;
  }

  bool valid_redis_password(const Located& v, std::string_view password) {
    if (!valid_header_value(password) || password.find('\t') != std::string_view::npos) {
      r_.error(v, "must not contain control characters");
      return false;
    }
    return true;
  }

  void read_redis_password_file(const Located& v, StateSettings& s) {
    std::string path;
    std::optional<std::string> password = r_.file_contents(v, kMaxKeyFileBytes, &path);
    const WipeOnExit wipe_password(password);
    if (!password) {
      return;
    }
    if (std::optional<std::string> exposed = exposed_secret_file(path)) {
      r_.error(v, std::move(*exposed));
      return;
    }
    strip_one_newline(*password);
    if (password->empty()) {
      r_.error(v, "password file is empty");
      return;
    }
    if (!valid_redis_password(v, *password)) {
      return;
    }
    assign_secret(s.password, std::move(password));
    s.password_file = std::move(path);
  }

  // -------------------------------------------------------------------------------------------
  // Scales: sensitivity levels and capability tiers.

  enum class Kind { level, tier };

  const Scale& scale(Kind k) const {
    return k == Kind::level ? config_.sensitivity.levels : config_.tiers.levels;
  }
  bool scale_ok(Kind k) const { return k == Kind::level ? levels_ok_ : tiers_ok_; }

  std::string unknown_name(Kind k, const std::string& name) const {
    std::string names = join(scale(k).names);
    if (k == Kind::level) {
      return "unknown level '" + name + "' (levels: " + names + ")";
    }
    return "unknown tier '" + name + "' (expected one of: " + names + ")";
  }

  // A level or tier name → its index. Nothing is reported for an unknown name when the scale
  // itself was invalid: that error is already there, and every name would look unknown.
  std::optional<int> level_of(const Located& v, Kind k) {
    std::optional<std::string> name = r_.non_empty_string(v);
    if (!name) {
      return std::nullopt;
    }
    int i = scale(k).find(*name);
    if (i >= 0) {
      return i;
    }
    if (scale_ok(k)) {
      r_.error(v, unknown_name(k, *name));
    }
    return std::nullopt;
  }

  // `levels: [...]`, lowest first. On any problem the default scale stays and false is returned.
  bool read_scale(const Located& v, Kind k, Scale& out) {
    std::string noun = k == Kind::level ? "level" : "tier";
    std::optional<std::vector<Located>> items =
        r_.sequence(v, "expected a list of " + noun + " names, lowest first");
    if (!items) {
      return false;
    }
    if (items->size() < 2) {
      r_.error(v, "at least two " + noun + "s are required");
      return false;
    }
    Scale result;
    bool ok = true;
    for (const Located& item : *items) {
      std::optional<std::string> name = r_.non_empty_string(item);
      if (!name) {
        ok = false;
      } else if (!valid_level_name(*name)) {
        r_.error(item, "invalid " + noun + " name '" + *name + "' (use a-z, 0-9, '_' and '-')");
        ok = false;
      } else if (k == Kind::level && *name == kOff) {
        r_.error(item, "'off' cannot be a level name (it turns a detector off)");
        ok = false;
      } else if (result.find(*name) >= 0) {
        r_.error(item, "duplicate " + noun + " '" + *name + "'");
        ok = false;
      } else {
        result.names.push_back(std::move(*name));
      }
    }
    if (ok) {
      out = std::move(result);
    }
    return ok;
  }

  // -------------------------------------------------------------------------------------------
  // sensitivity: levels, built-in detectors, custom detectors.

  void read_sensitivity(const std::optional<Located>& section) {
    std::optional<Located> levels;
    std::optional<Located> detectors;
    std::optional<Located> unscannable;
    if (section) {
      r_.read_map(*section, {
                                {"levels", kOptional, keep(levels)},
                                {"detectors", kOptional, keep(detectors)},
                                {"unscannable", kOptional, keep(unscannable)},
                            });
    }
    SensitivitySettings& s = config_.sensitivity;
    if (levels) {
      levels_ok_ = read_scale(*levels, Kind::level, s.levels);
    }
    s.unscannable.level = static_cast<int>(s.levels.names.size()) - 1;
    if (unscannable) {
      read_unscannable(*unscannable, s.unscannable);
    }
    std::map<std::string, int, std::less<>> chosen;  // entity → level (-1 = off)
    std::optional<int> secret;
    if (detectors) {
      read_detectors(*detectors, chosen, secret);
    }
    // A per-kind key wins over `secret:` whatever their order in the file.
    std::vector<std::string> highest;
    for (const EntityDefault& d : kEntities) {
      int level = 0;
      if (auto it = chosen.find(d.entity); it != chosen.end()) {
        level = it->second;
      } else if (d.secret && secret) {
        level = *secret;
      } else {
        level = s.levels.find(d.level);
        if (level < 0) {
          // A customised scale without the default's name: never under-classify.
          level = static_cast<int>(s.levels.names.size()) - 1;
          highest.emplace_back(d.entity);
        }
      }
      s.entities.push_back(EntityLevel{std::string(d.entity), level});
    }
    if (!highest.empty() && levels_ok_) {
      config_.notices.push_back("sensitivity.levels is customised: detectors " + join(highest) +
                                " take the highest level '" + s.levels.names.back() +
                                "' (set their levels under sensitivity.detectors)");
    }
  }

  // `unscannable: {level: restricted, kinds: [token_ids, audio, files, images]}`.
  void read_unscannable(const Located& section, UnscannableSettings& u) {
    r_.read_map(section,
                {
                    {"level", kOptional,
                     [&](const Located& v) { assign(u.level, level_of(v, Kind::level)); }},
                    {"kinds", kOptional,
                     [&](const Located& v) {
                       std::optional<std::vector<Located>> items = r_.sequence(
                           v, "expected a list of kinds (token_ids, audio, files, images)");
                       if (!items) {
                         return;
                       }
                       u.kinds = 0;
                       const std::vector<std::string>& names = unscannable_kind_names();
                       for (const Located& item : *items) {
                         std::optional<std::string> n = r_.non_empty_string(item);
                         if (!n) {
                           continue;
                         }
                         auto it = std::find(names.begin(), names.end(), *n);
                         if (it == names.end()) {
                           r_.error(item, "unknown kind '" + *n +
                                              "' (expected one of: token_ids, audio, files, "
                                              "images)");
                           continue;
                         }
                         const unsigned bit = 1u << (it - names.begin());
                         if ((u.kinds & bit) != 0) {
                           r_.error(item, "duplicate kind '" + *n + "'");
                         }
                         u.kinds |= bit;
                       }
                     }},
                });
  }

  // `email: confidential`, `secret: restricted`, `ip_address: off`, `custom: [...]`.
  void read_detectors(const Located& section, std::map<std::string, int, std::less<>>& chosen,
                      std::optional<int>& secret) {
    std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(section);
    if (!entries) {
      return;
    }
    for (const YamlReader::Entry& e : *entries) {
      if (e.key == "custom") {
        read_custom_detectors(e.value);
        continue;
      }
      bool is_group = e.key == kSecretGroup;
      bool is_entity = std::any_of(kEntities.begin(), kEntities.end(),
                                   [&](const EntityDefault& d) { return d.entity == e.key; });
      if (!is_group && !is_entity) {
        std::string expected;
        for (const EntityDefault& d : kEntities) {
          expected += std::string(d.entity) + ", ";
        }
        expected += std::string(kSecretGroup) + ", custom";
        r_.error(e.key_node, "unknown key '" + e.key + "' (expected one of: " + expected + ")");
        continue;
      }
      std::optional<int> level = detector_level(e.value);
      if (!level) {
        continue;
      }
      if (is_group) {
        secret = *level;
      } else {
        chosen[e.key] = *level;
      }
    }
  }

  // A level name, or `off` (-1).
  std::optional<int> detector_level(const Located& v) {
    std::optional<std::string> name = r_.non_empty_string(v);
    if (!name) {
      return std::nullopt;
    }
    if (*name == kOff) {
      return -1;
    }
    int i = config_.sensitivity.levels.find(*name);
    if (i >= 0) {
      return i;
    }
    if (levels_ok_) {
      r_.error(v, "unknown level '" + *name +
                      "' (levels: " + join(config_.sensitivity.levels.names) + ", or off)");
    }
    return std::nullopt;
  }

  void read_custom_detectors(const Located& v) {
    std::optional<std::vector<Located>> items =
        r_.sequence(v, "expected a list of detectors ({name, pattern or keywords, level})");
    if (!items) {
      return;
    }
    std::set<std::string, std::less<>> names;
    for (const Located& item : *items) {
      CustomDetector d;
      std::optional<Located> name;
      std::optional<Located> pattern;
      std::optional<Located> keywords;
      bool ok = r_.read_map(
          item, {
                    {"name", kRequired, keep(name)},
                    {"pattern", kOptional,
                     [&](const Located& x) {
                       pattern = x;
                       assign(d.pattern, r_.non_empty_string(x));
                     }},
                    {"keywords", kOptional,
                     [&](const Located& x) {
                       keywords = x;
                       read_strings(x, d.keywords, "expected a list of keywords");
                     }},
                    {"level", kRequired,
                     [&](const Located& x) { assign(d.level, level_of(x, Kind::level)); }},
                });
      if (!ok) {
        continue;
      }
      if (name) {
        if (std::optional<std::string> n = r_.non_empty_string(*name)) {
          bool builtin = std::any_of(kEntities.begin(), kEntities.end(),
                                     [&](const EntityDefault& e) { return e.entity == *n; });
          if (!valid_detector_name(*n)) {
            r_.error(*name, "invalid detector name '" + *n + "' (use a-z, 0-9 and '_')");
          } else if (builtin) {
            r_.error(*name, "'" + *n +
                                "' is a built-in detector (set its level under "
                                "sensitivity.detectors)");
          } else if (*n == kSecretGroup || *n == "custom") {
            r_.error(*name, "'" + *n + "' is reserved");
          } else if (!names.insert(*n).second) {
            r_.error(*name, "duplicate detector '" + *n + "'");
          }
          d.name = std::move(*n);
        }
      }
      if (pattern.has_value() == keywords.has_value()) {
        r_.error(item, "expected exactly one of 'pattern' or 'keywords'");
      }
      config_.sensitivity.custom.push_back(std::move(d));
    }
  }

  // A value or a list of values, none empty, no repeats. `accept(item, value)` may refuse an item
  // (reporting why); `empty_message` and `noun` word the other errors.
  template <class Accept>
  void read_name_list(const Located& v, std::vector<std::string>& out,
                      std::string_view expected_message, std::string_view empty_message,
                      std::string_view noun, Accept accept) {
    std::optional<std::vector<Located>> items = r_.scalar_or_sequence(v, expected_message);
    if (!items) {
      return;
    }
    if (items->empty()) {
      r_.error(v, std::string(empty_message));
      return;
    }
    for (const Located& item : *items) {
      std::optional<std::string> s = r_.non_empty_string(item);
      if (!s) {
        continue;
      }
      if (std::find(out.begin(), out.end(), *s) != out.end()) {
        r_.error(item, "duplicate " + std::string(noun) + " '" + *s + "'");
        continue;
      }
      if (accept(item, *s)) {
        out.push_back(std::move(*s));
      }
    }
  }

  void read_strings(const Located& v, std::vector<std::string>& out,
                    std::string_view expected_message) {
    read_name_list(v, out, expected_message, "must not be empty", "value",
                   [](const Located&, const std::string&) { return true; });
  }

  // -------------------------------------------------------------------------------------------
  // tiers: levels, default, inference from request features.

  void read_tiers(const Located& section) {
    std::optional<Located> levels;
    std::optional<Located> default_tier;
    std::optional<Located> infer;
    r_.read_map(section, {
                             {"levels", kOptional, keep(levels)},
                             {"default", kOptional, keep(default_tier)},
                             {"infer", kOptional, keep(infer)},
                         });
    TierSettings& t = config_.tiers;
    if (levels) {
      tiers_ok_ = read_scale(*levels, Kind::tier, t.levels);
    }
    if (default_tier) {
      assign(t.default_tier, level_of(*default_tier, Kind::tier));
    } else {
      int standard = t.levels.find("standard");
      t.default_tier = standard >= 0 ? standard : 0;
    }
    if (infer) {
      read_infer(*infer);
    }
  }

  void read_infer(const Located& v) {
    std::optional<std::vector<Located>> items = r_.sequence(v, "expected a list of {tier, when}");
    if (!items) {
      return;
    }
    for (const Located& item : *items) {
      TierInference rule;
      r_.read_map(item, {
                            {"tier", kRequired,
                             [&](const Located& x) { assign(rule.tier, level_of(x, Kind::tier)); }},
                            {"when", kRequired,
                             [&](const Located& x) {
                               std::size_t before = r_.error_count();
                               read_features(x, rule.when);
                               if (r_.error_count() == before && rule.when.empty()) {
                                 r_.error(x,
                                          "must test at least one feature (requests that match "
                                          "no rule get tiers.default)");
                               }
                             }},
                        });
      config_.tiers.infer.push_back(std::move(rule));
    }
  }

  void read_features(const Located& v, FeatureCondition& f) {
    constexpr std::string_view kCount = "expected a non-negative integer";
    r_.read_map(
        v, {
               {"tools", kOptional, [&](const Located& x) { f.tools = r_.boolean(x); }},
               {"images", kOptional, [&](const Located& x) { f.images = r_.boolean(x); }},
               {"json_schema", kOptional, [&](const Located& x) { f.json_schema = r_.boolean(x); }},
               {"prompt_tokens_above", kOptional,
                [&](const Located& x) {
                  f.prompt_tokens_above = r_.integer(x, 0, UINT64_MAX, kCount);
                }},
               {"depth_above", kOptional,
                [&](const Located& x) { f.depth_above = r_.integer(x, 0, UINT64_MAX, kCount); }},
               {"reasoning_effort", kOptional,
                [&](const Located& x) {
                  read_strings(x, f.reasoning_effort, "expected a value or a list of values");
                }},
           });
  }

  // -------------------------------------------------------------------------------------------
  // backends and models.

  void read_backends(const Located& section) {
    std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(section);
    if (!entries) {
      return;
    }
    if (entries->empty()) {
      r_.error(section, "at least one backend is required");
      return;
    }
    for (const YamlReader::Entry& e : *entries) {
      backend_names_.insert(e.key);
      if (!valid_backend_name(e.key)) {
        r_.error(e.key_node,
                 "invalid backend name '" + e.key + "' (use letters, digits, '_', '.' and '-')");
      }
      config_.backends.push_back(read_backend(e.key, e.value));
    }
  }

  Backend read_backend(const std::string& name, const Located& section) {
    Backend b;
    b.name = name;
    std::optional<Hosting> hosting;
    std::optional<Located> hosting_node;
    std::optional<Located> base_url_node;
    std::optional<Located> verify_node;
    std::optional<Located> tier;
    std::optional<Located> clearance;
    std::optional<Located> api_key_file;
    std::optional<Located> api_version;
    std::optional<Located> aws;
    std::optional<Located> organization;
    std::optional<Located> project;
    std::optional<Located> api;
    bool provider_known = false;
    bool ok = r_.read_map(
        section,
        {
            {"provider", kRequired,
             [&](const Located& v) {
               if (std::optional<std::string> p = r_.one_of(v, "provider", kProviderNames)) {
                 auto info = std::find_if(kProviders.begin(), kProviders.end(),
                                          [&](const ProviderInfo& i) { return i.name == *p; });
                 b.provider = info->provider;
                 provider_known = true;
               }
             }},
            {"hosting", kOptional,
             [&](const Located& v) {
               hosting_node = v;
               if (std::optional<std::string> h = r_.one_of(v, "hosting", kHostings)) {
                 hosting = *h == "closed" ? Hosting::closed : Hosting::self_hosted;
               }
             }},
            {"base_url", kRequired,
             [&](const Located& v) {
               base_url_node = v;
               assign(b.base_url, base_url(v));
             }},
            {"model", kRequired,
             [&](const Located& v) { assign(b.model, r_.non_empty_string(v)); }},
            {"api_key", kOptional,
             [&](const Located& v) { assign_secret(b.api_key, r_.string(v)); }},
            {"api_key_file", kOptional, keep(api_key_file)},
            {"api_version", kOptional, keep(api_version)},
            {"aws", kOptional, keep(aws)},
            {"tier", kOptional, keep(tier)},
            {"clearance", kOptional, keep(clearance)},
            {"max_in_flight", kOptional,
             [&](const Located& v) {
               assign(b.max_in_flight,
                      r_.integer(v, 0, UINT_MAX, "expected a non-negative integer"));
             }},
            {"max_output_tokens", kOptional,
             [&](const Located& v) {
               assign(b.max_output_tokens, r_.integer(v, 1, kMaxOutputTokens,
                                                      "expected an integer from 1 to " +
                                                          std::to_string(kMaxOutputTokens)));
             }},
            {"timeouts", kOptional, [&](const Located& v) { read_timeouts(v, b.timeouts); }},
            {"tls", kOptional, [&](const Located& v) { read_upstream_tls(v, b, verify_node); }},
            {"allow_insecure", kOptional,
             [&](const Located& v) { assign(b.allow_insecure, r_.boolean(v)); }},
            {"headers", kOptional, [&](const Located& v) { read_headers(v, b.headers); }},
            {"forward_headers", kOptional,
             [&](const Located& v) { read_forward_headers(v, b.forward_headers); }},
            {"price", kOptional, [&](const Located& v) { read_price(v, b.price); }},
            {"license", kOptional, [&](const Located& v) { read_license(v, b); }},
            {"weight", kOptional,
             [&](const Located& v) {
               assign(b.weight,
                      r_.integer(v, 1, kMaxWeight,
                                 "expected an integer from 1 to " + std::to_string(kMaxWeight)));
             }},
            {"organization", kOptional, keep(organization)},
            {"project", kOptional, keep(project)},
            {"api", kOptional, keep(api)},
            {"health_check", kOptional,
             [&](const Located& v) { b.health_check = read_health_check(v); }},
            {"circuit_breaker", kOptional,
             [&](const Located& v) { read_circuit_breaker(v, b.circuit_breaker); }},
        });
    b.hosting = hosting.value_or(provider_info(b.provider).hosting);
    if (b.max_output_tokens == 0) {
      b.max_output_tokens = default_max_output_tokens(b.provider, b.model);
    }
    if (ok) {
      resolve_backend_level(section, tier, Kind::tier, b.tier, b.tier_level);
      resolve_backend_level(section, clearance, Kind::level, b.clearance, b.clearance_level);
      if (api_key_file) {
        read_api_key_file(*api_key_file, b);
      }
      // Which provider-specific keys are allowed or required depends on the provider; with an
      // unknown provider (already reported) nothing more can be said.
      if (provider_known) {
        read_api_version(section, api_version, b);
        read_aws(section, aws, b);
        read_openai_ids(organization, project, b);
        read_wire_api(api, b);
        check_closed_provider(hosting_node, base_url_node, verify_node, b);
      }
    }
    return b;
  }

  // Closed provider APIs take the operator's key and the prompts off the network: they are
  // reached over verified TLS unless the backend says `allow_insecure: true` (stand-ins in labs
  // and tests), and never count as self-hosted, which would let them past `egress: none` and
  // any rule meant for self-hosted backends.
  void check_closed_provider(const std::optional<Located>& hosting_node,
                             const std::optional<Located>& base_url_node,
                             const std::optional<Located>& verify_node, const Backend& b) {
    if (provider_info(b.provider).hosting != Hosting::closed) {
      return;
    }
    const std::string provider(to_string(b.provider));
    if (hosting_node && b.hosting == Hosting::self_hosted) {
      r_.error(*hosting_node, "provider " + provider +
                                  " is a closed API and cannot be self-hosted (it would escape "
                                  "egress: none)");
    }
    if (b.allow_insecure) {
      return;
    }
    if (base_url_node && b.base_url.starts_with("http://")) {
      r_.error(*base_url_node, "plain http:// to closed provider " + provider +
                                   " sends its key and the prompts unencrypted (use https://, or "
                                   "allow_insecure: true for labs and tests)");
    }
    if (verify_node && !b.tls_verify) {
      r_.error(*verify_node, "verify: false for closed provider " + provider +
                                 " needs allow_insecure: true (labs and tests only)");
    }
  }

  // `api_key_file`: the key is read now, so a missing or unreadable secret fails the load (and a
  // reload keeps the running config) instead of failing every request later.
  void read_api_key_file(const Located& v, Backend& b) {
    std::string path;
    std::optional<std::string> key = r_.file_contents(v, kMaxKeyFileBytes, &path);
    const WipeOnExit wipe_key(key);
    if (!b.api_key.empty()) {
      r_.error(v, "only one of api_key and api_key_file may be set");
      return;
    }
    if (!key) {
      return;
    }
    if (std::optional<std::string> exposed = exposed_secret_file(path)) {
      r_.error(v, std::move(*exposed));
      return;
    }
    strip_one_newline(*key);
    if (key->empty()) {
      r_.error(v, "key file is empty");
      return;
    }
    // The key becomes a header value: a stray line break would split the request.
    if (!valid_header_value(*key)) {
      r_.error(v, "key file must hold the key on one line (control characters found)");
      return;
    }
    assign_secret(b.api_key, std::move(key));
    b.api_key_file = std::move(path);
  }

  void read_api_version(const Located& section, const std::optional<Located>& v, Backend& b) {
    bool allowed = b.provider == Provider::azure_openai || b.provider == Provider::anthropic;
    if (!v) {
      if (b.provider == Provider::azure_openai) {
        r_.error(section.line, section.column, detail::join_path(section.path, "api_version"),
                 "required for provider azure-openai");
      }
      return;
    }
    if (!allowed) {
      r_.error(*v, "only for azure-openai and anthropic");
      return;
    }
    std::optional<std::string> version = r_.non_empty_string(*v);
    if (!version) {
      return;
    }
    // Sent in a query string (Azure) or a header (Anthropic): no character needs escaping.
    bool valid = std::all_of(version->begin(), version->end(), [](char c) {
      return is_alnum(c) || c == '.' || c == '-' || c == '_';
    });
    if (!valid) {
      r_.error(*v, "expected a version like 2024-10-21 (letters, digits, '.', '-' and '_')");
      return;
    }
    b.api_version = std::move(*version);
  }

  void read_aws(const Located& section, const std::optional<Located>& v, Backend& b) {
    if (!v) {
      if (b.provider == Provider::bedrock) {
        r_.error(section.line, section.column, detail::join_path(section.path, "aws"),
                 "required for provider bedrock");
      }
      return;
    }
    if (b.provider != Provider::bedrock) {
      r_.error(*v, "only for provider bedrock");
      return;
    }
    r_.read_map(
        *v,
        {
            {"region", kRequired,
             [&](const Located& x) {
               std::optional<std::string> region = r_.non_empty_string(x);
               if (!region) {
                 return;
               }
               // It names the host and the SigV4 credential scope.
               bool valid = std::all_of(region->begin(), region->end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
               });
               if (!valid) {
                 r_.error(x, "expected an AWS region like us-east-1 (a-z, 0-9 and '-')");
                 return;
               }
               b.aws_region = std::move(*region);
             }},
            {"access_key_id", kRequired,
             [&](const Located& x) { assign(b.aws_access_key_id, aws_secret(x, true)); }},
            {"secret_access_key", kRequired,
             [&](const Located& x) {
               assign_secret(b.aws_secret_access_key, aws_secret(x, true));
             }},
            {"session_token", kOptional,
             [&](const Located& x) { assign_secret(b.aws_session_token, aws_secret(x, false)); }},
        });
  }

  // An AWS credential: the key id and the token travel in headers, so none may hold control
  // characters.
  std::optional<std::string> aws_secret(const Located& v, bool required) {
    std::optional<std::string> s = required ? r_.non_empty_string(v) : r_.string(v);
    if (s && !valid_header_value(*s)) {
      r_.error(v, "must not contain control characters");
      return std::nullopt;
    }
    return s;
  }

  // A backend's tier or clearance. Not declared, the default name must exist in the scale: a
  // customised scale without it leaves the backend's place in it undecided, and guessing a
  // clearance is not something a compliance gateway does.
  void resolve_backend_level(const Located& section, const std::optional<Located>& value, Kind k,
                             std::string& name, int& index) {
    if (value) {
      if (std::optional<int> i = level_of(*value, k)) {
        index = *i;
        name = scale(k).names[static_cast<std::size_t>(*i)];
      } else {
        unresolved_ = true;
      }
      return;
    }
    int i = scale(k).find(name);  // the default name
    if (i >= 0) {
      index = i;
    } else if (scale_ok(k)) {
      bool level = k == Kind::level;
      r_.error(section.line, section.column,
               detail::join_path(section.path, level ? "clearance" : "tier"),
               std::string("required when ") + (level ? "sensitivity.levels" : "tiers.levels") +
                   " is customised");
    }
  }

  void read_license(const Located& section, Backend& b) {
    r_.read_map(section,
                {
                    {"name", kOptional,
                     [&](const Located& v) { assign(b.license_name, r_.non_empty_string(v)); }},
                    {"commercial", kOptional,
                     [&](const Located& v) { assign(b.license_commercial, r_.boolean(v)); }},
                });
  }

  std::optional<std::string> base_url(const Located& v) {
    std::optional<std::string> s = r_.non_empty_string(v);
    if (!s) {
      return std::nullopt;
    }
    std::string problem;
    std::optional<std::string> url = normalize_base_url(*s, problem);
    if (!url) {
      r_.error(v, std::move(problem));
    }
    return url;
  }

  void read_retries(const Located& section) {
    RetrySettings& r = config_.retries;
    r_.read_map(section,
                {
                    {"attempts", kOptional,
                     [&](const Located& v) {
                       assign(r.attempts, r_.integer(v, 1, 10, "expected an integer from 1 to 10"));
                     }},
                    {"backoff", kOptional,
                     [&](const Located& v) { assign(r.backoff, r_.duration(v, true)); }},
                    {"max_backoff", kOptional,
                     [&](const Located& v) { assign(r.max_backoff, r_.duration(v, true)); }},
                    {"max_retry_after", kOptional,
                     [&](const Located& v) { assign(r.max_retry_after, r_.duration(v, true)); }},
                });
  }

  void read_circuit_breaker(const Located& section, CircuitBreaker& c) {
    r_.read_map(section,
                {
                    {"consecutive_failures", kOptional,
                     [&](const Located& v) {
                       assign(c.consecutive_failures,
                              r_.integer(v, 0, 1000, "expected an integer from 0 (off) to 1000"));
                     }},
                    {"error_rate", kOptional,
                     [&](const Located& v) {
                       std::optional<double> rate = r_.number(v, "expected a fraction in (0, 1]");
                       if (rate && (*rate <= 0 || *rate > 1)) {
                         r_.error(v, "expected a fraction in (0, 1]");
                         return;
                       }
                       assign(c.error_rate, std::move(rate));
                     }},
                    {"min_requests", kOptional,
                     [&](const Located& v) {
                       assign(c.min_requests,
                              r_.integer(v, 1, 1'000'000, "expected a positive integer"));
                     }},
                    {"window", kOptional,
                     [&](const Located& v) { assign(c.window, r_.duration(v, false)); }},
                    {"open_for", kOptional,
                     [&](const Located& v) { assign(c.open_for, r_.duration(v, false)); }},
                    {"max_open_for", kOptional,
                     [&](const Located& v) { assign(c.max_open_for, r_.duration(v, false)); }},
                });
    if (c.max_open_for < c.open_for) {
      r_.error(section, "max_open_for must not be shorter than open_for");
    }
  }

  HealthCheck read_health_check(const Located& section) {
    HealthCheck h;
    r_.read_map(section, {
                             {"interval", kOptional,
                              [&](const Located& v) { assign(h.interval, r_.duration(v, false)); }},
                             {"timeout", kOptional,
                              [&](const Located& v) { assign(h.timeout, r_.duration(v, false)); }},
                             {"path", kOptional,
                              [&](const Located& v) {
                                std::optional<std::string> p = r_.non_empty_string(v);
                                if (!p) {
                                  return;
                                }
                                const bool valid = p->front() == '/' &&
                                                   std::all_of(p->begin(), p->end(), [](char c) {
                                                     return c > ' ' && c < 0x7f;
                                                   });
                                if (!valid) {
                                  r_.error(v, "expected an absolute path like /health");
                                  return;
                                }
                                h.path = std::move(*p);
                              }},
                             {"unhealthy_threshold", kOptional,
                              [&](const Located& v) {
                                assign(h.unhealthy_threshold,
                                       r_.integer(v, 1, 100, "expected an integer from 1 to 100"));
                              }},
                             {"healthy_threshold", kOptional,
                              [&](const Located& v) {
                                assign(h.healthy_threshold,
                                       r_.integer(v, 1, 100, "expected an integer from 1 to 100"));
                              }},
                         });
    return h;
  }

  // OpenAI's organization and project headers (https://platform.openai.com/docs/api-reference/
  // authentication): ids like org-... and proj_..., sent as header values.
  void read_openai_ids(const std::optional<Located>& organization,
                       const std::optional<Located>& project, Backend& b) {
    auto read = [&](const std::optional<Located>& v, std::string& out) {
      if (!v) {
        return;
      }
      if (b.provider != Provider::openai) {
        r_.error(*v, "only for provider openai");
        return;
      }
      std::optional<std::string> id = r_.non_empty_string(*v);
      if (!id) {
        return;
      }
      if (!std::all_of(id->begin(), id->end(), [](char c) { return c > ' ' && c < 0x7f; })) {
        r_.error(*v, "expected an id without spaces or control characters");
        return;
      }
      out = std::move(*id);
    };
    read(organization, b.organization);
    read(project, b.project);
  }

  void read_wire_api(const std::optional<Located>& v, Backend& b) {
    if (!v) {
      return;
    }
    if (b.provider != Provider::ollama) {
      r_.error(*v, "only for provider ollama");
      return;
    }
    static constexpr std::array<std::string_view, 2> kApis = {"openai", "native"};
    if (std::optional<std::string> a = r_.one_of(*v, "api", kApis)) {
      b.api = *a == "native" ? WireApi::native : WireApi::openai;
    }
  }

  void read_timeouts(const Located& section, BackendTimeouts& t) {
    // A zero timeout would fail every request; "no timeout" is not offered on purpose.
    r_.read_map(
        section,
        {
            {"connect", kOptional,
             [&](const Located& v) { assign(t.connect, r_.duration(v, false)); }},
            {"first_token", kOptional,
             [&](const Located& v) { assign(t.first_token, r_.duration(v, false)); }},
            {"idle", kOptional, [&](const Located& v) { assign(t.idle, r_.duration(v, false)); }},
            {"total", kOptional, [&](const Located& v) { assign(t.total, r_.duration(v, false)); }},
        });
  }

  void read_upstream_tls(const Located& section, Backend& b, std::optional<Located>& verify_node) {
    r_.read_map(section, {
                             {"ca_file", kOptional,
                              [&](const Located& v) { assign(b.ca_file, r_.readable_file(v)); }},
                             {"verify", kOptional,
                              [&](const Located& v) {
                                verify_node = v;
                                assign(b.tls_verify, r_.boolean(v));
                              }},
                         });
  }

  // `forward_headers: [x-app-trace, ...]`: client header names a closed backend may receive.
  void read_forward_headers(const Located& v, std::vector<std::string>& out) {
    read_name_list(v, out, "expected a list of header names", "must not be empty", "header",
                   [&](const Located& item, std::string& name) {
                     if (!valid_header_name(name)) {
                       r_.error(item, "invalid header name '" + name + "'");
                       return false;
                     }
                     name = lowercase(name);
                     if (std::find(kReservedHeaders.begin(), kReservedHeaders.end(), name) !=
                             kReservedHeaders.end() ||
                         name == "cookie" || name == "x-api-key" || name == "api-key" ||
                         name.starts_with("x-switchboard")) {
                       r_.error(item, "header '" + name +
                                          "' is never forwarded (hop-by-hop, a credential or "
                                          "managed by the gateway)");
                       return false;
                     }
                     return true;
                   });
  }

  void read_headers(const Located& section, std::map<std::string, std::string>& headers) {
    std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(section);
    if (!entries) {
      return;
    }
    std::set<std::string> seen;  // header names compare case-insensitively
    for (const YamlReader::Entry& e : *entries) {
      if (!valid_header_name(e.key)) {
        r_.error(e.key_node, "invalid header name '" + e.key + "'");
        continue;
      }
      std::string lower = lowercase(e.key);
      if (std::find(kReservedHeaders.begin(), kReservedHeaders.end(), lower) !=
          kReservedHeaders.end()) {
        r_.error(e.key_node,
                 "header '" + e.key + "' cannot be set (hop-by-hop or managed by the gateway)");
        continue;
      }
      if (!seen.insert(lower).second) {
        r_.error(e.key_node, "duplicate header '" + e.key + "'");
        continue;
      }
      std::optional<std::string> value = r_.string(e.value);
      if (!value) {
        continue;
      }
      if (!valid_header_value(*value)) {
        r_.error(e.value, "header value must not contain control characters");
        continue;
      }
      headers[e.key] = std::move(*value);
    }
  }

  void read_price(const Located& section, Price& p) {
    bool tokens_per_second_ok = true;
    bool ok = r_.read_map(
        section,
        {
            {"input_per_mtok", kOptional,
             [&](const Located& v) { assign(p.input_per_mtok, r_.non_negative_number(v)); }},
            {"output_per_mtok", kOptional,
             [&](const Located& v) { assign(p.output_per_mtok, r_.non_negative_number(v)); }},
            {"cached_input_per_mtok", kOptional,
             [&](const Located& v) { assign(p.cached_input_per_mtok, r_.non_negative_number(v)); }},
            {"cache_write_per_mtok", kOptional,
             [&](const Located& v) { assign(p.cache_write_per_mtok, r_.non_negative_number(v)); }},
            {"gpu_hour_usd", kOptional,
             [&](const Located& v) { assign(p.gpu_hour_usd, r_.non_negative_number(v)); }},
            {"tokens_per_second", kOptional,
             [&](const Located& v) {
               std::optional<double> n = r_.non_negative_number(v);
               tokens_per_second_ok = n.has_value();
               assign(p.tokens_per_second, std::move(n));
             }},
        });
    // The amortized cost per token is gpu_hour_usd / (3600 * tokens_per_second).
    if (ok && tokens_per_second_ok && p.gpu_hour_usd > 0 && p.tokens_per_second <= 0) {
      r_.error(section, "tokens_per_second must be greater than zero when gpu_hour_usd is set");
    }
  }

  void read_models(const Located& section) {
    std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(section);
    if (!entries) {
      models_given_ = true;  // broken, but given: do not invent aliases on top of the error
      return;
    }
    models_given_ = !entries->empty();
    for (const YamlReader::Entry& e : *entries) {
      if (!valid_alias_name(e.key)) {
        r_.error(e.key_node,
                 "invalid model alias '" + e.key + "' (no spaces or control characters)");
      }
      ModelAlias alias;
      alias.name = e.key;
      r_.read_map(
          e.value,
          {
              {"candidates", kRequired, [&](const Located& v) { read_candidates(v, alias); }},
              {"tier", kOptional,
               [&](const Located& v) {
                 if (std::optional<int> t = level_of(v, Kind::tier)) {
                   alias.tier_level = *t;
                   alias.tier = config_.tiers.levels.names[static_cast<std::size_t>(*t)];
                 }
               }},
          });
      config_.models.push_back(std::move(alias));
    }
  }

  void read_candidates(const Located& v, ModelAlias& alias) {
    std::optional<std::vector<Located>> items = r_.sequence(v, "expected a list of backend names");
    if (!items) {
      return;
    }
    if (items->empty()) {
      r_.error(v, "must not be empty");
      return;
    }
    for (const Located& item : *items) {
      std::optional<std::string> name = r_.non_empty_string(item);
      if (!name) {
        continue;
      }
      if (std::find(alias.candidates.begin(), alias.candidates.end(), *name) !=
          alias.candidates.end()) {
        r_.error(item, "duplicate backend '" + *name + "'");
        continue;
      }
      alias.candidates.push_back(*name);
      candidate_refs_.emplace_back(item, *name);
    }
  }

  // Runs after every section: candidates may name backends declared further down the file.
  void resolve_models() {
    for (const auto& [where, name] : candidate_refs_) {
      if (!backend_names_.contains(name)) {
        r_.error(where, "unknown backend '" + name + "'");
      }
    }
    if (!models_given_) {
      for (const Backend& b : config_.backends) {
        config_.models.push_back(ModelAlias{b.name, {b.name}, "", -1});
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // egress, policy_headers, tenants, auth, cost.

  void read_egress(const Located& v) {
    if (std::optional<std::string> e = r_.one_of(v, "egress", kEgress)) {
      config_.egress = *e == "none" ? Egress::none : Egress::all;
    }
  }

  void read_policy_headers(const Located& v) {
    std::optional<std::vector<Located>> items = r_.sequence(v, "expected a list of header names");
    if (!items) {
      return;
    }
    for (const Located& item : *items) {
      std::optional<std::string> name = r_.non_empty_string(item);
      if (!name) {
        continue;
      }
      if (!valid_header_name(*name)) {
        r_.error(item, "invalid header name '" + *name + "'");
        continue;
      }
      std::string lower = lowercase(*name);
      if (std::find(kCredentialHeaders.begin(), kCredentialHeaders.end(), lower) !=
          kCredentialHeaders.end()) {
        r_.error(item, "header '" + *name + "' carries credentials and cannot be used in policies");
        continue;
      }
      if (std::find(config_.policy_headers.begin(), config_.policy_headers.end(), lower) !=
          config_.policy_headers.end()) {
        r_.error(item, "duplicate header '" + *name + "'");
        continue;
      }
      config_.policy_headers.push_back(std::move(lower));
    }
  }

  void read_tenants(const std::optional<Located>& section) {
    if (!section) {
      // Configs written before tenants existed stay open: one tenant, no keys, anonymous.
      Tenant implicit;
      implicit.name = "default";
      config_.tenants.push_back(std::move(implicit));
      return;
    }
    tenants_given_ = true;
    std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(*section);
    if (!entries) {
      tenants_ok_ = false;
      return;
    }
    if (entries->empty()) {
      r_.error(*section,
               "at least one tenant is required (without a 'tenants' section every request is "
               "served as the open tenant 'default')");
      tenants_ok_ = false;
      return;
    }
    std::map<std::string, std::string> owners;  // key hash → tenant
    for (const YamlReader::Entry& e : *entries) {
      if (!valid_backend_name(e.key)) {
        r_.error(e.key_node,
                 "invalid tenant name '" + e.key + "' (use letters, digits, '_', '.' and '-')");
      }
      config_.tenants.push_back(read_tenant(e.key, e.value, owners));
    }
  }

  Tenant read_tenant(const std::string& name, const Located& section,
                     std::map<std::string, std::string>& owners) {
    Tenant t;
    t.name = name;
    r_.read_map(
        section,
        {
            {"api_keys", kOptional, [&](const Located& v) { read_key_hashes(v, t, owners); }},
            {"floor", kOptional,
             [&](const Located& v) {
               std::optional<int> floor = level_of(v, Kind::level);
               unresolved_ = unresolved_ || !floor;
               assign(t.floor, std::move(floor));
             }},
            {"use", kOptional,
             [&](const Located& v) {
               if (std::optional<std::string> u = r_.one_of(v, "use", kTenantUses)) {
                 t.use = *u == "research" ? TenantUse::research : TenantUse::commercial;
               }
             }},
            {"budget", kOptional, [&](const Located& v) { read_budget(v, t.budget); }},
            {"rate", kOptional, [&](const Located& v) { read_rate(v, t.rate); }},
        });
    return t;
  }

  void read_key_hashes(const Located& v, Tenant& t, std::map<std::string, std::string>& owners) {
    std::optional<std::vector<Located>> items =
        r_.sequence(v, "expected a list of key hashes (sha256:<64 hex digits>)");
    if (!items) {
      return;
    }
    for (const Located& item : *items) {
      std::optional<std::string> text = r_.text(item, kKeyHashExpected);
      if (!text) {
        continue;
      }
      std::optional<std::string> hash = parse_key_hash(*text);
      if (!hash) {
        r_.error(item, std::string(kKeyHashExpected));
        continue;
      }
      // One key, one tenant: otherwise which tenant a request belongs to would be a guess.
      auto [it, inserted] = owners.emplace(*hash, t.name);
      if (!inserted) {
        r_.error(item, it->second == t.name
                           ? std::string("duplicate API key")
                           : "API key already belongs to tenant '" + it->second + "'");
        continue;
      }
      t.key_hashes.push_back(std::move(*hash));
    }
  }

  // An amount of money: a number greater than zero.
  std::optional<double> amount(const Located& v) {
    constexpr std::string_view kExpected = "expected an amount in USD greater than zero";
    std::optional<double> n = r_.number(v, kExpected);
    if (n && *n <= 0) {
      r_.error(v, std::string(kExpected));
      return std::nullopt;
    }
    if (n && *n > 1e9) {
      // Budgets are held exactly in nano-dollars, up to about $1.15 billion per period.
      r_.error(v, "expected an amount in USD of at most 1000000000");
      return std::nullopt;
    }
    return n;
  }

  void read_budget(const Located& section, Budget& b) {
    std::size_t before = r_.error_count();
    bool ok = r_.read_map(
        section,
        {
            {"daily_usd", kOptional, [&](const Located& v) { b.daily_usd = amount(v); }},
            {"monthly_usd", kOptional, [&](const Located& v) { b.monthly_usd = amount(v); }},
            {"on_exhausted", kOptional,
             [&](const Located& v) {
               if (std::optional<std::string> a = r_.one_of(v, "action", kBudgetActions)) {
                 b.on_exhausted =
                     *a == "reject" ? BudgetAction::reject : BudgetAction::self_hosted_only;
               }
             }},
        });
    if (ok && r_.error_count() == before && !b.daily_usd && !b.monthly_usd) {
      r_.error(section, "expected daily_usd and/or monthly_usd");
    }
  }

  void read_rate(const Located& section, RateLimit& rate) {
    constexpr std::string_view kExpected = "expected a non-negative integer";
    r_.read_map(
        section,
        {
            {"rpm", kOptional,
             [&](const Located& v) { assign(rate.rpm, r_.integer(v, 0, UINT64_MAX, kExpected)); }},
            {"tpm", kOptional,
             [&](const Located& v) { assign(rate.tpm, r_.integer(v, 0, UINT64_MAX, kExpected)); }},
        });
  }

  void read_auth(const std::optional<Located>& section) {
    std::optional<Located> anonymous;
    if (section) {
      r_.read_map(*section, {{"anonymous_tenant", kOptional, keep(anonymous)}});
    }
    if (!anonymous) {
      if (!tenants_given_) {
        config_.auth.anonymous_tenant = "default";
      }
      return;
    }
    std::optional<std::string> name = r_.non_empty_string(*anonymous);
    if (!name) {
      return;
    }
    if (config_.find_tenant(*name) == nullptr) {
      if (tenants_ok_) {
        r_.error(*anonymous, "unknown tenant '" + *name + "'");
      }
      return;
    }
    config_.auth.anonymous_tenant = std::move(*name);
  }

  void read_cost(const Located& section) {
    CostSettings& c = config_.cost;
    std::optional<Located> reference;
    r_.read_map(section, {
                             {"default_output_tokens", kOptional,
                              [&](const Located& v) {
                                assign(c.default_output_tokens,
                                       r_.integer(v, 1, UINT32_MAX, "expected a positive integer"));
                              }},
                             {"min_output_tokens", kOptional,
                              [&](const Located& v) {
                                assign(c.min_output_tokens,
                                       r_.integer(v, 1, UINT32_MAX, "expected a positive integer"));
                              }},
                             {"savings_reference", kOptional, keep(reference)},
                         });
    if (!reference) {
      return;
    }
    std::optional<std::string> name = r_.non_empty_string(*reference);
    if (!name) {
      return;
    }
    const Backend* b = config_.find_backend(*name);
    if (b == nullptr) {
      r_.error(*reference, "unknown backend '" + *name + "'");
    } else if (b->hosting != Hosting::closed) {
      r_.error(*reference, "backend '" + *name +
                               "' is self-hosted (the savings reference must be a closed backend)");
    } else if (b->price.input_per_mtok <= 0 && b->price.output_per_mtok <= 0) {
      r_.error(*reference, "backend '" + *name +
                               "' has no prices (set price.input_per_mtok and output_per_mtok)");
    } else {
      c.savings_reference = std::move(*name);
    }
  }

  // -------------------------------------------------------------------------------------------
  // policies.

  // Where a rule's parts are, for the checks that look at the whole list.
  struct RuleNodes {
    Located node;
    std::optional<Located> name;
    std::optional<Located> to;
    bool when_ok = true;  // `when` read without errors: its emptiness means something
    bool to_ok = true;
  };

  void read_policies(const Located& section) {
    std::optional<std::vector<Located>> items =
        r_.sequence(section, "expected a list of rules ({name, when, route})");
    if (!items) {
      return;
    }
    std::vector<RuleNodes> rules;
    std::map<std::string, std::size_t> names;
    for (const Located& item : *items) {
      Policy p;
      p.line = item.line;
      RuleNodes nodes;
      nodes.node = item;
      bool ok = r_.read_map(
          item, {
                    {"name", kRequired,
                     [&](const Located& v) {
                       nodes.name = v;
                       assign(p.name, r_.non_empty_string(v));
                     }},
                    {"when", kOptional,
                     [&](const Located& v) {
                       std::size_t before = r_.error_count();
                       read_when(v, p.when);
                       nodes.when_ok = r_.error_count() == before;
                     }},
                    {"route", kOptional, [&](const Located& v) { read_route(v, p.route, nodes); }},
                });
      if (!ok) {
        continue;
      }
      if (nodes.name && !p.name.empty()) {
        if (!valid_backend_name(p.name)) {
          r_.error(*nodes.name,
                   "invalid rule name '" + p.name + "' (use letters, digits, '_', '.' and '-')");
        } else if (!names.emplace(p.name, rules.size()).second) {
          r_.error(*nodes.name, "duplicate rule name '" + p.name + "'");
        }
      }
      config_.policies.push_back(std::move(p));
      rules.push_back(std::move(nodes));
    }
    check_policies(section, rules);
  }

  void read_when(const Located& v, When& w) {
    r_.read_map(
        v, {
               {"sensitivity", kOptional,
                [&](const Located& x) { w.sensitivity = level_range(x, Kind::level); }},
               {"tier", kOptional, [&](const Located& x) { w.tier = level_range(x, Kind::tier); }},
               {"tenant", kOptional,
                [&](const Located& x) { read_references(x, w.tenants, Reference::tenant); }},
               {"model", kOptional,
                [&](const Located& x) { read_references(x, w.models, Reference::model); }},
               {"volume", kOptional, [&](const Located& x) { w.volume = volume(x); }},
               {"budget", kOptional, [&](const Located& x) { w.budget = budget_condition(x); }},
               {"features", kOptional, [&](const Located& x) { read_features(x, w.features); }},
               {"headers", kOptional, [&](const Located& x) { read_when_headers(x, w.headers); }},
           });
  }

  // `confidential` (exactly that level) or `{at_least: internal, at_most: confidential}`.
  std::optional<LevelRange> level_range(const Located& v, Kind k) {
    std::string noun = k == Kind::level ? "level" : "tier";
    if (v.node.IsScalar()) {
      std::optional<int> level = level_of(v, k);
      if (!level) {
        return std::nullopt;
      }
      return LevelRange{*level, *level};
    }
    if (!v.node.IsMap()) {
      r_.error(v, "expected a " + noun + " name or {at_least, at_most}");
      return std::nullopt;
    }
    LevelRange range;
    std::size_t before = r_.error_count();
    r_.read_map(v, {
                       {"at_least", kOptional,
                        [&](const Located& x) { assign(range.at_least, level_of(x, k)); }},
                       {"at_most", kOptional,
                        [&](const Located& x) { assign(range.at_most, level_of(x, k)); }},
                   });
    if (r_.error_count() != before) {
      return std::nullopt;
    }
    if (range.at_least < 0 && range.at_most < 0) {
      r_.error(v, "expected at_least and/or at_most");
      return std::nullopt;
    }
    if (range.at_most >= 0 && range.at_least > range.at_most) {
      const std::vector<std::string>& names = scale(k).names;
      r_.error(v, "at_least '" + names[static_cast<std::size_t>(range.at_least)] +
                      "' is above at_most '" + names[static_cast<std::size_t>(range.at_most)] +
                      "'");
      return std::nullopt;
    }
    return range;
  }

  enum class Reference { tenant, model };

  void read_references(const Located& v, std::vector<std::string>& out, Reference kind) {
    bool tenant = kind == Reference::tenant;
    std::optional<std::vector<Located>> items =
        r_.scalar_or_sequence(v, tenant ? "expected a tenant name or a list of them"
                                        : "expected a model alias or a list of them");
    if (!items) {
      return;
    }
    if (items->empty()) {
      r_.error(v, "must not be empty");
      return;
    }
    std::string noun = tenant ? "tenant" : "model alias";
    for (const Located& item : *items) {
      std::optional<std::string> name = r_.non_empty_string(item);
      if (!name) {
        continue;
      }
      if (std::find(out.begin(), out.end(), *name) != out.end()) {
        r_.error(item, "duplicate " + noun + " '" + *name + "'");
        continue;
      }
      bool known =
          tenant ? config_.find_tenant(*name) != nullptr : config_.find_model(*name) != nullptr;
      if (!known) {
        if (!tenant || tenants_ok_) {
          r_.error(item, "unknown " + noun + " '" + *name + "'");
        }
        continue;
      }
      out.push_back(std::move(*name));
    }
  }

  std::optional<VolumeCondition> volume(const Located& v) {
    VolumeCondition c;
    std::optional<Located> backend;
    std::optional<Located> in_flight;
    std::size_t before = r_.error_count();
    bool ok = r_.read_map(
        v, {
               {"backend", kRequired, keep(backend)},
               {"in_flight_above", kOptional,
                [&](const Located& x) {
                  in_flight = x;
                  constexpr std::string_view kExpected = "expected a fraction in (0, 1]";
                  std::optional<double> f = r_.number(x, kExpected);
                  if (f && (*f <= 0 || *f > 1)) {
                    r_.error(x, std::string(kExpected));
                    return;
                  }
                  c.in_flight_above = f;
                }},
               {"rpm_above", kOptional,
                [&](const Located& x) { c.rpm_above = r_.non_negative_number(x); }},
               {"tpm_above", kOptional,
                [&](const Located& x) { c.tpm_above = r_.non_negative_number(x); }},
           });
    if (!ok) {
      return std::nullopt;
    }
    const Backend* b = nullptr;
    if (backend) {
      if (std::optional<std::string> name = r_.non_empty_string(*backend)) {
        b = config_.find_backend(*name);
        if (b == nullptr) {
          r_.error(*backend, "unknown backend '" + *name + "'");
        }
        c.backend = std::move(*name);
      }
    }
    if (b != nullptr && c.in_flight_above && b->max_in_flight == 0) {
      r_.error(*in_flight, "needs backends." + b->name +
                               ".max_in_flight (a fraction of no limit is never reached)");
    }
    if (r_.error_count() != before) {
      return std::nullopt;
    }
    if (!c.in_flight_above && !c.rpm_above && !c.tpm_above) {
      r_.error(v, "expected at least one of in_flight_above, rpm_above, tpm_above");
      return std::nullopt;
    }
    return c;
  }

  std::optional<BudgetCondition> budget_condition(const Located& v) {
    BudgetCondition c;
    std::size_t before = r_.error_count();
    r_.read_map(v, {
                       {"spent_fraction_above", kRequired,
                        [&](const Located& x) {
                          constexpr std::string_view kExpected = "expected a fraction in [0, 1]";
                          std::optional<double> f = r_.number(x, kExpected);
                          if (f && (*f < 0 || *f > 1)) {
                            r_.error(x, std::string(kExpected));
                            return;
                          }
                          assign(c.spent_fraction_above, std::move(f));
                        }},
                       {"period", kOptional,
                        [&](const Located& x) {
                          std::optional<std::string> p = r_.one_of(x, "period", kBudgetPeriods);
                          if (p) {
                            c.period = *p == "daily"     ? BudgetPeriod::daily
                                       : *p == "monthly" ? BudgetPeriod::monthly
                                                         : BudgetPeriod::any;
                          }
                        }},
                   });
    if (r_.error_count() != before) {
      return std::nullopt;
    }
    return c;
  }

  void read_when_headers(const Located& v, std::map<std::string, std::vector<std::string>>& out) {
    std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(v);
    if (!entries) {
      return;
    }
    for (const YamlReader::Entry& e : *entries) {
      std::string lower = lowercase(e.key);
      if (std::find(config_.policy_headers.begin(), config_.policy_headers.end(), lower) ==
          config_.policy_headers.end()) {
        r_.error(e.key_node, "header '" + e.key + "' is not listed in policy_headers");
        continue;
      }
      if (out.contains(lower)) {
        r_.error(e.key_node, "duplicate header '" + e.key + "'");
        continue;
      }
      std::vector<std::string> values;
      read_strings(e.value, values, "expected a value or a list of values");
      if (!values.empty()) {
        out.emplace(std::move(lower), std::move(values));
      }
    }
  }

  void read_route(const Located& v, Route& route, RuleNodes& nodes) {
    std::optional<Located> shed;
    r_.read_map(v,
                {
                    {"to", kOptional,
                     [&](const Located& x) {
                       nodes.to = x;
                       std::size_t before = r_.error_count();
                       read_route_to(x, route.to);
                       nodes.to_ok = r_.error_count() == before;
                     }},
                    {"strategy", kOptional,
                     [&](const Located& x) {
                       if (std::optional<std::string> s = r_.one_of(x, "strategy", kStrategies)) {
                         route.strategy = *s == "cheapest"       ? Strategy::cheapest
                                          : *s == "least-loaded" ? Strategy::least_loaded
                                          : *s == "weighted"     ? Strategy::weighted
                                                                 : Strategy::ordered;
                       }
                     }},
                    {"on_unavailable", kOptional,
                     [&](const Located& x) {
                       if (std::optional<std::string> o = r_.one_of(x, "action", kOnUnavailable)) {
                         route.on_unavailable =
                             *o == "reject" ? OnUnavailable::reject : OnUnavailable::next_rule;
                       }
                     }},
                    {"allow_lower_tier", kOptional,
                     [&](const Located& x) { assign(route.allow_lower_tier, r_.boolean(x)); }},
                    {"shed", kOptional,
                     [&](const Located& x) {
                       shed = x;
                       assign(route.shed, r_.boolean(x));
                     }},
                });
    if (route.shed && nodes.to) {
      r_.error(*shed, "cannot be combined with 'to' (a shedding rule answers 429)");
    }
  }

  void read_route_to(const Located& v, std::vector<std::string>& to) {
    read_name_list(v, to, "expected a backend name or a list of them",
                   "must not be empty (omit 'to' to use the requested model's candidates)",
                   "backend", [&](const Located& item, const std::string& name) {
                     if (config_.find_backend(name) == nullptr) {
                       r_.error(item, "unknown backend '" + name + "'");
                       return false;
                     }
                     return true;
                   });
  }

  // Checks over the whole list: order (nothing after a catch-all, a catch-all last) and rules
  // that can only ever produce an empty list.
  void check_policies(const Located& section, const std::vector<RuleNodes>& rules) {
    const std::vector<Policy>& policies = config_.policies;
    std::optional<std::size_t> catch_all;
    for (std::size_t i = 0; i < policies.size(); ++i) {
      const Policy& p = policies[i];
      if (catch_all) {
        r_.error(rules[i].node, "unreachable: rule '" + p.name + "' comes after catch-all rule '" +
                                    policies[*catch_all].name + "'");
      } else if (rules[i].when_ok && p.when.catch_all()) {
        catch_all = i;
      }
      if (rules[i].when_ok && rules[i].to_ok) {
        check_can_route(p, rules[i]);
      }
    }
    if (!policies.empty() && !catch_all) {
      r_.error(section, "the last rule must be a catch-all default (a rule without 'when')");
    }
  }

  // With an explicit `to`, finds whether every listed backend is excluded for every request the
  // rule can match, by what the config alone decides: the lowest sensitivity such a request can
  // have (when.sensitivity.at_least, the floors of the tenants it can come from) against each
  // clearance, egress, the lowest tier it can ask for, and the license against the tenants' use.
  void check_can_route(const Policy& p, const RuleNodes& nodes) {
    if (unresolved_ || p.route.shed || !nodes.to || p.route.to.empty()) {
      return;
    }
    std::vector<const Tenant*> tenants;
    if (p.when.tenants.empty()) {
      for (const Tenant& t : config_.tenants) {
        tenants.push_back(&t);
      }
    } else {
      for (const std::string& name : p.when.tenants) {
        tenants.push_back(config_.find_tenant(name));
      }
    }
    int min_sensitivity = INT_MAX;
    bool commercial_only = !tenants.empty();
    for (const Tenant* t : tenants) {
      min_sensitivity = std::min(min_sensitivity, t->floor);
      commercial_only = commercial_only && t->use == TenantUse::commercial;
    }
    if (tenants.empty()) {
      min_sensitivity = 0;
    }
    if (p.when.sensitivity && p.when.sensitivity->at_least > min_sensitivity) {
      min_sensitivity = p.when.sensitivity->at_least;
    }
    int min_tier = -1;
    if (p.when.tier && !p.route.allow_lower_tier) {
      min_tier = p.when.tier->at_least;
    }
    const std::vector<std::string>& levels = config_.sensitivity.levels.names;
    const std::vector<std::string>& tiers = config_.tiers.levels.names;
    std::vector<std::string> reasons;
    for (const std::string& name : p.route.to) {
      const Backend* b = config_.find_backend(name);
      std::string reason;
      if (b->clearance_level < min_sensitivity) {
        reason = "clearance below " + levels[static_cast<std::size_t>(min_sensitivity)];
      } else if (config_.egress == Egress::none && b->hosting == Hosting::closed) {
        reason = "closed, and egress is none";
      } else if (min_tier >= 0 && b->tier_level < min_tier) {
        reason = "tier below " + tiers[static_cast<std::size_t>(min_tier)];
      } else if (!b->license_commercial && commercial_only) {
        reason = "research-only license, and every tenant it can serve is commercial";
      } else {
        return;  // this backend can take some request the rule matches
      }
      if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) {
        reasons.push_back(std::move(reason));
      }
    }
    r_.error(*nodes.to, "can never route: every backend is excluded (" + join(reasons, "; ") + ")");
  }

  // -------------------------------------------------------------------------------------------
  // Notices: facts worth saying at startup and in `check`, not errors.

  void add_notices() {
    if (config_.egress == Egress::none) {
      std::vector<std::string> closed;
      for (const Backend& b : config_.backends) {
        if (b.hosting == Hosting::closed) {
          closed.push_back(b.name);
        }
      }
      if (!closed.empty()) {
        config_.notices.push_back("egress: none: closed backends " + join(closed) + " are off");
      }
    }
    for (const Tenant& t : config_.tenants) {
      if (tenants_given_ && t.key_hashes.empty() && t.name != config_.auth.anonymous_tenant) {
        config_.notices.push_back("tenant '" + t.name +
                                  "' has no api_keys and is not auth.anonymous_tenant: no "
                                  "request can use it");
      }
    }
  }

  YamlReader& r_;
  Config config_;
  std::set<std::string, std::less<>> backend_names_;  // every declared name, valid or not
  std::vector<std::pair<Located, std::string>> candidate_refs_;
  bool models_given_ = false;
  bool levels_ok_ = true;  // sensitivity.levels absent or valid
  bool tiers_ok_ = true;   // tiers.levels absent or valid
  bool tenants_given_ = false;
  bool server_listen_given_ = false;  // server.listen set to an address (not absent, not `auto`)
  bool tenants_ok_ = true;            // the tenants section, if given, is a non-empty mapping
  // A backend's tier or clearance or a tenant's floor did not resolve: the values they were left
  // with say nothing, so checks built on them are skipped (the error is already reported).
  bool unresolved_ = false;
};

std::pair<int, int> position(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) {
    return {0, 0};
  }
  return {mark.line + 1, mark.column + 1};
}

// yaml-cpp 0.7 never returns (it allocates until the process dies) on a line that starts with a
// flow entry ',' where no block is open: at the start of a document ("," alone, "a: 1\n---\n,")
// or left of the document's top-level indentation (" a: 1\n,"). Such a line is never part of a
// valid config, so it is refused here, before yaml-cpp sees it. Returns the 1-based line and
// column of that ',', or {0, 0} when there is none.
std::pair<int, int> stray_flow_entry(std::string_view yaml) {
  std::size_t top_indent = std::string_view::npos;  // npos: no content yet in this document
  int line = 0;
  std::size_t pos = 0;
  while (pos <= yaml.size()) {
    const std::size_t end = std::min(yaml.find('\n', pos), yaml.size());
    std::string_view text = yaml.substr(pos, end - pos);
    ++line;
    pos = end + 1;
    std::size_t col = text.find_first_not_of(" \t\r");
    if (text.starts_with("---") || text.starts_with("...")) {
      top_indent = std::string_view::npos;
      col = text.find_first_not_of(" \t\r", 3);  // content may follow the marker
      if (col == std::string_view::npos || text[col] == '#') {
        continue;
      }
    }
    if (col == std::string_view::npos || text[col] == '#' ||
        (top_indent == std::string_view::npos && text[col] == '%')) {
      continue;
    }
    if (text[col] == ',' && (top_indent == std::string_view::npos || col < top_indent)) {
      return {line, static_cast<int>(col) + 1};
    }
    if (top_indent == std::string_view::npos) {
      top_indent = col;
    }
  }
  return {0, 0};
}

LoadResult load(std::string_view yaml, const std::string& file, std::string base_dir,
                const EnvLookup& env) {
  LoadResult result;
  if (auto [line, column] = stray_flow_entry(yaml); line > 0) {
    result.errors.push_back(ConfigError{
        file, line, column, "", "YAML syntax error: unexpected ',' outside any collection"});
    return result;
  }
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    auto [line, column] = position(e.mark);
    result.errors.push_back(ConfigError{file, line, column, "", "YAML syntax error: " + e.msg});
    return result;
  }
  YamlReader reader(file, env);
  reader.set_base_dir(std::move(base_dir));
  if (documents.size() > 1) {
    auto [line, column] = position(documents[1].Mark());
    reader.error(line, column, "",
                 "expected a single YAML document, found " + std::to_string(documents.size()));
  }
  ConfigBuilder builder(reader);
  builder.read(reader.root(documents.empty() ? YAML::Node() : documents.front()));
  result.errors = reader.take_errors();
  if (result.errors.empty()) {
    result.config = builder.take();
    result.config->source = file;
  }
  return result;
}

bool read_whole_file(const std::string& path, std::string& out, std::string& problem) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    problem = std::strerror(errno);
    return false;
  }
  char buffer[16384];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    out.append(buffer, n);
  }
  bool failed = std::ferror(f) != 0;
  int saved = errno;
  std::fclose(f);
  if (failed) {
    problem = std::strerror(saved);
    return false;
  }
  return true;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// Units

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  std::optional<std::uint64_t> whole = detail::parse_uint(text.substr(0, i));
  if (!whole) {
    return std::nullopt;
  }
  std::uint64_t fraction = 0;
  std::uint64_t scale = 1;  // 10^(number of fraction digits)
  if (i < text.size() && text[i] == '.') {
    std::size_t start = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
    }
    // At least one digit after the point; at most 9, which bounds the arithmetic below.
    if (i == start || i - start > 9) {
      return std::nullopt;
    }
    fraction = *detail::parse_uint(text.substr(start, i - start));
    for (std::size_t k = start; k < i; ++k) {
      scale *= 10;
    }
  }
  std::string_view unit = text.substr(i);
  std::uint64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1'000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return std::nullopt;
  }
  // Anything a timer can hold: the result must convert to nanoseconds without overflow.
  constexpr std::uint64_t kMaxMs =
      static_cast<std::uint64_t>(std::chrono::nanoseconds::max().count() / 1'000'000);
  // fraction < 10^9 and unit_ms < 2^22, so fraction * unit_ms cannot overflow.
  std::uint64_t fraction_units = fraction * unit_ms;
  if (fraction_units % scale != 0) {
    return std::nullopt;  // not a whole number of milliseconds (`0.5ms`)
  }
  std::uint64_t ms = 0;
  if (__builtin_mul_overflow(*whole, unit_ms, &ms) ||
      __builtin_add_overflow(ms, fraction_units / scale, &ms) || ms > kMaxMs) {
    return std::nullopt;
  }
  return Duration(static_cast<Duration::rep>(ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  std::optional<std::uint64_t> n = detail::parse_uint(text.substr(0, i));
  if (!n) {
    return std::nullopt;
  }
  struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
  };
  constexpr std::array<Unit, 10> kUnits{{
      {"", 1},
      {"B", 1},
      {"KB", 1'000},
      {"MB", 1'000'000},
      {"GB", 1'000'000'000},
      {"TB", 1'000'000'000'000},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
  }};
  std::string_view suffix = text.substr(i);
  auto unit =
      std::find_if(kUnits.begin(), kUnits.end(), [&](const Unit& u) { return u.suffix == suffix; });
  if (unit == kUnits.end()) {
    return std::nullopt;
  }
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(*n, unit->factor, &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

// -------------------------------------------------------------------------------------------------
// Values

std::string_view to_string(Provider p) {
  return provider_info(p).name;
}

// The output a request without max_tokens may produce, per provider and model family, from the
// providers' model documentation. A budget reservation covers it, so when unsure the larger
// documented figure is taken; the real usage reconciles.
std::uint64_t default_max_output_tokens(Provider p, std::string_view model) {
  const auto has = [&](std::string_view part) {
    return model.find(part) != std::string_view::npos;
  };
  switch (p) {
    case Provider::openai:
    case Provider::azure_openai:
      // https://platform.openai.com/docs/models: a request without max_completion_tokens may
      // produce up to the model's maximum output. Azure names deployments, so its model names
      // often say nothing: the gpt-4o figure then.
      if (model.starts_with("gpt-5")) {
        return 128'000;
      }
      if (model.starts_with("o1") || model.starts_with("o3") || model.starts_with("o4")) {
        return 100'000;
      }
      if (model.starts_with("gpt-4.1")) {
        return 32'768;
      }
      if (model.starts_with("gpt-4-") || model == "gpt-4" || model.starts_with("gpt-3.5")) {
        return 4'096;
      }
      return 16'384;  // gpt-4o, gpt-4o-mini
    case Provider::anthropic:
      // The Anthropic translator sends max_tokens: 4096 when the request sets none (the API
      // requires one), which every Claude model accepts: the bound is exact.
      return 4'096;
    case Provider::bedrock:
      // Converse without inferenceConfig.maxTokens lets the model use its maximum output:
      // https://docs.anthropic.com/en/docs/about-claude/models for Claude on Bedrock.
      if (has("claude-3-7") || has("sonnet-4") || has("haiku-4")) {
        return 64'000;
      }
      if (has("opus-4")) {
        return 32'000;
      }
      if (has("claude-3-5")) {
        return 8'192;
      }
      if (has("claude-3")) {
        return 4'096;
      }
      return 8'192;
    case Provider::gemini:
      // https://ai.google.dev/gemini-api/docs/models: maxOutputTokens defaults to the model's
      // output limit, 65,536 from Gemini 2.5 on, 8,192 before.
      if (has("gemini-1") || has("gemini-2.0")) {
        return 8'192;
      }
      return 65'536;
    case Provider::vllm:
    case Provider::llamacpp:
    case Provider::ollama:
    case Provider::tgi:
    case Provider::sglang:
    case Provider::openai_compatible:
      // Self-hosted engines generate until the context is full by default (vLLM: max_model_len
      // minus the prompt; llama.cpp and Ollama: n_predict / num_predict -1): no documented bound,
      // so a working figure; set max_output_tokens to the served context length for a hard one.
      return 4'096;
  }
  return 16'384;
}

std::string_view to_string(Hosting h) {
  switch (h) {
    case Hosting::self_hosted:
      return "self-hosted";
    case Hosting::closed:
      return "closed";
  }
  return "closed";
}

const Backend* Config::find_backend(std::string_view name) const {
  auto it = std::find_if(backends.begin(), backends.end(),
                         [&](const Backend& b) { return b.name == name; });
  return it == backends.end() ? nullptr : &*it;
}

const ModelAlias* Config::find_model(std::string_view name) const {
  auto it = std::find_if(models.begin(), models.end(),
                         [&](const ModelAlias& m) { return m.name == name; });
  return it == models.end() ? nullptr : &*it;
}

const Tenant* Config::find_tenant(std::string_view name) const {
  auto it =
      std::find_if(tenants.begin(), tenants.end(), [&](const Tenant& t) { return t.name == name; });
  return it == tenants.end() ? nullptr : &*it;
}

int Scale::find(std::string_view name) const {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

const std::vector<std::string>& unscannable_kind_names() {
  static const std::vector<std::string> names{"token_ids", "audio", "files", "images"};
  return names;
}

const std::vector<std::string>& builtin_entities() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const EntityDefault& d : kEntities) {
      out.emplace_back(d.entity);
    }
    return out;
  }();
  return names;
}

bool FeatureCondition::empty() const {
  return !tools && !images && !json_schema && !prompt_tokens_above && !depth_above &&
         reasoning_effort.empty();
}

bool When::catch_all() const {
  return !sensitivity && !tier && tenants.empty() && models.empty() && !volume && !budget &&
         features.empty() && headers.empty();
}

std::string ConfigError::to_string() const {
  std::string out = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += message;
  return out;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

// -------------------------------------------------------------------------------------------------
// Loading

LoadResult load_string(std::string_view yaml, std::string_view file_name, const EnvLookup& env) {
  return load(yaml, std::string(file_name), "", env);
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  std::string text;
  std::string problem;
  if (!read_whole_file(path, text, problem)) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", "cannot read file: " + problem});
    return result;
  }
  // Files the config names (certificates, CA bundles) are found next to it.
  return load(text, path, std::filesystem::path(path).parent_path().string(), env);
}

}  // namespace sb::config
