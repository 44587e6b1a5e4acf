// Re-deciding recorded decisions under a new Engine and comparing the answers.

#include "gateway/audit/replay.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <unordered_map>

namespace sb::gateway::replay {

namespace {

using policies::Nanos;

constexpr std::size_t kExamples = 5;

/// Names of the new config resolved to indexes once.
struct Names {
  explicit Names(const policies::Engine& engine) {
    const config::Config& c = engine.config();
    for (std::size_t i = 0; i < c.backends.size(); ++i) {
      backends.emplace(c.backends[i].name, i);
    }
    for (std::size_t i = 0; i < c.tenants.size(); ++i) {
      tenants.emplace(c.tenants[i].name, i);
    }
    if (c.tenants.empty()) {
      tenants.emplace("default", 0);  // the engine's implicit tenant
    }
    const auto& entity_names = engine.detector().entity_names();
    for (std::size_t i = 0; i < entity_names.size(); ++i) {
      entities.emplace(entity_names[i], static_cast<std::uint16_t>(i));
    }
  }
  std::unordered_map<std::string_view, std::size_t> backends;
  std::unordered_map<std::string_view, std::size_t> tenants;
  std::unordered_map<std::string_view, std::uint16_t> entities;
};

std::string refusal(std::string_view outcome) {
  std::string out(1, '(');  // not "(" + string: GCC 12 warns falsely (-Wrestrict) on that
  out.append(outcome).push_back(')');
  return out;
}

bool refused(std::string_view destination) {
  return destination.starts_with("(");
}

/// Where a request with this backend list went, or would go: the first backend not known to have
/// failed for this request (a backend that failed when the request was made is taken to fail
/// again), else the first one.
template <class Name>
std::string destination(const std::vector<std::string>& failed, std::size_t n, const Name& name) {
  for (std::size_t i = 0; i < n; ++i) {
    if (std::find(failed.begin(), failed.end(), name(i)) == failed.end()) {
      return std::string(name(i));
    }
  }
  return std::string(name(0));
}

std::string old_destination(const Record& r) {
  if (!r.served.empty()) {
    return r.served;
  }
  if (r.backends.empty()) {
    return refusal(r.outcome.empty() ? "unknown" : r.outcome);
  }
  return destination(r.failed, r.backends.size(),
                     [&](std::size_t i) -> std::string_view { return r.backends[i]; });
}

/// Reusable per-record inputs of decide(), so that the loop allocates little.
struct Inputs {
  std::vector<policies::EntityCount> detected;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  policies::RecordedState state;
  policies::RequestFacts facts;
};

void build_inputs(const Record& r, const Names& names, Report& report, Inputs& in) {
  in.detected.clear();
  for (const auto& [name, count] : r.entities) {
    auto it = names.entities.find(name);
    if (it == names.entities.end()) {
      ++report.unknown_entities[name];
    } else {
      in.detected.push_back(policies::EntityCount{it->second, count});
    }
  }
  in.headers.clear();
  for (const auto& [k, v] : r.headers) {
    in.headers.emplace_back(k, v);
  }
  in.state.clear();
  for (const StateFact& f : r.state) {
    using Kind = policies::StateRead::Kind;
    std::size_t index = 0;
    if (f.kind == Kind::budget) {
      index = static_cast<std::size_t>(f.period);
    } else if (f.kind != Kind::exhausted) {
      auto it = names.backends.find(f.backend);
      if (it == names.backends.end()) {
        ++report.unknown_backends[f.backend];
        continue;
      }
      index = it->second;
    }
    in.state.set(policies::StateRead{f.kind, index, f.value});
  }
  policies::RequestFacts& facts = in.facts;
  facts = policies::RequestFacts{};
  auto tenant = names.tenants.find(r.tenant);
  facts.tenant =
      tenant != names.tenants.end() ? tenant->second : std::numeric_limits<std::size_t>::max();
  report.unknown_tenants += tenant == names.tenants.end() ? 1 : 0;
  facts.model = r.model;
  facts.classification_header = r.classification;
  facts.tier_header = r.tier_header;
  facts.estimated_prompt_tokens = r.prompt_tokens;
  facts.max_tokens = r.max_tokens;
  facts.choices = r.choices;
  facts.tools = r.tools;
  facts.images = r.images;
  facts.json_schema = r.json_schema;
  facts.unscannable = r.unscannable_bits;
  facts.depth = r.depth;
  facts.reasoning_effort = r.reasoning_effort;
  facts.headers = in.headers;
  facts.detected = &in.detected;
}

/// FNV-1a: a seed per request id that is the same in every build.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h = (h ^ c) * 0x100000001b3ull;
  }
  return h;
}

void add(Counts& c, const Counts& one) {
  c.decisions += one.decisions;
  c.unchanged += one.unchanged;
  c.moved += one.moved;
  c.newly_refused += one.newly_refused;
  c.newly_allowed += one.newly_allowed;
  c.old_cost += one.old_cost;
  c.new_cost += one.new_cost;
}

void example(std::vector<std::string>& list, const std::string& id) {
  if (list.size() < kExamples) {
    list.push_back(id);
  }
}

/// The clearance invariant on every backend of the new decision.
void check_clearance(const policies::Engine& engine, const Record& r, const policies::Decision& d,
                     std::size_t tenant, Report& report) {
  for (std::size_t b : d.backends) {
    if (!engine.cleared(b, d.sensitivity, tenant)) {
      const auto& levels = engine.config().sensitivity.levels.names;
      report.breaks.push_back(ClearanceBreak{
          r.request_id, engine.config().backends[b].name,
          d.sensitivity >= 0 && static_cast<std::size_t>(d.sensitivity) < levels.size()
              ? levels[d.sensitivity]
              : "?",
          r.tenant});
    }
  }
}

/// One record: decide, compare, count.
void replay_one(const policies::Engine& engine, const Names& names, const Record& r,
                std::uint64_t seed, Inputs& in, Report& report) {
  build_inputs(r, names, report, in);
  policies::Engine::seed_random(seed ^ fnv1a(r.request_id));
  const policies::Decision d = engine.decide(in.facts, in.state, false);
  report.unrecorded_reads += in.state.unknown_reads() > 0 ? 1 : 0;
  check_clearance(engine, r, d, in.facts.tenant, report);

  const std::string before = old_destination(r);
  const auto& backends = engine.config().backends;
  const std::string after =
      d.backends.empty()
          ? refusal(policies::to_string(d.outcome))
          : destination(r.failed, d.backends.size(), [&](std::size_t i) -> std::string_view {
              return backends[d.backends[i]].name;
            });
  ++report.moves[{before, after}];

  Counts one;
  one.decisions = 1;
  if (before == after) {
    one.unchanged = 1;
  } else if (refused(after) && !refused(before)) {
    one.newly_refused = 1;
    ++report.newly_refused[after.substr(1, after.size() - 2)];
    example(report.examples_refused, r.request_id);
  } else if (refused(before) && !refused(after)) {
    one.newly_allowed = 1;
    ++report.newly_allowed[after];
    example(report.examples_allowed, r.request_id);
  } else {
    one.moved = 1;
    example(report.examples_moved, r.request_id);
  }
  if (r.usage) {
    const Usage& u = *r.usage;
    ++report.with_usage;
    one.old_cost = r.cost;
    if (!refused(after)) {
      one.new_cost =
          engine.cost(names.backends.at(after), u.input, u.output, u.cached, u.cache_write);
    }
    if (auto ref = engine.reference_cost(u.input, u.output, u.cached, u.cache_write)) {
      report.reference_cost += *ref;
    }
  }
  add(report.total, one);
  add(report.tenants[r.tenant], one);
  add(report.rules[d.rule.empty() ? std::string("(none)") : std::string(d.rule)], one);
}

}  // namespace

Report replay(const policies::Engine& engine, const std::vector<Record>& records,
              std::uint64_t seed) {
  Report report;
  report.seed = seed;
  const Names names(engine);
  if (engine.reference_cost(1'000'000, 1'000'000)) {
    const config::Config& c = engine.config();
    report.reference = c.cost.savings_reference;
    if (report.reference->empty()) {
      // The first closed backend with prices (CostSettings::savings_reference).
      for (std::size_t b = 0; b < c.backends.size(); ++b) {
        const auto p = engine.prices(b);
        if (c.backends[b].hosting == config::Hosting::closed && (p.input > 0 || p.output > 0)) {
          report.reference = c.backends[b].name;
          break;
        }
      }
    }
  }
  Inputs in;
  const auto start = std::chrono::steady_clock::now();
  for (const Record& r : records) {
    replay_one(engine, names, r, seed, in, report);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace sb::gateway::replay
