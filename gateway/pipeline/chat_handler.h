#pragma once
// Internal to the chat pipeline: one handler per request of the OpenAI model endpoints and of
// POST /v1/messages. The steps, top to bottom (ChatHandler::run):
//
//   parse → classify and decide → admit → dispatch (retries, fallbacks) → relay → settle
//
// chat.cc            run, parse, decide, the refusals, dispatch, the answer when every try fails
// chat_admission.cc  the worst case asked of the tenant's limits, the output cap
// chat_settle.cc     the answer priced, the budget reconciled, the audit line
// chat_attempt.cc    one try on one backend (AttemptResult), over an UpstreamWire
// upstream_wire.cc   what differs between the pass-through and the translated providers
// chat_relay.cc      answers and streams to the client, in the client's dialect
// attempt_result.h   what a try tells dispatch, and what dispatch does with it (pure)
// client_dialect.h   the client's dialect, and the one mapping from an error to its status
// request_record.h   the request's record: settled and recorded once, on every path
//
// The request's record (metrics, access line) is its RequestRecord's: the handler is its
// Settlement, and finishes it when it ends, whatever the path.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "adapters/anthropic_inbound.h"
#include "adapters/canonical.h"
#include "adapters/translator.h"
#include "adapters/upstream/client.h"
#include "gateway/pipeline/attempt_result.h"
#include "gateway/pipeline/client_dialect.h"
#include "gateway/pipeline/client_side.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/pipeline/request_record.h"
#include "gateway/pipeline/tracing.h"
#include "gateway/pipeline/upstream_wire.h"
#include "gateway/runtime/circuit.h"
#include "gateway/runtime/snapshot.h"
#include "policies/engine.h"
#include "policies/state_record.h"

namespace sb::gateway::chat {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

/// Upstream answers read whole (errors, non-stream answers) are bounded; past the bound the
/// exchange fails as too_large (502 "answer too large", counted in upstream_errors{kind}).
inline constexpr std::size_t kMaxErrorBody = 64 * 1024;
inline constexpr std::size_t kMaxResponseBody = 32ull << 20;

// Reports an exchange's outcome to its backend's circuit exactly once, however the attempt ends.
struct CircuitReport {
  Circuit& circuit;
  const bool& failed;
  ~CircuitReport() { failed ? circuit.failure(Clock::now()) : circuit.success(Clock::now()); }
};

/// An error the gateway answers with itself: its cause (which decides the status), the message
/// and code of its body, and extra header lines (Retry-After).
struct ClientError {
  ErrorCause cause;
  std::string message;
  std::string_view code;
  std::string_view extra_headers;
};

class ChatHandler final : public Settlement, private HangupListener {
 public:
  ChatHandler(RequestContext& ctx, RequestRecord& record, Endpoint endpoint, std::string_view body,
              const ChatInbound& inbound)
      : ctx_(ctx),
        snap_(ctx.snapshot),
        engine_(snap_.engine()),
        dialect_(client_dialect(ctx.dialect)),
        record_(record),
        o_(record.outcome()),
        endpoint_(endpoint),
        body_text_(body),
        inbound_(inbound) {
    record_.attach(this);
  }
  ChatHandler(const ChatHandler&) = delete;
  ChatHandler& operator=(const ChatHandler&) = delete;
  /// The budget settled and the request recorded, once, however it ended.
  ~ChatHandler() { record_.finish(); }

  asio::awaitable<bool> run();

  /// Prices the answer and reconciles the admission's reservation, once (chat_settle.cc). Called
  /// before the last bytes of a complete answer go out, so a client's next request finds its
  /// budget settled; the record calls it again, harmlessly, whatever the path.
  void settle() override;

 private:
  // The client closed its connection while an upstream works for it, or while it waits in a
  // queue: the exchange is ended, so that a self-hosted engine stops generating an answer nobody
  // will read, or never started.
  void client_gone() override { abort_.fire(); }
  /// The attempt's end when the client left during the exchange or the queue's wait (abort_
  /// fired): no retry, no upstream failure counted; 499 (nginx's "client closed request") when
  /// nothing was sent.
  AttemptResult client_left();

  // ---- the steps (chat.cc) ----
  std::optional<ClientError> parse(const boost::json::object*& body, std::string_view& model);
  // `body`: the DOM, or nullptr when the typed reading (typed_) serves.
  void decide(const boost::json::object* body, std::string_view model,
              std::span<const HeaderLine> lines, FactsStorage& storage);
  std::optional<ClientError> refusal(std::string_view model) const;
  std::optional<ClientError> admission_refusal(const policies::AdmissionResult& admission);
  asio::awaitable<Attempt> dispatch(DispatchState& state);
  const BackendRuntime* eligible(std::size_t index);
  asio::awaitable<bool> answer_failure(DispatchState& state);
  ClientError failure_error(const DispatchState& state) const;
  asio::awaitable<bool> refuse(const ClientError& e);
  // The body as a parsed object, parsed again when it was released; nullptr (and `ec` set when
  // parsing failed) when it is not a JSON object.
  const boost::json::object* parsed_body(error_code& ec);
  // The typed reading, read again when it was released; nullptr when the body has none (it
  // went the DOM's way, or was edited).
  const adapters::ChatRequest* typed_body();
  // After a cap was written into the body (cap_output): the readings of the client's body
  // dropped, for the attempts to read the capped one.
  void forget_readings_if_edited();

  // ---- admission (chat_admission.cc) ----
  // Builds the request's Ask from the decision and the facts, calls the state store once (twice
  // with the self-hosted-only fallback, from one call site), and caps the output when the grant
  // is below the worst case.
  asio::awaitable<policies::AdmissionResult> admit(const adapters::ChatFacts& chat);
  asio::awaitable<policies::AdmissionResult> admit_once(policies::Ask& ask);
  std::uint64_t output_bound(const adapters::ChatFacts& chat, std::size_t b) const;
  policies::Ask worst_case(const adapters::ChatFacts& chat) const;
  std::optional<std::uint64_t> output_cap(const adapters::ChatFacts& chat,
                                          const policies::Reservation& r,
                                          const policies::Ask& ask) const;
  void cap_output(std::uint64_t cap);
  /// The decision told to the client: x-switchboard-rule, -sensitivity and -tier (and
  /// -max-tokens-capped), once decided; written where a response head is built, not kept.
  void append_decision_headers(std::string& h) const;

  // ---- settle (chat_settle.cc) ----
  // The cost of the answer from its usage (estimated from sizes when the upstream reported
  // none), once: before a complete answer's head (for x-switchboard-cost-usd), else at settle.
  void price();
  void count_spill(std::size_t served, policies::Nanos cost) const;
  // The audit lines (chat_settle.cc): the decision's, and one per try that reached a backend.
  void write_audit(const policies::RequestFacts& facts,
                   std::span<const policies::StateRecorder::Read> reads) const;
  // A try that sent its request, as it ended: its audit line, and its client span ended.
  void finish_attempt(const BackendRuntime& b, const AttemptResult& r, Clock::time_point started,
                      std::unique_ptr<trace::Span>& span);
  void submit_audit(std::string body) const;

  // ---- one try (chat_attempt.cc) ----
  // The wires a try may take; `wire` is the one chosen for its backend. `clamped`: the body
  // within the backend's output limit, when the request asked for more (the upstream request may
  // borrow its bytes, so it lives as long as the exchange).
  struct AttemptWires {
    std::optional<std::string> clamped;
    std::optional<TranslatedWire> translated;
    std::optional<PassThroughWire> passed;
    std::unique_ptr<UpstreamWire> native;
    UpstreamWire* wire = nullptr;
  };
  asio::awaitable<AttemptResult> attempt(const BackendRuntime& backend, bool last);
  asio::awaitable<std::optional<AttemptResult>> prepare(const BackendRuntime& b, bool last,
                                                        AttemptWires& wires, upstream::Request& up);
  // The endpoint of a pooled backend this try goes to (gateway/runtime/pool.h); nullptr when
  // every endpoint's circuit is open.
  const EndpointRuntime* pick_endpoint(const BackendRuntime& b);
  // The prefix hash of the conversation, for pools with affinity among the decision's backends.
  void hash_prefix(std::span<const std::string_view> texts);
  // A spill rule's queue (Decision::wait, chat_admission.cc): waits while backends.front() is at
  // its max_in_flight; the refusal when the queue is full or the wait timed out. A client that
  // leaves ends the wait at once (abort_ fired, no refusal): the caller ends with client_left().
  asio::awaitable<std::optional<ClientError>> wait_for_capacity();
  // Whether the request's output is held to what its admission reserved: a budget reservation
  // was made, or the tenant has a tpm limit (chat_admission.cc).
  bool output_reserved() const;
  std::optional<AttemptResult> passed_over(const BackendRuntime& b);
  // `up` is moved from; the caller keeps it alive while it awaits (by reference: a coroutine
  // keeps its by-value parameters in its frame, and this one's must stay within what Asio
  // recycles, 1,020 bytes).
  asio::awaitable<AttemptResult> exchange(const BackendRuntime& b, UpstreamWire& wire,
                                          upstream::Request&& up);
  asio::awaitable<AttemptResult> answer_error(const BackendRuntime& b, WireAnswer& a,
                                              const upstream::ResponseHead& headers, bool native);
  asio::awaitable<Attempt> answer_untranslatable(const BackendRuntime& b,
                                                 const adapters::TranslateError& e);
  // Reads a whole upstream body (up to `limit`), the wait accounted as upstream time.
  asio::awaitable<bool> read_body(upstream::Exchange& ex, std::string& out, std::size_t limit,
                                  upstream::Error& err);

  // ---- to the client (chat_relay.cc) ----
  std::string response_head(unsigned status, std::string_view content_type,
                            const BackendRuntime& b) const;
  asio::awaitable<Attempt> send_answer(const BackendRuntime& b, std::string body,
                                       std::string_view content_type, bool native);
  // A complete error answer (head and body) from backend `b`, `body` already in the client's
  // dialect.
  std::string error_answer(const BackendRuntime& b, unsigned status, std::string_view content_type,
                           std::string_view body, std::string_view retry_after) const;
  asio::awaitable<AttemptResult> relay(upstream::Exchange& ex, const BackendRuntime& b,
                                       adapters::StreamTranslator& stream, bool native);
  asio::awaitable<AttemptResult> relay_stream(upstream::Exchange& ex, const BackendRuntime& b,
                                              adapters::StreamTranslator& stream);
  std::string stream_head(const BackendRuntime& b, bool chunked) const;
  std::string_view stream_tail(std::string& head, bool head_sent, bool chunked);
  asio::awaitable<AttemptResult> stream_error_sent(const BackendRuntime& b, bool chunked);
  AttemptResult stream_failed_early(upstream::Exchange& ex, const BackendRuntime& b,
                                    adapters::StreamTranslator& stream);
  asio::awaitable<AttemptResult> stream_cut(const BackendRuntime& b, upstream::ErrorKind kind,
                                            bool chunked);
  // A stream's way to the client: its head until sent, the bytes not yet written, and the
  // buffers of the write in flight.
  struct StreamOut {
    std::string head;
    bool head_sent = false;
    bool content_sent = false;  ///< something besides keep-alive comments went out
    bool keepalive = false;     ///< `out` holds a keep-alive comment
    bool chunked = true;
    std::string out;
    Clock::time_point last_write;  ///< when the client last got bytes (or the relay began)
    std::array<asio::const_buffer, 4> bufs;
    char size_line[24];
  };
  asio::awaitable<bool> keep_alive(StreamOut& s);
  asio::awaitable<AttemptResult> end_stream(const BackendRuntime& b,
                                            adapters::StreamTranslator& stream, StreamOut& s,
                                            const upstream::Error& err);
  std::span<const asio::const_buffer> chunk_buffers(StreamOut& s);
  void chunk_sent(StreamOut& s, Clock::time_point started);
  bool write_now(StreamOut& s, std::size_t& written);
  asio::awaitable<error_code> write_rest(StreamOut& s, std::size_t written);
  asio::awaitable<error_code> write_pending(StreamOut& s);

  RequestContext& ctx_;
  const Snapshot& snap_;
  const policies::Engine& engine_;
  const ClientDialect& dialect_;
  RequestRecord& record_;
  Outcome& o_;
  Endpoint endpoint_;
  std::string_view body_text_;  // the OpenAI request body
  // The parsed body (wire_body.h): held for the decision and while an attempt builds its
  // upstream body, released (dom_.reset()) before any upstream exchange, so a request holds about
  // its text and its upstream body while it waits.
  BodyDom dom_;
  // The typed reading of the chat body (adapters/canonical.h), when it parsed: the decision's
  // facts and the pass-through read it, and no DOM is built unless a translated wire asks.
  // Dropped when the body is edited (capped).
  std::optional<adapters::ChatRequest> typed_;
  bool typed_read_ = false;  // the body has a typed reading (typed_ may be released)
  // What the inbound dialect handed over: the client's body's facts when body_text_ was
  // translated from it (scanned with it), the client's side, a sensitivity floor.
  ChatInbound inbound_;
  policies::Decision decision_;
  Clock::time_point wait_deadline_{};    // set by the first wait for capacity
  bool decided_ = false;                 // decision_ holds the request's decision
  std::optional<std::uint64_t> capped_;  // the output cap written into the body, if any
  std::string retry_header_;             // a rate limit's Retry-After line
  // The client headers that may be forwarded, exactly as the detector scanned them.
  std::vector<HeaderLine> forwardable_;
  std::size_t response_bytes_ = 0;
  ClientStream* outbound_ = nullptr;  // the current stream's client writer, if any
  std::uint64_t prompt_tokens_ = 0;   // estimated
  std::string capped_body_;           // the body with the output cap written in, when capped
  bool body_edited_ = false;          // body_text_ is capped_body_: the DOM must be parsed again
  bool priced_ = false;
  // The answer's model and finish reasons, for the attempt's span (only while it is sampled).
  tracing::AnswerFacts answer_facts_;
  bool answer_facts_wanted() const { return o_.span && o_.span->sampled(); }
  std::optional<policies::Reservation> reservation_;  ///< until settle()
  // Pools: the conversation's prefix hash (affinity), and the endpoint the last try used, which
  // a retry on the same backend avoids when another endpoint admits.
  std::optional<std::uint64_t> prefix_;
  std::size_t last_pooled_backend_ = SIZE_MAX;
  std::size_t last_endpoint_ = 0;
  upstream::Abort abort_;  ///< fired when the client leaves during an exchange
};

}  // namespace sb::gateway::chat
