#pragma once
// A raw synchronous HTTP/1.1 client for the fake upstream's own tests: reads one response at a
// time and keeps each chunked-transfer frame as it arrived, so tests can assert framing.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/fake_upstream.h"

namespace sb::testing::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

// A bound so that a broken fake fails a test instead of hanging it.
constexpr std::chrono::milliseconds kWait = 10s;
/// What a client read: the head, the de-chunked body and each chunked-transfer frame as sent.
struct Reply {
  error_code ec;
  bool header_done = false;
  bool done = false;
  http::response_header<> head;
  std::string body;
  std::vector<std::string> frames;
  std::vector<std::uint64_t> frame_sizes;

  unsigned status() const { return head.result_int(); }
  std::string header(std::string_view name) const {
    auto it = head.find(name);
    return it == head.end() ? std::string() : std::string(it->value());
  }
  std::size_t complete_frames() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      n += frames[i].size() == frame_sizes[i] ? 1 : 0;
    }
    return n;
  }
  json::value json_body() const { return json::parse(body); }
};

/// A raw Asio/Beast HTTP/1.1 client over one connection, plain or TLS, driven synchronously.
template <class Stream>
class BasicClient {
 public:
  template <class... Args>
  explicit BasicClient(Args&... args) : stream_(ioc_, args...) {}

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }
  Stream& stream() { return stream_; }

  error_code connect(std::uint16_t port) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    return run([&](auto handler) { tcp_layer().async_connect(endpoint, handler); });
  }

  /// TLS only: verifies the server against `host` (an IP or a DNS name; SNI for names).
  error_code handshake(const std::string& host) {
    error_code not_an_address;
    asio::ip::make_address(host, not_an_address);
    if (not_an_address) {
      SSL_set_tlsext_host_name(stream_.native_handle(), host.c_str());
    }
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification(host));
    return run([&](auto handler) { stream_.async_handshake(ssl::stream_base::client, handler); });
  }

  error_code send(http::request<http::string_body> request) {
    request.prepare_payload();
    return run([&](auto handler) { http::async_write(stream_, request, handler); });
  }

  error_code send_raw(std::string_view bytes) {
    return run([&](auto handler) {
      asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), handler);
    });
  }

  /// Reads one response until it is complete, `enough` says so, an error, or `timeout`.
  Reply read(const std::function<bool(const Reply&)>& enough = {},
             std::chrono::milliseconds timeout = kWait) {
    Reply reply;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    // The parser keeps references to its callbacks: they must outlive the reads.
    auto on_header = [&](std::uint64_t size, beast::string_view, error_code&) {
      if (size > 0) {
        reply.frames.emplace_back();
        reply.frame_sizes.push_back(size);
      }
    };
    auto on_body = [&](std::uint64_t, beast::string_view data, error_code&) {
      reply.frames.back().append(data);
      reply.body.append(data);
      return data.size();
    };
    parser.on_chunk_header(on_header);
    parser.on_chunk_body(on_body);
    tcp_layer().expires_after(timeout);
    while (!parser.is_done()) {
      error_code ec =
          run([&](auto handler) { http::async_read_some(stream_, buffer_, parser, handler); });
      if (ec) {
        reply.ec = ec;
        break;
      }
      if (enough && enough(reply)) {
        break;
      }
    }
    tcp_layer().expires_never();
    reply.header_done = parser.is_header_done();
    reply.done = parser.is_done();
    if (reply.header_done) {
      reply.head = parser.get().base();
      if (!parser.chunked()) {
        reply.body = parser.get().body();
      }
    }
    return reply;
  }

  Reply request(http::request<http::string_body> req) {
    if (error_code ec = send(std::move(req))) {
      Reply failed;
      failed.ec = ec;
      return failed;
    }
    return read();
  }

 private:
  template <class Start>
  error_code run(Start&& start) {
    error_code result = asio::error::would_block;
    bool finished = false;
    start([&](error_code ec, auto&&...) {
      result = ec;
      finished = true;
    });
    ioc_.restart();
    while (!finished && ioc_.run_one() != 0) {
    }
    return result;
  }

  asio::io_context ioc_;
  Stream stream_;
  beast::flat_buffer buffer_;
};

using Client = BasicClient<beast::tcp_stream>;
using TlsClient = BasicClient<ssl::stream<beast::tcp_stream>>;

inline http::request<http::string_body> post(std::string target, std::string body,
                                             const Headers& extra = {}) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : extra) {
    req.insert(name, value);
  }
  req.body() = std::move(body);
  return req;
}

inline http::request<http::string_body> get(std::string target) {
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  return req;
}

}  // namespace sb::testing::client
