#pragma once
// The relay both native lanes share (Anthropic Messages and OpenAI Responses): a client-dialect
// event stream passed on unchanged while it is read. Whole events only: the bytes of an event
// still arriving are held (at most the lane's limit, past which the stream fails with a 502) so
// that an event the gateway writes next never lands inside a half-sent one; nothing after the
// terminal event is relayed; an upstream that ends before the terminal event is a 502.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/sse.h"
#include "adapters/translator.h"
#include "adapters/usage.h"

namespace sb::adapters {

class NativeEventStream : public StreamTranslator {
 public:
  bool feed(std::string_view bytes, std::string& out) final;
  /// True only once the terminal event was seen; otherwise error() is a 502 and nothing more is
  /// appended (a partial event is dropped).
  bool finish(std::string& out) final;

  /// Whether the error seen is worth another backend (only useful while nothing was relayed).
  bool retryable() const { return retryable_; }
  /// True once the terminal event was seen.
  bool done() const { return done_; }

 protected:
  /// `terminal`: the event's name, for the 502 of a stream that ends before it.
  NativeEventStream(std::size_t max_event_bytes, std::string_view terminal)
      : relay_(max_event_bytes), max_event_bytes_(max_event_bytes), terminal_(terminal) {}

  /// Reads one complete event (already relayed); sets done_, or calls fail().
  virtual void on_event(const SseEvent& ev) = 0;
  void fail(unsigned status, std::string message);

  bool retryable_ = false;
  bool done_ = false;
  bool failed_ = false;

 private:
  SseEventRelay relay_;
  std::size_t max_event_bytes_;
  std::string_view terminal_;
};

}  // namespace sb::adapters
