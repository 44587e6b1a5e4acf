#pragma once
// Internal to ChatChunkParser (adapters/chat_chunk.cc): the reader of the usual chunk, by hand.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/chat_chunk.h"
#include "adapters/usage_sax.h"

namespace sb::adapters::chunk_detail {

/// What ChatChunkParser keeps a chunk's reading in, reused from chunk to chunk. The tool calls of
/// choice i start at calls[calls_begin[i]]; strings with escapes are decoded into `decoded`.
struct Reading {
  std::vector<ChunkChoice>& choices;
  std::vector<ChunkToolCall>& calls;
  std::vector<std::size_t>& calls_begin;
  std::string& decoded;
  std::string_view id;
  usage_detail::UsageSax usage;  ///< the events of the `usage` member's value
  ChunkPrefix* prefix = nullptr;  ///< read and replaced by read_usual_chunk; nullptr: not kept
  ChunkContent* content = nullptr;  ///< the same; a stream's only (`body` is "delta")
};

/// Reads `data` into `out` (whose vectors are empty) as ChatChunkParser's SAX reading would, when
/// it has the usual shape:
/// - one object, nothing but whitespace after it;
/// - `choices`, `id`, the choice's members, the body's (`body`: "delta" or "message") and the
///   tool calls' of the kinds servers send: strings or null; integer or null indexes; objects or
///   null for a body, a call's function, `usage` (read_usual_usage's usual one); arrays of objects
///   or null for `choices` and `tool_calls`; `error` null;
/// - every member at most once in its object;
/// - any other member any JSON value up to eight deep, without an integer part longer than 18
///   digits, a fraction longer than 32 or an exponent longer than 4.
/// Strings are checked as basic_parser checks them (escapes, UTF-8, control bytes). False for
/// anything else, with `out` in any state: the caller then reads the text from scratch. A chunk
/// that starts with `out.prefix`'s bytes is read from where they end; one read whole replaces
/// them with its own. A chunk that is `out.content`'s bytes around a string is read as one string;
/// a content delta read whole replaces them.
bool read_usual_chunk(std::string_view data, std::string_view body, Reading& out);

}  // namespace sb::adapters::chunk_detail
