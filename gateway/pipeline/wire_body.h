#pragma once
// The body one try sends, as its wire reads it: the OpenAI request text; its typed reading
// (adapters/canonical.h) when the text is the body the pipeline parsed; and its DOM, parsed from
// the text on first use only. The pass-through and the translators (providers with their own wire
// format) read the typed request; the DOM is read only when there is none (a body past the typed
// reading's memory budget or refused by it, and a clamped body whose client body was) and for a
// top-level key sent twice.

#include <memory>
#include <optional>
#include <string_view>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include "adapters/canonical.h"

namespace sb::gateway::chat {

/// A request body's DOM in a per-request arena (no per-node frees, hostile nesting bounded to
/// 128 levels), about 3x the text for long strings and up to ~16x for many small values. Empty
/// until a DOM is wanted, and then on the heap: a BodyDom costs a pointer, so the coroutine
/// frames that hold one stay small enough for Asio to recycle them.
class BodyDom {
 public:
  /// The DOM of `text`, parsed on the first call since construction or reset() (later calls
  /// return the same, whatever `text`); nullptr (with `ec` set when parsing failed) when the text
  /// is not a JSON object.
  const boost::json::object* get(std::string_view text, boost::system::error_code& ec);
  /// Releases the DOM (the next get() parses again).
  void reset() { parsed_.reset(); }
  /// Whether the text parsed names a key twice in one object (adapters::collect_raw_facts): the DOM
  /// holds the last value of that key, the text every one. False before get().
  bool repeated() const { return parsed_ && parsed_->repeated; }

 private:
  struct Parsed {
    Parsed(std::string_view text, boost::system::error_code& ec);
    unsigned char arena[4096];
    boost::json::monotonic_resource mr;
    bool repeated = false;
    boost::json::value value;
  };
  std::unique_ptr<Parsed> parsed_;
};

class WireBody {
 public:
  /// `typed`: the typed reading of `text`, or nullptr; `dom`: where the DOM of `text` is (or
  /// will be) parsed. All three outlive the WireBody, and `text` the try's exchange too: the
  /// upstream request may borrow its bytes (upstream::Request::borrow_body).
  WireBody(std::string_view text, const adapters::ChatRequest* typed, BodyDom& dom)
      : text_(text), typed_(typed), dom_(dom) {}

  std::string_view text() const { return text_; }
  const adapters::ChatRequest* typed() const { return typed_; }
  /// The DOM of text(), parsed on first use; nullptr when it cannot be (the text parsed once
  /// already, so only memory can make this fail).
  const boost::json::object* dom() {
    boost::system::error_code ec;
    return dom_.get(text_, ec);
  }
  /// The output limit the request sets: the first of max_completion_tokens and max_tokens that
  /// is a positive integer; 0 when neither is.
  std::uint64_t output_limit();

 private:
  std::string_view text_;
  const adapters::ChatRequest* typed_;
  BodyDom& dom_;
};

}  // namespace sb::gateway::chat
