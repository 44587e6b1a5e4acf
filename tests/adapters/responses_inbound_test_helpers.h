#pragma once
// Helpers shared by the Responses inbound tests (responses_inbound_test.cc for requests,
// responses_inbound_answer_test.cc for answers and streams).

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/responses_inbound.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters::responses_test {

namespace json = boost::json;

/// Compares `actual` with the golden file `relative`; with SB_UPDATE_GOLDEN set in the
/// environment, (re)writes the file instead (then review the diff before committing).
inline void expect_golden(const std::string& relative, const std::string& actual) {
  if (std::getenv("SB_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(std::string(SB_FIXTURES_DIR) + "/" + relative, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(actual, sb::test::read_fixture(relative)) << relative;
}

/// The translation of a request that must translate.
inline ResponsesTurn turn_of(std::string_view body, std::string_view history = {}) {
  std::string error;
  std::string param;
  std::optional<ResponsesTurn> turn = responses_to_chat_request(body, history, error, param);
  EXPECT_TRUE(turn.has_value()) << error << " (param " << param << ")";
  return turn ? std::move(*turn) : ResponsesTurn{};
}

/// The chat body of a request that must translate, parsed.
inline json::value translate(std::string_view body, std::string_view history = {}) {
  const ResponsesTurn turn = turn_of(body, history);
  return turn.chat_body.empty() ? json::value() : json::parse(turn.chat_body);
}

struct Rejection {
  std::string message;
  std::string param;
};

inline Rejection rejection(std::string_view body, std::string_view history = {}) {
  Rejection r;
  const std::optional<ResponsesTurn> turn =
      responses_to_chat_request(body, history, r.message, r.param);
  EXPECT_FALSE(turn.has_value()) << turn->chat_body;
  return r;
}

/// The echo members as a JSON object.
inline json::object echo_of(const ResponsesTurn& turn) {
  return json::parse("{" + turn.echo + "}").as_object();
}

constexpr std::string_view kId = "resp_0123456789abcdef0123456789abcdef0123456789abcdef";

inline ResponseMeta meta_for(
    std::string_view request = R"({"model": "gateway-model", "input": "x"})") {
  const ResponsesTurn turn = turn_of(request);
  ResponseMeta meta;
  meta.id = kId;
  meta.created_at = 1700000000;
  meta.model = "gateway-model";
  meta.echo = turn.echo;
  meta.tool_aliases = turn.tool_aliases;
  return meta;
}

/// A request whose tools include a namespace and a custom tool (for the aliases).
constexpr std::string_view kToolRequest = R"({"model": "gateway-model", "input": "x", "tools": [
  {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
  {"type": "custom", "name": "apply_patch"},
  {"type": "namespace", "name": "multi_agent_v1", "description": "Agents.",
   "tools": [{"type": "function", "name": "spawn_agent"}]}]})";

}  // namespace sb::adapters::responses_test
