// switchboard replay: a hand-written audit trail (schema v1) re-decided under the config that made
// it, a stricter one and a looser one; costs, unknown names, time windows, JSON and the CLI.

#include "gateway/audit/replay.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace sb::gateway::replay {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

// local: self-hosted, restricted, $0.36 an hour at 1000 tokens/s (100 nano-dollars a token); cloud:
// closed, confidential, $2.50/$10.00. The default alias tries cloud first.
constexpr std::string_view kBase = R"(backends:
  local:
    provider: vllm
    base_url: "http://127.0.0.1:8000/v1"
    model: m
    tier: frontier
    clearance: restricted
    price: {gpu_hour_usd: 0.36, tokens_per_second: 1000}
  cloud:
    provider: openai
    base_url: "https://api.openai.com/v1"
    api_key: "${SB_REPLAY_TEST_UNSET_KEY}"
    model: gpt-4o
    tier: frontier
    clearance: CLOUD_CLEARANCE
    price: {input_per_mtok: 2.50, output_per_mtok: 10.00, cached_input_per_mtok: 1.25}
models:
  default: {candidates: [cloud, local]}
  frontier: {candidates: [cloud]}
tenants:
  acme: {}
  bank: {floor: confidential}
auth: {anonymous_tenant: acme}
cost: {savings_reference: cloud}
)";

std::string config_yaml(std::string_view cloud_clearance) {
  std::string yaml(kBase);
  yaml.replace(yaml.find("CLOUD_CLEARANCE"), 15, cloud_clearance);
  return yaml;
}

const std::string kSame = config_yaml("confidential");
const std::string kStricter = config_yaml("internal");  // confidential data no longer on cloud
const std::string kLooser = config_yaml("restricted");  // restricted data allowed on cloud

std::unique_ptr<const policies::Engine> engine_for(const std::string& yaml) {
  // Every variable set to a placeholder, but the OpenTelemetry ones the loader reads by itself.
  config::LoadResult loaded = config::load_string(yaml, "replay.yaml", [](const std::string& name) {
    return name.starts_with("OTEL_") ? std::nullopt : std::optional<std::string>("x");
  });
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
  if (!loaded.ok()) {
    return nullptr;
  }
  std::string error;
  auto engine =
      policies::Engine::build(std::make_shared<const config::Config>(*loaded.config), error);
  EXPECT_NE(engine, nullptr) << error;
  return engine;
}

// ---- Trail lines as the gateway and the trail writer write them (dummy seq/prev/mac).

std::string finish(json::object o) {
  o["seq"] = 1;
  o["prev"] = std::string(64, '0');
  o["mac"] = std::string(64, '0');
  return json::serialize(o) + "\n";
}

struct D {
  std::string id;
  std::string tenant = "acme";
  std::string model = "default";
  std::vector<std::string> backends;  ///< empty: outcome `outcome`
  json::object entities = {};
  std::string classification = "";
  json::object state = {};
  std::string ts = "2026-11-15T10:00:00.000Z";
  std::string outcome = "route";
  json::object headers = {};  ///< policy headers as sent
  int choices = 1;            ///< written in `features` when more than one
};

std::string decision(const D& d) {
  json::array backends;
  for (const auto& b : d.backends) {
    backends.emplace_back(b);
  }
  json::object why{{"detected", nullptr},
                   {"entities", d.entities},
                   {"floor", "public"},
                   {"classification", d.classification},
                   {"unscannable", json::array()},
                   {"unscannable_bits", 0},
                   {"tier_header", ""},
                   {"tier_source", "default"}};
  json::object features{{"prompt_tokens", 100},   {"max_tokens", nullptr}, {"tools", false},
                        {"images", false},        {"json_schema", false},  {"depth", 1},
                        {"reasoning_effort", ""}, {"headers", d.headers}};
  if (d.choices > 1) {
    features["choices"] = d.choices;
  }
  return finish(json::object{{"v", 1},
                             {"type", "decision"},
                             {"ts", d.ts},
                             {"config", std::string(64, 'a')},
                             {"request_id", d.id},
                             {"endpoint", "chat"},
                             {"tenant", d.tenant},
                             {"model", d.model},
                             {"outcome", d.backends.empty() ? d.outcome : "route"},
                             {"rule", "default"},
                             {"sensitivity", "public"},
                             {"tier", "frontier"},
                             {"why", why},
                             {"features", features},
                             {"state", d.state},
                             {"backends", backends},
                             {"estimated_tokens", 1124},
                             {"estimated_cost_nanos", 0}});
}

std::string attempt(const std::string& id, int n, const std::string& backend,
                    const std::string& result, std::optional<std::pair<int, int>> usage = {},
                    std::int64_t cost = 0) {
  json::value u = nullptr;
  if (usage) {
    u = json::object{{"input", usage->first},
                     {"output", usage->second},
                     {"cached", 0},
                     {"cache_write", 0},
                     {"reasoning", 0}};
  }
  return finish(json::object{{"v", 1},
                             {"type", "attempt"},
                             {"ts", "2026-11-15T10:00:01.000Z"},
                             {"config", std::string(64, 'a')},
                             {"request_id", id},
                             {"tenant", "acme"},
                             {"model", "default"},
                             {"sensitivity", "public"},
                             {"n", n},
                             {"backend", backend},
                             {"hosting", backend == "cloud" ? "closed" : "self_hosted"},
                             {"provider", backend == "cloud" ? "openai" : "vllm"},
                             {"status", result == "ok" ? 200 : 502},
                             {"result", result},
                             {"stream", false},
                             {"upstream_ms", 12.5},
                             {"usage", u},
                             {"usage_estimated", false},
                             {"cost_nanos", cost}});
}

class ReplayTest : public ::testing::Test {
 protected:
  ReplayTest() {
    std::string tmpl = (fs::temp_directory_path() / "sb-replay-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    write_mix();
  }
  ~ReplayTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(fs::path(dir_) / name, std::ios::binary) << text;
  }

  /// A recorded mix under the `kSame` config (cloud cleared up to confidential). Costs are the
  /// config's prices at the usage: cloud 2500 nano-dollars per input token and 10000 per output
  /// token, local 100 for either.
  void write_mix() {
    std::string first = finish(json::object{{"v", 1},
                                            {"type", "config"},
                                            {"ts", "2026-10-01T00:00:00.000Z"},
                                            {"config", std::string(64, 'a')},
                                            {"event", "start"},
                                            {"snapshot", "configs/a.yaml"}});
    // Outside --since 2026-11-01; no usage recorded.
    first +=
        decision(D{.id = "r10", .backends = {"cloud", "local"}, .ts = "2026-10-01T12:00:00.000Z"});
    first += attempt("r10", 1, "cloud", "ok");
    first += decision(D{.id = "r1", .backends = {"cloud", "local"}});
    first += attempt("r1", 1, "cloud", "ok", std::pair{1000, 500}, 7'500'000);
    first += decision(
        D{.id = "r2", .model = "frontier", .backends = {"cloud"}, .entities = {{"email", 1}}});
    first += attempt("r2", 1, "cloud", "ok", std::pair{1000, 0}, 2'500'000);
    first += decision(D{.id = "r3", .backends = {"cloud", "local"}, .entities = {{"email", 2}}});
    first += attempt("r3", 1, "cloud", "ok", std::pair{2000, 100}, 6'000'000);
    first += "this line is not JSON\n";
    write("audit-20261001T000000Z-000001.jsonl", first);

    std::string second;
    second += decision(D{.id = "r4", .backends = {"local"}, .entities = {{"credit_card", 1}}});
    second += attempt("r4", 1, "local", "ok", std::pair{1000, 1000}, 200'000);
    second += decision(
        D{.id = "r5", .model = "frontier", .classification = "restricted", .outcome = "forbidden"});
    second += decision(D{.id = "r6", .tenant = "bank", .backends = {"cloud", "local"}});
    second += attempt("r6", 1, "cloud", "ok", std::pair{500, 500}, 6'250'000);
    second += decision(D{.id = "r7",
                         .backends = {"cloud", "local"},
                         .entities = {{"mystery_entity", 2}},
                         .state = {{"in_flight", json::object{{"gone", 3}}}}});
    second += attempt("r7", 1, "cloud", "ok", std::pair{100, 100}, 1'250'000);
    // A fallback: cloud failed, local served.
    second += decision(D{.id = "r8", .backends = {"cloud", "local"}});
    second += attempt("r8", 1, "cloud", "upstream_5xx");
    second += attempt("r8", 2, "local", "ok", std::pair{1000, 1000}, 200'000);
    second += decision(D{.id = "r9", .tenant = "ghost", .outcome = "forbidden"});
    second += attempt("nobody", 1, "cloud", "ok");
    second += R"({"v":1,"type":"decision","ts":"2026-11-15T11:00:00.000Z","request_id":"torn)";
    write("audit-20261115T000000Z-000002.jsonl", second);
    write("notes.txt", "not a trail file\n");
  }

  Trail read(std::optional<std::int64_t> since = {}, std::optional<std::int64_t> until = {}) {
    Trail trail;
    std::string error;
    EXPECT_TRUE(read_trail(dir_, since, until, trail, error)) << error;
    return trail;
  }

  Report run(const std::string& yaml, const Trail& trail) {
    auto engine = engine_for(yaml);
    return engine == nullptr ? Report{} : replay(*engine, trail.records, 1);
  }

  std::string dir_;
};

using Move = std::pair<std::string, std::string>;

TEST_F(ReplayTest, ReadsEveryFileInNameOrderAndJoinsAttempts) {
  const Trail t = read();
  EXPECT_EQ(t.files, 2u);
  ASSERT_EQ(t.records.size(), 10u);
  EXPECT_EQ(t.records[0].request_id, "r10");
  EXPECT_EQ(t.records[3].request_id, "r3");
  EXPECT_EQ(t.records[4].request_id, "r4");
  EXPECT_EQ(t.skipped, 2u);   // the line that is not JSON and the torn last line
  EXPECT_EQ(t.unjoined, 1u);  // the attempt of no decision
  const Record& r8 = t.records[8];
  EXPECT_EQ(r8.served, "local");
  EXPECT_EQ(r8.failed, (std::vector<std::string>{"cloud"}));
  ASSERT_TRUE(r8.usage.has_value());
  EXPECT_EQ(r8.usage->input, 1000u);
  EXPECT_EQ(r8.cost, 200'000);
  EXPECT_FALSE(t.records[0].usage.has_value());
}

TEST_F(ReplayTest, AnswersAskedForAreReadBackAndOneWhenAbsent) {
  D many{.id = "n3"};
  many.choices = 3;
  Trail t;
  std::map<std::string, std::size_t, std::less<>> ids;
  parse_line(decision(many), std::nullopt, std::nullopt, ids, t);
  parse_line(decision(D{.id = "n1"}), std::nullopt, std::nullopt, ids, t);
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[0].choices, 3u);
  EXPECT_EQ(t.records[1].choices, 1u);
}

TEST_F(ReplayTest, SameConfigChangesNothing) {
  const Trail t = read();
  const Report r = run(kSame, t);
  EXPECT_EQ(r.total.decisions, 10u);
  EXPECT_EQ(r.total.unchanged, 10u);
  EXPECT_EQ(r.total.moved + r.total.newly_refused + r.total.newly_allowed, 0u);
  EXPECT_EQ(r.total.new_cost, r.total.old_cost);
  EXPECT_EQ(r.total.old_cost, 23'900'000);
  EXPECT_EQ(r.with_usage, 7u);
  EXPECT_TRUE(r.breaks.empty());
  EXPECT_EQ(r.moves.at(Move{"local", "local"}), 2u);  // r4, and r8 after cloud failed
  EXPECT_EQ(r.moves.at(Move{"(forbidden)", "(forbidden)"}), 2u);
  EXPECT_EQ(format_text(r, t).rfind("10 decisions replayed: 10 unchanged, 0 move, 0 newly refused, "
                                    "0 newly allowed; cost $0.00\n",
                                    0),
            0u)
      << format_text(r, t);
}

TEST_F(ReplayTest, StricterPolicyMovesAndRefuses) {
  const Trail t = read();
  const Report r = run(kStricter, t);
  EXPECT_EQ(r.total.decisions, 10u);
  EXPECT_EQ(r.total.unchanged, 7u);
  EXPECT_EQ(r.total.moved, 2u);          // r3 (email) and r6 (bank's floor) go home
  EXPECT_EQ(r.total.newly_refused, 1u);  // r2: email to an alias with only cloud
  EXPECT_EQ(r.total.newly_allowed, 0u);
  EXPECT_EQ(r.moves.at(Move{"cloud", "local"}), 2u);
  EXPECT_EQ(r.moves.at(Move{"cloud", "(forbidden)"}), 1u);
  EXPECT_EQ(r.newly_refused.at("forbidden"), 1u);
  EXPECT_EQ(r.examples_refused, (std::vector<std::string>{"r2"}));
  EXPECT_EQ(r.tenants.at("bank").moved, 1u);
  EXPECT_EQ(r.tenants.at("acme").newly_refused, 1u);
  EXPECT_EQ(r.rules.at("default").decisions, 9u);  // the unknown tenant matches no rule
  EXPECT_EQ(r.rules.at("(none)").decisions, 1u);
  EXPECT_TRUE(r.breaks.empty());
}

TEST_F(ReplayTest, CostDifferenceIsExactAtTheRecordedUsage) {
  const Report r = run(kStricter, read());
  // r2: 2'500'000 -> 0 (refused); r3: 6'000'000 -> 2100*100 on local;
  // r6: 6'250'000 -> 1000*100 on local.
  EXPECT_EQ(r.total.new_cost - r.total.old_cost,
            -2'500'000 - (6'000'000 - 210'000) - (6'250'000 - 100'000));
  EXPECT_EQ(r.tenants.at("bank").new_cost - r.tenants.at("bank").old_cost, 100'000 - 6'250'000);
  // The reference (cloud) at every recorded usage.
  ASSERT_TRUE(r.reference.has_value());
  EXPECT_EQ(*r.reference, "cloud");
  EXPECT_EQ(r.reference_cost,
            7'500'000 + 2'500'000 + 6'000'000 + 12'500'000 + 6'250'000 + 1'250'000 + 12'500'000);
  const std::string text = format_text(r, read());
  EXPECT_NE(text.find("cost -$0.01444\n"), std::string::npos) << text;
}

TEST_F(ReplayTest, LooserPolicyAllowsWhatWasRefused) {
  const Report r = run(kLooser, read());
  EXPECT_EQ(r.total.newly_allowed, 1u);  // r5: restricted to the cloud-only alias
  EXPECT_EQ(r.newly_allowed.at("cloud"), 1u);
  EXPECT_EQ(r.examples_allowed, (std::vector<std::string>{"r5"}));
  EXPECT_EQ(r.total.moved, 1u);  // r4: the card number may now take cloud, listed first
  EXPECT_EQ(r.moves.at(Move{"local", "cloud"}), 1u);
  EXPECT_EQ(r.moves.at(Move{"local", "local"}), 1u);  // r8: cloud failed for it, so still local
  EXPECT_EQ(r.total.newly_refused, 0u);
  EXPECT_EQ(r.total.new_cost - r.total.old_cost, 12'500'000 - 200'000);
}

TEST_F(ReplayTest, UnknownEntitiesBackendsAndTenantsAreCounted) {
  const Report r = run(kSame, read());
  EXPECT_EQ(r.unknown_entities, (std::map<std::string, std::uint64_t>{{"mystery_entity", 1}}));
  EXPECT_EQ(r.unknown_backends, (std::map<std::string, std::uint64_t>{{"gone", 1}}));
  EXPECT_EQ(r.unknown_tenants, 1u);
  EXPECT_EQ(r.unrecorded_reads, 0u);
}

TEST_F(ReplayTest, TimeWindowSelectsDecisions) {
  const Trail since = read(parse_time("2026-11-01"));
  EXPECT_EQ(since.records.size(), 9u);
  EXPECT_EQ(since.out_of_range, 1u);
  const Trail until = read({}, parse_time("2026-10-01", true));  // that whole day
  ASSERT_EQ(until.records.size(), 1u);
  EXPECT_EQ(until.records[0].request_id, "r10");
  EXPECT_EQ(until.unjoined, 9u);  // the attempts of the decisions left out
  const Trail window =
      read(parse_time("2026-10-01T12:00:00Z"), parse_time("2026-10-01T13:00:00.000+01:00"));
  EXPECT_EQ(window.records.size(), 0u);  // 12:00Z is 13:00+01:00: until is exclusive
  EXPECT_EQ(read(parse_time("2026-10-01T11:00:00-01:00")).records.size(), 10u);
}

// Headers, volume and budget facts as recorded decide the same rules again; a threshold moved
// moves the requests on either side of it, and a fact the old decision never read counts as 0.
TEST_F(ReplayTest, RecordedHeadersAndStateDecideAgain) {
  const auto rules = [](int rpm, double spent) {
    return config_yaml("confidential") + R"(policy_headers: [x-team]
policies:
  - name: ml-team
    when: {headers: {x-team: [ml]}}
    route: {to: [local]}
  - name: busy-cloud
    when: {volume: {backend: cloud, rpm_above: )" +
           std::to_string(rpm) + R"(}}
    route: {to: [local]}
  - name: thrifty
    when: {budget: {spent_fraction_above: )" +
           std::to_string(spent) + R"(, period: monthly}}
    route: {to: [local]}
  - name: default
)";
  };
  const json::object calm{{"rpm", json::object{{"cloud", 50}}},
                          {"budget", json::object{{"month", 0.9}}}};
  std::string lines;
  lines += decision(D{.id = "h1", .backends = {"local"}, .headers = {{"x-team", "ml"}}});
  lines += decision(
      D{.id = "h2", .backends = {"local"}, .state = {{"rpm", json::object{{"cloud", 150}}}}});
  lines += decision(D{.id = "h3", .backends = {"local"}, .state = calm});
  json::object spent_little = calm;
  spent_little["budget"] = json::object{{"month", 0.5}};
  lines += decision(D{.id = "h4", .backends = {"cloud", "local"}, .state = spent_little});
  fs::create_directory(fs::path(dir_) / "features");
  write("features/audit-1.jsonl", lines);
  Trail trail;
  std::string error;
  ASSERT_TRUE(read_trail(dir_ + "/features", {}, {}, trail, error)) << error;
  ASSERT_EQ(trail.records.size(), 4u);

  const Report same = run(rules(100, 0.8), trail);
  EXPECT_EQ(same.total.unchanged, 4u);
  EXPECT_EQ(same.rules.at("ml-team").decisions, 1u);
  EXPECT_EQ(same.rules.at("busy-cloud").decisions, 1u);
  EXPECT_EQ(same.rules.at("thrifty").decisions, 1u);
  EXPECT_EQ(same.rules.at("default").decisions, 1u);
  EXPECT_EQ(same.unrecorded_reads, 0u);

  const Report raised = run(rules(200, 0.95), trail);
  EXPECT_EQ(raised.total.unchanged, 2u);  // h1 (header), h4 (default before and after)
  EXPECT_EQ(raised.moves.at(Move{"local", "cloud"}), 2u);
  EXPECT_EQ(raised.examples_moved, (std::vector<std::string>{"h2", "h3"}));
  EXPECT_EQ(raised.unrecorded_reads, 1u);  // h2 never read the budget: taken as 0
}

// Engine load as a spill rule read it decides the same order again; without the load facts the
// read counts as unrecorded.
TEST_F(ReplayTest, RecordedEngineLoadDecidesASpillRuleAgain) {
  const std::string yaml = config_yaml("confidential") + R"(policies:
  - name: default
    route: {to: [local, cloud], strategy: spill}
)";
  const auto load = [](int with_headroom) {
    return json::object{
        {"in_flight", json::object{{"local", 1}}},
        {"load", json::object{{"local", json::object{{"source", "engine"},
                                                     {"waiting", 9},
                                                     {"running", 20},
                                                     {"kv_cache", 0.5},
                                                     {"ttft_p50", 0.2},
                                                     {"age_ms", 300},
                                                     {"endpoints", 2},
                                                     {"fresh", 2},
                                                     {"with_headroom", with_headroom}}}}}};
  };
  std::string lines;
  lines += decision(D{.id = "s1", .backends = {"cloud", "local"}, .state = load(0)});
  lines += decision(D{.id = "s2", .backends = {"local", "cloud"}, .state = load(1)});
  fs::create_directory(fs::path(dir_) / "load");
  write("load/audit-1.jsonl", lines);
  Trail trail;
  std::string error;
  ASSERT_TRUE(read_trail(dir_ + "/load", {}, {}, trail, error)) << error;
  ASSERT_EQ(trail.records.size(), 2u);
  const Report same = run(yaml, trail);
  EXPECT_EQ(same.total.unchanged, 2u);
  EXPECT_EQ(same.unrecorded_reads, 0u);

  std::string bare = decision(D{.id = "s3", .backends = {"local", "cloud"}});
  fs::create_directory(fs::path(dir_) / "bare");
  write("bare/audit-1.jsonl", bare);
  Trail old;
  ASSERT_TRUE(read_trail(dir_ + "/bare", {}, {}, old, error)) << error;
  EXPECT_EQ(run(yaml, old).unrecorded_reads, 1u);
}

TEST_F(ReplayTest, ModelTheNewConfigLacksIsRefusedAsUnknown) {
  std::string lines = decision(D{.id = "m1", .model = "retired", .backends = {"cloud"}});
  lines += attempt("m1", 1, "cloud", "ok", std::pair{1000, 0}, 2'500'000);
  fs::create_directory(fs::path(dir_) / "models");
  write("models/audit-1.jsonl", lines);
  Trail trail;
  std::string error;
  ASSERT_TRUE(read_trail(dir_ + "/models", {}, {}, trail, error)) << error;
  const Report r = run(kSame, trail);
  EXPECT_EQ(r.total.newly_refused, 1u);
  EXPECT_EQ(r.newly_refused.at("unknown_model"), 1u);
  EXPECT_EQ(r.moves.at(Move{"cloud", "(unknown_model)"}), 1u);
  EXPECT_EQ(r.total.new_cost - r.total.old_cost, -2'500'000);
}

TEST(ReplayTimeTest, ParsesRfc3339AndDates) {
  EXPECT_EQ(parse_time("1970-01-01"), 0);
  EXPECT_EQ(parse_time("1970-01-01", true), 86'400'000);
  EXPECT_EQ(parse_time("1970-01-02T00:00:01.5Z"), 86'401'500);
  EXPECT_EQ(parse_time("2026-12-02T15:04:05.123Z"), 1'796'223'845'123);
  EXPECT_EQ(parse_time("1970-01-01T01:00:00+01:00"), 0);
  for (std::string_view bad :
       {"", "2026", "2026-13-01", "2026-12-02T25:00:00Z", "2026-12-02T15:04:05",
        "2026-12-02T15:04:05+0100", "yesterday", "2026-12-02T15:04:05Zjunk"}) {
    EXPECT_FALSE(parse_time(bad).has_value()) << bad;
  }
}

TEST_F(ReplayTest, JsonCarriesTheCounts) {
  const Trail t = read();
  const Report r = run(kStricter, t);
  const json::value v = json::parse(json::serialize(to_json(r, t)));
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("decisions").to_number<int>(), 10);
  EXPECT_EQ(o.at("unchanged").to_number<int>(), 7);
  EXPECT_EQ(o.at("moved").to_number<int>(), 2);
  EXPECT_EQ(o.at("newly_refused").to_number<int>(), 1);
  EXPECT_EQ(o.at("newly_allowed").to_number<int>(), 0);
  EXPECT_EQ(o.at("cost_change_nanos").to_number<std::int64_t>(), -14'440'000);
  EXPECT_EQ(o.at("tenants").at("bank").at("moved").to_number<int>(), 1);
  EXPECT_EQ(o.at("newly_refused_by_outcome").at("forbidden").to_number<int>(), 1);
  EXPECT_TRUE(o.at("clearance_breaks").as_array().empty());
  EXPECT_EQ(o.at("trail").at("skipped").to_number<int>(), 2);
  EXPECT_EQ(o.at("savings").at("reference").as_string(), "cloud");
  bool found = false;
  for (const json::value& m : o.at("moves").as_array()) {
    if (m.at("from") == "cloud" && m.at("to") == "(forbidden)") {
      found = m.at("count").to_number<int>() == 1;
    }
  }
  EXPECT_TRUE(found);
}

// A line longer than any the gateway writes (here 3 MiB, and a whole file of one unterminated
// line) is counted as skipped without being held; the lines around it are read as usual.
TEST_F(ReplayTest, AnOverlongLineIsSkippedAndTheRestIsRead) {
  std::string lines = decision(D{.id = "l1", .backends = {"cloud"}});
  lines += std::string(3u << 20, 'x') + "\n";
  lines += decision(D{.id = "l2", .backends = {"local"}});
  fs::create_directory(fs::path(dir_) / "long");
  write("long/audit-1.jsonl", lines);
  write("long/audit-2.jsonl", "{\"v\":1," + std::string(kMaxTrailLine + 10, ' '));
  Trail trail;
  std::string error;
  ASSERT_TRUE(read_trail(dir_ + "/long", {}, {}, trail, error)) << error;
  ASSERT_EQ(trail.records.size(), 2u);
  EXPECT_EQ(trail.records[0].request_id, "l1");
  EXPECT_EQ(trail.records[1].request_id, "l2");
  EXPECT_EQ(trail.lines, 4u);
  EXPECT_EQ(trail.skipped, 2u);
}

TEST_F(ReplayTest, UnreadableTrailIsAnError) {
  Trail trail;
  std::string error;
  EXPECT_FALSE(read_trail(dir_ + "/missing", {}, {}, trail, error));
  EXPECT_NE(error.find("cannot read the trail directory"), std::string::npos) << error;
}

// ---- The command, through the built binary.

struct CommandRun {
  int status = -1;
  std::string out;
};

CommandRun switchboard(const std::string& args) {
  const std::string cmd = std::string(SB_SWITCHBOARD_BIN) + " replay " + args + " 2>&1";
  CommandRun run;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return run;
  }
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) {
    run.out.append(buf.data(), n);
  }
  const int st = ::pclose(p);
  run.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return run;
}

TEST_F(ReplayTest, CommandPrintsTheReportAndExitsZero) {
  const std::string config = dir_ + "/stricter.yaml";
  std::ofstream(config) << kStricter;
  const CommandRun text = switchboard("--trail " + dir_ + " --config " + config);
  EXPECT_EQ(text.status, 0) << text.out;
  EXPECT_EQ(text.out.rfind("10 decisions replayed: 7 unchanged, 2 move, 1 newly refused, 0 newly "
                           "allowed; cost -$0.01444\n",
                           0),
            0u)
      << text.out;
  EXPECT_NE(text.out.find("cloud -> (forbidden)"), std::string::npos);

  const CommandRun js = switchboard("--trail " + dir_ + " --config " + config +
                                    " --since 2026-11-01 --until 2026-11-30 --json");
  ASSERT_EQ(js.status, 0) << js.out;
  const json::value v = json::parse(js.out);
  EXPECT_EQ(v.at("decisions").to_number<int>(), 9);
  EXPECT_EQ(v.at("newly_refused").to_number<int>(), 1);
}

// The new config as deployments write it: a variable with a default keeps its default when the
// replaying shell lacks it (the URL stays a URL), and a required one (a secret) gets a stand-in.
TEST_F(ReplayTest, CommandLoadsConfigsThatNameTheEnvironment) {
  std::string yaml = kSame;
  const std::string url = "base_url: \"http://127.0.0.1:8000/v1\"";
  ASSERT_NE(yaml.find(url), std::string::npos);
  yaml.replace(yaml.find(url), url.size(),
               "base_url: \"${SB_REPLAY_TEST_UNSET_URL:-http://127.0.0.1:8000/v1}\"\n"
               "    api_key: \"${SB_REPLAY_TEST_UNSET_KEY}\"");
  const std::string config = dir_ + "/env.yaml";
  std::ofstream(config) << yaml;
  const CommandRun run = switchboard("--trail " + dir_ + " --config " + config);
  EXPECT_EQ(run.status, 0) << run.out;
  EXPECT_EQ(run.out.rfind("10 decisions replayed: 10 unchanged", 0), 0u) << run.out;
}

TEST_F(ReplayTest, CommandExitCodes) {
  const std::string config = dir_ + "/same.yaml";
  std::ofstream(config) << kSame;
  EXPECT_EQ(switchboard("--trail " + dir_).status, 2);     // no --config
  EXPECT_EQ(switchboard("--config " + config).status, 2);  // no --trail
  EXPECT_EQ(switchboard("--trail " + dir_ + " --config " + config + " --since someday").status, 2);
  EXPECT_EQ(switchboard("--trail " + dir_ + " --config " + config + " --bogus").status, 2);
  EXPECT_EQ(switchboard("--help").status, 0);
  const CommandRun missing = switchboard("--trail " + dir_ + " --config " + dir_ + "/none.yaml");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("cannot read file"), std::string::npos) << missing.out;
  EXPECT_EQ(switchboard("--trail " + dir_ + "/none --config " + config).status, 1);
  const std::string broken = dir_ + "/broken.yaml";
  std::ofstream(broken) << "backends: [\n";
  EXPECT_EQ(switchboard("--trail " + dir_ + " --config " + broken).status, 1);
  const CommandRun same = switchboard("--trail " + dir_ + " --config " + config);
  EXPECT_EQ(same.status, 0) << same.out;
  EXPECT_NE(same.out.find("10 unchanged"), std::string::npos) << same.out;
}

}  // namespace
}  // namespace sb::gateway::replay
