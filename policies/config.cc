#include "policies/config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include <yaml-cpp/yaml.h>

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
constexpr std::array<std::string_view, 3> kTiers{"small", "standard", "frontier"};
constexpr std::array<std::string_view, 4> kClearances{"public", "internal", "confidential",
                                                      "restricted"};
constexpr std::array<std::string_view, 2> kStores{"memory", "redis"};

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

template <class T, class U>
void assign(T& target, std::optional<U>&& value) {
  if (value) {
    target = static_cast<T>(*value);
  }
}

// ---------------------------------------------------------------------------------------------
// The schema. Each section is one table of fields read by `YamlReader::read_map`; a new section
// is one more row in `read()` and one more `read_*` function.

class ConfigBuilder {
 public:
  explicit ConfigBuilder(YamlReader& reader) : r_(reader) {}

  void read(const Located& root) {
    r_.read_map(root, {
                          {"server", kOptional, [&](const Located& v) { read_server(v); }},
                          {"admin", kOptional, [&](const Located& v) { read_admin(v); }},
                          {"state", kOptional, [&](const Located& v) { read_state(v); }},
                          {"backends", kRequired, [&](const Located& v) { read_backends(v); }},
                          {"models", kOptional, [&](const Located& v) { read_models(v); }},
                      });
    resolve_models();
  }

  Config take() { return std::move(config_); }

 private:
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
    r_.read_map(
        section,
        {
            {"listen", kOptional, [&](const Located& v) { assign(s.listen, listen(v)); }},
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
            {"tls", kOptional, [&](const Located& v) { read_listener_tls(v); }},
        });
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
    r_.read_map(section, {
                             {"listen", kOptional,
                              [&](const Located& v) { assign(config_.admin.listen, listen(v)); }},
                         });
  }

  void read_state(const Located& section) {
    StateSettings& s = config_.state;
    std::optional<Located> url;
    bool url_ok = true;
    bool ok = r_.read_map(
        section, {
                     {"store", kOptional,
                      [&](const Located& v) { assign(s.store, r_.one_of(v, "store", kStores)); }},
                     {"url", kOptional,
                      [&](const Located& v) {
                        url = v;
                        std::optional<std::string> text = r_.string(v);
                        url_ok = text.has_value();
                        assign(s.url, std::move(text));
                      }},
                 });
    if (!ok || !url_ok || s.store != "redis") {
      return;
    }
    if (s.url.empty()) {
      r_.error(url ? *url : section, "a url is required when store is 'redis'");
    } else if (!s.url.starts_with("redis://") && !s.url.starts_with("rediss://")) {
      r_.error(*url, "expected a redis:// or rediss:// URL, got '" + s.url + "'");
    }
  }

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
    r_.read_map(
        section,
        {
            {"provider", kRequired,
             [&](const Located& v) {
               if (std::optional<std::string> p = r_.one_of(v, "provider", kProviderNames)) {
                 auto info = std::find_if(kProviders.begin(), kProviders.end(),
                                          [&](const ProviderInfo& i) { return i.name == *p; });
                 b.provider = info->provider;
               }
             }},
            {"hosting", kOptional,
             [&](const Located& v) {
               if (std::optional<std::string> h = r_.one_of(v, "hosting", kHostings)) {
                 hosting = *h == "closed" ? Hosting::closed : Hosting::self_hosted;
               }
             }},
            {"base_url", kRequired, [&](const Located& v) { assign(b.base_url, base_url(v)); }},
            {"model", kRequired,
             [&](const Located& v) { assign(b.model, r_.non_empty_string(v)); }},
            {"api_key", kOptional, [&](const Located& v) { assign(b.api_key, r_.string(v)); }},
            {"tier", kOptional,
             [&](const Located& v) { assign(b.tier, r_.one_of(v, "tier", kTiers)); }},
            {"clearance", kOptional,
             [&](const Located& v) {
               assign(b.clearance, r_.one_of(v, "clearance", kClearances));
             }},
            {"max_in_flight", kOptional,
             [&](const Located& v) {
               assign(b.max_in_flight,
                      r_.integer(v, 0, UINT_MAX, "expected a non-negative integer"));
             }},
            {"timeouts", kOptional, [&](const Located& v) { read_timeouts(v, b.timeouts); }},
            {"tls", kOptional, [&](const Located& v) { read_upstream_tls(v, b); }},
            {"headers", kOptional, [&](const Located& v) { read_headers(v, b.headers); }},
            {"price", kOptional, [&](const Located& v) { read_price(v, b.price); }},
        });
    b.hosting = hosting.value_or(provider_info(b.provider).hosting);
    return b;
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

  void read_upstream_tls(const Located& section, Backend& b) {
    r_.read_map(section, {
                             {"ca_file", kOptional,
                              [&](const Located& v) { assign(b.ca_file, r_.readable_file(v)); }},
                             {"verify", kOptional,
                              [&](const Located& v) { assign(b.tls_verify, r_.boolean(v)); }},
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
               [&](const Located& v) { assign(alias.tier, r_.one_of(v, "tier", kTiers)); }},
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
        config_.models.push_back(ModelAlias{b.name, {b.name}, ""});
      }
    }
  }

  YamlReader& r_;
  Config config_;
  std::set<std::string, std::less<>> backend_names_;  // every declared name, valid or not
  std::vector<std::pair<Located, std::string>> candidate_refs_;
  bool models_given_ = false;
};

std::pair<int, int> position(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) {
    return {0, 0};
  }
  return {mark.line + 1, mark.column + 1};
}

LoadResult load(std::string_view yaml, const std::string& file, std::string base_dir,
                const EnvLookup& env) {
  LoadResult result;
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
