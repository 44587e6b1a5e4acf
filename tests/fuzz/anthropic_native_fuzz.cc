// libFuzzer target: the faithful Anthropic lane's stream relay (AnthropicNativeStream) and its
// answer readers. The bytes are an upstream Messages stream (or answer body).
//
// Oracles: the relay's output is always a prefix of its input (it never rewrites a byte), ends at
// an event boundary or is the whole input, and neither the output nor the success, usage, error
// and completion depend on how the input was split.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/anthropic_native.h"
#include "adapters/usage.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

using namespace sb::adapters;

struct Run {
  std::string out;
  bool ok = true;
  std::optional<Usage> usage;
  std::optional<unsigned> error;
  bool done = false;
};

bool same(const std::optional<Usage>& a, const std::optional<Usage>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || (a->input == b->input && a->output == b->output &&
                a->cached_input == b->cached_input && a->cache_write == b->cache_write);
}

template <class Pieces>
Run relay(const Pieces& pieces) {
  AnthropicNativeStream s;
  Run r;
  for (std::string_view p : pieces) {
    if (!(r.ok = s.feed(p, r.out))) {
      break;
    }
  }
  if (r.ok) {
    r.ok = s.finish(r.out);
  }
  r.usage = s.usage();
  if (s.error()) {
    r.error = s.error()->status;
  }
  r.done = s.done();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view whole[] = {input};
  const Run a = relay(whole);
  const Run b = relay(sb::fuzz::split(input));
  sb::fuzz::check(input.starts_with(a.out));
  sb::fuzz::check(a.out == b.out && a.ok == b.ok && a.done == b.done && a.error == b.error &&
                  same(a.usage, b.usage));
  sb::fuzz::check(a.ok == a.done);
  (void)anthropic_native_answer(200, input, input.substr(0, 8));
  (void)anthropic_count_tokens_answer(input);
  return 0;
}
