// The backend keys every provider shares: timeouts, TLS, headers, prices, license, health checks
// and circuit breakers; and `retries:`, which applies to every backend.
#include <algorithm>
#include <array>
#include <set>
#include <string>

#include "policies/config/builder.h"
#include "policies/providers.h"

namespace sb::config::detail {
namespace {

// Headers a backend may not set: hop-by-hop ones (RFC 9110 §7.6.1) and those the gateway owns.
constexpr std::array<std::string_view, 3> kOnStale{"in-flight", "full", "idle"};

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

bool reserved_header(std::string_view lower) {
  return std::find(kReservedHeaders.begin(), kReservedHeaders.end(), lower) !=
         kReservedHeaders.end();
}

}  // namespace

void ConfigBuilder::read_timeouts(const Located& section, BackendTimeouts& t) {
  // A zero timeout would fail every request; "no timeout" is not offered on purpose.
  r_.read_map(section, {
                           {"connect", kOptional, set_duration(t.connect, false)},
                           {"first_token", kOptional, set_duration(t.first_token, false)},
                           {"idle", kOptional, set_duration(t.idle, false)},
                           {"total", kOptional, set_duration(t.total, false)},
                       });
}

void ConfigBuilder::read_upstream_tls(const Located& section, Backend& b,
                                      std::optional<Located>& verify_node) {
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

void ConfigBuilder::read_headers(const Located& section,
                                 std::map<std::string, std::string>& headers) {
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
    if (reserved_header(lower)) {
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

// `forward_headers: [x-app-trace, ...]`: client header names a closed backend may receive.
void ConfigBuilder::read_forward_headers(const Located& v, std::vector<std::string>& out) {
  read_name_list(v, out, "expected a list of header names", "must not be empty", "header",
                 [&](const Located& item, std::string& name) {
                   if (!valid_header_name(name)) {
                     r_.error(item, "invalid header name '" + name + "'");
                     return false;
                   }
                   name = lowercase(name);
                   if (reserved_header(name) || name == "cookie" || name == "x-api-key" ||
                       name == "api-key" || name.starts_with("x-switchboard")) {
                     r_.error(item, "header '" + name +
                                        "' is never forwarded (hop-by-hop, a credential or "
                                        "managed by the gateway)");
                     return false;
                   }
                   return true;
                 });
}

void ConfigBuilder::read_price(const Located& section, Price& p) {
  bool tokens_per_second_ok = true;
  bool ok = r_.read_map(
      section, {
                   {"input_per_mtok", kOptional, set_number(p.input_per_mtok)},
                   {"output_per_mtok", kOptional, set_number(p.output_per_mtok)},
                   {"cached_input_per_mtok", kOptional, set_number(p.cached_input_per_mtok)},
                   {"cache_write_per_mtok", kOptional, set_number(p.cache_write_per_mtok)},
                   {"gpu_hour_usd", kOptional, set_number(p.gpu_hour_usd)},
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

void ConfigBuilder::read_license(const Located& section, Backend& b) {
  r_.read_map(section,
              {
                  {"name", kOptional,
                   [&](const Located& v) { assign(b.license_name, r_.non_empty_string(v)); }},
                  {"commercial", kOptional, set_bool(b.license_commercial)},
              });
}

HealthCheck ConfigBuilder::read_health_check(const Located& section) {
  HealthCheck h;
  const auto threshold = [this](unsigned& target) {
    return [this, &target](const Located& v) {
      assign(target, r_.integer(v, 1, 100, "expected an integer from 1 to 100"));
    };
  };
  r_.read_map(section, {
                           {"interval", kOptional, set_duration(h.interval, false)},
                           {"timeout", kOptional, set_duration(h.timeout, false)},
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
                           {"unhealthy_threshold", kOptional, threshold(h.unhealthy_threshold)},
                           {"healthy_threshold", kOptional, threshold(h.healthy_threshold)},
                       });
  return h;
}

void ConfigBuilder::read_circuit_breaker(const Located& section, CircuitBreaker& c) {
  r_.read_map(section,
              {
                  {"consecutive_failures", kOptional,
                   [&](const Located& v) {
                     assign(c.consecutive_failures,
                            r_.integer(v, 0, 1000, "expected an integer from 0 (off) to 1000"));
                   }},
                  {"error_rate", kOptional,
                   [&](const Located& v) { assign(c.error_rate, r_.fraction(v, false)); }},
                  {"min_requests", kOptional,
                   [&](const Located& v) {
                     assign(c.min_requests,
                            r_.integer(v, 1, 1'000'000, "expected a positive integer"));
                   }},
                  {"window", kOptional, set_duration(c.window, false)},
                  {"open_for", kOptional, set_duration(c.open_for, false)},
                  {"max_open_for", kOptional, set_duration(c.max_open_for, false)},
              });
  if (c.max_open_for < c.open_for) {
    r_.error(section, "max_open_for must not be shorter than open_for");
  }
}

void ConfigBuilder::read_retries(const Located& section) {
  RetrySettings& r = config_.retries;
  r_.read_map(section, {
                           {"attempts", kOptional,
                            [&](const Located& v) {
                              assign(r.attempts,
                                     r_.integer(v, 1, 10, "expected an integer from 1 to 10"));
                            }},
                           {"backoff", kOptional, set_duration(r.backoff, true)},
                           {"max_backoff", kOptional, set_duration(r.max_backoff, true)},
                           {"max_retry_after", kOptional, set_duration(r.max_retry_after, true)},
                       });
}

// `load:` on a self-hosted backend: where its engine's metrics are and when it has headroom.
void ConfigBuilder::read_load_settings(const Located& section, LoadSettings& l) {
  l.declared = true;
  r_.read_map(section,
              {
                  {"metrics", kOptional,
                   [&](const Located& v) {
                     assign(l.metrics, r_.one_of(v, "metrics", load_metrics_names()));
                   }},
                  {"path", kOptional,
                   [&](const Located& v) {
                     std::optional<std::string> p = r_.non_empty_string(v);
                     if (p && (p->front() != '/' || !std::all_of(p->begin(), p->end(), [](char c) {
                                 return c > ' ' && c < 0x7f && c != '?' && c != '#';
                               }))) {
                       r_.error(v, "expected an absolute path like /metrics");
                       return;
                     }
                     assign(l.path, std::move(p));
                   }},
                  {"interval", kOptional, set_duration(l.interval, false)},
                  {"timeout", kOptional, set_duration(l.timeout, false)},
                  {"stale_after", kOptional, set_duration(l.stale_after, false)},
                  {"on_stale", kOptional,
                   [&](const Located& v) {
                     if (std::optional<std::string> o = r_.one_of(v, "on_stale", kOnStale)) {
                       l.on_stale = *o == "full"   ? OnStale::full
                                    : *o == "idle" ? OnStale::idle
                                                   : OnStale::in_flight;
                     }
                   }},
                  {"headroom", kOptional, [&](const Located& v) { read_headroom(v, l); }},
              });
}

// `headroom: {queue, kv_cache, in_flight}`.
void ConfigBuilder::read_headroom(const Located& section, LoadSettings& l) {
  r_.read_map(section,
              {
                  {"queue", kOptional,
                   [&](const Located& v) {
                     constexpr std::string_view kExpected = "expected a number greater than zero";
                     std::optional<double> q = r_.number(v, kExpected);
                     if (q && !(*q > 0)) {
                       r_.error(v, std::string(kExpected));
                       return;
                     }
                     assign(l.headroom_queue, std::move(q));
                   }},
                  {"kv_cache", kOptional,
                   [&](const Located& v) { assign(l.headroom_kv_cache, r_.fraction(v, false)); }},
                  {"in_flight", kOptional,
                   [&](const Located& v) { assign(l.headroom_in_flight, r_.fraction(v, false)); }},
              });
}

// `affinity: none` or `affinity: {prefix_tokens, max_load_factor}`.
void ConfigBuilder::read_affinity(const Located& v, Affinity& a) {
  if (v.node.IsScalar()) {
    std::optional<std::string> s = r_.string(v);
    if (s && *s == "none") {
      a.enabled = false;
    } else if (s) {
      r_.error(v, "expected none or {prefix_tokens, max_load_factor}");
    }
    return;
  }
  r_.read_map(v, {
                     {"prefix_tokens", kOptional,
                      [&](const Located& x) {
                        assign(
                            a.prefix_tokens,
                            r_.integer(x, 1, 1'000'000, "expected an integer from 1 to 1000000"));
                      }},
                     {"max_load_factor", kOptional,
                      [&](const Located& x) {
                        constexpr std::string_view kExpected = "expected a number of at least 1";
                        std::optional<double> f = r_.number(x, kExpected);
                        if (f && !(*f >= 1)) {
                          r_.error(x, std::string(kExpected));
                          return;
                        }
                        assign(a.max_load_factor, std::move(f));
                      }},
                 });
}

}  // namespace sb::config::detail
