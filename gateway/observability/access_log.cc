#include "gateway/observability/access_log.h"

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <optional>

#include "gateway/observability/log.h"
#include "policies/money.h"

namespace sb::gateway {
namespace {

// Lines are gathered per thread and written in batches (see AccessLog): no system call per line.
thread_local std::string tl_buffer;
constexpr std::size_t kFlushBytes = 32 * 1024;

void append_number(std::string& out, double v, int precision) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, precision);
  out.append(buf, r.ptr);
}

// A token count: null when negative (not reported).
std::optional<std::int64_t> count(std::int64_t v) {
  return v < 0 ? std::nullopt : std::optional<std::int64_t>(v);
}

// `key` is this file's literal with its punctuation (`,"tenant":`), appended as it is.
void field(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  if (value.empty()) {
    out += "null";
  } else {
    log::append_json_string(out, value);
  }
}

}  // namespace

void AccessLog::write(const AccessRecord& r) const {
  if (fd_ < 0) {
    return;
  }
  std::string& line = tl_buffer;
  line += "{\"ts\":";
  log::append_timestamp(line);
  line += ",\"type\":\"access\"";
  field(line, ",\"request_id\":", r.request_id);
  field(line, ",\"tenant\":", r.tenant);
  field(line, ",\"method\":", r.method);
  field(line, ",\"path\":", r.path);
  field(line, ",\"model\":", r.model);
  field(line, ",\"backend\":", r.backend);
  line += ",\"status\":";
  log::append_integer(line, r.status);
  line += r.stream ? ",\"stream\":true" : ",\"stream\":false";
  line += ",\"attempts\":";
  log::append_integer(line, r.attempts);
  line += ",\"duration_ms\":";
  append_number(line, r.duration_ms, 3);
  line += ",\"ttft_ms\":";
  if (r.ttft_ms < 0) {
    line += "null";
  } else {
    append_number(line, r.ttft_ms, 3);
  }
  line += ",\"upstream_ms\":";
  append_number(line, r.upstream_ms, 3);
  line += ",\"overhead_us\":";
  append_number(line, r.overhead_us, 1);
  line += ",\"tokens_in\":";
  log::append_integer_or_null(line, count(r.tokens_in));
  line += ",\"tokens_out\":";
  log::append_integer_or_null(line, count(r.tokens_out));
  line += ",\"cost_usd\":";
  policies::append_usd(line, r.cost_nanos);
  field(line, ",\"sensitivity\":", r.sensitivity);
  field(line, ",\"error\":", r.error);
  line += "}\n";
  if (line.size() >= kFlushBytes) {
    flush_this_thread();
  }
}

void AccessLog::write_line(std::string_view line) const {
  if (fd_ < 0) {
    return;
  }
  tl_buffer += line;
  if (tl_buffer.size() >= kFlushBytes) {
    flush_this_thread();
  }
}

void AccessLog::flush_this_thread() const {
  std::string& buf = tl_buffer;
  std::size_t done = 0;
  while (fd_ >= 0 && done < buf.size()) {
    const ssize_t n = ::write(fd_, buf.data() + done, buf.size() - done);
    if (n <= 0) {
      break;  // a full disk or a closed pipe must not stop the gateway; the lines are dropped
    }
    done += static_cast<std::size_t>(n);
  }
  buf.clear();
}

}  // namespace sb::gateway
