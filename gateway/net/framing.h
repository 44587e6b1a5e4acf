#pragma once
// A request's header block, read from the exact bytes received: found (scan_header_block),
// checked and parsed in one pass (validate_header_block), and a chunked body decoded.
//
// Common HTTP parsers (Beast 1.81 among them) accept framings that let a request be read two ways
// by two HTTP hops (request smuggling): Content-Length together with Transfer-Encoding, codings
// other than a lone "chunked", Transfer-Encoding on HTTP/1.0, obs-fold continuation lines,
// whitespace before the colon. The gateway rejects them, answering 400 (and closing). Pure
// functions; no allocation on the accepting path beyond the caller's field list.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/container/small_vector.hpp>

namespace sb::gateway::framing {

enum class Scan { need_more, complete, bad };

struct ScanResult {
  Scan state = Scan::need_more;
  std::size_t header_bytes = 0;  ///< with complete: length of the block incl. the final CRLFCRLF
  std::string_view error;        ///< with bad
};

/// Resumable scan position, so bytes that trickle in are looked at once (linear, not quadratic).
struct ScanState {
  std::size_t pos = 0;      ///< start of the first line not yet complete
  bool in_request = false;  ///< the request line has been seen
};

/// Looks for the end of the header block in `data` (what has arrived so far), continuing from
/// `state`. Every line must end in CRLF: a bare LF or a bare CR is `bad` at once rather than
/// waiting for a terminator that would never come. Leading empty lines before the request line
/// are tolerated (RFC 9112 §2.2).
ScanResult scan_header_block(std::string_view data, ScanState& state);

struct Verdict {
  unsigned status = 0;     ///< 0 = acceptable; otherwise 400 or 505
  std::string_view error;  ///< a short reason for the error body and the log
  bool ok() const { return status == 0; }
};

/// The longest header field name or value accepted (431 beyond). Beast stores a field's name and
/// value lengths in 16 bits and throws std::length_error past 65,533 bytes, whatever the parser's
/// header limit, so the limit is checked here, on the raw bytes, below that.
inline constexpr std::size_t kMaxFieldBytes = 60 * 1024;

/// A part of a header block: its offset from the block's first byte and its size.
struct Piece {
  std::uint32_t at = 0;
  std::uint32_t size = 0;
  std::string_view of(std::string_view block) const { return block.substr(at, size); }
};

/// One header field: its name, and its value without the whitespace around it.
struct FieldAt {
  Piece name;
  Piece value;
};

/// The fields of a block, in order; a request's few fit without allocating.
using FieldList = boost::container::small_vector_base<FieldAt>;

/// What an acceptable header block says, beside its fields.
struct Head {
  Piece method;
  Piece target;
  bool http10 = false;
  bool chunked = false;  ///< Transfer-Encoding: chunked (the only coding accepted)
  std::optional<std::uint64_t> content_length;
  bool connection_close = false;       ///< a Connection field names `close`
  bool connection_keep_alive = false;  ///< a Connection field names `keep-alive`
  /// A Content-Encoding field names a coding other than `identity` (gzip, deflate, br, ...): the
  /// body is not the bytes it means.
  bool content_coded = false;
};

/// Validates and parses a complete header block (request line, fields, final empty line) as
/// found by scan_header_block, in one pass. Rejects: malformed request line; a version other than
/// HTTP/1.0 or 1.1 (505); field names that are not tokens (so whitespace before the colon);
/// obs-fold; control characters in values; a field name or value longer than kMaxFieldBytes
/// (431); missing or repeated Host on HTTP/1.1; Content-Length that is not a decimal number or
/// that conflicts with another; Transfer-Encoding together with Content-Length, repeated,
/// anything but exactly "chunked", or on HTTP/1.0. When acceptable, `head` and `fields` (cleared
/// first) describe the block, by offsets into it; otherwise they are unspecified.
Verdict validate_header_block(std::string_view block, Head& head, FieldList& fields);

/// The same verdict, for a block whose parts are not wanted.
Verdict validate_header_block(std::string_view block);

/// The longest chunk-size line (size, extensions and CRLF) of a chunked request body.
inline constexpr std::size_t kMaxChunkLineBytes = 1024;
/// The largest trailer section (every trailer line with its CRLF) of a chunked request body.
inline constexpr std::size_t kMaxTrailerBytes = 4 * 1024;

/// Decodes a chunked request body (RFC 9112 §7.1) from raw bytes as they arrive, in place of
/// Beast's parser: chunk extensions are bounded (kMaxChunkLineBytes per chunk-size line) and
/// ignored; trailer fields are bounded (kMaxTrailerBytes in all), checked for syntax and dropped
/// (never merged into the header: a trailer must not add an API key or a classification). Memory
/// is the body itself; nothing else grows with the input. Not thread-safe; one per request.
class ChunkedDecoder {
 public:
  enum class Status { need_more, done, bad, too_large };

  explicit ChunkedDecoder(std::uint64_t max_body) : max_body_(max_body) {}

  /// Consumes a prefix of `in` (sets `consumed`), appending chunk data to `body`. Never appends
  /// more than `in.size()` bytes, nor past `max_body` (too_large instead). After `done`, the
  /// bytes of `in` beyond `consumed` belong to the next request. After bad or too_large the
  /// decoder must not be fed again; error() says why.
  Status feed(std::string_view in, std::string& body, std::size_t& consumed);

  std::string_view error() const { return error_; }

 private:
  enum class State { size_line, data, data_crlf, trailer, done };
  Status fail(Status s, std::string_view why) {
    error_ = why;
    return s;
  }
  Status line(std::string_view text, std::string& body);
  void take_data(std::string_view in, std::string& body, std::size_t& consumed);
  Status take_data_crlf(char c);
  Status take_line(std::string_view in, std::string& body, std::size_t& consumed);

  std::uint64_t max_body_;
  State state_ = State::size_line;
  std::uint64_t remaining_ = 0;  ///< data bytes left in the current chunk
  std::size_t line_bytes_ = 0;   ///< bytes of the current line seen so far (incl. its CR)
  std::size_t trailer_bytes_ = 0;
  std::string line_;  ///< the current size or trailer line, at most kMaxChunkLineBytes
  std::string_view error_;
};

}  // namespace sb::gateway::framing
