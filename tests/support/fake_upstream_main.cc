// fake_upstream: the scriptable fake upstream as a standalone server speaking every provider's
// wire format, the stand-in for a self-hosted engine or a closed provider in the README's try-it
// path and in benchmarks.
// Prints one line, "listening <base_url>", then serves until SIGINT or SIGTERM (exit 0).
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/fake_upstream.h"
#include "tests/support/serve_until_stopped.h"

namespace {

constexpr std::string_view kUsage =
    "usage: fake_upstream [--host 127.0.0.1] [--port 8000] [--name NAME] [--latency-ms N]\n"
    "                     [--azure-model MODEL] [--tls-cert FILE --tls-key FILE]\n"
    "                     [--record FILE] [--completion-tokens N]\n"
    "\n"
    "A fake LLM upstream answering every provider's native wire format, chosen by the path.\n"
    "Replies are \"Hello from NAME: <last user message>\", streamed one word per event:\n"
    "\n"
    "  POST .../chat/completions, .../completions, .../embeddings; GET .../models   OpenAI\n"
    "  POST .../responses (stream and non-stream)                                  OpenAI\n"
    "  POST /openai/deployments/D/chat/completions?api-version=V (api-key header)  Azure OpenAI\n"
    "  POST /openai/v1/responses, /openai/responses?api-version=V                  Azure OpenAI\n"
    "  POST .../messages, .../messages/count_tokens (x-api-key, anthropic-version) Anthropic\n"
    "  POST .../models/M:generateContent, :streamGenerateContent?alt=sse            Gemini\n"
    "  POST /api/chat (NDJSON); GET /api/tags, /api/version, /                      Ollama\n"
    "  POST /model/ID/converse, /converse-stream (SigV4 authorization header)      Bedrock\n"
    "  GET /health                                                                 llama.cpp\n"
    "\n"
    "Requests declaring tools get one call of the first tool with {\"query\": <user text>};\n"
    "a tool result as the last message gets \"Tool said: <result>\". Anthropic requests with\n"
    "thinking enabled or adaptive get a signed thinking block first.\n"
    "\n"
    "  --host ADDR        address to listen on (default 127.0.0.1)\n"
    "  --port N           port to listen on, 0 for any free one (default 8000)\n"
    "  --name NAME        reply prefix and model id (default fake-upstream)\n"
    "  --latency-ms N     delay before a reply and between streamed chunks (default 0)\n"
    "  --azure-model M    model behind every Azure deployment (default gpt-4o-2024-08-06)\n"
    "  --tls-cert FILE    PEM certificate chain; serve HTTPS (needs --tls-key)\n"
    "  --tls-key FILE     PEM private key\n"
    "  --record FILE      append each request received to FILE as one JSON line, flushed at\n"
    "                     once: {\"method\",\"target\",\"headers\":{lower-case name: value},\n"
    "                     \"body\":\"<body as a JSON string>\"}\n"
    "  --completion-tokens N\n"
    "                     OpenAI chat and Responses answers report N completion tokens (or\n"
    "                     the request's max tokens when smaller); the text is unchanged\n"
    "  --help             show this help\n"
    "\n"
    "Per request, header x-fake-status: N (400..599) answers N with the error body of the\n"
    "path's format (429 adds retry-after; 529 is Anthropic's overloaded_error) and\n"
    "x-fake-latency-ms: N overrides the latency.\n"
    "\n"
    "Prints \"listening <base_url>\" once ready; stops on SIGINT or SIGTERM.\n";

[[noreturn]] void usage_error(std::string_view message) {
  std::cerr << "fake_upstream: " << message << "\n\n" << kUsage;
  std::exit(2);
}

template <class Int>
Int parse_number(std::string_view flag, std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    usage_error(std::string(flag) + ": not a valid number: '" + std::string(text) + "'");
  }
  return value;
}

sb::testing::FakeUpstreamOptions parse_args(int argc, char** argv) {
  sb::testing::FakeUpstreamOptions options;
  options.port = 8000;
  // A long-running server keeps no request log: memory must stay flat under load.
  options.record_requests = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    std::string_view flag = arg;
    std::optional<std::string_view> value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto take = [&]() -> std::string_view {
      if (value) {
        return *value;
      }
      if (i + 1 >= argc) {
        usage_error(std::string(flag) + " needs a value");
      }
      return argv[++i];
    };
    if (flag == "--host") {
      options.host = take();
    } else if (flag == "--port") {
      options.port = parse_number<std::uint16_t>(flag, take());
    } else if (flag == "--name") {
      options.name = take();
      if (options.name.empty()) {
        usage_error("--name must not be empty");
      }
    } else if (flag == "--latency-ms") {
      options.latency = std::chrono::milliseconds(parse_number<std::uint32_t>(flag, take()));
    } else if (flag == "--azure-model") {
      options.azure_model = take();
      if (options.azure_model.empty()) {
        usage_error("--azure-model must not be empty");
      }
    } else if (flag == "--tls-cert") {
      options.cert_file = take();
    } else if (flag == "--tls-key") {
      options.key_file = take();
    } else if (flag == "--record") {
      options.record_file = take();
      if (options.record_file.empty()) {
        usage_error("--record needs a file name");
      }
    } else if (flag == "--completion-tokens") {
      options.report_completion_tokens = parse_number<std::uint32_t>(flag, take());
    } else {
      usage_error("unknown argument '" + std::string(arg) + "'");
    }
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    usage_error("--tls-cert and --tls-key go together");
  }
  options.tls = !options.cert_file.empty();
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_args(argc, argv);
  return sb::testing::serve_until_stopped(
      [&] { return std::make_unique<sb::testing::FakeUpstream>(std::move(options)); });
}
