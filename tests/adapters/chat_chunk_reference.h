#pragma once
// The reading ChatChunkParser must match, written the plain way: the chunk parsed as a Boost.JSON
// DOM (default options) and its members looked up, as the stream writers did before the parser.
// Both readings become a ReadChunk (owned strings) so a test or a fuzz target can compare them.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_chunk.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/usage.h"

namespace sb::adapters::testing {

struct ReadCall {
  std::optional<std::int64_t> index;
  bool has_function = false;
  std::string id, name, arguments;
  bool operator==(const ReadCall&) const = default;
};

struct ReadChoice {
  std::size_t position = 0;
  bool has_body = false;
  bool content_parts = false;
  ChunkChoice::Index index_kind = ChunkChoice::Index::absent;
  std::int64_t index = 0;
  std::string content, refusal, reasoning_content, reasoning, finish_reason;
  std::vector<ReadCall> calls;
  bool operator==(const ReadChoice&) const = default;
};

struct ReadChunk {
  std::string id;
  std::vector<ReadChoice> choices;
  bool has_error = false;
  std::string error_type, error_code, error_message;
  // Usage as a tuple (Usage has no comparison): input, output, cached, reasoning, cache_write.
  std::optional<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>>
      usage;
  bool operator==(const ReadChunk&) const = default;
};

inline auto usage_tuple(const std::optional<Usage>& u) -> decltype(ReadChunk::usage) {
  if (!u) {
    return std::nullopt;
  }
  return std::make_tuple(u->input, u->output, u->cached_input, u->reasoning, u->cache_write);
}

/// The DOM reading of `data` (a choice's body under `body`: "delta" or "message"); nullopt when it
/// is not a JSON object.
inline std::optional<ReadChunk> dom_read(std::string_view data, std::string_view body = "delta") {
  namespace json = boost::json;
  boost::system::error_code ec;
  const json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  const json::object& chunk = v.get_object();
  ReadChunk r;
  r.id = string_member(chunk, "id");
  if (const json::value* e = member(chunk, "error")) {
    const json::object* eo = e->if_object();
    r.has_error = true;
    r.error_type = string_of(member_of(eo, "type"));
    r.error_code = string_of(member_of(eo, "code"));
    r.error_message = eo != nullptr ? string_member(*eo, "message") : string_of(e);
  }
  r.usage = usage_tuple(usage_from_openai(v));
  if (const json::array* choices = array_member(chunk, "choices")) {
    for (std::size_t k = 0; k < choices->size(); ++k) {
      const json::object* choice = (*choices)[k].if_object();
      if (choice == nullptr) {
        continue;
      }
      ReadChoice rc;
      rc.position = k;
      if (member(*choice, "index") != nullptr) {
        rc.index_kind = ChunkChoice::Index::other;
        if (const std::optional<std::int64_t> n = int64_member(*choice, "index")) {
          rc.index_kind = ChunkChoice::Index::integer;
          rc.index = *n;
        }
      }
      if (const json::object* delta = object_member(*choice, body)) {
        rc.has_body = true;
        rc.content_parts = array_member(*delta, "content") != nullptr;
        rc.content = string_member(*delta, "content");
        rc.refusal = string_member(*delta, "refusal");
        rc.reasoning_content = string_member(*delta, "reasoning_content");
        rc.reasoning = string_member(*delta, "reasoning");
        if (const json::array* calls = array_member(*delta, "tool_calls")) {
          for (const json::value& call : *calls) {
            if (const json::object* co = call.if_object()) {
              ReadCall rcall;
              rcall.index = int64_member(*co, "index");
              rcall.id = string_member(*co, "id");
              if (const json::object* fn = object_member(*co, "function")) {
                rcall.has_function = true;
                rcall.name = string_member(*fn, "name");
                rcall.arguments = string_member(*fn, "arguments");
              }
              rc.calls.push_back(std::move(rcall));
            }
          }
        }
      }
      rc.finish_reason = string_member(*choice, "finish_reason");
      r.choices.push_back(std::move(rc));
    }
  }
  return r;
}

/// ChatChunkParser's reading of `data`, owned; nullopt when parse() refuses it.
inline std::optional<ReadChunk> parser_read(ChatChunkParser& parser, std::string_view data,
                                            ChunkBody body = ChunkBody::delta) {
  ChatChunk chunk;
  if (!parser.parse(data, chunk, body)) {
    return std::nullopt;
  }
  ReadChunk r;
  r.id = chunk.id;
  r.has_error = chunk.has_error;
  r.error_type = chunk.error_type;
  r.error_code = chunk.error_code;
  r.error_message = chunk.error_message;
  r.usage = usage_tuple(chunk.usage);
  for (const ChunkChoice& c : chunk.choices) {
    ReadChoice rc;
    rc.position = c.position;
    rc.has_body = c.has_body;
    rc.content_parts = c.content_parts;
    rc.index_kind = c.index_kind;
    rc.index = c.index;
    rc.content = c.content;
    rc.refusal = c.refusal;
    rc.reasoning_content = c.reasoning_content;
    rc.reasoning = c.reasoning;
    rc.finish_reason = c.finish_reason;
    for (const ChunkToolCall& call : c.tool_calls) {
      rc.calls.push_back({call.index, call.has_function, std::string(call.id),
                          std::string(call.name), std::string(call.arguments)});
    }
    r.choices.push_back(std::move(rc));
  }
  return r;
}

/// `r` as one line of text, for a readable comparison in test failures.
inline std::string describe(const std::optional<ReadChunk>& r) {
  if (!r) {
    return "refused";
  }
  std::string s = "id=" + r->id;
  for (const ReadChoice& c : r->choices) {
    s += " | choice at=" + std::to_string(c.position) + " body=" + std::to_string(c.has_body) +
         " parts=" + std::to_string(c.content_parts) +
         " kind=" + std::to_string(static_cast<int>(c.index_kind)) +
         " index=" + std::to_string(c.index) + " content=" + c.content + " refusal=" + c.refusal +
         " reasoning_content=" + c.reasoning_content + " reasoning=" + c.reasoning +
         " finish=" + c.finish_reason;
    for (const ReadCall& call : c.calls) {
      s += " [call fn=" + std::to_string(call.has_function) +
           " index=" + (call.index ? std::to_string(*call.index) : std::string("-")) +
           " id=" + call.id + " name=" + call.name + " arguments=" + call.arguments + "]";
    }
  }
  if (r->has_error) {
    s += " | error type=" + r->error_type + " code=" + r->error_code +
         " message=" + r->error_message;
  }
  if (r->usage) {
    const auto& [in, out, cached, reasoning, write] = *r->usage;
    s += " | usage " + std::to_string(in) + "/" + std::to_string(out) + "/" +
         std::to_string(cached) + "/" + std::to_string(reasoning) + "/" + std::to_string(write);
  }
  return s;
}

/// The data of every event but [DONE] of every recorded OpenAI-wire stream under `fixtures`
/// (its `openai` and `responses` folders; not the native ones, nor the expected outputs).
inline std::vector<std::string> recorded_chunks(const std::filesystem::path& fixtures) {
  std::vector<std::string> out;
  for (const char* dir : {"openai", "responses"}) {
    for (const auto& entry : std::filesystem::directory_iterator(fixtures / dir)) {
      const std::string name = entry.path().filename().string();
      if (entry.path().extension() != ".sse" || name.find(".expected") != std::string::npos ||
          name.rfind("native", 0) == 0) {
        continue;
      }
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      SseParser sse;
      std::vector<SseEvent> events;
      sse.feed(text.str(), events);
      for (const SseEvent& ev : events) {
        if (ev.data != "[DONE]") {
          out.push_back(ev.data);
        }
      }
    }
  }
  return out;
}

}  // namespace sb::adapters::testing
