// libFuzzer target: the Messages API inbound (adapters/anthropic_inbound), the lane Claude Code
// takes to an OpenAI-format backend. The bytes are both a client's request body (translated to a
// chat request, and counted as count_tokens would) and an upstream's chat.completion and
// chat.completion.chunk stream (translated back, fed whole and in fuzzer-chosen pieces).
//
// Oracles: a translated request is a JSON object with a messages array, the max_tokens the body
// asked for and no byte a JSON parser refuses; a rejection names a message; an answer and an error
// body are JSON objects (and the body's text written as a string literal in one pass is Boost's
// literal of Boost's text), and the answer read in one pass is byte for byte the answer read
// through a DOM; every stream event is complete SSE with JSON object data; the stream's output,
// success, end and usage do not depend on how the bytes were split, and a finished stream ends with
// message_stop or an error event.

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "adapters/anthropic_inbound.h"
#include "adapters/anthropic_inbound_internal.h"
#include "adapters/json_write.h"
#include "adapters/sse.h"
#include "tests/fuzz/fuzz_split.h"
#include "tests/fuzz/fuzz_stream.h"

namespace {

using namespace sb::adapters;

using sb::fuzz::parse_json;

void check_request(std::string_view bytes) {
  boost::json::parse_options opts;
  opts.max_depth = 128;  // as the gateway parses a client's body
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(bytes, ec, {}, opts);
  if (ec || !body.is_object()) {
    return;
  }
  for (const bool thinking_engine : {false, true}) {
    AnthropicInboundOptions options;
    options.reasoning_content = thinking_engine;
    options.reasoning_effort = thinking_engine;
    options.max_tokens_cap = thinking_engine ? 64 : 0;
    std::string error;
    const std::optional<std::string> chat =
        anthropic_to_openai_request(body.get_object(), error, options);
    if (!chat) {
      sb::fuzz::check(!error.empty());
      continue;
    }
    // The client's body was valid UTF-8 JSON, so the translation must be too.
    const std::optional<boost::json::value> v = parse_json(*chat, true);
    sb::fuzz::check(v && v->is_object());
    const boost::json::object& o = v->get_object();
    sb::fuzz::check(o.contains("model") && o.at("messages").is_array());
    sb::fuzz::check(o.at("max_tokens").is_int64() || o.at("max_tokens").is_uint64());
  }
  std::string error;
  if (const std::optional<std::int64_t> n =
          anthropic_count_tokens_estimate(body.get_object(), error)) {
    sb::fuzz::check(*n >= 0);
  } else {
    sb::fuzz::check(!error.empty());
  }
  (void)anthropic_thinking_requested(body.get_object());
  // The text of a document as a string literal in one pass (how a tool_use input becomes a tool
  // call's arguments): the literal Boost writes of Boost's text.
  std::string literal;
  append_json_text_string(literal, body.get_object());
  sb::fuzz::check(literal ==
                  boost::json::serialize(boost::json::string(boost::json::serialize(body))));
}

struct StreamRun {
  std::string out;
  bool fed_ok = true;
  bool finished = false;
  bool done = false;
  bool failed = false;
  std::optional<std::int64_t> input_tokens;
};

StreamRun run_stream(const std::vector<std::string_view>& pieces, bool thinking) {
  AnthropicStreamWriter w("fuzz-model", 12, thinking);
  StreamRun run;
  std::tie(run.fed_ok, run.finished) = sb::fuzz::feed_stream(w, pieces, run.out);
  run.done = w.done();
  run.failed = w.failed();
  if (w.usage()) {
    run.input_tokens = w.usage()->input;
  }
  return run;
}

void check_sse(const StreamRun& run) {
  const std::vector<SseEvent> events = sb::fuzz::checked_events(run.out);
  // A stream that ended either completed (message_stop last) or failed (an error event last).
  if (run.done || run.failed) {
    sb::fuzz::check(!events.empty());
    sb::fuzz::check(events.back().event == (run.done ? "message_stop" : "error"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_request(bytes);

  for (const bool thinking : {false, true}) {
    std::string error;
    const std::optional<std::string> m =
        try_openai_to_anthropic_response(bytes, "fuzz-model", error, 3, thinking);
    if (m) {
      const std::optional<boost::json::value> v = parse_json(*m);
      sb::fuzz::check(v && v->is_object());
    } else {
      sb::fuzz::check(!error.empty());
    }
    // The one-pass reading writes what the DOM reading writes, byte for byte.
    std::string dom_error;
    sb::fuzz::check(
        m == anthropic_inbound::message_from_dom(bytes, "fuzz-model", dom_error, 3, thinking) &&
        error == dom_error);
  }
  const std::optional<boost::json::value> e = parse_json(openai_error_to_anthropic(500, bytes));
  sb::fuzz::check(e && e->is_object());

  const bool thinking = size % 2 == 1;
  const StreamRun whole = run_stream({bytes}, thinking);
  const StreamRun split = run_stream(sb::fuzz::split(bytes), thinking);
  check_sse(whole);
  sb::fuzz::check(whole.out == split.out);
  sb::fuzz::check(whole.fed_ok == split.fed_ok && whole.finished == split.finished);
  sb::fuzz::check(whole.done == split.done && whole.failed == split.failed);
  sb::fuzz::check(whole.input_tokens == split.input_tokens);
  return 0;
}
