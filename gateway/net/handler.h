#pragma once
// What a request handler sees: the parsed request, a way to write bytes to the client, and the
// framing facts it must respect. Handlers are coroutines that return whether the connection may
// stay open.

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include "gateway/net/request.h"

namespace sb::gateway {

struct Worker;
class Snapshot;

using Clock = std::chrono::steady_clock;

/// Told when the client closes or resets its connection while a handler waits on something
/// else (Downstream::watch).
class HangupListener {
 public:
  virtual void client_gone() = 0;

 protected:
  ~HangupListener() = default;
};

/// The client side of a connection, independent of TLS.
class Downstream {
 public:
  virtual ~Downstream() = default;

  /// Watches the connection while the handler waits on an upstream: when the client closes or
  /// resets it, `listener.client_gone()` runs once, on this thread. Nothing is read: a client
  /// that sends more (a pipelined request) only ends the watch. unwatch() ends it; it must be
  /// called before the handler returns, with no write pending. On TLS connections (where a
  /// close_notify cannot be told from data without reading) and by default: nothing is watched.
  virtual void watch(HangupListener& /*listener*/) {}
  virtual void unwatch() {}
  /// Writes what the connection takes at once, without a wait and without a coroutine frame:
  /// how many bytes of `buffers` that was (on plain TCP nearly always all of an answer or an event;
  /// on TLS none). write(buffers, n) writes the rest.
  virtual std::size_t write_now(std::span<const boost::asio::const_buffer> buffers) = 0;

  /// Writes all of `buffers` but their first `from` bytes (with the server's write timeout). An
  /// error means the client is gone: the handler must stop and return false.
  virtual boost::asio::awaitable<boost::system::error_code> write(
      std::span<const boost::asio::const_buffer> buffers, std::size_t from = 0) = 0;

  boost::asio::awaitable<boost::system::error_code> write(std::string_view bytes) {
    const boost::asio::const_buffer b(bytes.data(), bytes.size());
    co_return co_await write(std::span<const boost::asio::const_buffer>(&b, 1));
  }
};

/// `d` watched for a hangup (Downstream::watch) for as long as this lives.
class DownstreamWatch {
 public:
  DownstreamWatch(Downstream& d, HangupListener& listener) : d_(d) { d_.watch(listener); }
  ~DownstreamWatch() { d_.unwatch(); }
  DownstreamWatch(const DownstreamWatch&) = delete;
  DownstreamWatch& operator=(const DownstreamWatch&) = delete;

 private:
  Downstream& d_;
};

/// Whether `d` wrote all of `buffers` at once (Downstream::write_now), `written` the bytes it
/// did: a caller co_awaits d.write(buffers, written) only when not, so that an answer or an event
/// the socket takes costs no coroutine frame. In an `if`, not `ec = ok ? error_code{} :
/// co_await ...`: GCC 12 runs that co_await whatever `ok` is (an assignment of a class type).
inline bool written_now(Downstream& d, std::span<const boost::asio::const_buffer> buffers,
                        std::size_t& written) {
  written = d.write_now(buffers);
  return written == boost::asio::buffer_size(buffers);
}

/// The API shape a client speaks: OpenAI's chat completions and the rest of /v1, Anthropic's
/// Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`), or OpenAI's Responses API
/// (`/v1/responses`). Answers and errors are written in the client's shape.
enum class Dialect { openai, anthropic, responses };

struct RequestContext {
  Worker& worker;
  /// The configuration this request runs on, held by the session until the request ends.
  const Snapshot& snapshot;
  const Request& request;
  Downstream& downstream;
  Clock::time_point received;  ///< when the request header was complete
  bool close = false;          ///< the connection closes after this response
  bool http10 = false;         ///< HTTP/1.0 client: no chunked encoding
  std::string request_id;
  Dialect dialect = Dialect::openai;

  /// Header lines every response carries (x-request-id; Connection for close/1.0 keep-alive).
  std::string common_headers() const;
  /// The same, appended to `h`.
  void append_common_headers(std::string& h) const;
};

/// What a session hands its requests to: the data plane (pipeline/) or the admin plane
/// (control/), chosen per listener by the composition root, so the connection layer depends on
/// neither. Called on the worker's thread.
class Handler {
 public:
  virtual ~Handler() = default;
  /// From the request header alone, before the body is read and before any `100 Continue`:
  /// answers a request that must be refused (e.g. 404 for an unknown path, 401 for a missing or
  /// wrong API key) and returns true (the connection must then close); false when the request
  /// may go on.
  virtual boost::asio::awaitable<bool> refuse_before_body(RequestContext& ctx) = 0;
  /// The whole request, body read. Returns false when the connection must close.
  virtual boost::asio::awaitable<bool> handle(RequestContext& ctx) = 0;
  /// Answers an error the connection layer finds itself once the request's header is parsed
  /// (413 for a body over the limit, 400 for a malformed chunked body, 503 when bodies hold too
  /// much memory), as the handler answers its own: the data plane's in the shape the route's
  /// client reads, with a request id, in the access log and the request metrics. `ctx.close` is
  /// set: the session closes the connection after it. `extra_headers`: whole header lines.
  /// By default (http_response.cc) OpenAI's shape, unrecorded.
  virtual boost::asio::awaitable<void> refuse_body(RequestContext& ctx, unsigned status,
                                                   std::string_view message,
                                                   std::string_view extra_headers);
};

}  // namespace sb::gateway
