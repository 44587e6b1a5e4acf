#pragma once
// Chat-completions stream inputs the stream writers (Anthropic's, the Responses API's) are fed.

#include <string>
#include <string_view>

namespace sb::test {

/// A stream of `calls` tool calls (ids c0, c1, ...; arguments "{}"), then late fragments for
/// calls 0 and calls / 2 (arguments "late"), a text chunk ("t"), a call without an index (id
/// "last"), the finish chunk and [DONE]: each call must become one block or item, the late
/// fragments dropped, and the call without an index a new one.
inline std::string many_tool_calls_stream(int calls) {
  std::string input;
  const auto call = [&](const std::string& index_member, std::string_view rest) {
    input += R"(data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{)" + index_member +
             std::string(rest) + "}]}}]}\n\n";
  };
  for (int i = 0; i < calls; ++i) {
    call(R"("index":)" + std::to_string(i),
         R"(,"id":"c)" + std::to_string(i) + R"(","function":{"name":"f","arguments":"{}"})");
  }
  call(R"("index":0)", R"(,"function":{"arguments":"late"})");
  call(R"("index":)" + std::to_string(calls / 2), R"(,"function":{"arguments":"late"})");
  input += R"(data: {"id":"x","choices":[{"index":0,"delta":{"content":"t"}}]})"
           "\n\n";
  call(R"("id":"last")", R"(,"function":{"name":"g","arguments":"{}"})");
  input += R"(data: {"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
           "\n\ndata: [DONE]\n\n";
  return input;
}

}  // namespace sb::test
