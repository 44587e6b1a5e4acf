// libFuzzer target: the native Responses lane's stream relay (ResponsesNativeStream) and its
// answer readers. The bytes are an upstream Responses event stream (or answer body).
//
// Oracles: the relay's output is always a prefix of its input (it never rewrites a byte), and
// neither the output nor the success, usage, error, completion and final Response depend on how
// the input was split.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/responses_native.h"
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
  std::string response;
};

bool same(const std::optional<Usage>& a, const std::optional<Usage>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || (a->input == b->input && a->output == b->output &&
                a->cached_input == b->cached_input && a->reasoning == b->reasoning);
}

template <class Pieces>
Run relay(const Pieces& pieces) {
  ResponsesNativeStream s;
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
  r.response = s.final_response();
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
                  a.response == b.response && same(a.usage, b.usage));
  sb::fuzz::check(a.ok == a.done);
  (void)responses_native_answer(200, input);
  (void)response_id_of(input);
  return 0;
}
