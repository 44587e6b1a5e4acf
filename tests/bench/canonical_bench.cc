// Cost of reading a chat-completions body: Boost.JSON's DOM in a monotonic_resource with a 4 KiB
// inline buffer (what the gateway's chat handler does today) against the one-pass typed parser
// (adapters/canonical.h), on the bodies of facts_bench.cc: about 300 bytes and about 20 KB.
//
//   ./build/tests/bench/canonical_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"

namespace {

using namespace sb;

// The same bodies as facts_bench.cc. About 300 bytes: a system prompt, one user question, one
// small tool.
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

void finish(benchmark::State& state, const std::string& text) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetLabel(std::to_string(text.size()) + " bytes");
}

void dom(benchmark::State& state, const std::string& text) {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  for (auto _ : state) {
    unsigned char arena[4096];
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(text, ec, &mr, opts);
    if (ec || !v.is_object()) {
      std::abort();
    }
    benchmark::DoNotOptimize(v);
  }
  finish(state, text);
}

void canonical(benchmark::State& state, const std::string& text) {
  for (auto _ : state) {
    auto r = adapters::parse_chat_request(text);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      std::abort();
    }
    benchmark::DoNotOptimize(r->messages.data());
  }
  finish(state, text);
}

void BM_DomSmall(benchmark::State& s) {
  dom(s, small_body());
}
void BM_DomLarge(benchmark::State& s) {
  dom(s, large_body());
}
void BM_CanonicalSmall(benchmark::State& s) {
  canonical(s, small_body());
}
void BM_CanonicalLarge(benchmark::State& s) {
  canonical(s, large_body());
}
BENCHMARK(BM_DomSmall);
BENCHMARK(BM_DomLarge);
BENCHMARK(BM_CanonicalSmall);
BENCHMARK(BM_CanonicalLarge);

}  // namespace
