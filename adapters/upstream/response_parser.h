#pragma once
// The parser of an upstream's response (private to sb_upstream): Beast's HTTP/1.1 parser reads
// and checks the bytes (status line, fields, Content-Length and chunked framing, limits), and
// this parser keeps what it hands over where the connection wants it, with no message object in
// between:
// - the status and fields into the connection's ResponseHead (one block, reused per response);
// - the body's bytes appended to the reader's string (body_sink()), up to the room it gives:
//   then Beast's parse stops with error::need_buffer, as with Beast's buffer_body;
// - chunk extensions are counted, and past kMaxChunkExtensionBytes over the response the parse
//   fails with error::bad_chunk_extension (upstreams send none; a flood is cut off, not parsed
//   forever).
// A parser reads one response: the connection emplaces a new one per response.

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/http/basic_parser.hpp>

#include "adapters/upstream/response_head.h"

namespace sb::upstream {

class ResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit ResponseParser(ResponseHead& head) : head_(head) {}

  /// Appends the body's next bytes to `*out`, `room` of them at most (nullptr: none, the parse
  /// stops at the body's first byte).
  void body_sink(std::string* out, std::size_t room) {
    sink_ = out;
    room_ = room;
  }
  /// How many more bytes the sink takes.
  std::size_t body_room() const { return room_; }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::system::error_code;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override { ec = {}; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code& ec) override {
    ec = {};
  }
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return take(body, ec);
  }
  void on_finish_impl(error_code& ec) override { ec = {}; }

  std::size_t take(string_view body, error_code& ec);

  ResponseHead& head_;
  std::string* sink_ = nullptr;
  std::size_t room_ = 0;
  std::size_t extension_bytes_ = 0;
};

}  // namespace sb::upstream
