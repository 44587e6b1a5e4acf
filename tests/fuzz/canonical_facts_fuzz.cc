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
  check(want == got);
  // Storage reused across requests: the same facts again.
  sb::adapters::collect_chat_facts(request.value(), want);
  check(want == got);
  return 0;
}
