// Cost of one routing decision (policies/engine.h): 50 rules where only the last one matches, a
// small chat request, live state from MemoryState (atomics, clock reads). With and without
// sensitivity detection, and with the explain trace.
//
//   ./build/tests/bench/engine_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policies/config.h"
#include "policies/engine.h"
#include "policies/state.h"

namespace {

using namespace sb;
using policies::Decision;
using policies::Engine;
using policies::RequestFacts;

/// Three backends, two tenants and 49 rules that each fail on a different kind of condition
/// before the catch-all routes by cheapest price.
std::shared_ptr<const config::Config> fifty_rules() {
  auto c = std::make_shared<config::Config>();
  for (const std::string& name : config::builtin_entities()) {
    const bool secret = name != "email" && name != "phone" && name != "ip_address";
    c->sensitivity.entities.push_back(
        config::EntityLevel{name, secret ? 3 : (name == "ip_address" ? 1 : 2)});
  }
  const auto backend = [&](std::string name, config::Hosting hosting, std::string tier,
                           std::string clearance, unsigned max_in_flight) -> config::Backend& {
    config::Backend b;
    b.name = std::move(name);
    b.hosting = hosting;
    b.tier = std::move(tier);
    b.clearance = std::move(clearance);
    b.max_in_flight = max_in_flight;
    c->backends.push_back(std::move(b));
    return c->backends.back();
  };
  config::Backend& local =
      backend("local", config::Hosting::self_hosted, "standard", "restricted", 64);
  local.price.gpu_hour_usd = 2.10;
  local.price.tokens_per_second = 1800;
  config::Backend& mini = backend("mini", config::Hosting::closed, "standard", "internal", 0);
  mini.price.input_per_mtok = 0.15;
  mini.price.output_per_mtok = 0.60;
  config::Backend& big = backend("big", config::Hosting::closed, "frontier", "internal", 0);
  big.price.input_per_mtok = 2.50;
  big.price.output_per_mtok = 10.0;
  c->models.push_back(config::ModelAlias{"default", {"local", "mini", "big"}, ""});
  c->models.push_back(config::ModelAlias{"frontier", {"big"}, "frontier"});

  config::Tenant acme;
  acme.name = "acme";
  acme.budget.monthly_usd = 1000;
  acme.rate.rpm = 1'000'000;
  c->tenants.push_back(acme);
  config::Tenant other;
  other.name = "other";
  c->tenants.push_back(other);
  c->policy_headers = {"x-team"};

  for (int i = 0; i < 49; ++i) {
    config::Policy p;
    p.name = "rule-" + std::to_string(i);
    config::When& w = p.when;
    switch (i % 8) {
      case 0:
        w.sensitivity = config::LevelRange{3, -1};
        break;
      case 1:
        w.tier = config::LevelRange{2, 2};
        break;
      case 2:
        w.tenants = {"other"};
        break;
      case 3:
        w.models = {"frontier"};
        break;
      case 4:
        w.volume = config::VolumeCondition{"local", 0.9, std::nullopt, std::nullopt};
        break;
      case 5:
        w.budget = config::BudgetCondition{0.95, config::BudgetPeriod::any};
        break;
      case 6:
        w.features.tools = true;
        w.features.prompt_tokens_above = 8'000;
        break;
      case 7:
        w.headers["x-team"] = {"ml", "search"};
        break;
    }
    p.route.to = {i % 2 == 0 ? "local" : "big"};
    c->policies.push_back(std::move(p));
  }
  config::Policy last;
  last.name = "default";
  last.route.to = {"big", "mini", "local"};
  last.route.strategy = config::Strategy::cheapest;
  c->policies.push_back(std::move(last));
  return c;
}

struct Fixture {
  std::unique_ptr<const Engine> engine;
  std::unique_ptr<policies::MemoryState> state;

  Fixture() {
    auto config = fifty_rules();
    std::string error;
    engine = Engine::build(config, error);
    if (engine == nullptr) {
      std::fprintf(stderr, "engine does not build: %s\n", error.c_str());
      std::abort();
    }
    state = std::make_unique<policies::MemoryState>(*config);
    state->add_in_flight(0, 12);
    state->record_backend(0, 900);
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

constexpr std::string_view kSystem = "You are a helpful assistant.";
constexpr std::string_view kUser =
    "Can you summarize the following paragraph in two sentences? The quarterly planning meeting "
    "covered hiring, the office move and the roadmap for the next two releases.";

void decide(benchmark::State& s, bool detect, bool explain) {
  const Fixture& f = fixture();
  const std::vector<std::string_view> texts = {kSystem, kUser};
  const std::pair<std::string_view, std::string_view> headers[] = {{"x-team", "finance"}};
  RequestFacts facts;
  facts.tenant = 0;
  facts.model = "default";
  if (detect) {
    facts.texts = texts;
  }
  facts.headers = headers;
  facts.estimated_prompt_tokens = 60;
  facts.max_tokens = 256;
  facts.depth = 2;
  for (auto _ : s) {
    Decision d = f.engine->decide(facts, *f.state, explain);
    if (d.rule != "default" || d.backends.size() != 3) {
      s.SkipWithError("unexpected decision");
      break;
    }
    benchmark::DoNotOptimize(d);
  }
}

void BM_DecideFiftyRulesWithDetection(benchmark::State& s) {
  decide(s, true, false);
}
void BM_DecideFiftyRulesWithoutDetection(benchmark::State& s) {
  decide(s, false, false);
}
void BM_DecideFiftyRulesWithExplainTrace(benchmark::State& s) {
  decide(s, true, true);
}

}  // namespace

BENCHMARK(BM_DecideFiftyRulesWithDetection);
BENCHMARK(BM_DecideFiftyRulesWithoutDetection);
BENCHMARK(BM_DecideFiftyRulesWithExplainTrace);
