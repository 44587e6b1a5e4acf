// fake_engine: a simulated vLLM replica with a capacity model (see tests/support/fake_engine.h),
// for capacity planning and spill benches.
// Prints one line, "listening <base_url>", then serves until SIGINT or SIGTERM (exit 0).
#include <charconv>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "tests/support/fake_engine.h"
#include "tests/support/serve_until_stopped.h"

namespace {

constexpr std::string_view kUsage =
    "usage: fake_engine [--host 127.0.0.1] [--port 8000] [--model NAME] [--tokens-per-second N]\n"
    "                   [--stream-tokens-per-second N] [--prefill-tokens-per-second N]\n"
    "                   [--batch N] [--kv-tokens N] [--output-tokens N] [--time-scale X]\n"
    "\n"
    "A simulated vLLM replica: continuous batching reduced to its capacity. Requests wait in a\n"
    "FIFO queue until the batch has a slot and their prompt fits in the KV budget, prefill, then\n"
    "share the decode throughput. Serves POST /v1/chat/completions (stream and non-stream, vLLM's\n"
    "format), GET /v1/models, GET /health and GET /metrics (vllm:num_requests_waiting,\n"
    "vllm:num_requests_running, vllm:kv_cache_usage_perc, vllm:time_to_first_token_seconds).\n"
    "Prompt tokens are counted as words + 3 per message.\n"
    "\n"
    "  --host ADDR                    address to listen on (default 127.0.0.1)\n"
    "  --port N                       port, 0 for any free one (default 8000)\n"
    "  --model NAME                   model id served (default fake-engine)\n"
    "  --tokens-per-second N          decode throughput shared by the batch (default 2500)\n"
    "  --stream-tokens-per-second N   decode ceiling of one request (default 100)\n"
    "  --prefill-tokens-per-second N  prompt tokens per second (default 20000)\n"
    "  --batch N                      running requests at most (default 64)\n"
    "  --kv-tokens N                  KV budget in tokens (default 100000)\n"
    "  --output-tokens N              output tokens when max_tokens is absent, and at most\n"
    "                                 (default 128)\n"
    "  --time-scale X                 simulated seconds per wall second (default 1); the\n"
    "                                 metrics and pacing are in simulated time\n"
    "\n"
    "Prints \"listening <base_url>\" once ready; stops on SIGINT or SIGTERM.\n";

[[noreturn]] void usage_error(std::string_view message) {
  std::cerr << "fake_engine: " << message << "\n\n" << kUsage;
  std::exit(2);
}

template <class Number>
Number parse_number(std::string_view flag, std::string_view text, Number min) {
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min) {
    usage_error(std::string(flag) + ": not a valid number: '" + std::string(text) + "'");
  }
  return value;
}

struct Args {
  sb::testing::EngineOptions engine;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
};

Args parse_args(int argc, char** argv) {
  Args args;
  auto& e = args.engine;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) {
      usage_error(std::string(flag) + " needs a value (or is unknown)");
    }
    std::string_view value = argv[++i];
    if (flag == "--host") {
      args.host = value;
    } else if (flag == "--port") {
      args.port = parse_number<std::uint16_t>(flag, value, 0);
    } else if (flag == "--model") {
      e.model = value;
      if (e.model.empty()) {
        usage_error("--model must not be empty");
      }
    } else if (flag == "--tokens-per-second") {
      e.tokens_per_second = parse_number<double>(flag, value, 1e-9);
    } else if (flag == "--stream-tokens-per-second") {
      e.stream_tokens_per_second = parse_number<double>(flag, value, 1e-9);
    } else if (flag == "--prefill-tokens-per-second") {
      e.prefill_tokens_per_second = parse_number<double>(flag, value, 1e-9);
    } else if (flag == "--batch") {
      e.max_batch = parse_number<std::int64_t>(flag, value, 1);
    } else if (flag == "--kv-tokens") {
      e.kv_tokens = parse_number<std::int64_t>(flag, value, 1);
    } else if (flag == "--output-tokens") {
      e.output_tokens = parse_number<std::int64_t>(flag, value, 1);
    } else if (flag == "--time-scale") {
      e.time_scale = parse_number<double>(flag, value, 1e-9);
    } else {
      usage_error("unknown argument '" + std::string(flag) + "'");
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parse_args(argc, argv);
  return sb::testing::serve_until_stopped(
      [&] { return std::make_unique<sb::testing::FakeEngine>(args.engine, args.host, args.port); });
}
