#include "gateway/pipeline/messages.h"

#include <algorithm>

#include <boost/beast/http/field.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "adapters/anthropic.h"
#include "adapters/anthropic_native.h"
#include "adapters/json_lex.h"
#include "gateway/net/http_response.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/native_wire.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/pipeline/request_record.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::size_t kMaxCountAnswer = 64 * 1024;

// The client's body, parsed into `mr`: a JSON object, else null. Returned by value: a move keeps
// the nodes in `mr` (assigning to a value made with other storage would copy them all out).
// `repeated`: whether an object of it names a key twice (json_lex::parse).
boost::json::value parse_client_body(std::string_view text, boost::json::monotonic_resource& mr,
                                     bool* repeated = nullptr) {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  boost::system::error_code ec;
  boost::json::value v = adapters::json_lex::parse(text, ec, &mr, opts, repeated);
  if (ec || !v.is_object()) {
    return boost::json::value(&mr);
  }
  return v;
}

// The chat body a request chat completions cannot carry is decided on: its model, its output
// limit and one empty user turn (its content is scanned from the client's body itself). Nullopt
// when the body has no model string.
std::optional<std::string> stand_in_chat(const boost::json::object& body) {
  const auto* model = body.if_contains("model");
  if (model == nullptr || !model->is_string() || model->get_string().empty()) {
    return std::nullopt;
  }
  std::string out = "{\"model\":";
  out += boost::json::serialize(*model);
  if (const auto* max = body.if_contains("max_tokens"); max != nullptr && max->is_int64()) {
    out += ",\"max_tokens\":";
    out += std::to_string(max->get_int64());
  }
  if (const auto* stream = body.if_contains("stream"); stream != nullptr && stream->is_bool()) {
    out += stream->get_bool() ? ",\"stream\":true" : ",\"stream\":false";
  }
  out += ",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}";
  return out;
}

constexpr std::string_view kNotJson =
    "The request body is not valid JSON: expected a Messages request object "
    "(https://docs.anthropic.com/en/api/messages).";

}  // namespace

bool AnthropicOutbound::feed(std::string_view bytes, std::string& out) {
  return native_ ? inner_.feed(bytes, out) : source_.feed(bytes, out);
}

bool AnthropicOutbound::finish(std::string& out) {
  return native_ ? inner_.finish(out) : source_.finish(out);
}

void AnthropicOutbound::gateway_event(std::string_view openai_sse, std::string& out) {
  if (native_) {
    // The upstream's own events went out as they came; the gateway's failure event is written
    // in Anthropic's shape.
    std::string_view data = openai_sse;
    if (const std::size_t at = data.find("data: "); at != std::string_view::npos) {
      data.remove_prefix(at + 6);
    }
    while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) {
      data.remove_suffix(1);
    }
    out += "event: error\ndata: ";
    out += adapters::openai_error_to_anthropic(502, data);
    out += "\n\n";
    return;
  }
  writer_.feed(openai_sse, out);
}

std::optional<std::string> AnthropicSide::answer(std::string body, std::string_view model,
                                                 std::string& error, std::int64_t cache_write) {
  return adapters::try_openai_to_anthropic_response(body, model, error, cache_write, thinking_);
}

std::unique_ptr<ClientStream> AnthropicSide::stream(ScrubbedStream& inner, std::string_view model,
                                                    std::int64_t estimated_input, bool native) {
  return std::make_unique<AnthropicOutbound>(inner, model, estimated_input, native, thinking_);
}

std::unique_ptr<chat::UpstreamWire> AnthropicSide::native_wire(const BackendRuntime& b,
                                                               std::string_view request_id,
                                                               std::span<const HeaderLine>) {
  if (b.spec->provider != config::Provider::anthropic) {
    return nullptr;
  }
  return std::make_unique<chat::AnthropicNativeWire>(
      b, request_id, client_body_, ctx_.request.field("anthropic-version"),
      ctx_.request.field("anthropic-beta"), query_of(ctx_.request.target()));
}

bool AnthropicSide::sends_client_body(const config::Config& config) const {
  return std::any_of(config.backends.begin(), config.backends.end(), [](const config::Backend& b) {
    return b.provider == config::Provider::anthropic;
  });
}

asio::awaitable<bool> handle_messages(RequestContext& ctx, RequestRecord& record) {
  Outcome& o = record.outcome();
  boost::json::monotonic_resource mr;
  bool repeated = false;
  const boost::json::value parsed = parse_client_body(ctx.request.body(), mr, &repeated);
  const boost::json::object* body = parsed.if_object();
  if (body == nullptr) {
    co_return co_await send_error(ctx, o, 400, kNotJson);
  }
  // The translated lane's options would follow the engine (reasoning_content, reasoning_effort),
  // but the body is translated once, before routing: the defaults every engine takes.
  std::string error;
  adapters::AnthropicInboundOptions options;
  options.body_bytes = ctx.request.body().size();
  std::optional<std::string> chat = adapters::anthropic_to_openai_request(*body, error, options);
  AnthropicSide side(ctx, ctx.request.body(), adapters::anthropic_thinking_requested(*body));
  const bool native = side.sends_client_body(ctx.snapshot.config());
  ChatInbound inbound;
  if (!chat) {
    // What chat completions cannot carry (server tools, PDF documents, ...) an Anthropic backend
    // takes as it is: decided on a stand-in body, sent natively or refused with this error.
    chat = native ? stand_in_chat(*body) : std::nullopt;
    if (!chat) {
      co_return co_await send_error(ctx, o, 400, error);
    }
    inbound.untranslatable = error;
  }
  // Whatever leaves is scanned: the translation always, and every string of the client's body
  // when a backend may receive that body as it is.
  adapters::ChatFacts original;
  if (native) {
    collect_original_facts(*body, ctx.request.body(), repeated, original);
    inbound.original = &original;
  }
  inbound.side = &side;
  co_return co_await handle_chat(ctx, record, Endpoint::chat, *chat, inbound);
}

namespace {

// The exact count from an Anthropic backend's own count_tokens endpoint; nullopt when it could
// not answer (the estimate is the answer then).
asio::awaitable<std::optional<std::int64_t>> upstream_count(RequestContext& ctx, Outcome& o,
                                                            const BackendRuntime& b) {
  adapters::TranslateError terr;
  std::optional<adapters::UpstreamRequest> ureq = adapters::anthropic_count_tokens_request(
      ctx.request.body(), b.spec->model, b.translator_spec, ctx.request.field("anthropic-version"),
      ctx.request.field("anthropic-beta"), terr, query_of(ctx.request.target()));
  if (!ureq) {
    co_return std::nullopt;
  }
  upstream::Request up;
  chat::to_upstream_request(std::move(*ureq), ctx.request_id, b, up);
  upstream::Error err;
  const auto t = Clock::now();
  auto ex = co_await ctx.worker.pool.send(b.endpoint, b.tls.get(), std::move(up), b.timeouts, err);
  std::string text;
  const bool read = ex && co_await ex->read_all(text, kMaxCountAnswer, err);
  o.io_wait += Clock::now() - t;
  o.upstream += Clock::now() - t;
  if (!read || ex->status() != 200) {
    b.count_error(err ? err.kind : upstream::ErrorKind::protocol);
    co_return std::nullopt;
  }
  co_return adapters::anthropic_count_tokens_answer(text);
}

// The count of the decision's first Anthropic backend, when it routes to one (cleared, as the
// message would be); nullopt otherwise.
asio::awaitable<std::optional<std::int64_t>> exact_count(RequestContext& ctx, Outcome& o,
                                                         const policies::Decision& d) {
  const Snapshot& snap = ctx.snapshot;
  if (d.outcome != policies::Outcome::route) {
    co_return std::nullopt;
  }
  for (const std::size_t i : d.backends) {
    const BackendRuntime& b = snap.backend(i);
    if (b.spec->provider == config::Provider::anthropic &&
        snap.engine().cleared(i, d.sensitivity, o.tenant)) {
      o.backend = &b;
      ++o.attempts;
      co_return co_await upstream_count(ctx, o, b);
    }
  }
  co_return std::nullopt;
}

// The answer: {"input_tokens": N}, saying in x-switchboard-token-count whether a backend counted
// (and which) or the gateway estimated.
asio::awaitable<bool> send_count(RequestContext& ctx, Outcome& o, std::int64_t count, bool exact) {
  std::string out = "{\"input_tokens\":";
  out += std::to_string(count);
  out += '}';
  std::string headers = ctx.common_headers();
  append_header(headers, "x-switchboard-token-count", exact ? "exact" : "estimated");
  if (exact) {
    append_header(headers, "x-switchboard-backend", o.backend->spec->name);
  }
  o.status = 200;
  const bool ok = co_await send(ctx, o, json_response(200, out, headers));
  co_return ok && !ctx.close;
}

}  // namespace

// POST /v1/messages/count_tokens: decided like the message it counts (nothing goes to a backend
// the message could not go to), exact from the first Anthropic backend of the decision, else the
// gateway's own estimate (about four bytes per token; the answer says which in
// x-switchboard-token-count).
asio::awaitable<bool> handle_count_tokens(RequestContext& ctx, RequestRecord& record) {
  Outcome& o = record.outcome();
  const Snapshot& snap = ctx.snapshot;
  boost::json::monotonic_resource mr;
  bool repeated = false;
  const boost::json::value parsed = parse_client_body(ctx.request.body(), mr, &repeated);
  const boost::json::object* body = parsed.if_object();
  if (body == nullptr) {
    co_return co_await send_error(ctx, o, 400, kNotJson);
  }
  // The translator checks the messages as /v1/messages does; count_tokens takes no max_tokens.
  boost::json::object counted(*body, &mr);
  if (!counted.contains("max_tokens")) {
    counted["max_tokens"] = 1;
  }
  std::string error;
  const std::optional<std::string> chat = adapters::anthropic_to_openai_request(counted, error);
  if (!chat) {
    co_return co_await send_error(ctx, o, 400, error);
  }
  const boost::json::value chat_parsed = parse_client_body(*chat, mr);
  const boost::json::object* chat_body = chat_parsed.if_object();
  const auto* model = body->if_contains("model");
  if (chat_body == nullptr || model == nullptr || !model->is_string()) {
    co_return co_await send_error(ctx, o, 400, "model: Field required");
  }
  const std::string_view alias(model->get_string().data(), model->get_string().size());
  o.alias = snap.find_alias(alias);
  adapters::ChatFacts original;
  collect_original_facts(*body, ctx.request.body(), repeated, original);
  std::vector<HeaderLine> lines;
  header_lines(ctx.request, lines);
  FactsStorage storage;
  storage.query = query_of(ctx.request.target());
  const policies::RequestFacts facts = request_facts(Endpoint::chat, *chat_body, alias, o.tenant,
                                                     snap.config(), lines, storage, &original);
  const policies::Decision d = snap.engine().decide(facts, snap.state());
  if (d.outcome == policies::Outcome::unknown_model) {
    std::string msg = "model: ";
    msg += alias.substr(0, 256);
    co_return co_await send_error(ctx, o, 404, msg, "model_not_found");
  }
  if (d.outcome == policies::Outcome::bad_request) {
    co_return co_await send_error(ctx, o, 400, d.message, "invalid_header");
  }
  const std::optional<std::int64_t> exact = co_await exact_count(ctx, o, d);
  co_return co_await send_count(
      ctx, o, exact.value_or(static_cast<std::int64_t>(storage.chat.estimated_prompt_tokens)),
      exact.has_value());
}

}  // namespace sb::gateway
