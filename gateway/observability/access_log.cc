#include "gateway/observability/access_log.h"

#include <unistd.h>

#include <cstdint>
#include <optional>

#include "gateway/observability/json_line.h"
#include "gateway/observability/log.h"
#include "policies/money.h"

namespace sb::gateway {
namespace {

// Lines are gathered per thread and written in batches (see AccessLog): no system call per line.
thread_local std::string tl_buffer;
constexpr std::size_t kFlushBytes = 32 * 1024;

// A token count: null when negative (not reported).
std::optional<std::int64_t> count(std::int64_t v) {
  return v < 0 ? std::nullopt : std::optional<std::int64_t>(v);
}

// `key` is this file's literal with its punctuation (`,"tenant":`), appended as it is.
void field(log::JsonLine& out, std::string_view key, std::string_view value) {
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
  log::JsonLine line;
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
  log::append_fixed(line, r.duration_ms, 3);
  line += ",\"ttft_ms\":";
  if (r.ttft_ms < 0) {
    line += "null";
  } else {
    log::append_fixed(line, r.ttft_ms, 3);
  }
  line += ",\"upstream_ms\":";
  log::append_fixed(line, r.upstream_ms, 3);
  line += ",\"overhead_us\":";
  log::append_fixed(line, r.overhead_us, 1);
  line += ",\"tokens_in\":";
  log::append_integer_or_null(line, count(r.tokens_in));
  line += ",\"tokens_out\":";
  log::append_integer_or_null(line, count(r.tokens_out));
  line += ",\"cost_usd\":";
  std::string usd;  // within the short-string buffer
  policies::append_usd(usd, r.cost_nanos);
  line += usd;
  field(line, ",\"sensitivity\":", r.sensitivity);
  field(line, ",\"error\":", r.error);
  line += "}\n";
  tl_buffer += line.view();  // one copy into the thread's batch
  if (tl_buffer.size() >= kFlushBytes) {
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
