// One try on one backend, returned as an AttemptResult: the request built for the provider
// (through its UpstreamWire: passed through with the engine's quirks, or translated), sent
// through the worker's pool, and the upstream's answer judged — served, retryable (kept as the
// answer should no later try succeed), or final.

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include <boost/beast/http/field.hpp>

#include "adapters/chat_facts.h"
#include "adapters/json_edit.h"
#include "gateway/net/header_name.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/pipeline/tracing.h"
#include "gateway/runtime/pool.h"
#include "gateway/runtime/worker.h"
#include "policies/load.h"

namespace sb::gateway::chat {
namespace {

// A backend that declares its model's output limit (max_output_tokens) is never asked for more:
// coding agents ask every model for their own maximum (Claude Code: 32,000). And a chat request
// that names no limit, where a budget or a tpm limit holds its reservation to the backend's
// max_output_tokens (declared or the provider's default), is given that limit: else an engine
// (vLLM, llama.cpp) may write up to its context's end, past what was reserved. The body with the
// limit written in, for this backend only; nullopt when the request is within it.
// `asked`: max_completion_tokens and max_tokens, each when it is a positive integer.
using OutputAsks = std::array<std::optional<std::uint64_t>, 2>;
constexpr std::array<const char*, 2> kOutputKeys{"max_completion_tokens", "max_tokens"};

// Where member `key` of the typed reading's text takes `limit`: its last occurrence's value
// bytes, or (an empty range) before the closing brace, where it is appended.
struct LimitEdit {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t key = 0;  ///< into kOutputKeys
};
LimitEdit limit_edit(const adapters::ChatRequest& typed, std::size_t key) {
  for (auto m = typed.members.rbegin(); m != typed.members.rend(); ++m) {
    if (m->key == kOutputKeys[key]) {
      return LimitEdit{m->value_begin, m->value_end, key};
    }
  }
  const std::size_t close = typed.tokens[0].end - 1;  // the top-level object's `}`
  return LimitEdit{close, close, key};
}

// The text with the edits (in increasing order) made, as set_member makes them; the member
// positions come from the typed reading, so the text is not scanned again.
std::string edited(std::string_view text, std::span<const LimitEdit> edits, std::uint64_t limit) {
  const std::string value = std::to_string(limit);
  std::string out;
  out.reserve(text.size() + 32);
  std::size_t copied = 0;
  for (const LimitEdit& e : edits) {
    out.append(text, copied, e.begin - copied);
    if (e.begin == e.end) {
      out += ",\"";
      out += kOutputKeys[e.key];
      out += "\":";
    }
    out += value;
    copied = e.end;
  }
  out.append(text, copied);
  return out;
}

std::optional<std::string> clamped_body(const BackendRuntime& b, const OutputAsks& asked,
                                        bool reserved, std::string_view text,
                                        const adapters::ChatRequest* typed) {
  const std::uint64_t limit = b.spec->max_output_tokens;
  std::array<std::size_t, 2> keys{};
  std::size_t n = 0;
  if (reserved && !asked[0] && !asked[1] && limit != 0) {
    keys[n++] = 0;
  } else if (b.spec->max_output_tokens_declared) {
    for (std::size_t k = 0; k < 2; ++k) {
      if (asked[k] && *asked[k] > limit) {
        keys[n++] = k;
      }
    }
  }
  if (n == 0) {
    return std::nullopt;
  }
  if (typed != nullptr) {
    std::array<LimitEdit, 2> edits{limit_edit(*typed, keys[0]), {}};
    if (n == 2) {
      edits[1] = limit_edit(*typed, keys[1]);
      if (edits[1].begin < edits[0].begin) {
        std::swap(edits[0], edits[1]);
      }
    }
    return edited(text, std::span<const LimitEdit>(edits.data(), n), limit);
  }
  std::string out(text);
  for (std::size_t i = 0; i < n; ++i) {
    adapters::set_member(out, kOutputKeys[keys[i]], std::to_string(limit));
  }
  return out;
}

// A clamped body read as the client's was: typed when that was (into `typed`), else (or when only
// memory fails the typed reading) its DOM in `dom`. False when neither can be had.
bool read_clamped(std::string_view text, bool typed_lane,
                  std::unique_ptr<adapters::ChatRequest>& typed, BodyDom& dom) {
  if (typed_lane) {
    if (adapters::Result<adapters::ChatRequest, adapters::ParseError> r =
            adapters::parse_chat_request(text)) {
      typed = std::make_unique<adapters::ChatRequest>(std::move(r.value()));
      return true;
    }
  }
  error_code ec;
  return dom.get(text, ec) != nullptr;
}

// The DOM's lane also reads what the typed reading refuses but a lenient engine takes as a limit
// (`1e5`, `100000.0`, `"100000"`): a backend is not asked for more by writing it so.
OutputAsks output_asks(const boost::json::object& body) {
  OutputAsks asked;
  for (std::size_t k = 0; k < 2; ++k) {
    const auto* v = body.if_contains(kOutputKeys[k]);
    if (v == nullptr) {
      continue;
    }
    if (const std::optional<std::uint64_t> n = adapters::output_tokens_asked(*v); n && *n > 0) {
      asked[k] = n;
    }
  }
  return asked;
}

OutputAsks output_asks(const adapters::ChatRequest& typed) {
  OutputAsks asked;
  const std::array<std::optional<std::int64_t>, 2> v{typed.max_completion_tokens, typed.max_tokens};
  for (std::size_t k = 0; k < 2; ++k) {
    if (v[k] && *v[k] > 0) {
      asked[k] = static_cast<std::uint64_t>(*v[k]);
    }
  }
  return asked;
}

// A pooled try's claim on its endpoint: counted in flight there (the picker's load) and in its
// requests, released however the try ends.
struct EndpointHold {
  explicit EndpointHold(const EndpointRuntime* e) : e_(e) {
    if (e_ != nullptr) {
      e_->in_flight->fetch_add(1, std::memory_order_relaxed);
      e_->requests->inc();
    }
  }
  ~EndpointHold() {
    if (e_ != nullptr) {
      e_->in_flight->fetch_sub(1, std::memory_order_relaxed);
    }
  }
  EndpointHold(const EndpointHold&) = delete;
  EndpointHold& operator=(const EndpointHold&) = delete;

 private:
  const EndpointRuntime* e_;
};

// A try counted in its backend's in-flight requests while it lasts.
struct InFlightHold {
  InFlightHold(policies::StateStore& s, std::size_t backend) : s_(s), i_(backend) {
    s_.add_in_flight(i_, 1);
  }
  ~InFlightHold() { s_.add_in_flight(i_, -1); }
  InFlightHold(const InFlightHold&) = delete;
  InFlightHold& operator=(const InFlightHold&) = delete;

 private:
  policies::StateStore& s_;
  std::size_t i_;
};

}  // namespace

// Whether backend `b` must be passed over before anything is built for it: a format it does not
// speak (the next backend may take it), or full since the decision.
std::optional<AttemptResult> ChatHandler::passed_over(const BackendRuntime& b) {
  if (endpoint_ != Endpoint::chat && !b.openai_wire) {
    o_.backend = &b;
    return AttemptResult::unsendable();
  }
  if (b.spec->max_in_flight > 0 && snap_.state().backend_in_flight(b.index) >=
                                       static_cast<std::int64_t>(b.spec->max_in_flight)) {
    return AttemptResult::full();
  }
  return std::nullopt;
}

// The skeleton every provider shares, its wire chosen by the backend: build the request, ask the
// circuit, exchange (relay or convert the answer).
asio::awaitable<AttemptResult> ChatHandler::attempt(const BackendRuntime& backend, bool last) {
  if (std::optional<AttemptResult> skip = passed_over(backend)) {
    co_return std::move(*skip);
  }
  // A pool's try goes to one endpoint, through the backend's view of it (its URL, translator
  // spec and circuit); a single endpoint is the backend itself. The pick has asked the
  // endpoint's circuit: a half-open one's probe that ends before its exchange (a request this
  // provider cannot express, memory) is presumed lost after the breaker's probe_timeout.
  const EndpointRuntime* ep = nullptr;
  if (backend.pooled()) {
    ep = pick_endpoint(backend);
    if (ep == nullptr) {
      co_return AttemptResult::passed_over(true);  // every endpoint's circuit is open
    }
  }
  const BackendRuntime& b = ep != nullptr ? *ep->view : backend;
  const EndpointHold endpoint_hold(ep);
  const InFlightHold in_flight(snap_.state(), b.index);
  ++o_.attempts;
  o_.backend = &b;
  AttemptWires wires;
  upstream::Request up;
  if (std::optional<AttemptResult> unsent = co_await prepare(b, last, wires, up)) {
    co_return std::move(*unsent);
  }
  if (ep == nullptr && !b.circuit->allow(Clock::now())) {  // a pool's pick asked already
    co_return AttemptResult::passed_over(true);            // shed from a failing backend
  }
  bool failed = false;
  const CircuitReport circuit_report{*b.circuit, failed};
  std::unique_ptr<trace::Span> span = tracing::start_attempt(ctx_, o_, b, endpoint_, up);
  const auto started = Clock::now();
  AttemptResult r = co_await exchange(b, *wires.wire, std::move(up));
  failed = r.upstream_failed;
  finish_attempt(b, r, started, span);
  co_return r;
}

// The try's upstream request for `b`: the body within the backend's declared output limit,
// through the wire the backend speaks. nullopt when `up` is ready (on wires.wire); otherwise
// what the try comes to (another backend may express it, or the last one answers why not).
asio::awaitable<std::optional<AttemptResult>> ChatHandler::prepare(const BackendRuntime& b,
                                                                   bool last, AttemptWires& wires,
                                                                   upstream::Request& up) {
  // Without the typed reading, the DOM (released before an earlier attempt's exchange: parsed
  // again; it parsed once already, so only memory can make this fail).
  error_code jec;
  const adapters::ChatRequest* typed = typed_body();
  const boost::json::object* body = typed != nullptr ? nullptr : parsed_body(jec);
  if (typed == nullptr && body == nullptr) {
    co_return AttemptResult::unsendable();
  }
  // Within the backend's declared output limit: the clamped body parsed for this try only, as the
  // client's was (typed when it was: a fraction of a DOM's cost, and what the wires read first).
  // It lives in `wires`, as long as the exchange: the upstream request may lend its bytes.
  const std::optional<std::string>& clamped = wires.clamped =
      clamped_body(b, typed != nullptr ? output_asks(*typed) : output_asks(*body),
                   endpoint_ == Endpoint::chat && output_reserved(), body_text_, typed);
  BodyDom clamped_dom;
  std::unique_ptr<adapters::ChatRequest> clamped_typed;  // on the heap: the frame stays small
  if (clamped && !read_clamped(*clamped, typed != nullptr, clamped_typed, clamped_dom)) {
    co_return AttemptResult::unsendable();
  }
  WireBody wire_body = clamped ? WireBody(*clamped, clamped_typed.get(), clamped_dom)
                               : WireBody(body_text_, typed, dom_);
  if (inbound_.side != nullptr) {
    wires.native = inbound_.side->native_wire(b, ctx_.request_id, forwardable_);
  }
  if (wires.native == nullptr && !inbound_.untranslatable.empty()) {
    if (!last) {
      co_return AttemptResult::unsendable();  // a backend of the client's own dialect may take it
    }
    adapters::TranslateError e;
    e.message = std::string(inbound_.untranslatable);
    co_return AttemptResult::ended(co_await answer_untranslatable(b, e));
  }
  wires.wire =
      wires.native != nullptr ? wires.native.get()
      : endpoint_ == Endpoint::chat && b.chat_translated
          ? static_cast<UpstreamWire*>(&wires.translated.emplace(
                b, ctx_.request_id, o_.alias != nullptr ? std::string_view(o_.alias->name) : ""))
          : &wires.passed.emplace(b, endpoint_, ctx_.request_id, forwardable_);
  adapters::TranslateError terr;
  if (!wires.wire->request(wire_body, up, terr)) {
    if (!last) {
      co_return AttemptResult::unsendable();  // another backend may express it
    }
    co_return AttemptResult::ended(co_await answer_untranslatable(b, terr));
  }
  o_.stream = wires.wire->streaming();
  // The upstream body is built: neither reading is held across the exchange (a later try reads
  // the text again).
  dom_.reset();
  typed_.reset();
  co_return std::nullopt;
}

const EndpointRuntime* ChatHandler::pick_endpoint(const BackendRuntime& b) {
  // The candidates live on the stack: the loader allows no more endpoints than the picker takes.
  static_assert(config::kMaxEndpoints <= pool::kMaxCandidates);
  std::array<pool::Candidate, pool::kMaxCandidates> candidates;
  const std::size_t n = std::min(b.endpoints.size(), candidates.size());
  const auto now = Clock::now();
  const std::int64_t now_ms = b.load != nullptr ? policies::load_clock_ms() : 0;
  for (std::size_t k = 0; k < n; ++k) {
    const EndpointRuntime& e = b.endpoints[k];
    pool::Candidate& c = candidates[k];
    c.admits = e.circuit->healthy() && e.circuit->state(now) != Circuit::State::open;
    c.load = static_cast<double>(e.in_flight->load(std::memory_order_relaxed));
    if (b.load != nullptr && k < b.load->endpoints()) {
      const policies::EndpointLoad l = b.load->endpoint(k, now_ms, b.spec->load);
      if (l.fresh && (l.waiting >= 0 || l.running >= 0)) {
        c.load = std::max(0.0, l.waiting) + std::max(0.0, l.running);
        c.kv_cache = l.kv_cache;
      }
    }
  }
  pool::PickOptions o;
  if (b.spec->affinity.enabled) {
    o.prefix = prefix_;
    o.max_load_factor = b.spec->affinity.max_load_factor;
  }
  if (last_pooled_backend_ == b.index) {
    o.avoid = last_endpoint_;
  }
  thread_local std::uint64_t draws = 0;
  // The pick asks its endpoint's circuit at once: a half-open endpoint lets one probe through,
  // and the caller that loses that race picks again among the others.
  for (std::size_t round = 0; round < n; ++round) {
    o.random = ++draws;
    const std::optional<std::size_t> k = pool::pick(std::span(candidates.data(), n), o);
    if (!k) {
      return nullptr;
    }
    if (!b.endpoints[*k].circuit->allow(now)) {
      candidates[*k].admits = false;
      continue;
    }
    last_pooled_backend_ = b.index;
    last_endpoint_ = *k;
    return &b.endpoints[*k];
  }
  return nullptr;
}

void ChatHandler::hash_prefix(std::span<const std::string_view> texts) {
  for (const std::size_t i : decision_.backends) {
    const BackendRuntime& b = snap_.backend(i);
    if (b.pooled() && b.spec->affinity.enabled) {
      prefix_ = pool::prefix_hash(texts, std::size_t{b.spec->affinity.prefix_tokens} * 4);
      return;
    }
  }
}

// Sends `up` through the worker's pool (the wait accounted), then relays the stream or reads and
// converts the complete answer.
asio::awaitable<AttemptResult> ChatHandler::exchange(const BackendRuntime& b, UpstreamWire& wire,
                                                     upstream::Request&& up) {
  upstream::Error err;
  const DownstreamWatch watch(ctx_.downstream, *this);  // client_gone() while the upstream works
  const auto t = Clock::now();
  // A stream's header comes with its first event; a complete answer's only once it is all
  // written (a reasoning model's can take minutes): the whole exchange's bound waits for that.
  const bool whole = !wire.streaming() && endpoint_ != Endpoint::embeddings;
  const auto ex = co_await ctx_.worker.pool.send(
      b.endpoint, b.tls.get(), std::move(up), whole ? b.answer_timeouts : b.timeouts, err, &abort_);
  const auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  if (!ex) {
    if (abort_.fired()) {
      co_return client_left();
    }
    b.count_error(err.kind);
    co_return AttemptResult::transport_failure(err.kind);
  }
  const unsigned status = ex->status();
  const std::string_view ctype = field_value(ex->headers(), "content-type");
  if (status == 200 && wire.streams(ctype)) {
    co_return co_await relay(*ex, b, wire.stream_translator(), wire.native());
  }
  std::string text;
  upstream::Error rerr;
  const bool complete =
      co_await read_body(*ex, text, status == 200 ? kMaxResponseBody : kMaxErrorBody, rerr);
  if (abort_.fired()) {
    co_return client_left();
  }
  if (!complete && rerr && wire.read_error_fails(status)) {
    b.count_error(rerr.kind);
    co_return AttemptResult::transport_failure(rerr.kind);
  }
  WireAnswer a = wire.answer(status, ctype, std::move(text), ex->headers());
  if (a.status == 200) {
    o_.usage = a.usage;
    if (answer_facts_wanted() && endpoint_ != Endpoint::embeddings) {
      answer_facts_.read_answer(a.body);
    }
    co_return AttemptResult::ended(
        co_await send_answer(b, std::move(a.body), a.content_type, wire.native()));
  }
  co_return co_await answer_error(b, a, ex->headers(), wire.native());
}

AttemptResult ChatHandler::client_left() {
  o_.error = "client_gone";
  if (o_.status == 0) {
    o_.status = 499;  // nothing reached the client: nginx's "client closed request"
  }
  return AttemptResult::ended(Attempt::closed);
}

// An upstream's error answer, in the client's dialect: kept for a later replay when another try
// may do better, else sent.
asio::awaitable<AttemptResult> ChatHandler::answer_error(const BackendRuntime& b, WireAnswer& a,
                                                         const upstream::ResponseHead& headers,
                                                         bool native) {
  std::string_view retry_after = headers[http::field::retry_after];
  if (retry_after.empty()) {
    retry_after = a.retry_after;
  }
  if (a.failed) {
    b.count_error_status();
  }
  std::string response = error_answer(
      b, a.status, a.content_type,
      native ? std::move(a.body) : dialect_.error_body(a.status, std::move(a.body)), retry_after);
  if (a.retryable) {
    co_return AttemptResult::retry_later(a.status, std::move(response),
                                         asked_wait(headers["retry-after-ms"], retry_after));
  }
  o_.status = a.status;
  o_.error = "upstream_status";
  AttemptResult r =
      AttemptResult::ended(co_await send(ctx_, o_, response) ? Attempt::answered : Attempt::closed);
  r.upstream_failed = a.failed;
  co_return r;
}

// The last try's provider cannot express the request: the client hears why.
asio::awaitable<Attempt> ChatHandler::answer_untranslatable(const BackendRuntime& b,
                                                            const adapters::TranslateError& e) {
  const unsigned status = http_status({ErrorKind::untranslatable, e.status});
  o_.status = status;
  o_.error = "untranslatable_request";
  const std::string response = error_answer(
      b, status, "application/json",
      dialect_.error_body(status,
                          error_json(e.message, error_type_for(status),
                                     e.code.empty() ? "unsupported_parameter" : e.code, e.param)),
      {});
  co_return co_await send(ctx_, o_, response) ? Attempt::answered : Attempt::closed;
}

asio::awaitable<bool> ChatHandler::read_body(upstream::Exchange& ex, std::string& out,
                                             std::size_t limit, upstream::Error& err) {
  const auto t = Clock::now();
  const bool complete = co_await ex.read_all(out, limit, err);
  const auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  co_return complete;
}

}  // namespace sb::gateway::chat
