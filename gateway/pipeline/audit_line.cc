// The audit trail's decision and attempt line bodies (schema: gateway/audit/trail.h).

#include "gateway/pipeline/audit_line.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "gateway/observability/json_line.h"
#include "gateway/observability/log.h"

namespace sb::gateway::audit_line {
namespace {

using policies::StateRecorder;

// Keys are this file's literals (plain ASCII): written as they are, not escaped.
void key(log::JsonLine& out, std::string_view k) {
  char* p = out.tail(k.size() + 4);
  p[0] = ',';
  p[1] = '"';
  std::memcpy(p + 2, k.data(), k.size());
  p[k.size() + 2] = '"';
  p[k.size() + 3] = ':';
  out.commit(p + k.size() + 4);
}

void str(log::JsonLine& out, std::string_view k, std::string_view v) {
  key(out, k);
  log::append_json_string(out, v);
}

void num(log::JsonLine& out, std::string_view k, std::uint64_t v) {
  key(out, k);
  log::append_integer(out, v);
}

void inum(log::JsonLine& out, std::string_view k, std::int64_t v) {
  key(out, k);
  log::append_integer(out, v);
}

void boolean(log::JsonLine& out, std::string_view k, bool v) {
  key(out, k);
  out += v ? "true" : "false";
}

// A finite double as the shortest text that reads back the same (JSON has no NaN or infinity).
void real(log::JsonLine& out, double v) {
  if (!std::isfinite(v)) {
    v = 0;
  }
  char buf[32];
  // Whole numbers (counts, ages, -1 for "not exported") as integers: the same text the shortest
  // form gives, for a fraction of its cost.
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (v > -kExact && v < kExact && v == static_cast<double>(static_cast<std::int64_t>(v)) &&
      !(v == 0 && std::signbit(v))) {
    const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
    out.append(buf, r.ptr);
    return;
  }
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string_view level_or_null(const config::Scale& levels, int level) {
  return level >= 0 && static_cast<std::size_t>(level) < levels.names.size()
             ? std::string_view(levels.names[static_cast<std::size_t>(level)])
             : std::string_view();
}

void level(log::JsonLine& out, std::string_view k, const config::Scale& levels, int l) {
  key(out, k);
  const std::string_view name = level_or_null(levels, l);
  if (name.empty()) {
    out += "null";
  } else {
    log::append_json_string(out, name);
  }
}

void why(log::JsonLine& out, const policies::Engine& engine, const policies::Decision& d,
         const policies::RequestFacts& facts) {
  const config::Config& c = engine.config();
  key(out, "why");
  out.push_back('{');
  out += "\"detected\":";
  const std::string_view detected = level_or_null(c.sensitivity.levels, d.detection.level);
  if (detected.empty()) {
    out += "null";
  } else {
    log::append_json_string(out, detected);
  }
  key(out, "entities");
  out.push_back('{');
  bool first = true;
  for (const policies::EntityCount& e : d.detection.entities) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    log::append_json_string(out, engine.detector().entity_names()[e.entity]);
    out.push_back(':');
    log::append_integer(out, e.count);
  }
  out.push_back('}');
  level(out, "floor", c.sensitivity.levels, d.floor_level);
  str(out, "classification", facts.classification_header);
  key(out, "unscannable");
  out.push_back('[');
  const std::vector<std::string>& kinds = config::unscannable_kind_names();
  first = true;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if ((d.unscannable & (1u << i)) != 0) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      log::append_json_string(out, kinds[i]);
    }
  }
  out.push_back(']');
  num(out, "unscannable_bits", facts.unscannable);
  str(out, "tier_header", facts.tier_header);
  key(out, "tier_source");
  switch (d.tier_source) {
    case policies::TierSource::header:
      out += "\"header\"";
      break;
    case policies::TierSource::alias:
      out += "\"alias\"";
      break;
    case policies::TierSource::inferred:
      out += "\"infer[" + std::to_string(d.tier_rule) + "]\"";
      break;
    case policies::TierSource::default_tier:
      out += "\"default\"";
      break;
  }
  out.push_back('}');
}

void features(log::JsonLine& out, const policies::RequestFacts& f) {
  key(out, "features");
  out += "{\"prompt_tokens\":";
  log::append_integer(out, f.estimated_prompt_tokens);
  key(out, "max_tokens");
  log::append_integer_or_null(out, f.max_tokens);
  if (f.choices > 1) {
    num(out, "choices", f.choices);  // absent: one answer
  }
  boolean(out, "tools", f.tools);
  boolean(out, "images", f.images);
  boolean(out, "json_schema", f.json_schema);
  num(out, "depth", f.depth);
  str(out, "reasoning_effort", f.reasoning_effort);
  key(out, "headers");
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : f.headers) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    log::append_json_string(out, name);
    out.push_back(':');
    log::append_json_string(out, value.substr(0, 256));
  }
  out += "}}";
}

// The reads of one kind as a map, {"name":value,...}: backends by name, budgets by period.
void reads_of(log::JsonLine& out, StateRecorder::Read::Kind kind,
              std::span<const StateRecorder::Read> reads, const config::Config& c) {
  out.push_back('{');
  bool first = true;
  for (const StateRecorder::Read& r : reads) {
    if (r.kind != kind) {
      continue;
    }
    if (!first) {
      out.push_back(',');
    }
    first = false;
    if (kind == StateRecorder::Read::Kind::budget) {
      const auto period = static_cast<config::BudgetPeriod>(r.index);
      out += period == config::BudgetPeriod::daily     ? "\"day\""
             : period == config::BudgetPeriod::monthly ? "\"month\""
                                                       : "\"any\"";
    } else {
      log::append_json_string(out, c.backends[r.index].name);
    }
    out.push_back(':');
    if (kind == StateRecorder::Read::Kind::in_flight) {
      // A count: no float formatting.
      log::append_integer(out, static_cast<std::int64_t>(r.value));
    } else {
      real(out, r.value);
    }
  }
  out.push_back('}');
}

// The engine load read per backend (StateRecorder writes a backend's load_* reads together,
// source first): "load":{"name":{"source":"engine","waiting":3,...},...}; absent when none.
void load_reads(log::JsonLine& out, std::span<const StateRecorder::Read> reads,
                const config::Config& c) {
  using Kind = StateRecorder::Read::Kind;
  // Each member's key with its separators, appended in one go.
  static constexpr std::string_view kKeys[] = {
      ",\"source\":", ",\"waiting\":",   ",\"running\":", ",\"kv_cache\":",     ",\"ttft_p50\":",
      ",\"age_ms\":", ",\"endpoints\":", ",\"fresh\":",   ",\"with_headroom\":"};
  bool any = false;
  for (const StateRecorder::Read& r : reads) {
    if (r.kind < policies::kFirstLoadKind || r.kind > policies::kLastLoadKind) {
      continue;
    }
    const auto member =
        static_cast<std::size_t>(r.kind) - static_cast<std::size_t>(policies::kFirstLoadKind);
    if (r.kind == Kind::load_source) {
      out += any ? "}," : ",\"load\":{";
      any = true;
      log::append_json_string(out, c.backends[r.index].name);
      out += ":{\"source\":";
      log::append_json_string(
          out, policies::to_string(static_cast<policies::LoadSource>(static_cast<int>(r.value))));
      continue;
    }
    out += kKeys[member];
    real(out, r.value);
  }
  if (any) {
    out += "}}";
  }
}

void state(log::JsonLine& out, std::span<const StateRecorder::Read> reads,
           const config::Config& c) {
  using Kind = StateRecorder::Read::Kind;
  key(out, "state");
  out += "{\"in_flight\":";
  reads_of(out, Kind::in_flight, reads, c);
  key(out, "rpm");
  reads_of(out, Kind::rpm, reads, c);
  key(out, "tpm");
  reads_of(out, Kind::tpm, reads, c);
  key(out, "budget");
  reads_of(out, Kind::budget, reads, c);
  for (const StateRecorder::Read& r : reads) {
    if (r.kind == Kind::exhausted) {
      boolean(out, "exhausted", r.value != 0);
    }
  }
  load_reads(out, reads, c);
  out.push_back('}');
}

void header(log::JsonLine& out, std::string_view type, std::string_view request_id,
            std::string_view config_hash) {
  out += "{\"v\":1,\"type\":";
  log::append_json_string(out, type);
  out += ",\"ts\":";
  log::append_timestamp(out);
  str(out, "config", config_hash);
  str(out, "request_id", request_id);
}

}  // namespace

std::string decision(const policies::Engine& engine, const policies::Decision& d,
                     const DecisionFacts& f) {
  const config::Config& c = engine.config();
  const policies::RequestFacts& facts = *f.facts;
  log::JsonLine out;
  header(out, "decision", f.request_id, f.config_hash);
  str(out, "endpoint", f.endpoint);
  str(out, "tenant", facts.tenant < c.tenants.size() ? c.tenants[facts.tenant].name : "");
  str(out, "model", f.model.substr(0, 256));
  str(out, "outcome", policies::to_string(d.outcome));
  str(out, "rule", d.rule);
  str(out, "sensitivity", c.sensitivity.levels.names[static_cast<std::size_t>(d.sensitivity)]);
  str(out, "tier", c.tiers.levels.names[static_cast<std::size_t>(d.tier)]);
  why(out, engine, d, facts);
  features(out, facts);
  state(out, f.reads, c);
  key(out, "backends");
  out.push_back('[');
  for (std::size_t i = 0; i < d.backends.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    log::append_json_string(out, c.backends[d.backends[i]].name);
  }
  out.push_back(']');
  num(out, "estimated_tokens", d.estimated_tokens);
  inum(out, "estimated_cost_nanos", d.estimated_cost);
  return out.str(2);  // close_line's "}\n" without a reallocation
}

std::string attempt(const policies::Engine& engine, const AttemptFacts& f) {
  const config::Backend& b = engine.config().backends[f.backend];
  log::JsonLine out;
  header(out, "attempt", f.request_id, f.config_hash);
  str(out, "tenant", f.tenant);
  str(out, "model", f.model.substr(0, 256));
  str(out, "sensitivity", f.sensitivity);
  num(out, "n", f.n);
  str(out, "backend", b.name);
  str(out, "hosting", config::to_string(b.hosting));
  str(out, "provider", config::to_string(b.provider));
  num(out, "status", f.status);
  str(out, "result", f.result);
  boolean(out, "stream", f.stream);
  key(out, "upstream_ms");
  real(out, std::round(f.upstream_ms * 1000) / 1000);
  key(out, "usage");
  if (f.usage == nullptr) {
    out += "null";
  } else {
    const adapters::Usage& u = *f.usage;
    out += "{\"input\":" + std::to_string(u.input) + ",\"output\":" + std::to_string(u.output) +
           ",\"cached\":" + std::to_string(u.cached_input) +
           ",\"cache_write\":" + std::to_string(u.cache_write) +
           ",\"reasoning\":" + std::to_string(u.reasoning) + "}";
  }
  boolean(out, "usage_estimated", f.usage_estimated);
  inum(out, "cost_nanos", f.cost_nanos);
  return out.str(2);
}

}  // namespace sb::gateway::audit_line
