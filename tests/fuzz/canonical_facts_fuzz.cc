// libFuzzer target: the chat facts collected from the typed request (collect_chat_facts on a
// ChatRequest, adapters/chat_facts.h) against those collected from Boost.JSON's DOM of the same
// body.
//
// Oracle: for every body parse_chat_request() accepts (the DOM parser then accepts it too), the
// two ChatFacts are equal in every field: the text byte for byte, its views, the byte count, the
// estimate and the bound, every flag, max_tokens, depth and reasoning_effort. Both readings agree
// on whether a key is repeated in an object (the typed walk's merge, the DOM parse's count), and
// the facts of every value of the body (collect_raw_facts) count at least the string bytes the
// DOM's do.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"
#include "adapters/json_lex.h"
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
  bool repeated = false;
  const boost::json::value counted = sb::adapters::json_lex::parse(body, ec, {}, opts, &repeated);
  // As text: a number Boost reads as NaN (0e400) is not equal to itself.
  check(!ec && boost::json::serialize(counted) == boost::json::serialize(dom));

  ChatFacts want;
  sb::adapters::collect_chat_facts(dom.get_object(), want);
  ChatFacts got;
  bool walked_repeated = !repeated;
  sb::adapters::collect_chat_facts(request.value(), got, &walked_repeated);
  check(want == got);
  check(walked_repeated == repeated);
  // Storage reused across requests: the same facts again.
  sb::adapters::collect_chat_facts(request.value(), want);
  check(want == got);
  ChatFacts raw;
  sb::adapters::collect_raw_facts(body, raw);
  check(raw.text_bytes >= got.text_bytes);
  check(raw.texts.size() == (raw.text.empty() ? 0u : 1u));
  return 0;
}
