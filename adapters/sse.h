#pragma once
// Incremental Server-Sent Events parser (WHATWG HTML "event stream" rules).
//
// Feed it bytes as they arrive, split anywhere (even inside a CRLF); it yields whole events.
// Handles LF, CR and CRLF line endings, comment lines (":..."), multi-line `data:` (joined with
// "\n"), `event:`, `id:` (kept across events, as the spec's last event id), a single optional
// space after the colon and a leading UTF-8 byte order mark. An event is dispatched at
// a blank line; an event with no data lines is not dispatched (per spec) unless it has an event
// name. Pure and per stream; not thread-safe.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb::adapters {

struct SseEvent {
  std::string event;  ///< empty when no `event:` field
  std::string data;   ///< data lines joined with '\n'
  std::string id;

  bool operator==(const SseEvent&) const = default;
};

class SseParser {
 public:
  /// Parses `bytes`, appending every completed event to `out` (not cleared).
  void feed(std::string_view bytes, std::vector<SseEvent>& out);
  /// Bytes held for an incomplete line or event.
  std::size_t pending_bytes() const { return line_.size() + event_bytes_; }
  /// True when the stream ended cleanly at an event boundary (nothing half-received). A CR
  /// held at the end of a feed has already ended its line, so it does not count as pending.
  bool at_boundary() const { return line_.empty() && !has_fields_; }

 private:
  void on_line(std::string_view line, std::vector<SseEvent>& out);
  std::string line_;
  SseEvent current_;
  bool has_fields_ = false;
  bool has_data_ = false;
  bool pending_cr_ = false;
  bool bom_done_ = false;
  std::size_t bom_matched_ = 0;
  std::size_t event_bytes_ = 0;
};

/// Serializes one event in the canonical form OpenAI uses: `data: <data>\n\n` (plus `event:`
/// when named). Multi-line data becomes several `data:` lines.
void append_sse(std::string& out, std::string_view data, std::string_view event = {});

}  // namespace sb::adapters
