#pragma once
// Request bodies several suites build the same way.

#include <string>

namespace sb::test {

/// A chat request for `model` whose one user message has `n` copies of `part` as its content.
inline std::string chat_body_of_parts(const std::string& model, const std::string& part, int n) {
  std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":[)";
  for (int i = 0; i < n; ++i) {
    body += i == 0 ? "" : ",";
    body += part;
  }
  return body + "]}]}";
}

}  // namespace sb::test
