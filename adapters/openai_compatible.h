#pragma once
// Translation for OpenAI-compatible upstreams: OpenAI itself and the self-hosted engines that
// speak its wire format (vLLM, llama.cpp server, Ollama's /v1, TGI's Messages API, SGLang).
//
// A translator is pure and per request: it sees the client's body text and returns what to send;
// it never touches a socket. Client bodies pass through byte for byte except the members this
// file owns ("model", "stream_options").

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/json_edit.h"
#include "adapters/sse.h"
#include "adapters/translator.h"
#include "adapters/upstream/splice.h"
#include "adapters/usage.h"

namespace boost::json {
class object;
}

namespace sb::adapters {

struct EngineProfile;
class ChatRequest;

/// What to send upstream for one chat-completions request.
struct ChatRequestPlan {
  upstream::Splice body;            ///< the body to send: the client's bytes and the edits
  bool stream = false;              ///< client asked for "stream": true
  bool client_wants_usage = false;  ///< client set stream_options.include_usage: true
};

/// Builds the upstream body from the client's validated body text and its parsed form:
/// "model" is replaced by `upstream_model`; for streams `stream_options.include_usage` is forced on
/// (other stream_options members are kept). Earlier duplicates of these two keys are dropped so
/// every upstream parser sees one value. Everything else is the client's bytes: ranges of
/// `client_body` in the plan's body (Splice), not copies, so the body is read with that text.
/// With `engine` (chat completions to an OpenAI-compatible engine), its request-side quirks
/// (adapters/engines.h) are applied in the same pass.
ChatRequestPlan plan_chat_request(std::string_view client_body, const boost::json::object& parsed,
                                  std::string_view upstream_model,
                                  const EngineProfile* engine = nullptr);

/// The same from the typed reading of `client_body` (adapters/canonical.h): its top-level members
/// come from the parse, so the body is not scanned again and no DOM is needed. nullopt when the
/// typed reading cannot decide as the DOM would (a duplicated top-level key): use the DOM.
std::optional<ChatRequestPlan> plan_chat_request(std::string_view client_body,
                                                 const ChatRequest& typed,
                                                 std::string_view upstream_model,
                                                 const EngineProfile* engine = nullptr);

/// True when a chat request sets `stream_options.include_usage: true` (the client wants the
/// usage chunk at the end of its stream).
bool asks_for_usage(const boost::json::object& body);

/// Relays an OpenAI-format chat-completions SSE stream to the client, event by event.
///
/// Records usage from the usage chunk (the last one seen wins); when the client did not ask for
/// usage, the usage-only chunk (empty or absent "choices") is dropped and "usage" members are
/// removed from the other chunks ("usage": null, or usage some engines put on content chunks), so
/// the client sees exactly what OpenAI would have sent it. Events are re-framed canonically
/// (`data: ...\n\n`, `event:` names kept, `id:` dropped); data that is not a JSON object passes
/// through unchanged. Not thread-safe; one per stream.
class ChatStreamRelay {
 public:
  explicit ChatStreamRelay(bool client_wants_usage) : client_wants_usage_(client_wants_usage) {}

  /// Feeds upstream body bytes; appends the SSE bytes to send to the client to `out`.
  void feed(std::string_view upstream_bytes, std::string& out);

  /// Relays one event its caller has already parsed (and possibly rewritten, as the Azure
  /// translator does with content-filter members), under the same rules as feed(). Do not mix
  /// with feed() mid-event: the internal parser does not see these bytes.
  void feed_event(SseEvent& event, std::string& out) { relay(event, out); }

  bool saw_done() const { return saw_done_; }
  /// True when the upstream sent an in-stream error event (`data: {"error": ...}`); that event is
  /// the last one relayed.
  bool saw_error() const { return saw_error_; }
  const std::optional<Usage>& usage() const { return usage_; }
  /// Events relayed so far (excluding dropped ones).
  std::size_t events() const { return events_; }
  /// Upstream bytes held for an incomplete line or event.
  std::size_t pending_bytes() const { return parser_.pending_bytes(); }
  /// True once an upstream event exceeded SseParser's limit (the relay then stops).
  bool overflowed() const { return parser_.failed(); }
  /// True when the upstream stream stopped at an event boundary (see SseParser::at_boundary).
  bool at_boundary() const { return parser_.at_boundary(); }

 private:
  void relay(SseEvent& ev, std::string& out);
  /// How a chunk's data that needs no reading is relayed (see plain()).
  enum class Plain { no, as_is, without_usage };
  /// Whether `data` needs reading (no), and if not, whether it goes out as it is or without its
  /// trailing `"usage":null` (which the client did not ask for).
  Plain plain(std::string_view data) const;
  /// relay() for a chunk that needs no reading (most of them); false when it needs one.
  bool relay_plain(SseEvent& ev, std::string& out);
  /// The same for a canonical event (SseParser::canonical_event) that is relayed from its bytes
  /// `raw` (`data: ` + `data` + two LFs) without being parsed; false when it needs reading.
  bool relay_raw(std::string_view data, std::string_view raw, std::string& out);

  bool client_wants_usage_;
  SseParser parser_;
  std::vector<SseEvent> scratch_;
  std::vector<JsonMember> members_;  // scan scratch, reused across events
  std::optional<Usage> usage_;
  bool saw_done_ = false;
  bool saw_error_ = false;
  std::size_t events_ = 0;
};

/// The 502 of an OpenAI-format stream whose event outgrew the SSE parser's 1 MiB limit; the error
/// event the client is told with is appended to `out`.
TranslateError oversized_stream_event(std::string& out);

/// ChatStreamRelay behind the StreamTranslator interface, so the gateway relays an OpenAI-wire
/// stream and a translated one the same way. feed() fails on an upstream error event (relayed as
/// it came) or an event over the parser's limit; finish() fails when no `[DONE]` arrived, or
/// after feed() failed. Not thread-safe; one per stream.
class OpenAIStreamTranslator : public StreamTranslator {
 public:
  /// error()'s messages: after an upstream error event; for a stream that ended before [DONE].
  static constexpr std::string_view kErrorEvent = "upstream sent an error event";
  static constexpr std::string_view kCutShort = "upstream stream ended before [DONE]";

  explicit OpenAIStreamTranslator(bool client_wants_usage)
      : OpenAIStreamTranslator(client_wants_usage, kErrorEvent, kCutShort) {}
  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) final;
  const std::optional<Usage>& usage() const final { return relay_.usage(); }
  /// True for this relay itself; a translator built on it that rewrites chunks says false.
  bool relays_openai_chunks() const override { return true; }

 protected:
  /// `error_event`, `cut_short`: error()'s message (a literal) after an upstream error event, and
  /// for a stream that ended before `[DONE]`.
  OpenAIStreamTranslator(bool client_wants_usage, std::string_view error_event,
                         std::string_view cut_short)
      : relay_(client_wants_usage), error_event_(error_event), cut_short_(cut_short) {}

  /// What feed() returns once the bytes were relayed: false, with error() set, when the upstream
  /// sent an error event or `overflowed` (an event over the parser's limit, whose error event is
  /// then appended to `out`).
  bool relayed(bool overflowed, std::string& out);

  ChatStreamRelay relay_;

 private:
  std::string_view error_event_;
  std::string_view cut_short_;
};

}  // namespace sb::adapters
