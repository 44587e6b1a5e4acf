#include "gateway/pipeline/messages.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/pipeline/request_record.h"

namespace sb::gateway {

namespace asio = boost::asio;

bool AnthropicOutbound::feed(std::string_view bytes, std::string& out) {
  scratch_.clear();
  const bool ok = inner_.feed(bytes, scratch_);
  if (inner_.usage() && inner_.usage()->cache_write > 0) {
    writer_.set_cache_write(inner_.usage()->cache_write);  // not in the OpenAI usage chunk
  }
  const bool written = writer_.feed(scratch_, out);
  return ok && written;
}

bool AnthropicOutbound::finish(std::string& out) {
  scratch_.clear();
  const bool ok = inner_.finish(scratch_);
  if (inner_.usage() && inner_.usage()->cache_write > 0) {
    writer_.set_cache_write(inner_.usage()->cache_write);
  }
  if (!writer_.feed(scratch_, out)) {
    return false;
  }
  // A cut stream is the gateway's to report (gateway_event); a complete one closes the message.
  return ok && writer_.finish(out);
}

void AnthropicOutbound::gateway_event(std::string_view openai_sse, std::string& out) {
  writer_.feed(openai_sse, out);
}

asio::awaitable<bool> handle_messages(RequestContext& ctx, RequestRecord& record) {
  Outcome& o = record.outcome();
  boost::json::monotonic_resource mr;
  boost::json::parse_options opts;
  opts.max_depth = 128;
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(ctx.request.body(), ec, &mr, opts);
  if (ec || !parsed.is_object()) {
    co_return co_await send_error(ctx, o, 400,
                                  "The request body is not valid JSON: expected a Messages "
                                  "request object (https://docs.anthropic.com/en/api/messages).");
  }
  std::string error;
  const std::optional<std::string> chat =
      adapters::anthropic_to_openai_request(parsed.as_object(), error);
  if (!chat) {
    co_return co_await send_error(ctx, o, 400, error);
  }
  // Every string of the client's body is scanned too: whatever part of it reaches a backend.
  adapters::ChatFacts original;
  adapters::collect_body_facts(parsed.as_object(), original);
  co_return co_await handle_chat(ctx, record, Endpoint::chat, *chat, &original);
}

}  // namespace sb::gateway
