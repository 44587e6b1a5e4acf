#include "gateway/observability/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace sb::gateway::log {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Runs of bytes that need no escape are appended whole (most fields are plain), not one
  // push_back a byte.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
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
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        }
    }
  }
  out.append(s.data() + run, s.size() - run);
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
