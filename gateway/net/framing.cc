#include "gateway/net/framing.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gateway/net/header_name.h"

namespace sb::gateway::framing {
namespace {

constexpr bool tchar_rule(unsigned char c) {
  // RFC 9110 §5.6.2 token characters.
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// Every request's names are checked a byte at a time: by table.
constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = tchar_rule(static_cast<unsigned char>(c));
  }
  return t;
}();

bool is_tchar(unsigned char c) {
  return kTchar[c];
}

// Whether a field value holds no control byte but HTAB, and no DEL (RFC 9110 §5.5; obs-text
// bytes are kept). Sixteen bytes at a time where SSE2 is there.
bool plain_value(std::string_view v) {
  const char* p = v.data();
  const std::size_t n = v.size();
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i control = _mm_set1_epi8(0x1F);
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i low = _mm_andnot_si128(_mm_cmpeq_epi8(x, tab),  // <= 0x1F but HTAB
                                         _mm_cmpeq_epi8(_mm_min_epu8(x, control), x));
    if (_mm_movemask_epi8(_mm_or_si128(low, _mm_cmpeq_epi8(x, del))) != 0) {
      return false;
    }
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

// The offset of the first CRLF of `s` at or after `pos`; npos when there is none.
std::size_t find_crlf(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    const void* cr = std::memchr(s.data() + pos, '\r', s.size() - pos);
    if (cr == nullptr) {
      break;
    }
    pos = static_cast<std::size_t>(static_cast<const char*>(cr) - s.data());
    if (pos + 1 < s.size() && s[pos + 1] == '\n') {
      return pos;
    }
    ++pos;
  }
  return std::string_view::npos;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

// Parses a Content-Length field value, which may be a comma list of identical numbers
// (RFC 9110 §8.6). Returns false on anything else.
bool parse_content_length(std::string_view value, std::uint64_t& out) {
  bool have = false;
  while (true) {
    const std::size_t comma = value.find(',');
    std::string_view item = trim_ows(value.substr(0, comma));
    if (item.empty() || item.size() > 19) {
      return false;
    }
    std::uint64_t n = 0;
    for (char c : item) {
      if (c < '0' || c > '9') {
        return false;
      }
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (have && n != out) {
      return false;
    }
    out = n;
    have = true;
    if (comma == std::string_view::npos) {
      return true;
    }
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

ScanResult scan_header_block(std::string_view data, ScanState& state) {
  std::size_t& pos = state.pos;
  bool& in_request = state.in_request;
  while (true) {
    const std::size_t lf = data.find('\n', pos);
    const std::size_t cr = data.find('\r', pos);
    if (cr != std::string_view::npos && (lf == std::string_view::npos || cr < lf)) {
      // A CR must be followed by LF; wait if it is the last byte so far.
      if (cr + 1 == data.size()) {
        return {};
      }
      if (data[cr + 1] != '\n') {
        return {Scan::bad, 0, "bare CR in header"};
      }
    }
    if (lf == std::string_view::npos) {
      return {};
    }
    if (lf == 0 || data[lf - 1] != '\r') {
      return {Scan::bad, 0, "bare LF in header"};
    }
    const bool empty_line = lf == pos + 1;
    pos = lf + 1;
    if (empty_line) {
      if (in_request) {
        return {Scan::complete, pos, {}};
      }
      continue;  // tolerated leading CRLF before the request line
    }
    in_request = true;
  }
}

namespace {

constexpr Piece piece(std::size_t at, std::size_t size) {
  return {static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(size)};
}

/// request-line = method SP request-target SP HTTP-version, starting at `at` of the block.
Verdict check_request_line(std::string_view line, std::size_t at, Head& head) {
  const std::size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) {
    return {400, "malformed request line"};
  }
  for (std::size_t i = 0; i < sp1; ++i) {
    if (!is_tchar(static_cast<unsigned char>(line[i]))) {
      return {400, "malformed method"};
    }
  }
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) {
    return {400, "malformed request line"};
  }
  for (std::size_t i = sp1 + 1; i < sp2; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c <= 0x20 || c == 0x7f) {
      return {400, "malformed request target"};
    }
  }
  const std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return {400, "malformed HTTP version"};
  }
  head.http10 = version == "HTTP/1.0";
  if (!head.http10 && version != "HTTP/1.1") {
    return {505, "HTTP version not supported"};
  }
  head.method = piece(at, sp1);
  head.target = piece(at + sp1 + 1, sp2 - sp1 - 1);
  return {};
}

/// Notes the `close` and `keep-alive` options of a Connection value (a comma list of tokens).
void connection_options(std::string_view value, Head& head) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view option = trim_ows(value.substr(0, comma));
    head.connection_close |= is_name(option, "close");
    head.connection_keep_alive |= is_name(option, "keep-alive");
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
}

/// Notes whether a Content-Encoding value (a comma list of codings) names one besides `identity`.
void content_codings(std::string_view value, Head& head) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view coding = trim_ows(value.substr(0, comma));
    head.content_coded |= !coding.empty() && !is_name(coding, "identity");
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
}

/// What the header fields say about framing, gathered while each field is checked.
struct Framing {
  int hosts = 0;
  int transfer_encodings = 0;
};

/// One `name: value` line, starting at `at` of the block: its characters, its size, and what it
/// says about framing.
Verdict check_field(std::string_view field, std::size_t at, Framing& f, Head& head, FieldAt& out) {
  if (field.front() == ' ' || field.front() == '\t') {
    return {400, "obsolete line folding is not allowed"};
  }
  const std::size_t colon = field.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return {400, "malformed header field"};
  }
  const std::string_view name = field.substr(0, colon);
  for (char c : name) {
    if (!is_tchar(static_cast<unsigned char>(c))) {
      return {400, "invalid character in header name"};
    }
  }
  const std::string_view raw_value = field.substr(colon + 1);
  if (!plain_value(raw_value)) {
    return {400, "invalid character in header value"};
  }
  const std::string_view value = trim_ows(raw_value);
  if (name.size() > kMaxFieldBytes || value.size() > kMaxFieldBytes) {
    return {431, "header field too large"};
  }
  out.name = piece(at, colon);
  out.value = piece(at + static_cast<std::size_t>(value.data() - field.data()), value.size());
  if (is_name(name, "host")) {
    ++f.hosts;
  } else if (is_name(name, "content-length")) {
    std::uint64_t n = 0;
    if (!parse_content_length(value, n)) {
      return {400, "invalid Content-Length"};
    }
    if (head.content_length && n != *head.content_length) {
      return {400, "conflicting Content-Length"};
    }
    head.content_length = n;
  } else if (is_name(name, "transfer-encoding")) {
    ++f.transfer_encodings;
    head.chunked = is_name(value, "chunked");
  } else if (is_name(name, "connection")) {
    connection_options(value, head);
  } else if (is_name(name, "content-encoding")) {
    content_codings(value, head);
  }
  return {};
}

/// The rules over the whole header: one way of framing the body, one Host (HTTP/1.1).
Verdict check_framing(const Framing& f, const Head& head) {
  const bool http10 = head.http10;
  if (f.transfer_encodings > 0) {
    if (http10) {
      return {400, "Transfer-Encoding is not allowed on HTTP/1.0"};
    }
    if (head.content_length) {
      return {400, "both Content-Length and Transfer-Encoding"};
    }
    if (f.transfer_encodings > 1 || !head.chunked) {
      return {400, "unsupported Transfer-Encoding (only a single 'chunked' is accepted)"};
    }
  }
  if (!http10 && f.hosts != 1) {
    return {400, f.hosts == 0 ? "missing Host header" : "repeated Host header"};
  }
  if (f.hosts > 1) {
    return {400, "repeated Host header"};
  }
  return {};
}

}  // namespace

Verdict validate_header_block(std::string_view block, Head& head, FieldList& fields) {
  head = Head{};
  fields.clear();
  if (block.size() > UINT32_MAX) {
    return {431, "request header block too large"};
  }
  // Skip tolerated leading empty lines.
  std::size_t pos = 0;
  while (block.substr(pos, 2) == "\r\n") {
    pos += 2;
  }
  std::size_t eol = find_crlf(block, pos);
  if (eol == std::string_view::npos) {
    return {400, "incomplete request line"};
  }
  if (Verdict v = check_request_line(block.substr(pos, eol - pos), pos, head); !v.ok()) {
    return v;
  }
  Framing framing;
  pos = eol + 2;
  while (pos < block.size()) {
    eol = find_crlf(block, pos);
    if (eol == std::string_view::npos) {
      return {400, "incomplete header"};
    }
    const std::string_view field = block.substr(pos, eol - pos);
    if (field.empty()) {
      break;  // end of the header block
    }
    if (Verdict v = check_field(field, pos, framing, head, fields.emplace_back()); !v.ok()) {
      return v;
    }
    pos = eol + 2;
  }
  return check_framing(framing, head);
}

Verdict validate_header_block(std::string_view block) {
  Head head;
  boost::container::small_vector<FieldAt, 16> fields;
  return validate_header_block(block, head, fields);
}

namespace {

bool is_hex(char c, unsigned& v) {
  if (c >= '0' && c <= '9') {
    v = static_cast<unsigned>(c - '0');
  } else if (c >= 'a' && c <= 'f') {
    v = static_cast<unsigned>(c - 'a' + 10);
  } else if (c >= 'A' && c <= 'F') {
    v = static_cast<unsigned>(c - 'A' + 10);
  } else {
    return false;
  }
  return true;
}

bool has_control(std::string_view text) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return true;
    }
  }
  return false;
}

}  // namespace

ChunkedDecoder::Status ChunkedDecoder::line(std::string_view text, std::string& body) {
  if (state_ == State::size_line) {
    // chunk-size [ chunk-ext ]: hex digits, then optional whitespace and ';'-led extensions
    // (ignored; their length is bounded by the line limit).
    std::uint64_t n = 0;
    std::size_t i = 0;
    unsigned v = 0;
    for (; i < text.size() && is_hex(text[i], v); ++i) {
      if (n > (UINT64_MAX >> 4)) {
        return fail(Status::too_large, "chunk size too large");
      }
      n = (n << 4) | v;
    }
    if (i == 0) {
      return fail(Status::bad, "malformed chunk size");
    }
    std::string_view rest = text.substr(i);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
      rest.remove_prefix(1);
    }
    if ((!rest.empty() && rest.front() != ';') || has_control(rest)) {
      return fail(Status::bad, "malformed chunk extension");
    }
    if (n == 0) {
      state_ = State::trailer;
      return Status::need_more;
    }
    if (n > max_body_ || body.size() > max_body_ - n) {
      return fail(Status::too_large, "request body too large");
    }
    remaining_ = n;
    state_ = State::data;
    return Status::need_more;
  }
  // A trailer field: checked like a header field, then dropped.
  if (text.empty()) {
    state_ = State::done;
    return Status::done;
  }
  const std::size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos) {
    return fail(Status::bad, "malformed trailer field");
  }
  for (std::size_t i = 0; i < colon; ++i) {
    if (!is_tchar(static_cast<unsigned char>(text[i]))) {
      return fail(Status::bad, "malformed trailer field");
    }
  }
  if (has_control(text.substr(colon + 1))) {
    return fail(Status::bad, "invalid character in trailer field");
  }
  return Status::need_more;
}

ChunkedDecoder::Status ChunkedDecoder::feed(std::string_view in, std::string& body,
                                            std::size_t& consumed) {
  consumed = 0;
  while (consumed < in.size() && state_ != State::done) {
    Status s = Status::need_more;
    switch (state_) {
      case State::data:
        take_data(in, body, consumed);
        break;
      case State::data_crlf:
        s = take_data_crlf(in[consumed++]);
        break;
      case State::size_line:
      case State::trailer:
        s = take_line(in, body, consumed);
        break;
      case State::done:
        break;
    }
    if (s != Status::need_more) {
      return s;
    }
  }
  return state_ == State::done ? Status::done : Status::need_more;
}

// Chunk data: as much of the chunk as `in` holds.
void ChunkedDecoder::take_data(std::string_view in, std::string& body, std::size_t& consumed) {
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - consumed));
  body.append(in.data() + consumed, n);
  consumed += n;
  remaining_ -= n;
  if (remaining_ == 0) {
    state_ = State::data_crlf;
    line_bytes_ = 0;
  }
}

// The CRLF after a chunk's data, a byte at a time.
ChunkedDecoder::Status ChunkedDecoder::take_data_crlf(char c) {
  if (c != (line_bytes_ == 0 ? '\r' : '\n')) {
    return fail(Status::bad, "chunk data not followed by CRLF");
  }
  if (++line_bytes_ == 2) {
    state_ = State::size_line;
    line_.clear();
  }
  return Status::need_more;
}

// A chunk-size or trailer line, gathered up to its LF (bounded) and then read by line().
ChunkedDecoder::Status ChunkedDecoder::take_line(std::string_view in, std::string& body,
                                                 std::size_t& consumed) {
  const std::size_t lf = in.find('\n', consumed);
  const std::size_t take = (lf == std::string_view::npos ? in.size() : lf + 1) - consumed;
  if (state_ == State::size_line && line_.size() + take > kMaxChunkLineBytes) {
    return fail(Status::bad, "chunk extensions too long");
  }
  if (state_ == State::trailer && trailer_bytes_ + line_.size() + take > kMaxTrailerBytes) {
    return fail(Status::bad, "trailer section too large");
  }
  line_.append(in.data() + consumed, take);
  consumed += take;
  if (lf == std::string_view::npos) {
    return Status::need_more;
  }
  std::string_view text(line_);
  if (text.size() < 2 || text[text.size() - 2] != '\r') {
    return fail(Status::bad, "bare LF in chunked body");
  }
  text.remove_suffix(2);
  if (text.find('\r') != std::string_view::npos) {
    return fail(Status::bad, "bare CR in chunked body");
  }
  if (state_ == State::trailer) {
    trailer_bytes_ += line_.size();
  }
  const Status s = line(text, body);
  line_.clear();
  return s;
}

}  // namespace sb::gateway::framing
