// Cost of reading a request's facts (adapters/chat_facts.h) and scanning them with the default
// detectors, for a 300-byte and a 20 KB chat-completions body (parsed beforehand, as the gateway
// parses once per request). What the request path pays before the routing rules run. And the
// typed collector over one wide object (a message of many members), whose cost per member must not
// grow with their number.
//
//   ./build/tests/bench/facts_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"
#include "policies/config.h"
#include "policies/detector.h"
#include "tests/bench/bench_bodies.h"

namespace {

using namespace sb;

using bench::large_body;
using bench::small_body;

std::unique_ptr<policies::Detector> default_detector() {
  config::SensitivitySettings s;
  for (const std::string& name : config::builtin_entities()) {
    const bool secret = name != "email" && name != "phone" && name != "ip_address";
    s.entities.push_back(config::EntityLevel{name, secret ? 3 : (name == "ip_address" ? 1 : 2)});
  }
  std::string error;
  auto d = policies::Detector::compile(s, error);
  if (!d) {
    std::fprintf(stderr, "detector: %s\n", error.c_str());
    std::abort();
  }
  return d;
}

void run(benchmark::State& state, const std::string& text, bool scan) {
  const boost::json::value body = boost::json::parse(text);
  static const std::unique_ptr<policies::Detector> detector = default_detector();
  adapters::ChatFacts facts;
  for (auto _ : state) {
    adapters::collect_chat_facts(body.as_object(), facts);
    if (scan) {
      policies::Detection d = detector->scan(facts.texts);
      benchmark::DoNotOptimize(d);
    }
    benchmark::DoNotOptimize(facts.texts.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetLabel(std::to_string(text.size()) + " bytes");
}

void BM_CollectFactsSmall(benchmark::State& s) {
  run(s, small_body(), false);
}
void BM_CollectFactsLarge(benchmark::State& s) {
  run(s, large_body(), false);
}
void BM_CollectAndScanSmall(benchmark::State& s) {
  run(s, small_body(), true);
}
void BM_CollectAndScanLarge(benchmark::State& s) {
  run(s, large_body(), true);
}
// A message of range(0) members besides role and content: items/s is members per second, flat
// across the range when merging repeated keys costs no pass over the object per member.
void BM_CollectTypedWide(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::string text = R"({"model":"m","messages":[{"role":"user","content":"hi")";
  for (std::size_t i = 0; i < n; ++i) {
    text += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  text += "}]}";
  auto request = adapters::parse_chat_request(text);
  if (!request.ok()) {
    state.SkipWithError("the body was refused");
    return;
  }
  adapters::ChatFacts facts;
  for (auto _ : state) {
    adapters::collect_chat_facts(request.value(), facts);
    benchmark::DoNotOptimize(facts.texts.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

BENCHMARK(BM_CollectFactsSmall);
BENCHMARK(BM_CollectFactsLarge);
BENCHMARK(BM_CollectAndScanSmall);
BENCHMARK(BM_CollectAndScanLarge);
BENCHMARK(BM_CollectTypedWide)->RangeMultiplier(8)->Range(1 << 9, 1 << 15);

}  // namespace
