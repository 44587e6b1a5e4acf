#include "gateway/state/redis_connection.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/error.hpp>

#include "adapters/upstream/resolve.h"

namespace sb::gateway::redis::detail {
using asio::ip::tcp;

std::string ms(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

Result failure(const std::string& prefix, Error e, std::string message) {
  Result r;
  r.error = e;
  r.message = prefix + std::move(message);
  return r;
}

Result make_result(const std::string& prefix, Reply&& reply) {
  Result r;
  if (reply.type == Reply::Type::error) {
    r.error = Error::server;
    r.message = prefix + reply.str;
  }
  r.reply = std::move(reply);
  return r;
}

std::string describe(const error_code& ec) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "closed by the server";
  }
  return ec.message();
}

std::unique_ptr<ssl::context> make_tls_context(const std::string& ca_file, std::string& error) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    error = "cannot require TLS 1.2 or newer";
    return nullptr;
  }
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      error = "cannot load the system CA paths: " + ec.message();
      return nullptr;
    }
  } else {
    // Only the configured CAs: a private Redis is verified against its own CA, nothing else.
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      error = "cannot load CA file '" + ca_file + "': " + ec.message();
      return nullptr;
    }
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) {
    error = "cannot set the verify mode: " + ec.message();
    return nullptr;
  }
  return ctx;
}

namespace {

// One command during the connect (AUTH, SELECT), under the connect deadline already set on
// the stream. The request is wiped afterwards: it may hold the password.
asio::awaitable<Result> setup_command(Connection& c, const ConnectSettings& s,
                                      std::vector<std::string> args, const std::string& timed_out) {
  std::size_t size = 16;
  for (const std::string& a : args) {
    size += a.size() + 24;  // "$<len>\r\n" + bytes + "\r\n"
  }
  std::string out;
  out.reserve(size);  // one allocation: no stray copy of the password in freed memory
  append_command(out, args, /*secret=*/true);
  for (std::string& a : args) {
    explicit_bzero(a.data(), a.size());
  }
  auto [wec, wn] = co_await c.write(asio::buffer(out));
  (void)wn;
  explicit_bzero(out.data(), out.size());
  if (wec) {
    co_return wec == beast::error::timeout
        ? failure(s.prefix, Error::timeout, timed_out)
        : failure(s.prefix, Error::io, "write failed: " + describe(wec));
  }
  Reply reply;
  for (;;) {
    const ReplyParser::Status st = c.parser.next(reply);
    if (st == ReplyParser::Status::reply) {
      break;
    }
    if (st == ReplyParser::Status::failed) {
      co_return failure(s.prefix, c.parser.error(), c.parser.message());
    }
    auto [rec, n] = co_await c.read_some(asio::buffer(c.buf));
    if (rec) {
      co_return rec == beast::error::timeout
          ? failure(s.prefix, Error::timeout, timed_out)
          : failure(s.prefix, Error::io, "connection lost while connecting: " + describe(rec));
    }
    c.parser.feed(std::string_view(c.buf.data(), n));
  }
  co_return make_result(s.prefix, std::move(reply));
}

// Within the deadline (see adapters/upstream/resolve.h).
asio::awaitable<Result> resolve(const ConnectSettings& s, asio::any_io_executor executor,
                                Clock::time_point deadline,
                                tcp::resolver::results_type& endpoints) {
  upstream::Resolved resolved =
      co_await upstream::resolve_until(executor, s.host, std::to_string(s.port), deadline);
  if (resolved.timed_out) {
    co_return failure(s.prefix, Error::timeout,
                      "resolving '" + s.host + "' timed out after " + ms(s.connect_timeout));
  }
  if (resolved.ec) {
    co_return failure(s.prefix, Error::connect,
                      "cannot resolve '" + s.host + "': " + resolved.ec.message());
  }
  endpoints = std::move(resolved.results);
  co_return Result{};
}

}  // namespace

namespace {

// establish(): TCP to the server (an IP literal directly, a name through the resolver), Nagle off.
asio::awaitable<Result> connect_tcp(Connection& c, const ConnectSettings& s,
                                    asio::any_io_executor executor, Clock::time_point deadline,
                                    const std::string& timed_out) {
  tcp::resolver::results_type endpoints;
  error_code ec;
  const asio::ip::address literal = asio::ip::make_address(s.host, ec);
  if (!ec) {
    endpoints = tcp::resolver::results_type::create(tcp::endpoint(literal, s.port), s.host,
                                                    std::to_string(s.port));
  } else {
    Result r = co_await resolve(s, executor, deadline, endpoints);
    if (!r.ok()) {
      co_return r;
    }
  }
  beast::tcp_stream& stream = c.lowest();
  stream.expires_at(deadline);
  auto [cec, ep] = co_await stream.async_connect(endpoints, use_tuple);
  (void)ep;
  if (cec) {
    co_return cec == beast::error::timeout
        ? failure(s.prefix, Error::timeout, timed_out)
        : failure(s.prefix, Error::connect, "connect failed: " + cec.message());
  }
  stream.socket().set_option(tcp::no_delay(true), ec);
  co_return Result{};
}

// establish(): the TLS handshake, with SNI for a host name and the certificate verified against
// the server name; a failure says whether the certificate or the handshake failed.
asio::awaitable<Result> handshake(Connection& c, const ConnectSettings& s,
                                  const std::string& timed_out) {
  SSL* native = c.tls->native_handle();
  // SNI carries host names only (RFC 6066 §3 forbids IP literals in it).
  error_code name_ec;
  (void)asio::ip::make_address(s.server_name, name_ec);
  const bool name_is_literal = !name_ec;
  if (!name_is_literal && SSL_set_tlsext_host_name(native, s.server_name.c_str()) != 1) {
    co_return failure(s.prefix, Error::tls, "TLS: cannot set the server name");
  }
  error_code vec;
  c.tls->set_verify_mode(ssl::verify_peer, vec);
  if (!vec) {
    c.tls->set_verify_callback(ssl::host_name_verification(s.server_name), vec);
  }
  if (vec) {
    co_return failure(s.prefix, Error::tls, "TLS: cannot set up verification: " + vec.message());
  }
  auto [hec] = co_await c.tls->async_handshake(ssl::stream_base::client, use_tuple);
  if (!hec) {
    co_return Result{};
  }
  if (hec == beast::error::timeout) {
    co_return failure(s.prefix, Error::timeout, timed_out + " (TLS handshake)");
  }
  const long verify = SSL_get_verify_result(native);
  if (verify != X509_V_OK) {
    co_return failure(s.prefix, Error::tls,
                      std::string("TLS: certificate verify failed (") +
                          X509_verify_cert_error_string(verify) + ")");
  }
  co_return failure(s.prefix, Error::tls, "TLS: handshake failed: " + hec.message());
}

// establish(): AUTH when the settings have a password, SELECT when a database other than 0.
asio::awaitable<Result> log_in(Connection& c, const ConnectSettings& s,
                               const std::string& timed_out) {
  if (!s.password.empty()) {
    std::vector<std::string> auth;
    auth.reserve(3);  // no reallocation leaving a copy of the password behind
    auth.emplace_back("AUTH");
    if (!s.username.empty()) {
      auth.push_back(s.username);
    }
    auth.emplace_back(s.password.data(), s.password.size());
    Result r = co_await setup_command(c, s, std::move(auth), timed_out);
    if (r.error == Error::server) {
      co_return failure(s.prefix, Error::auth, "authentication failed: " + r.reply.str);
    }
    if (!r.ok()) {
      co_return r;
    }
  }
  if (s.database != 0) {
    std::vector<std::string> select{"SELECT", std::to_string(s.database)};
    Result r = co_await setup_command(c, s, std::move(select), timed_out);
    if (r.error == Error::server) {
      co_return failure(s.prefix, Error::server,
                        "SELECT " + std::to_string(s.database) + " failed: " + r.reply.str);
    }
    if (!r.ok()) {
      co_return r;
    }
  }
  co_return Result{};
}

}  // namespace

asio::awaitable<Result> establish(Connection& c, const ConnectSettings& s, ssl::context* tls,
                                  asio::any_io_executor executor, Clock::time_point deadline) {
  if (s.tls) {
    if (tls == nullptr) {
      co_return failure(s.prefix, Error::tls, "TLS: no context");
    }
    c.tls = std::make_unique<ssl::stream<beast::tcp_stream>>(executor, *tls);
  } else {
    c.plain = std::make_unique<beast::tcp_stream>(executor);
  }
  const std::string timed_out = "connect timed out after " + ms(s.connect_timeout);
  Result r = co_await connect_tcp(c, s, executor, deadline, timed_out);
  if (r.ok() && c.tls) {
    r = co_await handshake(c, s, timed_out);
  }
  if (r.ok()) {
    r = co_await log_in(c, s, timed_out);
  }
  if (r.ok()) {
    c.lowest().expires_never();  // from here on, each command has its own timeout
  }
  co_return r;
}

}  // namespace sb::gateway::redis::detail
