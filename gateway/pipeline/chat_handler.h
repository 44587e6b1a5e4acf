#pragma once
// Internal to the chat pipeline (chat.cc, chat_attempt.cc, chat_relay.cc): one handler per
// request of the OpenAI model endpoints and of POST /v1/messages.
//
// chat.cc         parse, decide, admit, dispatch with retries, settle the cost
// chat_admission.cc  the worst case asked of the tenant's limits, the output cap
// chat_attempt.cc one try on one backend: pass-through or translated, upstream errors
// chat_relay.cc   answers and streams to the client, in the client's dialect

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "adapters/anthropic_inbound.h"
#include "adapters/translator.h"
#include "adapters/upstream/client.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/messages.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/runtime/circuit.h"
#include "gateway/runtime/snapshot.h"
#include "policies/engine.h"

namespace sb::gateway::chat {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

/// Upstream answers read whole (errors, non-stream answers) are bounded; past the bound the
/// exchange fails as too_large (502 "answer too large", counted in upstream_errors{kind}).
inline constexpr std::size_t kMaxErrorBody = 64 * 1024;
inline constexpr std::size_t kMaxResponseBody = 32ull << 20;

enum class Attempt { answered, next, closed };

// Reports an exchange's outcome to its backend's circuit exactly once, however the attempt ends.
struct CircuitReport {
  Circuit& circuit;
  const bool& failed;
  ~CircuitReport() { failed ? circuit.failure(Clock::now()) : circuit.success(Clock::now()); }
};

class ChatHandler {
 public:
  ChatHandler(RequestContext& ctx, std::size_t tenant, Endpoint endpoint, std::string_view body,
              const adapters::ChatFacts* original)
      : ctx_(ctx),
        snap_(ctx.snapshot),
        engine_(snap_.engine()),
        endpoint_(endpoint),
        body_text_(body),
        original_(original) {
    o_.tenant = tenant;
  }

  asio::awaitable<bool> run();

 private:
  asio::awaitable<bool> refuse(unsigned status, std::string_view message, std::string_view code,
                               std::string_view extra = {});
  asio::awaitable<Attempt> attempt(const BackendRuntime& b, bool last);
  asio::awaitable<std::unique_ptr<upstream::Exchange>> exchange(const BackendRuntime& b,
                                                                upstream::Request up);
  asio::awaitable<Attempt> attempt_translated(const BackendRuntime& b,
                                              const boost::json::object& body, bool last);
  asio::awaitable<Attempt> relay_stream(upstream::Exchange& ex, const BackendRuntime& b,
                                        adapters::StreamTranslator& stream);
  asio::awaitable<error_code> write_chunk(std::string& out, const std::string& head,
                                          bool& head_sent, bool chunked);
  std::string response_head(unsigned status, std::string_view content_type,
                            const BackendRuntime& b) const;
  void write_audit(const policies::RequestFacts& facts) const;
  // The client's dialect: OpenAI's, or Anthropic's for POST /v1/messages.
  bool anthropic() const { return ctx_.dialect == Dialect::anthropic; }
  // An upstream error body (OpenAI-shaped) in the client's dialect.
  std::string client_error_body(unsigned status, std::string body) const {
    return anthropic() ? adapters::openai_error_to_anthropic(status, body) : std::move(body);
  }
  asio::awaitable<Attempt> send_answer(const BackendRuntime& b, std::string body,
                                       std::string_view content_type);
  // A complete error answer (head and body) from backend `b`, `body` already in the client's
  // dialect.
  std::string error_answer(const BackendRuntime& b, unsigned status, std::string_view content_type,
                           std::string_view body, std::string_view retry_after) const;
  asio::awaitable<Attempt> relay(upstream::Exchange& ex, const BackendRuntime& b,
                                 adapters::StreamTranslator& stream);
  Attempt retry_later(unsigned status, std::string response, const http::fields& headers,
                      std::string_view retry_after = {});
  std::optional<Clock::duration> retry_delay(unsigned n) const;
  asio::awaitable<Attempt> dispatch();
  // The body as a parsed object, parsed again when it was released; nullptr (and `ec` set when
  // parsing failed) when it is not a JSON object.
  const boost::json::object* parsed_body(error_code& ec);
  // Admission (chat_admission.cc). Builds the request's Ask from the decision and the facts,
  // calls the state store once (twice with the self-hosted-only fallback, from one call site),
  // and caps the output when the grant is below the worst case. `body` is the parsed request.
  boost::asio::awaitable<policies::AdmissionResult> admit(const adapters::ChatFacts& chat,
                                                          const boost::json::object& body);
  boost::asio::awaitable<policies::AdmissionResult> admit_once(policies::Ask& ask);
  void cap_output(std::uint64_t cap, const boost::json::object& body);
  // The cost of the answer from its usage (estimated from sizes when the upstream reported
  // none), once: before a complete answer's head (for x-switchboard-cost-usd), else at settle.
  void price();
  /// Prices the answer and reconciles the admission's reservation, once. Called before the last
  /// bytes of a complete answer go out, so a client's next request finds its budget settled.
  void settle();

  RequestContext& ctx_;
  const Snapshot& snap_;
  const policies::Engine& engine_;
  Endpoint endpoint_;
  std::string_view body_text_;  // the OpenAI request body
  // The parsed body: a per-request arena (no per-node frees, hostile nesting bounded) and the DOM
  // in it, about 3x the text for long strings and up to ~16x for many small values. Held for the
  // decision and while an attempt builds its upstream body, released (dom_.reset()) before any
  // upstream exchange, so a request holds about its text and its upstream body while it waits.
  struct Dom {
    Dom(std::string_view text, error_code& ec);
    unsigned char arena[4096];
    boost::json::monotonic_resource mr;
    boost::json::value value;
  };
  std::optional<Dom> dom_;
  // The client's body's facts when body_text_ was translated from it (scanned with it).
  const adapters::ChatFacts* original_ = nullptr;
  Outcome o_;
  policies::Decision decision_;
  std::string decision_headers_;  // x-switchboard-rule / -sensitivity / -tier lines
  // The client headers that may be forwarded, exactly as the detector scanned them.
  std::vector<HeaderLine> forwardable_;
  upstream::ErrorKind last_error_ = upstream::ErrorKind::none;
  std::size_t response_bytes_ = 0;
  bool attempt_failed_ = false;  // the current attempt's upstream failed (for its circuit)
  bool circuit_open_ = false;    // a backend was skipped because its circuit is open
  AnthropicOutbound* outbound_ = nullptr;  // the current stream's Anthropic writer, if any
  // The last retryable upstream answer (complete response bytes): the client's answer when no
  // later try succeeds.
  struct Failure {
    unsigned status = 0;
    std::string response;
  };
  std::optional<Failure> failure_;
  bool retryable_ = false;  // the last failed try may be repeated on the same backend
  std::optional<Clock::duration> retry_after_;  // the wait its upstream asked for

  // An exchange failed at the transport (or its stream could not be read): counted for the
  // backend and its circuit, remembered for the client's answer, and retryable unless it timed
  // out.
  void upstream_failed(const BackendRuntime& b, upstream::ErrorKind kind) {
    attempt_failed_ = true;
    b.count_error(kind);
    last_error_ = kind;
    failure_.reset();
    retryable_ = !upstream::is_timeout(kind);
  }
  // Reads a whole upstream body (up to `limit`), the wait accounted as upstream time.
  asio::awaitable<bool> read_body(upstream::Exchange& ex, std::string& out, std::size_t limit,
                                  upstream::Error& err);
  void upstream_failed_status(const BackendRuntime& b) {
    attempt_failed_ = true;
    b.count_error_status();
  }
  std::uint64_t prompt_tokens_ = 0;  // estimated
  std::string capped_body_;          // the body with the output cap written in, when capped
  bool body_edited_ = false;         // body_text_ is capped_body_: the DOM must be parsed again
  bool priced_ = false;
  std::optional<policies::Reservation> reservation_;  ///< until settle()
};

}  // namespace sb::gateway::chat
