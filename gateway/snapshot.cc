#include "gateway/snapshot.h"

#include <chrono>

#include <boost/asio/ssl/context.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace sb::gateway {
namespace {

void resolve_route_stats(metrics::Registry& reg, RouteStats& out, const std::string& model,
                         const std::string& backend, const std::string& hosting) {
  for (std::size_t i = 0; i <= kTrackedStatuses.size(); ++i) {
    const std::string status =
        i < kTrackedStatuses.size() ? std::to_string(kTrackedStatuses[i]) : "other";
    out.requests[i] = &reg.counter(
        "switchboard_requests_total", "Requests answered, by model alias, backend and status.",
        {{"model", model}, {"backend", backend}, {"hosting", hosting}, {"status", status}});
  }
  out.duration = &reg.histogram(
      "switchboard_request_duration_seconds", "Time from request received to last byte sent.",
      {{"model", model}, {"backend", backend}}, metrics::latency_buckets());
  out.ttft = &reg.histogram("switchboard_time_to_first_token_seconds",
                            "Time from request received to the first content byte sent.",
                            {{"model", model}, {"backend", backend}}, metrics::latency_buckets());
}

}  // namespace

std::size_t status_slot(unsigned status) {
  for (std::size_t i = 0; i < kTrackedStatuses.size(); ++i) {
    if (kTrackedStatuses[i] == status) {
      return i;
    }
  }
  return kTrackedStatuses.size();
}

std::shared_ptr<BackendState> SharedState::backend_state(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = backends_[name];
  if (!slot) {
    slot = std::make_shared<BackendState>();
    slot->in_flight_gauge = &registry_.gauge(
        "switchboard_backend_in_flight", "Requests in flight to a backend.", {{"backend", name}});
  }
  return slot;
}

std::shared_ptr<const Snapshot> Snapshot::build(config::Config cfg, SharedState& shared,
                                                std::vector<std::string>& errors) {
  auto snap = std::shared_ptr<Snapshot>(new Snapshot());
  metrics::Registry& reg = shared.registry();
  std::map<std::string, const BackendRuntime*, std::less<>> by_name;

  for (const config::Backend& b : cfg.backends) {
    auto rt = std::make_unique<BackendRuntime>();
    rt->spec = b;
    auto ep = upstream::Endpoint::parse(b.base_url);
    if (!ep) {
      errors.push_back("backends." + b.name + ".base_url: invalid URL '" + b.base_url + "'");
      continue;
    }
    rt->endpoint = *ep;
    if (ep->tls) {
      std::string err;
      rt->tls = upstream::make_client_tls_context(b.ca_file, b.tls_verify, err);
      if (!rt->tls) {
        errors.push_back("backends." + b.name + ".tls: " + err);
        continue;
      }
    }
    rt->timeouts.connect = b.timeouts.connect;
    rt->timeouts.first_byte = b.timeouts.first_token;
    rt->timeouts.idle = b.timeouts.idle;
    rt->timeouts.total = b.timeouts.total;
    if (!b.api_key.empty()) {
      rt->authorization = "Bearer " + b.api_key;
    }
    rt->state = shared.backend_state(b.name);
    const std::string hosting{config::to_string(b.hosting)};
    auto tokens = [&](const char* direction) {
      return &reg.counter("switchboard_tokens_total",
                          "Tokens processed, from the upstream's reported usage.",
                          {{"backend", b.name}, {"direction", direction}});
    };
    rt->tokens_input = tokens("input");
    rt->tokens_output = tokens("output");
    rt->tokens_cached = tokens("cached_input");
    rt->tokens_reasoning = tokens("reasoning");
    for (int k = 1; k <= static_cast<int>(upstream::ErrorKind::too_large); ++k) {
      const auto kind = static_cast<upstream::ErrorKind>(k);
      rt->upstream_errors[static_cast<std::size_t>(k)] = &reg.counter(
          "switchboard_upstream_errors_total", "Failed upstream exchanges, by backend and kind.",
          {{"backend", b.name}, {"kind", std::string(upstream::to_string(kind))}});
    }
    rt->upstream_http_5xx = &reg.counter("switchboard_upstream_errors_total",
                                         "Failed upstream exchanges, by backend and kind.",
                                         {{"backend", b.name}, {"kind", "http_5xx"}});
    by_name.emplace(b.name, rt.get());
    snap->backends_.push_back(std::move(rt));
  }
  if (!errors.empty()) {
    return nullptr;
  }

  boost::json::array data;
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  for (const config::ModelAlias& m : cfg.models) {
    auto alias = std::make_unique<AliasRuntime>();
    alias->name = m.name;
    for (const std::string& c : m.candidates) {
      const auto it = by_name.find(c);
      if (it == by_name.end()) {
        errors.push_back("models." + m.name + ": unknown backend '" + c + "'");
        continue;
      }
      alias->candidates.push_back(it->second);
      RouteStats stats;
      resolve_route_stats(reg, stats, m.name, c,
                          std::string(config::to_string(it->second->spec.hosting)));
      alias->stats.push_back(stats);
    }
    resolve_route_stats(reg, alias->no_backend, m.name, "none", "none");
    boost::json::object entry;
    entry["id"] = m.name;
    entry["object"] = "model";
    entry["created"] = created;
    entry["owned_by"] = "switchboard";
    data.push_back(std::move(entry));
    snap->alias_index_.emplace(alias->name, alias.get());
    snap->aliases_.push_back(std::move(alias));
  }
  if (!errors.empty()) {
    return nullptr;
  }
  boost::json::object models;
  models["object"] = "list";
  models["data"] = std::move(data);
  snap->models_body_ = boost::json::serialize(models);

  snap->stats_.overhead = &reg.histogram(
      "switchboard_overhead_seconds",
      "Time spent inside the gateway per request, upstream and client I/O waits excluded.", {},
      metrics::overhead_buckets());
  resolve_route_stats(reg, snap->stats_.unrouted, "none", "none", "none");
  snap->config_ = std::move(cfg);
  // Backend specs were copied before config_ moved; nothing points into cfg.
  return snap;
}

const AliasRuntime* Snapshot::find_alias(std::string_view name) const {
  const auto it = alias_index_.find(name);
  return it == alias_index_.end() ? nullptr : it->second;
}

}  // namespace sb::gateway
