#pragma once
// The request bodies the micro-benchmarks share: a ~300-byte chat request and a ~20 KB
// conversation, so that parser, facts and detector figures speak of the same bytes.

#include <string>

namespace sb::bench {

// About 300 bytes: a system prompt, one user question, one small tool.
inline std::string small_body() {
  return R"({"model":"default","messages":[{"role":"system","content":"You are a helpful )"
         R"(assistant."},{"role":"user","content":"What is the weather in Paris today?"}],)"
         R"("tools":[{"type":"function","function":{"name":"weather","description":"Gets the )"
         R"(weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],)"
         R"("max_tokens":200})";
}

// About 20 KB: a ten-turn conversation of ordinary prose and two tools with schemas.
inline std::string large_body() {
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

}  // namespace sb::bench
