// Stream translators fed an answer of many tool calls (or content blocks): the upstream chooses
// their number, so each one's cost must not grow with the number before it.
//   ./build/tests/bench/stream_bench
// Each benchmark's argument is the number of calls; time per iteration is the whole stream.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "adapters/anthropic.h"
#include "adapters/anthropic_inbound.h"
#include "adapters/responses_inbound.h"

namespace {

using namespace sb::adapters;

// A chat-completions stream of `calls` tool calls, each opened by one chunk and given its
// arguments by a second.
std::string chat_tool_stream(std::int64_t calls) {
  std::string s;
  for (std::int64_t i = 0; i < calls; ++i) {
    const std::string n = std::to_string(i);
    s.append(R"(data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":)")
        .append(n)
        .append(R"(,"id":"call_)")
        .append(n)
        .append(R"(","function":{"name":"f","arguments":""}}]}}]})"
                "\n\n");
    s.append(R"(data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":)")
        .append(n)
        .append(R"(,"function":{"arguments":"{}"}}]}}]})"
                "\n\n");
  }
  s.append(R"(data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
           "\n\ndata: [DONE]\n\n");
  return s;
}

// Anthropic's stream of `blocks` tool_use blocks, each with one input delta and its stop.
std::string anthropic_block_stream(std::int64_t blocks) {
  std::string s(
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1}}})"
      "\n\n");
  for (std::int64_t i = 0; i < blocks; ++i) {
    const std::string n = std::to_string(i);
    s.append(
         "event: content_block_start\ndata: "
         R"({"type":"content_block_start","index":)")
        .append(n)
        .append(R"(,"content_block":{"type":"tool_use","id":"toolu_)")
        .append(n)
        .append(R"(","name":"f","input":{}}})"
                "\n\n");
    s.append(
         "event: content_block_delta\ndata: "
         R"({"type":"content_block_delta","index":)")
        .append(n)
        .append(R"(,"delta":{"type":"input_json_delta","partial_json":"{}"}})"
                "\n\n");
    s.append(
         "event: content_block_stop\ndata: "
         R"({"type":"content_block_stop","index":)")
        .append(n)
        .append("}\n\n");
  }
  s.append(
      "event: message_delta\ndata: "
      R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":1}})"
      "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  return s;
}

void BM_AnthropicWriterManyCalls(benchmark::State& state) {
  const std::string in = chat_tool_stream(state.range(0));
  for (auto _ : state) {
    AnthropicStreamWriter w("m");
    std::string out;
    benchmark::DoNotOptimize(w.feed(in, out) && w.finish(out));
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_ResponsesWriterManyCalls(benchmark::State& state) {
  const std::string in = chat_tool_stream(state.range(0));
  ResponseMeta meta;
  meta.id = new_response_id();
  meta.model = std::string(1, 'm');  // (a literal here trips GCC 12's -Wrestrict)
  for (auto _ : state) {
    ResponsesStreamWriter w(meta);
    std::string out;
    benchmark::DoNotOptimize(w.feed(in, out) && w.finish(out));
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_AnthropicUpstreamManyBlocks(benchmark::State& state) {
  const std::string in = anthropic_block_stream(state.range(0));
  const AnthropicTranslator t(1);
  for (auto _ : state) {
    auto s = t.stream(true, "m");
    std::string out;
    benchmark::DoNotOptimize(s->feed(in, out) && s->finish(out));
    benchmark::DoNotOptimize(out.data());
  }
}

}  // namespace

BENCHMARK(BM_AnthropicWriterManyCalls)->RangeMultiplier(8)->Range(1 << 9, 1 << 15);
BENCHMARK(BM_ResponsesWriterManyCalls)->RangeMultiplier(8)->Range(1 << 9, 1 << 15);
BENCHMARK(BM_AnthropicUpstreamManyBlocks)->RangeMultiplier(8)->Range(1 << 9, 1 << 15);
