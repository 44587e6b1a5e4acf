// libFuzzer target: ChatChunkParser (adapters/chat_chunk), the one-pass reader of an OpenAI
// chat.completion.chunk under the inbound stream writers: its hand reader of the usual chunk
// (chat_chunk_usual.cc) and the SAX reading behind it, whichever reads the input.
//
// Oracle: its reading equals the plain one (tests/adapters/chat_chunk_reference.h: a Boost.JSON
// DOM and member lookups), including which inputs are refused, for a chunk's `delta` and an
// answer's `message` alike. One parser is reused across inputs,
// as a stream reuses it across chunks, so nothing may carry over from one to the next but the
// leading members it has checked (chunk_detail::ChunkPrefix); then each line of the input is read
// as one chunk of a stream, so that lines sharing a lead exercise that.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/chat_chunk.h"
#include "tests/adapters/chat_chunk_reference.h"
#include "tests/fuzz/fuzz_split.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sb::adapters::ChatChunkParser parser;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sb::fuzz::check(sb::adapters::testing::parser_read(parser, text) ==
                  sb::adapters::testing::dom_read(text));
  // The same reading of a whole answer, its choices' `message` in place of `delta`.
  sb::fuzz::check(
      sb::adapters::testing::parser_read(parser, text, sb::adapters::ChunkBody::message) ==
      sb::adapters::testing::dom_read(text, "message"));
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    sb::fuzz::check(sb::adapters::testing::parser_read(parser, line) ==
                    sb::adapters::testing::dom_read(line));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  return 0;
}
