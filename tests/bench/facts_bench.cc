// Cost of reading a request's facts (adapters/chat_facts.h) and scanning them with the default
// detectors, for a 300-byte and a 20 KB chat-completions body (parsed beforehand, as the gateway
// parses once per request). What the request path pays before the routing rules run.
//
//   ./build/tests/bench/facts_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts.h"
#include "policies/config.h"
#include "policies/detector.h"

namespace {

using namespace sb;

// About 300 bytes: a system prompt, one user question, one small tool.
std::string small_body() {
  return R"({"model":"default","messages":[{"role":"system","content":"You are a helpful )"
         R"(assistant."},{"role":"user","content":"What is the weather in Paris today?"}],)"
         R"("tools":[{"type":"function","function":{"name":"weather","description":"Gets the )"
         R"(weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],)"
         R"("max_tokens":200})";
}

// About 20 KB: a ten-turn conversation of ordinary prose and two tools with schemas.
std::string large_body() {
  std::string body = R"({"model":"default","messages":[)";
  const std::string prose =
      "The quarterly report shows revenue grew in every region, with the strongest gains in the "
      "north where the new distribution centre opened in March. Costs rose more slowly. ";
  for (int i = 0; i < 10; ++i) {
    if (i > 0) {
      body += ',';
    }
    body += R"({"role":")";
    body += i % 2 == 0 ? "user" : "assistant";
    body += R"(","content":")";
    for (int k = 0; k < 11; ++k) {
      body += prose;
    }
    body += R"("})";
  }
  body += R"(],"tools":[)";
  for (int t = 0; t < 2; ++t) {
    if (t > 0) {
      body += ',';
    }
    body += R"({"type":"function","function":{"name":"tool)" + std::to_string(t) +
            R"(","description":"Looks things up","parameters":{"type":"object","properties":{)";
    for (int p = 0; p < 8; ++p) {
      if (p > 0) {
        body += ',';
      }
      body += R"("field)" + std::to_string(p) +
              R"(":{"type":"string","description":"A field of the record","enum":["a","b","c"]})";
    }
    body += "}}}}";
  }
  body += R"(],"max_tokens":500})";
  return body;
}

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
BENCHMARK(BM_CollectFactsSmall);
BENCHMARK(BM_CollectFactsLarge);
BENCHMARK(BM_CollectAndScanSmall);
BENCHMARK(BM_CollectAndScanLarge);

}  // namespace
