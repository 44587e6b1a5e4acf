// `telemetry:`: OpenTelemetry traces (OTLP/HTTP protobuf): where they go, the sampling ratio, the
// export queue and batches, collector headers and resource attributes. The standard OTEL_*
// environment variables fill what the YAML leaves out.
#include <array>
#include <cmath>
#include <string>

#include "policies/config/builder.h"
#include "policies/url.h"

namespace sb::config::detail {

// Where each key of `telemetry.traces` is.
struct ConfigBuilder::TraceNodes {
  std::optional<Located> traces, endpoint, service_name, sample_ratio, propagate_to_closed, queue,
      batch, interval, timeout, headers, resource;
};

namespace {

constexpr std::string_view kTracesPath = "/v1/traces";
constexpr std::uint64_t kMaxQueue = 1'000'000;
constexpr Duration kMaxInterval{60'000};
constexpr Duration kMaxTimeout{60'000};
// Headers the exporter writes itself, or that belong to one hop.
constexpr std::array<std::string_view, 10> kManagedHeaders{
    "connection", "keep-alive", "proxy-connection", "te",          "trailer", "transfer-encoding",
    "upgrade",    "host",       "content-length",   "content-type"};

bool env_true(const EnvLookup& env, const std::string& name) {
  std::optional<std::string> v = env(name);
  return v && lowercase(*v) == "true";
}

std::string trim(std::string_view s) {
  const std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    return {};
  }
  const std::size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Problems of an OTLP endpoint URL, or nullopt; `full` leaves the path as it is.
std::optional<std::string> endpoint_problem(std::string_view url) {
  static constexpr std::array<std::string_view, 2> kSchemes{"http", "https"};
  Parsed<Url> p = parse_url(url, kSchemes, false);
  if (!p.value) {
    switch (p.problem) {
      case UrlProblem::scheme:
        return "expected an http:// URL (OTLP/HTTP)";
      case UrlProblem::query:
        return "must not have a query or fragment";
      case UrlProblem::userinfo:
        return "must not hold credentials (use headers:)";
      default:
        return "not a valid URL";
    }
  }
  if (lowercase(p.value->scheme) == "https") {
    return "https is not supported yet: export to a collector over http (on loopback or a "
           "sidecar)";
  }
  return std::nullopt;
}

// A base endpoint with `/v1/traces` appended, unless it already ends with it.
std::string traces_url(std::string base) {
  if (base.ends_with(kTracesPath)) {
    return base;
  }
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + std::string(kTracesPath);
}

}  // namespace

// `telemetry: {traces: {...}}` (all keys optional). Read even without the section: the
// environment alone may turn tracing on.
void ConfigBuilder::read_telemetry(const std::optional<Located>& section) {
  TraceNodes n;
  if (section) {
    const Kept top[] = {{"traces", &n.traces}};
    if (!read_kept(*section, top)) {
      return;
    }
  }
  if (n.traces) {
    const Kept keys[] = {
        {"endpoint", &n.endpoint},
        {"service_name", &n.service_name},
        {"sample_ratio", &n.sample_ratio},
        {"propagate_to_closed", &n.propagate_to_closed},
        {"queue", &n.queue},
        {"batch", &n.batch},
        {"interval", &n.interval},
        {"timeout", &n.timeout},
        {"headers", &n.headers},
        {"resource", &n.resource},
    };
    if (!read_kept(*n.traces, keys)) {
      return;
    }
  }
  TraceSettings& t = config_.telemetry.traces;
  read_traces(n, t);
  read_trace_env(n, t);
  read_trace_endpoint(n, t);
  t.enabled = !t.endpoint.empty() && !env_true(r_.env(), "OTEL_SDK_DISABLED");
}

void ConfigBuilder::read_traces(const TraceNodes& n, TraceSettings& t) {
  if (n.service_name) {
    assign(t.service_name, r_.non_empty_string(*n.service_name));
  }
  if (n.sample_ratio) {
    std::optional<double> d = r_.number(*n.sample_ratio, "expected a number from 0 to 1");
    if (d && (*d < 0 || *d > 1)) {
      r_.error(*n.sample_ratio, "expected a number from 0 to 1");
    } else {
      assign(t.sample_ratio, std::move(d));
    }
  }
  if (n.propagate_to_closed) {
    assign(t.propagate_to_closed, r_.boolean(*n.propagate_to_closed));
  }
  if (n.queue) {
    assign(t.queue, r_.integer(*n.queue, 1, kMaxQueue, "expected an integer from 1 to 1000000"));
  }
  if (n.batch) {
    std::optional<std::uint64_t> b =
        r_.integer(*n.batch, 1, kMaxQueue, "expected an integer from 1 to 1000000");
    if (b && *b > t.queue) {
      r_.error(*n.batch, "must not be more than queue (" + std::to_string(t.queue) + ")");
    } else {
      assign(t.batch, std::move(b));
    }
  } else {
    t.batch = std::min(t.batch, t.queue);
  }
  if (n.interval) {
    assign(t.interval, r_.duration_at_most(*n.interval, kMaxInterval, "must be at most 60s"));
  }
  if (n.timeout) {
    assign(t.timeout, r_.duration_at_most(*n.timeout, kMaxTimeout, "must be at most 60s"));
  }
  if (n.headers) {
    read_trace_headers(*n.headers, t.headers);
  }
}

// The OTEL_* variables for what the YAML did not set. A variable that cannot be used is a notice
// (the OpenTelemetry spec asks SDKs to ignore invalid values), not an error.
void ConfigBuilder::read_trace_env(const TraceNodes& n, TraceSettings& t) {
  const EnvLookup& env = r_.env();
  if (!n.service_name) {
    if (std::optional<std::string> v = env("OTEL_SERVICE_NAME"); v && !v->empty()) {
      t.service_name = *v;
    }
  }
  if (!n.sample_ratio) {
    if (std::optional<std::string> v = env("OTEL_TRACES_SAMPLER_ARG"); v && !v->empty()) {
      char* end = nullptr;
      const double d = std::strtod(v->c_str(), &end);
      if (end != v->c_str() + v->size() || !std::isfinite(d) || d < 0 || d > 1) {
        config_.notices.push_back("telemetry: OTEL_TRACES_SAMPLER_ARG '" + *v +
                                  "' ignored: expected a number from 0 to 1");
      } else {
        t.sample_ratio = d;
      }
    }
  }
  if (std::optional<std::string> v = env("OTEL_RESOURCE_ATTRIBUTES"); v && !v->empty()) {
    std::string_view rest = *v;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      const std::size_t eq = item.find('=');
      std::optional<std::string> key, value;
      if (eq != std::string_view::npos) {
        key = percent_decode(trim(item.substr(0, eq)));
        value = percent_decode(trim(item.substr(eq + 1)));
      }
      if (!key || !value || key->empty()) {
        config_.notices.push_back("telemetry: OTEL_RESOURCE_ATTRIBUTES entry '" +
                                  std::string(item) + "' ignored: expected key=value");
        continue;
      }
      if (*key != "service.name") {
        t.resource[*key] = *value;
      } else if (!n.service_name && !env("OTEL_SERVICE_NAME")) {
        t.service_name = *value;
      }
    }
  }
  if (n.resource) {
    read_trace_resource(*n.resource, t.resource);  // the YAML wins over the environment
  }
}

// `endpoint:`, else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), else OTEL_EXPORTER_OTLP_ENDPOINT.
void ConfigBuilder::read_trace_endpoint(const TraceNodes& n, TraceSettings& t) {
  if (n.endpoint) {
    std::optional<std::string> url = r_.non_empty_string(*n.endpoint);
    if (!url) {
      return;
    }
    if (std::optional<std::string> problem = endpoint_problem(*url)) {
      r_.error(*n.endpoint, *problem);
      return;
    }
    t.endpoint = traces_url(std::move(*url));
    return;
  }
  const EnvLookup& env = r_.env();
  for (const char* name : {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}) {
    std::optional<std::string> url = env(name);
    if (!url || url->empty()) {
      continue;
    }
    if (std::optional<std::string> problem = endpoint_problem(*url)) {
      // The environment is often set for every process of a platform (an https collector for
      // SDKs that speak it): one the gateway cannot use turns tracing off, it does not stop it.
      config_.notices.push_back("telemetry: " + std::string(name) + " '" + *url +
                                "' ignored (tracing off): " + *problem);
      return;
    }
    const bool as_is = std::string_view(name) == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    t.endpoint = as_is ? std::move(*url) : traces_url(std::move(*url));
    return;
  }
}

// `headers: {name: value}`: sent with every export request (a collector's credentials).
void ConfigBuilder::read_trace_headers(const Located& v, std::map<std::string, std::string>& out) {
  std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(v);
  if (!entries) {
    return;
  }
  std::set<std::string> seen;
  for (const YamlReader::Entry& e : *entries) {
    const std::string lower = lowercase(e.key);
    if (!valid_header_name(e.key)) {
      r_.error(e.key_node, "invalid header name '" + e.key + "'");
    } else if (std::find(kManagedHeaders.begin(), kManagedHeaders.end(), lower) !=
               kManagedHeaders.end()) {
      r_.error(e.key_node, "header '" + e.key +
                               "' cannot be set (hop-by-hop or set by the "
                               "exporter)");
    } else if (!seen.insert(lower).second) {
      r_.error(e.key_node, "duplicate header '" + e.key + "'");
    } else if (std::optional<std::string> value = r_.string(e.value)) {
      if (!valid_header_value(*value)) {
        r_.error(e.value, "header value must not contain control characters");
      } else {
        out[e.key] = std::move(*value);
      }
    }
  }
}

// `resource: {key: value}`: string resource attributes. service.name is `service_name:`'s.
void ConfigBuilder::read_trace_resource(const Located& v, std::map<std::string, std::string>& out) {
  std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(v);
  if (!entries) {
    return;
  }
  for (const YamlReader::Entry& e : *entries) {
    if (e.key.empty()) {
      r_.error(e.key_node, "attribute name must not be empty");
    } else if (e.key == "service.name") {
      r_.error(e.key_node, "set service.name with telemetry.traces.service_name");
    } else if (e.value.node.IsScalar()) {
      assign(out[e.key], r_.string(e.value));
    } else {
      r_.error(e.value, "expected a scalar value");
    }
  }
}

}  // namespace sb::config::detail
