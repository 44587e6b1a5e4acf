// libFuzzer target: the SSE parser (adapters/sse) on arbitrary bytes. Oracles: the events and the
// end state do not depend on how the bytes were split across feeds; and skipping the canonical
// events the parser recognizes (as the chat relay does, relaying their bytes) and feeding the
// rest yields the same events as feeding everything.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
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

  // Each piece: its canonical events first (each is {data: X}), then the rest fed. The same
  // events (data and name), the same end state.
  sb::adapters::SseParser skipping;
  std::vector<sb::adapters::SseEvent> skipped_events;
  for (std::string_view piece : sb::fuzz::split(bytes)) {
    std::size_t n = 0;
    while (const std::optional<std::string_view> x = skipping.canonical_event(piece, n)) {
      sb::fuzz::check(n <= piece.size() && piece.substr(0, n).ends_with("\n\n"));
      skipped_events.push_back(sb::adapters::SseEvent{"", std::string(*x), ""});
      piece.remove_prefix(n);
    }
    skipping.feed(piece, skipped_events);
  }
  sb::fuzz::check(skipped_events.size() == whole_events.size());
  for (std::size_t i = 0; i < whole_events.size() && i < skipped_events.size(); ++i) {
    sb::fuzz::check(skipped_events[i].data == whole_events[i].data &&
                    skipped_events[i].event == whole_events[i].event);
  }
  sb::fuzz::check(skipping.at_boundary() == whole.at_boundary());
  sb::fuzz::check(skipping.failed() == whole.failed());

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
