#include "gateway/observability/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sb::gateway::log {

namespace {

// The length of the prefix of `s` that JSON carries as it is (no quote, backslash, control byte
// or DEL). Sixteen bytes at a time where SSE2 is there (always on x86-64): every access and
// audit line passes its strings through here.
std::size_t plain_prefix(std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i control = _mm_set1_epi8(0x1F);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, del),
                                  _mm_cmpeq_epi8(_mm_min_epu8(v, control), v)));  // <= 0x1F
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
    if (mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
      return i;
    }
  }
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t run = plain_prefix(s);
  if (char quoted[64]; run == s.size() && s.size() + 2 <= sizeof quoted) {
    // The common case, a short plain value (an id, a name): one append, quotes included.
    quoted[0] = '"';
    if (!s.empty()) {
      std::memcpy(quoted + 1, s.data(), s.size());
    }
    quoted[s.size() + 1] = '"';
    out.append(quoted, s.size() + 2);
    return;
  }
  out.push_back('"');
  // Runs of bytes that need no escape are appended whole (most fields are plain).
  for (;; run = plain_prefix(s)) {
    out.append(s.data(), run);
    if (run == s.size()) {
      break;
    }
    const auto c = static_cast<unsigned char>(s[run]);
    s.remove_prefix(run + 1);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:  // another control byte or DEL
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.push_back('"');
}

std::string now_rfc3339() {
  std::string quoted;
  append_timestamp(quoted);
  return quoted.substr(1, quoted.size() - 2);
}

void append_timestamp(std::string& out) {
  thread_local std::int64_t cached_second = -1;
  thread_local char prefix[64];  // "YYYY-MM-DDTHH:MM:SS." (room for any int the formats allow)
  const auto now = std::chrono::system_clock::now();
  const auto ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t second = ms_total / 1000;
  if (second != cached_second) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  const int ms = static_cast<int>(ms_total % 1000);
  out.push_back('"');
  out.append(prefix, 20);
  out.push_back(static_cast<char>('0' + ms / 100));
  out.push_back(static_cast<char>('0' + ms / 10 % 10));
  out.push_back(static_cast<char>('0' + ms % 10));
  out += "Z\"";
}

void write(Level level, std::string_view msg, Fields fields) {
  static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
  std::string line;
  line.reserve(128);
  line += "{\"ts\":";
  append_json_string(line, now_rfc3339());
  line += ",\"level\":\"";
  line += kLevels[static_cast<int>(level)];
  line += "\",\"msg\":";
  append_json_string(line, msg);
  for (const auto& [k, v] : fields) {
    line.push_back(',');
    append_json_string(line, k);
    line.push_back(':');
    append_json_string(line, v);
  }
  line += "}\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sb::gateway::log
