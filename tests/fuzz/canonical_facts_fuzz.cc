// libFuzzer target: the chat facts collected from the typed request (collect_chat_facts on a
// ChatRequest, adapters/chat_facts.h) against those collected from Boost.JSON's DOM of the same
// body.
//
// Oracle: for every body parse_chat_request() accepts (the DOM parser then accepts it too), the
// two ChatFacts are equal in every field: the text byte for byte, its views, the byte count, the
// estimate and the bound, every flag, max_tokens, depth and reasoning_effort.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

using sb::adapters::ChatFacts;
using sb::fuzz::check;

bool equal(const ChatFacts& a, const ChatFacts& b) {
  return a.text == b.text && a.texts == b.texts && a.text_bytes == b.text_bytes &&
         a.estimated_prompt_tokens == b.estimated_prompt_tokens &&
         a.prompt_tokens_bound == b.prompt_tokens_bound && a.max_tokens == b.max_tokens &&
         a.tools == b.tools && a.images == b.images && a.json_schema == b.json_schema &&
         a.token_ids == b.token_ids && a.audio == b.audio && a.files == b.files &&
         a.depth == b.depth && a.reasoning_effort == b.reasoning_effort;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy of exactly `size` bytes, so reading past the body is an ASan report.
  const std::string owned(reinterpret_cast<const char*>(data), size);
  const std::string_view body(owned);
  const auto request = sb::adapters::parse_chat_request(body);
  if (!request.ok()) {
    return 0;
  }
  boost::json::parse_options opts;
  opts.max_depth = 128;  // as the data plane parses bodies
  boost::system::error_code ec;
  const boost::json::value dom = boost::json::parse(body, ec, {}, opts);
  check(!ec && dom.is_object());

  ChatFacts want;
  sb::adapters::collect_chat_facts(dom.get_object(), want);
  ChatFacts got;
  sb::adapters::collect_chat_facts(request.value(), got);
  check(equal(want, got));
  // Storage reused across requests: the same facts again.
  sb::adapters::collect_chat_facts(request.value(), want);
  check(equal(want, got));
  return 0;
}
