#include "gateway/pipeline/responses.h"

#include <algorithm>
#include <chrono>

#include <boost/beast/http/verb.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts.h"
#include "adapters/json_edit.h"
#include "adapters/json_lex.h"
#include "adapters/responses_native.h"
#include "gateway/net/http_response.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/pipeline/request_record.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kNotJson =
    "We could not parse the JSON body of your request. The body must be a JSON object (see "
    "https://platform.openai.com/docs/api-reference/responses/create).";

// The elements of a JSON array's text, without its brackets ("" for an empty array or text).
const std::string& tenant_name(const Snapshot& snap, std::size_t tenant) {
  return snap.config().tenants[tenant].name;
}

// The level a stored conversation reached, as the current config names it: a level the config no
// longer has counts as the most sensitive one (fail closed).
std::string_view floor_level(const Snapshot& snap, const StoredResponse& stored) {
  const auto& names = snap.config().sensitivity.levels.names;
  for (const std::string& n : names) {
    if (n == stored.level) {
      return n;
    }
  }
  return names.empty() ? std::string_view() : std::string_view(names.back());
}

std::string not_found_message(std::string_view id) {
  std::string msg = "Previous response with id '";
  msg += id.substr(0, 128);
  msg += "' not found.";
  return msg;
}

// A 400 naming the member at fault, as OpenAI's errors do (`param`).
asio::awaitable<bool> refuse_member(RequestContext& ctx, Outcome& o, std::string_view message,
                                    std::string_view code, std::string_view param) {
  o.status = 400;
  const bool ok =
      co_await send(ctx, o,
                    json_response(400, error_json(message, "invalid_request_error", code, param),
                                  ctx.common_headers()));
  co_return ok && !ctx.close;
}

// What the answer says of the request: a new id, now, the model as the client named it, the
// conversation it continues, the request's members echoed.
adapters::ResponseMeta response_meta(const boost::json::object& body,
                                     const adapters::ResponsesTurn& turn,
                                     std::string_view previous) {
  adapters::ResponseMeta meta;
  meta.id = adapters::new_response_id();
  meta.created_at = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  if (const auto* m = body.if_contains("model"); m != nullptr && m->is_string()) {
    meta.model = std::string(m->get_string());
  }
  meta.previous_response_id = std::string(previous);
  meta.echo = turn.echo;
  meta.tool_aliases = turn.tool_aliases;
  return meta;
}

}  // namespace

std::string join_json_arrays(std::string_view a, std::string_view b, std::string_view c) {
  std::string out;
  out.reserve(a.size() + b.size() + c.size());  // each array's brackets hold the commas
  out += '[';
  for (const std::string_view part :
       {adapters::json_array_elements(a), adapters::json_array_elements(b),
        adapters::json_array_elements(c)}) {
    if (part.empty()) {
      continue;
    }
    if (out.size() > 1) {
      out += ',';
    }
    out += part;
  }
  out += ']';
  return out;
}

namespace {

// `feed()` appends to `out`; when `done()` turns true within it, the completing event is in the
// bytes it appended: they wait in `held` for finish(), so the store has the response before the
// client can name it.
template <class Feed, class Done>
bool feed_holding_completion(std::string& out, std::string& held, Feed&& feed, Done&& done) {
  const bool was_done = done();
  const std::size_t from = out.size();
  const bool ok = feed();
  if (!was_done && done()) {
    held.append(out, from, std::string::npos);
    out.resize(from);
  }
  return ok;
}

}  // namespace

bool ResponsesOutbound::feed(std::string_view bytes, std::string& out) {
  return feed_holding_completion(
      out, held_, [&] { return source_.feed(bytes, out); }, [&] { return writer_.done(); });
}

bool ResponsesOutbound::finish(std::string& out) {
  out += held_;
  held_.clear();
  return source_.finish(out);
}

void ResponsesOutbound::gateway_event(std::string_view openai_sse, std::string& out) {
  out += held_;
  held_.clear();
  writer_.feed(openai_sse, out);
}

bool ResponsesNativeOutbound::done() const {
  const adapters::ResponsesNativeStream* s = wire_.stream();
  return s != nullptr && s->done();
}

bool ResponsesNativeOutbound::feed(std::string_view bytes, std::string& out) {
  return feed_holding_completion(
      out, held_, [&] { return inner_.feed(bytes, out); }, [&] { return done(); });
}

bool ResponsesNativeOutbound::finish(std::string& out) {
  out += held_;
  held_.clear();
  return inner_.finish(out);
}

void ResponsesNativeOutbound::gateway_event(std::string_view openai_sse, std::string& out) {
  // The upstream's events went out as they came; the gateway's own failure is written as the
  // Responses API ends a failed stream.
  const adapters::ResponsesNativeStream* s = wire_.stream();
  out += adapters::responses_native_failure(openai_sse,
                                            s != nullptr ? s->response_id() : std::string_view(),
                                            s != nullptr ? s->next_sequence() : 0);
}

std::optional<std::string> ResponsesSide::answer(std::string body, std::string_view,
                                                 std::string& error, std::int64_t cache_write) {
  std::optional<std::string> r =
      adapters::chat_to_response(body, meta_, output_messages_, error, cache_write);
  if (r && turn_.store && ctx_.worker.responses != nullptr) {
    response_ = *r;  // kept for the store only when it will be stored
  }
  return r;
}

std::unique_ptr<ClientStream> ResponsesSide::stream(ScrubbedStream& inner, std::string_view,
                                                    std::int64_t, bool native) {
  if (native && native_ != nullptr) {
    outbound_ = nullptr;
    return std::make_unique<ResponsesNativeOutbound>(inner, *native_);
  }
  auto out = std::make_unique<ResponsesOutbound>(inner, meta_);
  outbound_ = out.get();
  return out;
}

// A complete answer: the conversation so far stored under the response's id (when the client
// asked to store it), with its tenant and the level it reached.
asio::awaitable<void> ResponsesSide::completed(const Outcome& o) {
  ResponseStore* store = ctx_.worker.responses;
  if (store == nullptr || !turn_.store || o.tenant == kNoTenant) {
    co_return;
  }
  StoredResponse r;
  std::string id = meta_.id;
  if (native_ != nullptr) {
    if (!native_conversation(r, id)) {
      co_return;
    }
  } else if (outbound_ != nullptr) {
    r.response = outbound_->writer().final_response();
    output_messages_ = outbound_->writer().output_messages();
  } else {
    r.response = std::move(response_);
  }
  if (r.response.empty()) {
    co_return;
  }
  r.tenant = tenant_name(ctx_.snapshot, o.tenant);
  r.level = std::string(o.sensitivity);
  r.level_index = o.level < 0 ? 0u : static_cast<std::uint32_t>(o.level);
  if (native_ == nullptr) {
    r.conversation = join_json_arrays(history_, turn_.input_messages, output_messages_);
  }
  co_await store->put(id, std::move(r));
}

std::unique_ptr<chat::UpstreamWire> ResponsesSide::native_wire(
    const BackendRuntime& b, std::string_view request_id, std::span<const HeaderLine> forwardable) {
  native_ = nullptr;
  if (!native_for(b.spec->provider)) {
    return nullptr;
  }
  auto wire =
      std::make_unique<chat::ResponsesNativeWire>(b, request_id, ctx_.request.body(), forwardable,
                                                  turn_.store && ctx_.worker.responses != nullptr);
  native_ = wire.get();
  return wire;
}

bool ResponsesSide::native_for(config::Provider p) const {
  // A stored conversation is chat messages: translated.
  return (p == config::Provider::openai || p == config::Provider::azure_openai) &&
         turn_.previous_response_id.empty();
}

bool ResponsesSide::sends_client_body(const config::Config& config) const {
  return std::any_of(config.backends.begin(), config.backends.end(),
                     [this](const config::Backend& b) { return native_for(b.provider); });
}

// Output items of a Response are valid Responses input items: those chat messages can carry
// (messages, function and custom tool calls) are translated as the next turn's input would be.
bool ResponsesSide::native_conversation(StoredResponse& r, std::string& id) const {
  r.response = native_->final_response();
  id = adapters::response_id_of(r.response);
  if (r.response.empty() || id.empty()) {
    return false;
  }
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(r.response, ec);
  const boost::json::value* output =
      !ec && v.is_object() ? v.get_object().if_contains("output") : nullptr;
  boost::json::array items;
  if (output != nullptr && output->is_array()) {
    for (const boost::json::value& item : output->get_array()) {
      const boost::json::object* o = item.if_object();
      const boost::json::value* type = o != nullptr ? o->if_contains("type") : nullptr;
      if (type != nullptr && type->is_string() &&
          (type->get_string() == "message" || type->get_string() == "function_call" ||
           type->get_string() == "custom_tool_call")) {
        items.push_back(item);
      }
    }
  }
  std::string outputs;
  if (!items.empty()) {
    boost::json::object tiny;
    tiny["model"] = "x";
    tiny["input"] = std::move(items);
    std::string error;
    std::string param;
    const std::optional<adapters::ResponsesTurn> t =
        adapters::responses_to_chat_request(tiny, {}, error, param);
    if (!t) {
      log::warn("native Responses answer not stored: its output cannot be read",
                {{"error", error}});
      return false;
    }
    outputs = t->input_messages;
  }
  r.conversation = join_json_arrays(history_, turn_.input_messages, outputs);
  return true;
}

namespace {

/// The conversation a request continues (previous_response_id): its stored response (the
/// tenant's own only), its messages and its level, a floor for this turn.
struct Continued {
  std::shared_ptr<const StoredResponse> stored;
  std::string id;
  std::string_view history;
  std::string_view floor;
};

/// Reads previous_response_id into `c`. nullopt to go on; else the request was answered here
/// (refused, or the store is away) and this is handle_responses' result.
asio::awaitable<std::optional<bool>> continue_from(RequestContext& ctx, Outcome& o,
                                                   const boost::json::object& body, Continued& c) {
  const auto* p = body.if_contains("previous_response_id");
  if (p == nullptr || p->is_null()) {
    co_return std::nullopt;
  }
  if (!p->is_string() || p->get_string().empty()) {
    co_return co_await refuse_member(ctx, o,
                                     "Invalid type for 'previous_response_id': expected a string.",
                                     "invalid_type", "previous_response_id");
  }
  c.id = std::string(p->get_string());
  ResponseStore* store = ctx.worker.responses;
  if (store == nullptr) {
    co_return co_await refuse_member(ctx, o,
                                     "previous_response_id is not available: this gateway keeps "
                                     "no responses (responses.store: none).",
                                     "previous_response_not_found", "previous_response_id");
  }
  const StoreStatus s = co_await store->find(c.id, tenant_name(ctx.snapshot, o.tenant), c.stored);
  if (s == StoreStatus::unavailable) {
    co_return co_await send_error(ctx, o, 503, "The response store cannot be reached; retry later.",
                                  "response_store_unavailable", "Retry-After: 1\r\n");
  }
  if (s != StoreStatus::ok || c.stored == nullptr) {
    co_return co_await refuse_member(ctx, o, not_found_message(c.id), "previous_response_not_found",
                                     "previous_response_id");
  }
  c.history = c.stored->conversation;
  c.floor = floor_level(ctx.snapshot, *c.stored);
  co_return std::nullopt;
}

}  // namespace

asio::awaitable<bool> handle_responses(RequestContext& ctx, RequestRecord& record) {
  Outcome& o = record.outcome();
  boost::json::monotonic_resource mr;
  boost::json::parse_options opts;
  opts.max_depth = 128;
  boost::system::error_code ec;
  bool repeated = false;
  const boost::json::value parsed =
      adapters::json_lex::parse(ctx.request.body(), ec, &mr, opts, &repeated);
  if (ec || !parsed.is_object()) {
    co_return co_await send_error(ctx, o, 400, kNotJson);
  }
  const boost::json::object& body = parsed.get_object();
  Continued continued;
  if (const std::optional<bool> answered = co_await continue_from(ctx, o, body, continued)) {
    co_return *answered;
  }
  std::string error;
  std::string param;
  const std::optional<adapters::ResponsesTurn> turn = adapters::responses_to_chat_request(
      body, continued.history, error, param, ctx.request.body().size());
  if (!turn) {
    co_return co_await refuse_member(ctx, o, error, {}, param);
  }
  ResponsesSide side(ctx, *turn, continued.history, response_meta(body, *turn, continued.id));
  ChatInbound inbound;
  // Whatever leaves is scanned: the translation always (the stored conversation goes in it), and
  // every string of the client's body when a backend may receive that body as it is.
  adapters::ChatFacts original;
  if (side.sends_client_body(ctx.snapshot.config())) {
    collect_original_facts(body, ctx.request.body(), repeated, original);
    inbound.original = &original;
  }
  inbound.side = &side;
  inbound.floor_level = continued.floor;
  co_return co_await handle_chat(ctx, record, Endpoint::chat, turn->chat_body, inbound);
}

// GET /v1/responses/{id}: the stored Response object; DELETE: forgets it. Another tenant's
// response does not exist for this one.
asio::awaitable<bool> handle_stored_response(RequestContext& ctx, RequestRecord& record,
                                             std::string_view id) {
  Outcome& o = record.outcome();
  ResponseStore* store = ctx.worker.responses;
  const std::string& tenant = tenant_name(ctx.snapshot, o.tenant);
  std::shared_ptr<const StoredResponse> stored;
  const StoreStatus s =
      store == nullptr ? StoreStatus::not_found : co_await store->find(id, tenant, stored);
  if (s == StoreStatus::unavailable) {
    co_return co_await send_error(ctx, o, 503, "The response store cannot be reached; retry later.",
                                  "response_store_unavailable", "Retry-After: 1\r\n");
  }
  if (s != StoreStatus::ok || stored == nullptr) {
    std::string msg = "Response with id '";
    msg += id.substr(0, 128);
    msg += "' not found.";
    co_return co_await send_error(ctx, o, 404, msg, "not_found");
  }
  std::string out;
  if (ctx.request.method() == http::verb::delete_) {
    if (co_await store->remove(id, tenant) == StoreStatus::unavailable) {
      co_return co_await send_error(ctx, o, 503,
                                    "The response store cannot be reached; retry later.",
                                    "response_store_unavailable", "Retry-After: 1\r\n");
    }
    out = "{\"id\":";
    log::append_json_string(out, id);
    out += ",\"object\":\"response\",\"deleted\":true}";
  } else {
    out = stored->response;
  }
  o.status = 200;
  const bool ok = co_await send(ctx, o, json_response(200, out, ctx.common_headers()));
  co_return ok && !ctx.close;
}

}  // namespace sb::gateway
