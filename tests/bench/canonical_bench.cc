// Cost of reading a chat-completions body: Boost.JSON's DOM in a monotonic_resource with a 4 KiB
// inline buffer (what the gateway's chat handler does today) against the one-pass typed parser
// (adapters/canonical.h), on the bodies of facts_bench.cc: about 300 bytes and about 20 KB. Then
// the same with the routing facts collected (adapters/chat_facts.h): from the DOM, and from the
// typed request without one. And the pass-through's plan (adapters/openai_compatible.h) from the
// typed request of a body of many top-level members, whose cost per member must not grow with
// their number.
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
#include "adapters/chat_facts.h"
#include "adapters/openai_compatible.h"
#include "tests/bench/bench_bodies.h"

namespace {

using namespace sb;

using bench::large_body;
using bench::small_body;

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

// DOM parse + facts (DOM): what the gateway does today.
void dom_facts(benchmark::State& state, const std::string& text) {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  adapters::ChatFacts facts;
  for (auto _ : state) {
    unsigned char arena[4096];
    boost::json::monotonic_resource mr(arena, sizeof arena);
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(text, ec, &mr, opts);
    if (ec || !v.is_object()) {
      std::abort();
    }
    adapters::collect_chat_facts(v.get_object(), facts);
    benchmark::DoNotOptimize(facts.text.data());
  }
  finish(state, text);
}

// parse + facts (canonical): the one-pass parser, then the facts from the typed request.
void canonical_facts(benchmark::State& state, const std::string& text) {
  adapters::ChatFacts facts;
  for (auto _ : state) {
    auto r = adapters::parse_chat_request(text);
    if (!r.ok()) {
      std::abort();
    }
    adapters::collect_chat_facts(r.value(), facts);
    benchmark::DoNotOptimize(facts.text.data());
  }
  finish(state, text);
}

// The facts alone, from a body parsed once: what each collector costs on its own.
void facts_only(benchmark::State& state, const std::string& text, bool from_dom) {
  const boost::json::value v = boost::json::parse(text);
  auto r = adapters::parse_chat_request(text);
  if (!r.ok()) {
    std::abort();
  }
  adapters::ChatFacts facts;
  for (auto _ : state) {
    if (from_dom) {
      adapters::collect_chat_facts(v.get_object(), facts);
    } else {
      adapters::collect_chat_facts(r.value(), facts);
    }
    benchmark::DoNotOptimize(facts.text.data());
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
void BM_DomFactsSmall(benchmark::State& s) {
  dom_facts(s, small_body());
}
void BM_DomFactsLarge(benchmark::State& s) {
  dom_facts(s, large_body());
}
void BM_CanonicalFactsSmall(benchmark::State& s) {
  canonical_facts(s, small_body());
}
void BM_CanonicalFactsLarge(benchmark::State& s) {
  canonical_facts(s, large_body());
}
void BM_FactsOnly(benchmark::State& s) {
  facts_only(s, s.range(0) == 0 ? small_body() : large_body(), s.range(1) == 1);
}
// A chat body of range(0) top-level members besides model and messages: items/s is members per
// second, flat across the range when the plan's check for repeated keys is not a pass per member.
void BM_PlanWide(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::string text = R"({"model":"m","messages":[{"role":"user","content":"hi"}])";
  for (std::size_t i = 0; i < n; ++i) {
    text += ",\"k" + std::to_string(i) + "\":\"" + std::string(40, 'v') + "\"";
  }
  text += "}";
  auto r = adapters::parse_chat_request(text);
  if (!r.ok()) {
    state.SkipWithError("the body was refused");
    return;
  }
  for (auto _ : state) {
    auto plan = adapters::plan_chat_request(text, r.value(), "up", nullptr);
    benchmark::DoNotOptimize(plan);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

BENCHMARK(BM_DomSmall);
BENCHMARK(BM_DomLarge);
BENCHMARK(BM_CanonicalSmall);
BENCHMARK(BM_CanonicalLarge);
BENCHMARK(BM_DomFactsSmall)->Name("DOM parse + facts (DOM)/small");
BENCHMARK(BM_DomFactsLarge)->Name("DOM parse + facts (DOM)/large");
BENCHMARK(BM_CanonicalFactsSmall)->Name("parse + facts (canonical)/small");
BENCHMARK(BM_CanonicalFactsLarge)->Name("parse + facts (canonical)/large");
// Arguments: body (0 small, 1 large), collector (0 canonical, 1 DOM).
BENCHMARK(BM_FactsOnly)->ArgsProduct({{0, 1}, {0, 1}});
BENCHMARK(BM_PlanWide)->RangeMultiplier(8)->Range(1 << 9, 1 << 15);

}  // namespace
