// `state:`: where budgets and rate limits live (memory, or Redis shared by replicas).
#include <algorithm>
#include <array>
#include <string>

#include "policies/config/builder.h"
#include "policies/redis_url.h"
#include "policies/url.h"

namespace sb::config::detail {
namespace {

constexpr std::array<std::string_view, 2> kStores{"memory", "redis"};
constexpr std::array<std::string_view, 3> kStateUnavailable{"self-hosted-only", "local", "reject"};
constexpr std::size_t kMaxRedisNameChars = 256;
constexpr Duration kMinLeaseTtl{1'000};

// `state.prefix`: the first part of every Redis key; no braces, so it never forms a hash tag.
bool valid_state_prefix(std::string_view prefix) {
  return !prefix.empty() && prefix.size() <= 64 &&
         std::all_of(prefix.begin(), prefix.end(), [](char c) {
           return is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
         });
}

}  // namespace

// Where the keys of `state:` are, read once the whole mapping is known.
struct ConfigBuilder::StateNodes {
  std::string store = "memory";
  std::optional<Located> url, username, password, password_file, database, tls, prefix;
  std::optional<Located> connect_timeout, command_timeout, reconnect, lease, sync_interval,
      on_unavailable;
  std::vector<std::string> given;  // keys set, for the notice under `store: memory`
};

// `state:`. Every key is read and checked whatever the store; the Redis-only cross-checks
// (url required, tls only with rediss://) apply to `store: redis`, and with `store: memory`
// the other keys are reported as unused.
void ConfigBuilder::read_state(const Located& section) {
  StateSettings& s = config_.state;
  StateNodes n;
  const std::size_t errors_before = r_.error_count();
  if (!read_state_keys(section, n)) {
    return;
  }
  s.store = n.store == "redis" ? StateSettings::Store::redis : StateSettings::Store::memory;
  const bool redis = s.store == StateSettings::Store::redis;
  if (n.url) {
    read_state_url(*n.url, s);
  } else if (redis) {
    r_.error(section, "a url is required when store is 'redis'");
  }
  read_state_credentials(n, s);
  if (n.tls) {
    read_state_tls(*n.tls, s, redis && n.url);
  }
  read_state_options(n, s);
  if (redis && !s.username.empty() && s.password.empty() && r_.error_count() == errors_before) {
    r_.error(n.username ? *n.username : *n.url,
             "a user name needs a password (AUTH takes both): set password or password_file");
  }
  if (!redis && !n.given.empty()) {
    config_.notices.push_back("state: " + join(n.given) +
                              " unused: they apply to store 'redis' only (store is 'memory')");
  }
}

bool ConfigBuilder::read_state_keys(const Located& section, StateNodes& n) {
  // Every key but `store` is only remembered here (and noted as given), then read in order.
  const std::pair<std::string_view, std::optional<Located>*> kept[] = {
      {"url", &n.url},
      {"username", &n.username},
      {"password", &n.password},
      {"password_file", &n.password_file},
      {"database", &n.database},
      {"tls", &n.tls},
      {"prefix", &n.prefix},
      {"connect_timeout", &n.connect_timeout},
      {"command_timeout", &n.command_timeout},
      {"reconnect", &n.reconnect},
      {"on_unavailable", &n.on_unavailable},
      {"lease", &n.lease},
      {"sync_interval", &n.sync_interval},
  };
  std::vector<YamlReader::Field> fields{{"store", kOptional, [&](const Located& v) {
                                           assign(n.store, r_.one_of(v, "store", kStores));
                                         }}};
  for (const auto& entry : kept) {
    const std::string_view key = entry.first;  // clang 14 cannot capture a structured binding
    std::optional<Located>* const slot = entry.second;
    fields.push_back({key, kOptional, [&n, key, slot](const Located& v) {
                        *slot = v;
                        n.given.emplace_back(key);
                      }});
  }
  return r_.read_map(section, fields);
}

// `username`, and `password` or `password_file` (the URL may have given both already).
void ConfigBuilder::read_state_credentials(const StateNodes& n, StateSettings& s) {
  if (n.username) {
    if (std::optional<std::string> u = r_.non_empty_string(*n.username)) {
      if (valid_redis_username(*n.username, *u)) {
        s.username = std::move(*u);
      }
    }
  }
  if (n.password && n.password_file) {
    r_.error(*n.password_file, "only one of password and password_file may be set");
  } else if (n.password) {
    std::optional<std::string> p = r_.string(*n.password);
    const WipeOnExit wipe_p(p);
    // Empty (`${REDIS_PASSWORD:-}` unset) = no password, unless the URL gave one.
    if (p && !p->empty() && valid_redis_password(*n.password, *p)) {
      s.password.assign(p->data(), p->size());
    }
  } else if (n.password_file) {
    read_redis_password_file(*n.password_file, s);
  }
}

void ConfigBuilder::read_state_options(const StateNodes& n, StateSettings& s) {
  if (n.connect_timeout) {
    assign(s.connect_timeout, r_.duration(*n.connect_timeout, false));
  }
  if (n.command_timeout) {
    assign(s.command_timeout, r_.duration(*n.command_timeout, false));
  }
  if (n.database) {
    assign(s.database,
           r_.integer(*n.database, 0, kMaxRedisDatabase,
                      "expected a database index from 0 to " + std::to_string(kMaxRedisDatabase)));
  }
  if (n.prefix) {
    if (std::optional<std::string> p = r_.string(*n.prefix)) {
      if (valid_state_prefix(*p)) {
        s.prefix = std::move(*p);
      } else {
        r_.error(*n.prefix,
                 "invalid prefix '" + *p + "' (1 to 64 of letters, digits, '_', '.', ':' and '-')");
      }
    }
  }
  if (n.reconnect) {
    read_state_reconnect(*n.reconnect, s);
  }
  if (n.on_unavailable) {
    if (std::optional<std::string> m = r_.one_of(*n.on_unavailable, "mode", kStateUnavailable)) {
      s.on_unavailable = *m == "local"    ? StateUnavailable::local
                         : *m == "reject" ? StateUnavailable::reject
                                          : StateUnavailable::self_hosted_only;
    }
  }
  if (n.lease) {
    read_state_lease(*n.lease, s);
  }
  if (n.sync_interval) {
    read_state_sync_interval(*n.sync_interval, s);
  }
}

void ConfigBuilder::read_state_sync_interval(const Located& v, StateSettings& s) {
  std::optional<Duration> d = r_.duration(v, false);
  if (d && *d * 2 >= s.lease_ttl) {
    r_.error(v,
             "must be less than half of lease.ttl (" + std::to_string(s.lease_ttl.count()) + "ms)");
  } else {
    assign(s.sync_interval, std::move(d));
  }
}

void ConfigBuilder::read_state_url(const Located& v, StateSettings& s) {
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

void ConfigBuilder::read_state_tls(const Located& section, StateSettings& s, bool check_scheme) {
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

void ConfigBuilder::read_state_reconnect(const Located& section, StateSettings& s) {
  std::optional<Located> max_node;
  r_.read_map(section, {
                           {"min", kOptional, set_duration(s.reconnect_min, false)},
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

void ConfigBuilder::read_state_lease(const Located& section, StateSettings& s) {
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
                 "ms) must be less than lease.ttl (" + std::to_string(s.lease_ttl.count()) + "ms)");
  }
}

// ACL user names are one word of visible characters.
bool ConfigBuilder::valid_redis_username(const Located& v, std::string_view name) {
  if (name.size() > kMaxRedisNameChars ||
      !std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    r_.error(v, "must be at most " + std::to_string(kMaxRedisNameChars) +
                    " visible ASCII characters (no spaces or control characters)");
    return false;
  }
  return true;
}

bool ConfigBuilder::valid_redis_password(const Located& v, std::string_view password) {
  if (!valid_header_value(password) || password.find('\t') != std::string_view::npos) {
    r_.error(v, "must not contain control characters");
    return false;
  }
  return true;
}

void ConfigBuilder::read_redis_password_file(const Located& v, StateSettings& s) {
  read_secret_file(
      v, {"password", ""}, [&](const std::string& p) { return valid_redis_password(v, p); },
      s.password, s.password_file);
}

}  // namespace sb::config::detail
