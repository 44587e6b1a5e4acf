// `backends:`: one mapping per backend; the provider table (policies/providers.h) decides its
// default hosting and which provider-specific keys it accepts or requires.
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <string>

#include "policies/config/builder.h"
#include "policies/providers.h"
#include "policies/url.h"

namespace sb::config::detail {
namespace {

constexpr std::array<std::string_view, 2> kHostings{"self-hosted", "closed"};
constexpr std::string_view kBaseUrlSchemes[] = {"http", "https"};
constexpr std::uint64_t kMaxWeight = 1'000'000;
constexpr std::uint64_t kMaxOutputTokens = 10'000'000;

// What is wrong with a base URL, worded for `base_url`.
std::string base_url_problem(const Parsed<Url>& parsed, std::string_view url) {
  const std::string part(parsed.part);
  switch (parsed.problem) {
    case UrlProblem::scheme:
      return "expected an http:// or https:// URL, got '" + std::string(url) + "'";
    case UrlProblem::userinfo:
      return "URL must not contain credentials (use api_key or headers)";
    case UrlProblem::ipv6_unterminated:
    case UrlProblem::ipv6_trailing:
    case UrlProblem::ipv6_invalid: {
      std::string_view rest = url.substr(url.find("://") + 3);
      return "URL has an invalid host '" + std::string(rest.substr(0, rest.find('/'))) + "'";
    }
    case UrlProblem::host_invalid:
      return "URL has an invalid host '" + part + "'";
    case UrlProblem::host_colons:
    case UrlProblem::port_invalid:
      return "URL has an invalid port '" + part + "'";
    default:
      return std::string(common_url_problem(parsed.problem));
  }
}

// http(s)://host[:port][/path] with the scheme lower-cased and no trailing slash.
std::optional<std::string> normalize_base_url(std::string_view url, std::string& problem) {
  const Parsed<Url> parsed = parse_url(url, kBaseUrlSchemes, false);
  if (!parsed.value) {
    problem = base_url_problem(parsed, url);
    return std::nullopt;
  }
  std::string_view path = parsed.value->path;
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  return lowercase(parsed.value->scheme) + "://" + std::string(parsed.value->authority) +
         std::string(path);
}

}  // namespace

// Where a backend's keys are, for the checks that need several of them.
struct ConfigBuilder::BackendNodes {
  std::optional<Hosting> hosting;
  std::optional<Located> hosting_node, base_url, verify, tier, clearance, api_key_file, api_version,
      aws, organization, project, api, endpoints, load, affinity;
  bool provider_known = false;
};

void ConfigBuilder::read_backends(const Located& section) {
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

Backend ConfigBuilder::read_backend(const std::string& name, const Located& section) {
  Backend b;
  b.name = name;
  BackendNodes n;
  mark(section.path, section);
  std::vector<YamlReader::Field> fields = backend_fields(b, n);
  std::vector<YamlReader::Field> options = backend_option_fields(b, n);
  fields.insert(fields.end(), std::make_move_iterator(options.begin()),
                std::make_move_iterator(options.end()));
  bool ok = r_.read_map(section, fields);
  if (ok && !n.base_url && !n.endpoints) {
    r_.error(section, "missing required key 'base_url'");
    ok = false;
  }
  b.hosting = n.hosting.value_or(provider_info(b.provider).hosting);
  b.max_output_tokens_declared = b.max_output_tokens != 0;
  if (b.max_output_tokens == 0) {
    b.max_output_tokens = default_max_output_tokens(b.provider, b.model);
  }
  if (!ok) {
    return b;
  }
  resolve_backend_level(section, n.tier, Kind::tier, b.tier, b.tier_level);
  resolve_backend_level(section, n.clearance, Kind::level, b.clearance, b.clearance_level);
  if (n.api_key_file) {
    read_api_key_file(*n.api_key_file, b);
  }
  // Which provider-specific keys are allowed or required depends on the provider; with an
  // unknown provider (already reported) nothing more can be said.
  if (n.provider_known) {
    check_provider_keys(section, n, b);
    read_pool_keys(n, b);
  }
  return b;
}

// `endpoints`, `load` and `affinity`: a self-hosted pool and how its engines' load is read.
// base_url alone is a pool of one.
void ConfigBuilder::read_pool_keys(const BackendNodes& n, Backend& b) {
  b.load.metrics =
      b.hosting == Hosting::closed ? "none" : std::string(default_load_metrics(b.provider));
  const auto self_hosted_only = [&](const std::optional<Located>& v) {
    if (v && b.hosting == Hosting::closed) {
      r_.error(*v, "only for self-hosted backends");
      return false;
    }
    return v.has_value();
  };
  if (self_hosted_only(n.endpoints)) {
    if (n.base_url) {
      r_.error(*n.endpoints, "only one of base_url and endpoints may be set");
    } else {
      read_endpoints(*n.endpoints, b);
    }
  } else if (!b.base_url.empty()) {
    b.endpoints.push_back(b.base_url);
  }
  if (self_hosted_only(n.load)) {
    read_load_settings(*n.load, b.load);
  }
  if (self_hosted_only(n.affinity)) {
    read_affinity(*n.affinity, b.affinity);
  }
}

// `endpoints: [url, ...]`: at most kMaxEndpoints, each checked like base_url, no repeats.
void ConfigBuilder::read_endpoints(const Located& v, Backend& b) {
  std::optional<std::vector<Located>> items = r_.non_empty_sequence(v, "expected a list of URLs");
  if (!items) {
    return;
  }
  if (items->size() > kMaxEndpoints) {
    r_.error(v, "at most " + std::to_string(kMaxEndpoints) + " endpoints (found " +
                    std::to_string(items->size()) + ")");
    return;
  }
  for (const Located& item : *items) {
    std::optional<std::string> url = base_url(item);
    if (!url) {
      continue;
    }
    if (std::find(b.endpoints.begin(), b.endpoints.end(), *url) != b.endpoints.end()) {
      r_.error(item, "duplicate endpoint '" + *url + "'");
      continue;
    }
    b.endpoints.push_back(std::move(*url));
  }
  if (!b.endpoints.empty()) {
    b.base_url = b.endpoints.front();
  }
}

// What the backend is and how it is reached: provider, address, model, credentials, place in the
// scales (the first keys of the table, in the order `unknown key` messages list them).
std::vector<YamlReader::Field> ConfigBuilder::backend_fields(Backend& b, BackendNodes& n) {
  return {
      {"provider", kRequired,
       [&](const Located& v) {
         std::vector<std::string_view> names;
         for (const ProviderInfo& info : providers()) {
           names.push_back(info.name);
         }
         if (std::optional<std::string> p = r_.one_of(v, "provider", names)) {
           b.provider = find_provider(*p)->provider;
           n.provider_known = true;
         }
       }},
      {"hosting", kOptional,
       [&](const Located& v) {
         n.hosting_node = v;
         if (std::optional<std::string> h = r_.one_of(v, "hosting", kHostings)) {
           n.hosting = *h == "closed" ? Hosting::closed : Hosting::self_hosted;
         }
       }},
      // One of base_url and endpoints is required (checked in read_backend).
      {"base_url", kOptional,
       [&](const Located& v) {
         n.base_url = v;
         mark(v.path, v);
         assign(b.base_url, base_url(v));
       }},
      {"endpoints", kOptional,
       [&](const Located& v) {
         n.endpoints = v;
         mark(v.path, v);
       }},
      {"model", kRequired, [&](const Located& v) { assign(b.model, r_.non_empty_string(v)); }},
      {"api_key", kOptional, [&](const Located& v) { assign_secret(b.api_key, r_.string(v)); }},
      {"api_key_file", kOptional, keep(n.api_key_file)},
      {"api_version", kOptional, keep(n.api_version)},
      {"aws", kOptional, keep(n.aws)},
      {"tier", kOptional, keep(n.tier)},
      {"clearance", kOptional, keep(n.clearance)},
  };
}

// The rest of the backend's keys, in table order.
std::vector<YamlReader::Field> ConfigBuilder::backend_option_fields(Backend& b, BackendNodes& n) {
  return {
      {"max_in_flight", kOptional,
       [&](const Located& v) {
         assign(b.max_in_flight, r_.integer(v, 0, UINT_MAX, "expected a non-negative integer"));
       }},
      {"max_output_tokens", kOptional,
       [&](const Located& v) {
         assign(b.max_output_tokens,
                r_.integer(v, 1, kMaxOutputTokens,
                           "expected an integer from 1 to " + std::to_string(kMaxOutputTokens)));
       }},
      {"timeouts", kOptional, [&](const Located& v) { read_timeouts(v, b.timeouts); }},
      {"tls", kOptional,
       [&](const Located& v) {
         mark(v.path, v);
         read_upstream_tls(v, b, n.verify);
       }},
      {"allow_insecure", kOptional, set_bool(b.allow_insecure)},
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
      {"organization", kOptional, keep(n.organization)},
      {"project", kOptional, keep(n.project)},
      {"api", kOptional, keep(n.api)},
      {"health_check", kOptional, [&](const Located& v) { b.health_check = read_health_check(v); }},
      {"circuit_breaker", kOptional,
       [&](const Located& v) { read_circuit_breaker(v, b.circuit_breaker); }},
      {"load", kOptional, keep(n.load)},
      {"affinity", kOptional, keep(n.affinity)},
  };
}

// The provider-specific keys, as the provider table allows or requires them.
void ConfigBuilder::check_provider_keys(const Located& section, const BackendNodes& n, Backend& b) {
  read_api_version(section, n.api_version, b);
  read_aws(section, n.aws, b);
  read_openai_ids(n.organization, n.project, b);
  read_wire_api(n.api, b);
  check_closed_provider(n, b);
}

// A provider-specific key that is given: false (after an error) when the provider does not take
// it.
bool ConfigBuilder::provider_key_allowed(const std::optional<Located>& v, unsigned key,
                                         const Backend& b) {
  if ((provider_info(b.provider).allowed_keys & key) != 0) {
    return true;
  }
  r_.error(*v, providers_accepting(static_cast<ProviderKey>(key)));
  return false;
}

// Whether a provider-specific key is given; a missing required one is reported at the backend.
bool ConfigBuilder::provider_key_present(const Located& section, const std::optional<Located>& v,
                                         unsigned key, const Backend& b) {
  if (v) {
    return true;
  }
  if ((provider_info(b.provider).required_keys & key) != 0) {
    const std::string_view name = key == kKeyAws ? "aws" : "api_version";
    r_.error(section.line, section.column, join_path(section.path, name),
             "required for provider " + std::string(to_string(b.provider)));
  }
  return false;
}

// Closed provider APIs take the operator's key and the prompts off the network: they are
// reached over verified TLS unless the backend says `allow_insecure: true` (stand-ins in labs
// and tests), and never count as self-hosted, which would let them past `egress: none` and
// any rule meant for self-hosted backends.
void ConfigBuilder::check_closed_provider(const BackendNodes& n, const Backend& b) {
  if (provider_info(b.provider).hosting != Hosting::closed) {
    return;
  }
  const std::string provider(to_string(b.provider));
  if (n.hosting_node && b.hosting == Hosting::self_hosted) {
    r_.error(*n.hosting_node, "provider " + provider +
                                  " is a closed API and cannot be self-hosted (it would escape "
                                  "egress: none)");
  }
  if (b.allow_insecure) {
    return;
  }
  if (n.base_url && b.base_url.starts_with("http://")) {
    r_.error(*n.base_url, "plain http:// to closed provider " + provider +
                              " sends its key and the prompts unencrypted (use https://, or "
                              "allow_insecure: true for labs and tests)");
  }
  if (n.verify && !b.tls_verify) {
    r_.error(*n.verify, "verify: false for closed provider " + provider +
                            " needs allow_insecure: true (labs and tests only)");
  }
}

// `api_key_file`: the key is read now, so a missing or unreadable secret fails the load (and a
// reload keeps the running config) instead of failing every request later.
void ConfigBuilder::read_api_key_file(const Located& v, Backend& b) {
  const SecretFile kind{"key",
                        b.api_key.empty() ? "" : "only one of api_key and api_key_file may be set"};
  read_secret_file(
      v, kind,
      [&](const std::string& key) {
        // The key becomes a header value: a stray line break would split the request.
        if (!valid_header_value(key)) {
          r_.error(v, "key file must hold the key on one line (control characters found)");
          return false;
        }
        return true;
      },
      b.api_key, b.api_key_file);
}

void ConfigBuilder::read_api_version(const Located& section, const std::optional<Located>& v,
                                     Backend& b) {
  if (!provider_key_present(section, v, kKeyApiVersion, b) ||
      !provider_key_allowed(v, kKeyApiVersion, b)) {
    return;
  }
  std::optional<std::string> version = r_.non_empty_string(*v);
  if (!version) {
    return;
  }
  // Sent in a query string (Azure) or a header (Anthropic): no character needs escaping.
  bool valid = std::all_of(version->begin(), version->end(),
                           [](char c) { return is_alnum(c) || c == '.' || c == '-' || c == '_'; });
  if (!valid) {
    r_.error(*v, "expected a version like 2024-10-21 (letters, digits, '.', '-' and '_')");
    return;
  }
  b.api_version = std::move(*version);
}

void ConfigBuilder::read_aws(const Located& section, const std::optional<Located>& v, Backend& b) {
  if (!provider_key_present(section, v, kKeyAws, b) || !provider_key_allowed(v, kKeyAws, b)) {
    return;
  }
  r_.read_map(
      *v,
      {
          {"region", kRequired, [&](const Located& x) { assign(b.aws_region, aws_region(x)); }},
          {"access_key_id", kRequired,
           [&](const Located& x) { assign(b.aws_access_key_id, aws_secret(x, true)); }},
          {"secret_access_key", kRequired,
           [&](const Located& x) { assign_secret(b.aws_secret_access_key, aws_secret(x, true)); }},
          {"session_token", kOptional,
           [&](const Located& x) { assign_secret(b.aws_session_token, aws_secret(x, false)); }},
      });
}

// It names the host and the SigV4 credential scope.
std::optional<std::string> ConfigBuilder::aws_region(const Located& v) {
  std::optional<std::string> region = r_.non_empty_string(v);
  if (!region) {
    return std::nullopt;
  }
  bool valid = std::all_of(region->begin(), region->end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!valid) {
    r_.error(v, "expected an AWS region like us-east-1 (a-z, 0-9 and '-')");
    return std::nullopt;
  }
  return region;
}

// An AWS credential: the key id and the token travel in headers, so none may hold control
// characters.
std::optional<std::string> ConfigBuilder::aws_secret(const Located& v, bool required) {
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
void ConfigBuilder::resolve_backend_level(const Located& section,
                                          const std::optional<Located>& value, Kind k,
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
    r_.error(section.line, section.column, join_path(section.path, level ? "clearance" : "tier"),
             std::string("required when ") + (level ? "sensitivity.levels" : "tiers.levels") +
                 " is customised");
  }
}

std::optional<std::string> ConfigBuilder::base_url(const Located& v) {
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

// OpenAI's organization and project headers (https://platform.openai.com/docs/api-reference/
// authentication): ids like org-... and proj_..., sent as header values.
void ConfigBuilder::read_openai_ids(const std::optional<Located>& organization,
                                    const std::optional<Located>& project, Backend& b) {
  auto read = [&](const std::optional<Located>& v, std::string& out) {
    if (!v) {
      return;
    }
    if (!provider_key_allowed(v, kKeyOpenAiIds, b)) {
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

void ConfigBuilder::read_wire_api(const std::optional<Located>& v, Backend& b) {
  if (!v || !provider_key_allowed(v, kKeyWireApi, b)) {
    return;
  }
  static constexpr std::array<std::string_view, 2> kApis = {"openai", "native"};
  if (std::optional<std::string> a = r_.one_of(*v, "api", kApis)) {
    b.api = *a == "native" ? WireApi::native : WireApi::openai;
  }
}

}  // namespace sb::config::detail
