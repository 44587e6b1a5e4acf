// The clearance invariant under random configs, requests and state: whatever the rules say, no
// Decision ever lists a backend whose clearance is below the request's sensitivity, that a
// research-only license keeps from a commercial tenant, or that `egress: none` turns off; random
// engine load (none, stale, fresh with any figures), in-flight counts and `spill` rules included.
//
// The configs are generated directly as config::Config values, including ones the loader would
// reject (out-of-scale ranges, empty routes), because the engine must hold the line on its own.
// Set SB_PROPERTY_SEED to replay a run; every failure prints the seed and the case number.
//
// The second property runs through the gateway's facts (adapters/chat_facts.h and
// gateway/pipeline/request_facts.h): random request bodies of every endpoint's shape carry a
// sensitive value at a random JSON position (under a random key at a random depth, in an array, as
// a key, inside a JSON string with \u escapes) or in a random client header, and no decision ever
// lists a backend that is not cleared for it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "gateway/net/forwarding.h"
#include "gateway/pipeline/request_facts.h"
#include "policies/engine.h"
#include "tests/policies/config_builder.h"
#include "tests/policies/fake_state.h"

namespace sb::policies {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kDefaultSeed = 0x5EED'2025'0314ull;
constexpr int kConfigs = 2'000;
constexpr int kRequestsPerConfig = 25;
constexpr int kSensitivityVariants = 6;

// Texts with and without detectable values.
const std::vector<std::string> kCorpus = {
    "Please summarize the meeting notes.",
    "Contact alice@contoso.com about the invoice.",
    "Card on file: 4111 1111 1111 1111.",
    "The SSN is 078-05-1120, do not share.",
    "Translate 'good morning' to French.",
    "Reach bob.smith@fabrikam.org or carol@contoso.net.",
    "Pay with 5500 0000 0000 0004 and email dave@contoso.com.",
    "IBAN GB82 WEST 1234 5698 7654 32",
    "key AKIAIOSFODNN7EXAMPLE",
    "Nothing to see here, 1234 5678.",
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(uniform(0, static_cast<int>(v.size()) - 1))];
  }

  /// A random non-empty subset of `names`, in random order.
  std::vector<std::string> subset(const std::vector<std::string>& names, int max_size) {
    std::vector<std::string> all = names;
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(static_cast<std::size_t>(uniform(1, std::min<int>(max_size, all.size()))));
    return all;
  }

  config::LevelRange range(int levels) {
    // Occasionally out of scale: the engine must not trust the loader for safety.
    config::LevelRange r;
    if (chance(0.6)) {
      r.at_least = uniform(0, levels);
    }
    if (chance(0.4)) {
      r.at_most = uniform(0, levels);
    }
    return r;
  }

  config::FeatureCondition features() {
    config::FeatureCondition f;
    if (chance(0.3)) {
      f.tools = chance(0.5);
    }
    if (chance(0.2)) {
      f.images = chance(0.5);
    }
    if (chance(0.2)) {
      f.json_schema = chance(0.5);
    }
    if (chance(0.2)) {
      f.prompt_tokens_above = static_cast<std::uint64_t>(uniform(0, 4'000));
    }
    if (chance(0.2)) {
      f.depth_above = static_cast<std::uint64_t>(uniform(0, 10));
    }
    if (chance(0.1)) {
      f.reasoning_effort = {"high"};
    }
    return f;
  }

  /// A sensitivity scale of 2 to 6 levels with random (or disabled) entity levels.
  config::SensitivitySettings sensitivity() {
    config::SensitivitySettings s = testing::ConfigBuilder().config().sensitivity;
    const int levels = uniform(2, 6);
    s.levels.names.clear();
    for (int i = 0; i < levels; ++i) {
      s.levels.names.push_back("level" + std::to_string(i));
    }
    for (config::EntityLevel& e : s.entities) {
      e.level = chance(0.15) ? -1 : uniform(0, levels - 1);
    }
    return s;
  }

  config::Config make_config(const config::SensitivitySettings& sensitivity) {
    testing::ConfigBuilder b;
    config::Config& c = b.config();
    c.sensitivity = sensitivity;
    const int levels = static_cast<int>(sensitivity.levels.names.size());
    const int tiers = uniform(1, 4);
    c.tiers.levels.names.clear();
    for (int i = 0; i < tiers; ++i) {
      c.tiers.levels.names.push_back("tier" + std::to_string(i));
    }
    c.tiers.default_tier = uniform(0, tiers - 1);
    for (int i = uniform(0, 2); i > 0; --i) {
      c.tiers.infer.push_back(config::TierInference{uniform(0, tiers - 1), features()});
    }
    c.egress = chance(0.2) ? config::Egress::none : config::Egress::all;

    std::vector<std::string> backends;
    for (int i = uniform(1, 8); i > 0; --i) {
      const std::string name = "b" + std::to_string(backends.size());
      config::Backend& be =
          b.backend(name, chance(0.5) ? config::Hosting::closed : config::Hosting::self_hosted,
                    c.tiers.levels.names[uniform(0, tiers - 1)],
                    c.sensitivity.levels.names[uniform(0, levels - 1)],
                    chance(0.5) ? 0u : static_cast<unsigned>(uniform(1, 10)));
      be.license_commercial = chance(0.8);
      be.weight = static_cast<unsigned>(uniform(1, 5));
      be.price.input_per_mtok = chance(0.7) ? real(0, 20) : 0;
      be.price.output_per_mtok = chance(0.7) ? real(0, 60) : 0;
      be.price.cached_input_per_mtok = chance(0.3) ? real(0, 5) : 0;
      be.price.gpu_hour_usd = chance(0.6) ? real(0, 8) : 0;
      be.price.tokens_per_second = chance(0.8) ? real(100, 5'000) : 0;
      backends.push_back(name);
    }

    std::vector<std::string> models;
    for (int i = uniform(1, 4); i > 0; --i) {
      const std::string name = "m" + std::to_string(models.size());
      b.model(name, subset(backends, 4),
              chance(0.3) ? c.tiers.levels.names[uniform(0, tiers - 1)] : "");
      models.push_back(name);
    }

    std::vector<std::string> tenants;
    for (int i = uniform(0, 4); i > 0; --i) {
      const std::string name = "t" + std::to_string(tenants.size());
      config::Tenant& t = b.tenant(name, uniform(0, levels - 1));
      t.use = chance(0.3) ? config::TenantUse::research : config::TenantUse::commercial;
      if (chance(0.4)) {
        t.budget.monthly_usd = real(0, 100);
        t.budget.on_exhausted =
            chance(0.5) ? config::BudgetAction::self_hosted_only : config::BudgetAction::reject;
      }
      tenants.push_back(name);
    }

    const std::vector<config::Strategy> strategies = {
        config::Strategy::ordered,  config::Strategy::cheapest, config::Strategy::least_loaded,
        config::Strategy::weighted, config::Strategy::spill,    config::Strategy::spill};
    for (config::Backend& be : c.backends) {
      be.load.on_stale = static_cast<config::OnStale>(uniform(0, 2));
      be.load.headroom_in_flight = real(0.1, 1);
    }
    for (int i = uniform(0, 6); i > 0; --i) {
      config::Policy& p = b.rule("r" + std::to_string(c.policies.size()));
      config::When& w = p.when;
      if (chance(0.3)) {
        w.sensitivity = range(levels);
      }
      if (chance(0.2)) {
        w.tier = range(tiers);
      }
      if (!tenants.empty() && chance(0.15)) {
        w.tenants = subset(tenants, 2);
      }
      if (chance(0.15)) {
        w.models = subset(models, 2);
      }
      if (chance(0.15)) {
        config::VolumeCondition v;
        v.backend = pick(backends);
        v.in_flight_above = real(0, 1);
        if (chance(0.3)) {
          v.rpm_above = real(0, 100);
        }
        w.volume = v;
      }
      if (chance(0.15)) {
        config::LoadCondition l;
        l.backend = pick(backends);
        if (chance(0.6)) {
          l.queue_above = real(0, 20);
        }
        if (chance(0.5)) {
          l.kv_cache_above = real(0, 1);
        }
        if (chance(0.3) || (!l.queue_above && !l.kv_cache_above)) {
          l.ttft_p50_above = config::Duration(uniform(0, 3'000));
        }
        w.load = l;
      }
      if (chance(0.1)) {
        w.budget =
            config::BudgetCondition{real(0, 1), static_cast<config::BudgetPeriod>(uniform(0, 2))};
      }
      if (chance(0.2)) {
        w.features = features();
      }
      if (chance(0.1)) {
        w.headers["x-team"] = {"ml"};
      }
      if (chance(0.8)) {
        p.route.to = subset(backends, 5);  // else the alias's candidates
      }
      p.route.strategy = pick(strategies);
      p.route.on_unavailable =
          chance(0.3) ? config::OnUnavailable::reject : config::OnUnavailable::next_rule;
      p.route.allow_lower_tier = chance(0.3);
      p.route.shed = chance(0.05);
      p.route.queue.max = static_cast<unsigned>(uniform(0, 100));
    }
    return c;
  }

  /// A request against `c`, with the state it meets.
  void make_request(const config::Config& c, testing::Request& r, testing::FakeState& state) {
    r.facts.tenant = static_cast<std::size_t>(
        uniform(0, std::max<int>(1, static_cast<int>(c.tenants.size())) - 1));
    r.facts.model =
        chance(0.05) ? std::string_view("unknown") : std::string_view(pick(c.models).name);
    for (int i = uniform(0, 3); i > 0; --i) {
      r.text(pick(kCorpus));
    }
    if (chance(0.3)) {
      // Mostly valid level names (possibly lowering), sometimes junk.
      r.facts.classification_header = chance(0.9)
                                          ? std::string_view(pick(c.sensitivity.levels.names))
                                          : std::string_view("top-secret");
    }
    if (chance(0.2)) {
      r.facts.tier_header =
          chance(0.9) ? std::string_view(pick(c.tiers.levels.names)) : std::string_view("gigantic");
    }
    r.facts.estimated_prompt_tokens = static_cast<std::uint64_t>(uniform(0, 8'000));
    if (chance(0.5)) {
      r.facts.max_tokens = static_cast<std::uint64_t>(uniform(1, 4'000));
    }
    r.facts.tools = chance(0.3);
    r.facts.images = chance(0.1);
    r.facts.json_schema = chance(0.1);
    r.facts.depth = static_cast<std::uint64_t>(uniform(1, 20));
    r.facts.reasoning_effort = chance(0.2) ? "high" : "";
    if (chance(0.3)) {
      r.header("x-team", chance(0.5) ? "ml" : "finance");
    }
    for (std::size_t i = 0; i < c.backends.size(); ++i) {
      state.in_flight[i] = uniform(0, 12);
      state.rpm[i] = real(0, 200);
      state.tpm[i] = real(0, 100'000);
      state.load[i] = load_signals();
    }
    state.daily = real(0, 1.2);
    state.monthly = real(0, 1.2);
    state.exhausted = chance(0.3);
  }

  /// Random engine load: none, stale, or fresh with any figures (some not exported).
  LoadSignals load_signals() {
    LoadSignals s;
    s.source = static_cast<LoadSource>(uniform(0, 2));
    if (s.source == LoadSource::none) {
      return s;
    }
    s.endpoints = static_cast<unsigned>(uniform(1, 4));
    s.age_ms = uniform(0, 20'000);
    if (s.source == LoadSource::engine) {
      s.fresh = static_cast<unsigned>(uniform(1, static_cast<int>(s.endpoints)));
      s.with_headroom = static_cast<unsigned>(uniform(0, static_cast<int>(s.fresh)));
      s.waiting = real(0, 40);
      s.running = real(0, 200);
      s.kv_cache = chance(0.8) ? real(0, 1) : -1;
      s.ttft_p50 = chance(0.6) ? real(0, 5) : -1;
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

/// The invariant computed from the config alone, as the gateway's pre-send check would.
bool independently_cleared(const config::Config& c, std::size_t backend, int sensitivity,
                           std::size_t tenant) {
  const config::Backend& b = c.backends[backend];
  const auto& levels = c.sensitivity.levels.names;
  const int clearance =
      static_cast<int>(std::find(levels.begin(), levels.end(), b.clearance) - levels.begin());
  const bool commercial =
      tenant >= c.tenants.size() || c.tenants[tenant].use == config::TenantUse::commercial;
  return clearance >= sensitivity && !(commercial && !b.license_commercial) &&
         !(c.egress == config::Egress::none && b.hosting == config::Hosting::closed);
}

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("SB_PROPERTY_SEED")) {
    return std::strtoull(s, nullptr, 0);
  }
  return kDefaultSeed;
}

TEST(InvariantPropertyTest, NoDecisionEverListsAnUnclearedBackend) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with SB_PROPERTY_SEED)");
  Generator gen(seed);
  Engine::seed_random(seed);
  const std::uint64_t violations_before = Engine::invariant_violations();

  // Detector compilation is slow (Hyperscan) and not what is under test: the configs draw their
  // sensitivity settings from a pool compiled once.
  struct Variant {
    config::SensitivitySettings settings;
    std::shared_ptr<const Detector> detector;
  };
  std::vector<Variant> pool;
  for (int i = 0; i < kSensitivityVariants; ++i) {
    Variant v{gen.sensitivity(), nullptr};
    std::string error;
    v.detector = Detector::compile(v.settings, error);
    ASSERT_NE(v.detector, nullptr) << error;
    pool.push_back(std::move(v));
  }

  int routed = 0;
  int forbidden = 0;
  int unavailable = 0;

  for (int n = 0; n < kConfigs; ++n) {
    SCOPED_TRACE("config #" + std::to_string(n));
    const Variant& variant = gen.pick(pool);
    auto config = std::make_shared<const config::Config>(gen.make_config(variant.settings));
    std::string error;
    std::unique_ptr<const Engine> engine = Engine::build(config, variant.detector, error);
    ASSERT_NE(engine, nullptr) << error;
    const config::Config& c = *config;

    for (int k = 0; k < kRequestsPerConfig; ++k) {
      SCOPED_TRACE("request #" + std::to_string(k));
      testing::Request r(0, "");
      testing::FakeState state(c.backends.size());
      gen.make_request(c, r, state);
      const RequestFacts& facts = r.get();
      const Decision d = engine->decide(facts, state, k % 5 == 0);

      if (d.outcome == Outcome::bad_request || d.outcome == Outcome::unknown_model) {
        ASSERT_TRUE(d.backends.empty());
        continue;
      }
      // The sensitivity the invariant is checked against is itself right: at least the floor,
      // the header and every detected level.
      int expected = std::max(0, engine->detector().scan(facts.texts).level);
      if (facts.tenant < c.tenants.size()) {
        expected = std::max(expected, c.tenants[facts.tenant].floor);
      }
      if (!facts.classification_header.empty()) {
        const auto& names = c.sensitivity.levels.names;
        expected = std::max(expected, static_cast<int>(std::find(names.begin(), names.end(),
                                                                 facts.classification_header) -
                                                       names.begin()));
      }
      ASSERT_EQ(d.sensitivity, expected);

      for (std::size_t b : d.backends) {
        ASSERT_LT(b, c.backends.size());
        ASSERT_TRUE(engine->cleared(b, d.sensitivity, facts.tenant)) << c.backends[b].name;
        // The gateway re-checks before every send; it must agree.
        ASSERT_TRUE(independently_cleared(c, b, d.sensitivity, facts.tenant)) << c.backends[b].name;
      }
      // Under spill: a request that may wait is kept on self-hosted backends, a spilled one goes
      // to a closed backend first, and only self-hosted backends' load is read.
      if (d.wait != nullptr) {
        for (std::size_t b : d.backends) {
          ASSERT_EQ(c.backends[b].hosting, config::Hosting::self_hosted) << c.backends[b].name;
        }
      }
      if (d.spill != SpillReason::none && d.outcome == Outcome::route) {
        ASSERT_EQ(c.backends[d.backends.front()].hosting, config::Hosting::closed);
        ASSERT_EQ(c.backends[d.spill_from].hosting, config::Hosting::self_hosted);
      }
      for (const LoadSeen& seen : d.load) {
        ASSERT_EQ(c.backends[seen.backend].hosting, config::Hosting::self_hosted);
      }
      bool any_cleared = false;
      for (std::size_t b = 0; b < c.backends.size(); ++b) {
        const bool cleared = independently_cleared(c, b, d.sensitivity, facts.tenant);
        ASSERT_EQ(engine->cleared(b, d.sensitivity, facts.tenant), cleared) << c.backends[b].name;
        any_cleared = any_cleared || cleared;
      }
      switch (d.outcome) {
        case Outcome::route:
          ASSERT_FALSE(d.backends.empty());
          ++routed;
          break;
        case Outcome::forbidden:
          ASSERT_TRUE(d.backends.empty());
          // Either nothing at all is cleared, or every candidate the matched rules named failed
          // the invariant (none was merely held back by capacity, budget or tier).
          for (const auto& t : d.trace) {
            for (const auto& x : t.excluded) {
              ASSERT_FALSE(independently_cleared(c, x.backend, d.sensitivity, facts.tenant))
                  << "forbidden although " << c.backends[x.backend].name << " was cleared";
            }
          }
          ++forbidden;
          break;
        case Outcome::unavailable:
          ASSERT_TRUE(d.backends.empty());
          ASSERT_TRUE(any_cleared);
          ++unavailable;
          break;
        default:
          ASSERT_TRUE(d.backends.empty());
          break;
      }
      if (!d.trace.empty()) {
        // Explain never carries request text.
        const std::string json = engine->explain_json(d, facts);
        ASSERT_EQ(json.find("contoso.com"), std::string::npos);
        ASSERT_EQ(json.find("1111 1111"), std::string::npos);
        ASSERT_EQ(json.find("078-05"), std::string::npos);
      }
    }
  }
  EXPECT_EQ(Engine::invariant_violations(), violations_before);
  // The generator exercises every kind of answer, or the property would be checked vacuously.
  EXPECT_GT(routed, kConfigs);
  EXPECT_GT(forbidden, kConfigs / 20);
  EXPECT_GT(unavailable, kConfigs / 20);
}

// -------------------------------------------------------------------------------------------------
// Sensitive values anywhere in a request

// Restricted by the default detectors.
const std::vector<std::string> kSecrets = {"4111 1111 1111 1111",  "4111111111111111",
                                           "078-05-1120",          "GB82 WEST 1234 5698 7654 32",
                                           "AKIAIOSFODNN7EXAMPLE", "5500-0000-0000-0004"};
const std::vector<std::string> kWords = {"alpha", "note", "the",     "value", "x",
                                         "order", "id",   "summary", "42",    "v1.2.3"};

enum class Place { value, key, nested, header };

class ShapeGenerator {
 public:
  ShapeGenerator(Generator& gen, Place place, std::string secret)
      : gen_(gen), place_(place), secret_(std::move(secret)) {}

  // A random identifier: what an unknown field may be called.
  std::string name() {
    static const std::string chars = "abcdefghijklmnopqrstuvwxyz_";
    std::string n;
    for (int i = gen_.uniform(1, 10); i > 0; --i) {
      n.push_back(chars[static_cast<std::size_t>(gen_.uniform(0, 26))]);
    }
    return n;
  }
  std::string words() {
    std::string w;
    for (int i = gen_.uniform(0, 4); i > 0; --i) {
      w += gen_.pick(kWords) + " ";
    }
    return w;
  }
  // The sensitive value as a string to place: with words around it, or (nested) inside a JSON
  // document held in a string, some of its characters written as \u escapes.
  std::string payload() {
    placed_ = true;
    if (place_ != Place::nested) {
      // A space after the value: text parts of a message are scanned joined with no separator,
      // and a number glued to the next part's letters is the detector's own matter.
      return words() + secret_ + " " + words();
    }
    std::string escaped;
    for (const char c : secret_) {
      if (gen_.chance(0.6)) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        escaped += buf;
      } else {
        escaped.push_back(c);
      }
    }
    return (gen_.chance(0.5) ? "{\"" + name() + "\": \"" : "  [1, \"") + escaped +
           (gen_.chance(0.5) ? "\"}" : "\"]");
  }
  bool wants(Place p) { return !placed_ && place_ == p && gen_.chance(0.15); }
  bool wants_value() {
    return !placed_ && place_ != Place::key && place_ != Place::header && gen_.chance(0.15);
  }

  json::value value(int depth) {
    if (wants_value()) {
      return json::value(payload());
    }
    const int kind = depth <= 0 ? gen_.uniform(0, 2) : gen_.uniform(0, 5);
    switch (kind) {
      case 0:
        return json::value(words());
      case 1:
        return json::value(gen_.uniform(-5, 5000));
      case 2:
        return gen_.chance(0.5) ? json::value(true) : json::value(nullptr);
      case 3: {
        json::array a;
        for (int i = gen_.uniform(0, 3); i > 0; --i) {
          a.push_back(value(depth - 1));
        }
        return a;
      }
      default:
        return object(depth - 1);
    }
  }
  json::object object(int depth) {
    json::object o;
    for (int i = gen_.uniform(0, 3); i > 0; --i) {
      const std::string k = wants(Place::key) ? payload() : name();
      if (!o.contains(k)) {  // a repeated name would replace what is there
        o[k] = value(depth);
      }
    }
    return o;
  }

  // A request body of `endpoint`'s shape with random members; the payload somewhere in it.
  json::object body(gateway::Endpoint endpoint) {
    json::object b;
    b["model"] = "m";
    if (endpoint == gateway::Endpoint::chat) {
      json::array messages;
      for (int i = gen_.uniform(1, 4); i > 0; --i) {
        json::object m;
        m["role"] = gen_.chance(0.5) ? "user" : "assistant";
        switch (gen_.uniform(0, 2)) {
          case 0:
            m["content"] = wants_value() ? json::value(payload()) : json::value(words());
            break;
          case 1: {
            json::array parts;
            for (int k = gen_.uniform(1, 3); k > 0; --k) {
              parts.push_back(json::object{{"type", "text"}, {"text", value(0)}});
            }
            m["content"] = std::move(parts);
            break;
          }
          default:
            m["content"] = object(2);
        }
        if (gen_.chance(0.3)) {
          m["tool_calls"] = json::array{json::object{
              {"id", "c1"},
              {"function", json::object{{"name", name()},
                                        {"arguments", wants_value() ? json::value(payload())
                                                                    : json::value(json::serialize(
                                                                          object(2)))}}}}};
        }
        messages.push_back(std::move(m));
      }
      b["messages"] = std::move(messages);
      if (gen_.chance(0.5)) {
        b["tools"] = json::array{
            json::object{{"type", "function"},
                         {"function", json::object{{"name", name()}, {"parameters", object(4)}}}}};
      }
    } else {
      b[endpoint == gateway::Endpoint::completions ? "prompt" : "input"] = value(1);
    }
    for (int i = gen_.uniform(0, 4); i > 0; --i) {
      if (const std::string k = name(); !b.contains(k)) {
        b[k] = value(4);
      }
    }
    if (!placed_ && place_ != Place::header) {
      // Not placed by chance: under a fresh key at a random depth.
      json::value inner =
          place_ == Place::key ? json::value(json::object{{payload(), 1}}) : json::value(payload());
      for (int d = gen_.uniform(0, 5); d > 0; --d) {
        inner = gen_.chance(0.5) ? json::value(json::array{inner})
                                 : json::value(json::object{{name(), inner}});
      }
      b["zz_" + name()] = std::move(inner);
    }
    return b;
  }

 private:
  Generator& gen_;
  Place place_;
  std::string secret_;
  bool placed_ = false;
};

TEST(InvariantPropertyTest, SensitiveValuesAnywhereNeverReachAnUnclearedBackend) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with SB_PROPERTY_SEED)");
  Generator gen(seed);

  testing::ConfigBuilder cfg;
  cfg.self_hosted("local", "standard", "restricted");
  cfg.closed("cloud", "standard", "internal");
  cfg.self_hosted("open", "standard", "public");
  cfg.model("m", {"cloud", "open", "local"});
  cfg.tenant("default");
  std::string error;
  const std::shared_ptr<const config::Config> config = cfg.build();
  std::unique_ptr<const Engine> engine = Engine::build(config, error);
  ASSERT_NE(engine, nullptr) << error;
  const std::size_t local = 0;
  int restricted = 0;
  int dropped_headers = 0;

  for (int n = 0; n < 3'000; ++n) {
    SCOPED_TRACE("case #" + std::to_string(n));
    const Place place = static_cast<Place>(gen.uniform(0, 3));
    const auto endpoint = static_cast<gateway::Endpoint>(gen.uniform(0, 2));
    ShapeGenerator shapes(gen, place, gen.pick(kSecrets));
    const std::string text = json::serialize(shapes.body(endpoint));
    // Parsed from its text, as the gateway parses a request.
    const json::value parsed = json::parse(text);

    gateway::Request req;
    std::string header_name;
    std::string header_value;
    const int junk = gen.uniform(0, 80);
    const int at = gen.uniform(0, junk);
    for (int i = 0; i <= junk; ++i) {
      if (place == Place::header && i == at) {
        header_name = "X-" + shapes.name();
        header_value = shapes.payload();
        req.insert(header_name, header_value);
      } else {
        req.insert("x-junk-" + std::to_string(i), shapes.words() + "j");
      }
    }
    std::vector<gateway::HeaderLine> lines;
    gateway::header_lines(req, lines);
    gateway::FactsStorage storage;
    const RequestFacts facts =
        gateway::request_facts(endpoint, parsed.as_object(), "m", 0, *config, lines, storage);
    const Decision d = engine->decide(facts, testing::FakeState(config->backends.size()));
    ASSERT_EQ(d.outcome, Outcome::route) << text;

    bool leaves = true;  // the value is in what some backend would receive
    if (place == Place::header) {
      std::vector<gateway::HeaderLine> forwardable;
      gateway::forwardable_headers(lines, forwardable);
      leaves = std::any_of(forwardable.begin(), forwardable.end(),
                           [&](const gateway::HeaderLine& h) { return h.first == header_name; });
      // What is not forwardable reaches no backend at all, closed or self-hosted.
      for (const config::Backend& b : config->backends) {
        upstream::Request up;
        gateway::forward_headers(storage.forwardable, b, up);
        ASSERT_EQ(up.find(header_name) != up.end(), leaves && b.hosting != config::Hosting::closed)
            << b.name;
      }
      dropped_headers += leaves ? 0 : 1;
    }
    if (leaves) {
      // Found by the detectors themselves (not only by unscannable token ids).
      ASSERT_EQ(engine->detector().scan(facts.texts).level, testing::kRestricted)
          << text << "\nheader " << header_value;
      ASSERT_EQ(d.sensitivity, testing::kRestricted);
      ASSERT_EQ(d.backends, (std::vector<std::size_t>{local})) << text;
      ++restricted;
    }
    for (std::size_t b : d.backends) {
      ASSERT_TRUE(engine->cleared(b, d.sensitivity, 0));
    }
  }
  EXPECT_GT(restricted, 2'500);
  EXPECT_GT(dropped_headers, 0) << "some headers beyond the bound are generated";
}

}  // namespace
}  // namespace sb::policies
