#pragma once
// Incremental Server-Sent Events parser (WHATWG HTML "event stream" rules).
//
// Feed it bytes as they arrive, split anywhere (even inside a CRLF); it yields whole events.
// Handles LF, CR and CRLF line endings, comment lines (":..."), multi-line `data:` (joined with
// "\n"), `event:`, `id:` (kept across events, as the spec's last event id), a single optional
// space after the colon and a leading UTF-8 byte order mark. An event is dispatched at
// a blank line; an event with no data lines is not dispatched (per spec) unless it has an event
// name. Pure and per stream; not thread-safe.
//
// Bounded: an event (its data and event name plus the line being read) may hold at most
// `max_event_bytes` (1 MiB by default); past that the parser fails for good, so an upstream that
// never ends a line or an event cannot grow it without bound.

#include <cstddef>
#include <optional>
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
  /// 1 MiB: far above any chat event (a token or a tool-call fragment each).
  static constexpr std::size_t kDefaultMaxEventBytes = 1024 * 1024;

  explicit SseParser(std::size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  /// Parses `bytes`, appending every completed event to `out` (not cleared). Returns false once
  /// an event grew past the limit; the parser then stays failed and ignores further input (the
  /// events completed before the overflow are still appended).
  bool feed(std::string_view bytes, std::vector<SseEvent>& out);
  /// True once an event exceeded max_event_bytes().
  bool failed() const { return failed_; }
  std::size_t max_event_bytes() const { return max_event_bytes_; }
  /// Bytes held for an incomplete line or event.
  std::size_t pending_bytes() const { return line_.size() + event_bytes_; }
  /// True when the stream ended cleanly at an event boundary (nothing half-received). A CR
  /// held at the end of a feed has already ended its line, so it does not count as pending.
  bool at_boundary() const { return line_.empty() && !has_fields_; }

  /// The canonical event at the start of `bytes`, for a caller that relays it from those bytes
  /// instead of feeding them: when the parser holds nothing (no line, field, CR or byte order
  /// mark pending; not failed) and `bytes` starts with `data: X\n\n`, X one line within the
  /// limit, returns X and sets `size` to the event's bytes. Feeding those bytes would yield
  /// exactly the event {data: X} (with the current id) and leave the parser as it is; the caller
  /// skips them instead. Otherwise returns nullopt: feed() them.
  std::optional<std::string_view> canonical_event(std::string_view bytes, std::size_t& size);

 private:
  void on_line(std::string_view line, std::vector<SseEvent>& out);
  /// True (and the parser failed) when the current event plus `more` bytes exceed the limit.
  bool overflows(std::size_t more);
  std::size_t max_event_bytes_;
  bool failed_ = false;
  std::string line_;
  SseEvent current_;
  bool has_fields_ = false;
  bool has_data_ = false;
  bool pending_cr_ = false;
  bool bom_done_ = false;
  std::size_t bom_matched_ = 0;
  std::size_t event_bytes_ = 0;
};

/// Relays an event stream byte for byte, one whole event at a time: feed() appends the bytes up
/// to the end of the last complete event (a blank line, CR, LF or CRLF, the CRLF's LF included
/// even when it arrives in the next feed) and holds the rest, so that whatever the caller writes
/// next never lands inside a half-sent event. Each event is parsed (SseParser, bounded by
/// `max_event_bytes`) and handed to the caller's `on_event(const SseEvent&) -> bool`; returning
/// false marks it terminal: nothing after it is relayed (only the LF of the CRLF that ended it,
/// if still due). Not thread-safe; one per stream.
class SseEventRelay {
 public:
  explicit SseEventRelay(std::size_t max_event_bytes) : parser_(max_event_bytes) {}

  /// Relays `bytes` into `out` as said above. Returns false (once; the relay is then stopped)
  /// when an event grew past the limit: the events completed before it were still handed over
  /// and relayed. Once stopped (terminal event, overflow or stop()), a feed relays at most the
  /// trailing LF of a CRLF and returns true.
  template <class OnEvent>
  bool feed(std::string_view bytes, std::string& out, OnEvent&& on_event) {
    if (stopped_) {
      after_stop(bytes, out);
      return true;
    }
    while (!bytes.empty()) {
      const bool within_limit = relay_segment(bytes, out);
      for (const SseEvent& ev : events_) {
        if (!on_event(ev)) {
          stop();
          after_stop(bytes, out);
          return true;
        }
      }
      if (!within_limit) {
        stop();
        return false;
      }
    }
    return true;
  }
  /// Stops relaying: the bytes held are dropped and later feeds relay nothing more.
  void stop() {
    stopped_ = true;
    held_.clear();
  }
  bool stopped() const { return stopped_; }

 private:
  /// Offset in `bytes` just past the first blank line it completes; npos when none. Tracks line
  /// state across calls.
  std::size_t next_boundary(std::string_view bytes);
  /// Takes the segment of `bytes` up to the next event boundary (or all of it), parses it into
  /// events_ and relays it with the bytes held before when it completes an event (else holds
  /// it). Returns false when the parser went past its limit (then nothing of it is relayed).
  bool relay_segment(std::string_view& bytes, std::string& out);
  /// After the stop, only the LF of the CRLF that ended the last event belongs.
  void after_stop(std::string_view bytes, std::string& out);

  SseParser parser_;
  std::vector<SseEvent> events_;
  std::string held_;  ///< bytes after the last complete event, not relayed yet
  std::size_t line_len_ = 0;
  bool prev_cr_ = false;
  bool blank_cr_ = false;  ///< the last byte was a CR ending a blank line (an LF belongs to it)
  bool stopped_ = false;
};

/// Serializes one event in the canonical form OpenAI uses: `data: <data>\n\n` (plus `event:`
/// when named). Multi-line data becomes several `data:` lines.
void append_sse(std::string& out, std::string_view data, std::string_view event = {});

}  // namespace sb::adapters
