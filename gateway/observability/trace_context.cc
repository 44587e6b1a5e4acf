// W3C traceparent parsing and formatting, id generation and the parent-based ratio sampler.
#include "gateway/observability/trace_context.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace sb::gateway::trace {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Lower-case hex digit value, or -1 (upper case is invalid in traceparent).
int lower_hex(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

template <std::size_t N>
bool read_hex(std::string_view s, std::array<std::uint8_t, N>& out) {
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = lower_hex(s[2 * i]);
    const int lo = lower_hex(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

char* write_hex(const std::uint8_t* bytes, std::size_t n, char* out) {
  for (std::size_t i = 0; i < n; ++i) {
    *out++ = kHex[bytes[i] >> 4];
    *out++ = kHex[bytes[i] & 0x0f];
  }
  return out;
}

// xoshiro256++ (Blackman and Vigna): fast, good enough for ids that only need to be unique.
class IdGenerator {
 public:
  IdGenerator() {
    std::random_device os;  // the OS's entropy (getrandom on Linux)
    for (std::uint64_t& s : s_) {
      s = static_cast<std::uint64_t>(os()) << 32 | os();
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) {
      s_[0] = 0x9e3779b97f4a7c15ULL;  // the all-zero state never leaves zero
    }
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

IdGenerator& generator() {
  thread_local IdGenerator g;
  return g;
}

void fill(std::uint8_t* out, std::size_t n) {
  while (true) {
    for (std::size_t i = 0; i < n; i += 8) {
      const std::uint64_t r = generator().next();
      std::memcpy(out + i, &r, std::min<std::size_t>(8, n - i));
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (out[i] != 0) {
        return;
      }
    }
  }
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view v) {
  if (v.size() < kTraceparentSize) {
    return std::nullopt;
  }
  const int v_hi = lower_hex(v[0]);
  const int v_lo = lower_hex(v[1]);
  if (v_hi < 0 || v_lo < 0 || (v_hi == 15 && v_lo == 15)) {
    return std::nullopt;
  }
  const bool version_00 = v_hi == 0 && v_lo == 0;
  if (version_00 ? v.size() != kTraceparentSize
                 : v.size() > kTraceparentSize && v[kTraceparentSize] != '-') {
    return std::nullopt;
  }
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') {
    return std::nullopt;
  }
  TraceContext c;
  std::array<std::uint8_t, 1> flags{};
  if (!read_hex(v.substr(3, 32), c.trace_id) || !read_hex(v.substr(36, 16), c.span_id) ||
      !read_hex(v.substr(53, 2), flags) || is_zero(c.trace_id) || is_zero(c.span_id)) {
    return std::nullopt;
  }
  c.flags = flags[0];
  return c;
}

bool keep_tracestate(std::string_view value) {
  if (value.empty() || value.size() > kMaxTracestateBytes) {
    return false;
  }
  for (char ch : value) {
    if (ch < 0x20 || ch > 0x7e) {
      return false;
    }
  }
  return true;
}

void format_traceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags,
                        std::array<char, kTraceparentSize>& out) {
  char* p = out.data();
  *p++ = '0';
  *p++ = '0';
  *p++ = '-';
  p = write_hex(trace_id.data(), trace_id.size(), p);
  *p++ = '-';
  p = write_hex(span_id.data(), span_id.size(), p);
  *p++ = '-';
  write_hex(&flags, 1, p);
}

std::string format_traceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags) {
  std::array<char, kTraceparentSize> buf;
  format_traceparent(trace_id, span_id, flags, buf);
  return std::string(buf.data(), buf.size());
}

std::string to_hex(const std::uint8_t* bytes, std::size_t size) {
  std::string s(size * 2, '0');
  write_hex(bytes, size, s.data());
  return s;
}

TraceId new_trace_id() {
  TraceId id;
  fill(id.data(), id.size());
  return id;
}

SpanId new_span_id() {
  SpanId id;
  fill(id.data(), id.size());
  return id;
}

Sampler::Sampler(double ratio)
    : ratio_(std::isnan(ratio) ? 0.0 : std::clamp(ratio, 0.0, 1.0)),
      all_(ratio_ >= 1.0),
      bound_(0) {
  if (!all_) {
    // ratio * 2^64 < 2^64 for ratio < 1 in exact arithmetic; the product is rounded, so clamp.
    const long double b = std::ldexp(static_cast<long double>(ratio_), 64);
    bound_ = b >= std::ldexp(1.0L, 64) ? UINT64_MAX : static_cast<std::uint64_t>(b);
  }
}

bool Sampler::sample_root(const TraceId& trace_id) const {
  if (all_) {
    return true;
  }
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) {
    low = low << 8 | trace_id[i];
  }
  return low < bound_;
}

}  // namespace sb::gateway::trace
