// libFuzzer target: the SSE parser (adapters/sse) on arbitrary bytes. Oracle: the events and the
// end state do not depend on how the bytes were split across feeds.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "adapters/sse.h"
#include "tests/fuzz/fuzz_split.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  sb::adapters::SseParser whole;
  std::vector<sb::adapters::SseEvent> whole_events;
  whole.feed(bytes, whole_events);

  sb::adapters::SseParser pieces;
  std::vector<sb::adapters::SseEvent> piece_events;
  for (std::string_view piece : sb::fuzz::split(bytes)) {
    pieces.feed(piece, piece_events);
  }
  sb::fuzz::check(whole_events == piece_events);
  sb::fuzz::check(whole.at_boundary() == pieces.at_boundary());
  sb::fuzz::check(whole.pending_bytes() <= size && pieces.pending_bytes() <= size);

  // What append_sse writes parses back to the same data and event name.
  for (const auto& ev : whole_events) {
    std::string out;
    sb::adapters::append_sse(out, ev.data, ev.event);
    sb::adapters::SseParser again;
    std::vector<sb::adapters::SseEvent> back;
    again.feed(out, back);
    sb::fuzz::check(back.size() <= 1);
    if (back.size() == 1) {
      sb::fuzz::check(back[0].data == ev.data);
    }
  }
  return 0;
}
