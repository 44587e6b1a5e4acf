// libFuzzer target: the Responses API inbound (adapters/responses_inbound). The bytes are both a
// client's request body (translated to a chat request; the input also serves as the stored
// history) and an upstream's chat.completion and chat.completion.chunk stream (translated back,
// fed whole and in fuzzer-chosen pieces).
//
// Oracles: a translated request is a JSON object with the client's model and a messages array,
// its echo is JSON object members and its input_messages a JSON array, a rejection names a
// message; a Response is JSON; every stream event is complete SSE with JSON data; the stream's
// output, success, final Response and usage do not depend on how the bytes were split.

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "adapters/responses_inbound.h"
#include "adapters/sse.h"
#include "tests/fuzz/fuzz_split.h"
#include "tests/fuzz/fuzz_stream.h"

namespace {

using namespace sb::adapters;

using sb::fuzz::parse_json;

void check_request(std::string_view bytes) {
  std::string error;
  std::string param;
  const std::optional<ResponsesTurn> turn = responses_to_chat_request(bytes, {}, error, param);
  if (!turn) {
    sb::fuzz::check(!error.empty());
    return;
  }
  const std::optional<boost::json::value> chat = parse_json(turn->chat_body);
  sb::fuzz::check(chat && chat->is_object() && chat->as_object().contains("messages"));
  const std::optional<boost::json::value> echo = parse_json("{" + turn->echo + "}");
  sb::fuzz::check(echo && echo->is_object());
  const std::optional<boost::json::value> input = parse_json(turn->input_messages);
  sb::fuzz::check(input && input->is_array());
  // The input as history of a follow-up translates too (it is what the store keeps).
  std::string error2;
  sb::fuzz::check(
      responses_to_chat_request(bytes, turn->input_messages, error2, param).has_value());
}

ResponseMeta meta() {
  ResponseMeta m;
  m.id = "resp_0123456789abcdef0123456789abcdef0123456789abcdef";
  m.created_at = 1700000000;
  m.model = "fuzz-model";
  m.tool_aliases.push_back(ToolAlias{"ns__f", "f", "ns", false});
  m.tool_aliases.push_back(ToolAlias{"patch", "patch", "", true});
  return m;
}

struct StreamRun {
  std::string out;
  bool fed_ok = true;
  bool finished = false;
  std::string final_response;
  std::string output_messages;
  std::optional<std::int64_t> input_tokens;
};

StreamRun run_stream(const std::vector<std::string_view>& pieces) {
  ResponsesStreamWriter w(meta());
  StreamRun run;
  std::tie(run.fed_ok, run.finished) = sb::fuzz::feed_stream(w, pieces, run.out);
  run.final_response = w.final_response();
  run.output_messages = w.output_messages();
  if (w.usage()) {
    run.input_tokens = w.usage()->input;
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_request(bytes);

  std::string messages;
  std::string error;
  if (const std::optional<std::string> r = chat_to_response(bytes, meta(), messages, error)) {
    sb::fuzz::check(parse_json(*r).has_value());
    sb::fuzz::check(parse_json(messages).has_value());
  }
  sb::fuzz::check(parse_json(responses_error_body(500, bytes)).has_value());

  const StreamRun whole = run_stream({bytes});
  const StreamRun split = run_stream(sb::fuzz::split(bytes));
  sb::fuzz::checked_events(whole.out);
  sb::fuzz::check(whole.out == split.out);
  sb::fuzz::check(whole.fed_ok == split.fed_ok && whole.finished == split.finished);
  sb::fuzz::check(whole.final_response == split.final_response);
  sb::fuzz::check(whole.output_messages == split.output_messages);
  sb::fuzz::check(whole.input_tokens == split.input_tokens);
  if (whole.finished) {
    sb::fuzz::check(parse_json(whole.final_response).has_value());
  }
  return 0;
}
