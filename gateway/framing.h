#pragma once
// Request framing checks on the raw header block, before Boost.Beast's parser sees it.
//
// Beast 1.81 accepts several framings that let a request be read two ways by two HTTP hops
// (request smuggling): Content-Length together with Transfer-Encoding, codings other than a lone
// "chunked", Transfer-Encoding on HTTP/1.0, obs-fold continuation lines, whitespace before the
// colon. The gateway therefore validates the exact bytes it received and answers 400 (and closes)
// before parsing. Pure functions; no allocation on the accepting path.

#include <cstddef>
#include <string_view>

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

/// Validates a complete header block (request line, fields, final empty line) as found by
/// scan_header_block. Rejects: malformed request line; a version other than HTTP/1.0 or 1.1
/// (505); field names that are not tokens (so whitespace before the colon); obs-fold; control
/// characters in values; missing or repeated Host on HTTP/1.1; Content-Length that is not a
/// decimal number or that conflicts with another; Transfer-Encoding together with
/// Content-Length, repeated, anything but exactly "chunked", or on HTTP/1.0.
Verdict validate_header_block(std::string_view block);

}  // namespace sb::gateway::framing
