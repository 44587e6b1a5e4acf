// libFuzzer target: the AWS event stream decoder (adapters/eventstream) on arbitrary bytes.
// Oracles: messages, error and end state do not depend on how the bytes were split across feeds;
// every decoded message encodes again and decodes to itself.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/eventstream.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

bool same(const sb::adapters::EventStreamMessage& a, const sb::adapters::EventStreamMessage& b) {
  return a.headers == b.headers && a.payload == b.payload;
}

bool same(const std::vector<sb::adapters::EventStreamMessage>& a,
          const std::vector<sb::adapters::EventStreamMessage>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sb::adapters::EventStreamDecoder;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // A small limit too, so the length checks are reached with short inputs.
  for (std::size_t limit : {EventStreamDecoder::kDefaultMaxMessage, std::size_t{256}}) {
    EventStreamDecoder whole(limit);
    std::vector<sb::adapters::EventStreamMessage> whole_messages;
    const bool whole_ok = whole.feed(bytes, whole_messages);

    EventStreamDecoder pieces(limit);
    std::vector<sb::adapters::EventStreamMessage> piece_messages;
    bool pieces_ok = true;
    for (std::string_view piece : sb::fuzz::split(bytes)) {
      pieces_ok = pieces.feed(piece, piece_messages);
      if (!pieces_ok) {
        break;
      }
    }
    sb::fuzz::check(whole_ok == pieces_ok);
    sb::fuzz::check(whole.error() == pieces.error());
    sb::fuzz::check(same(whole_messages, piece_messages));
    sb::fuzz::check(whole.at_boundary() == pieces.at_boundary());
    sb::fuzz::check(whole_ok == whole.error_message().empty());

    for (const auto& m : whole_messages) {
      std::string encoded;
      sb::fuzz::check(sb::adapters::append_eventstream_message(encoded, m.headers, m.payload));
      EventStreamDecoder again(limit);
      std::vector<sb::adapters::EventStreamMessage> back;
      sb::fuzz::check(again.feed(encoded, back) && back.size() == 1 && same(back[0], m));
      sb::fuzz::check(again.at_boundary());
    }
  }
  return 0;
}
