#include "gateway/access_log.h"

#include <unistd.h>

#include <cstdio>

#include "gateway/log.h"

namespace sb::gateway {
namespace {

void append_number(std::string& out, double v, const char* fmt) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, fmt, v);
  out.append(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

void field(std::string& out, std::string_view key, std::string_view value) {
  out.push_back(',');
  log::append_json_string(out, key);
  out.push_back(':');
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
  std::string line;
  line.reserve(320);
  line += "{\"ts\":";
  log::append_json_string(line, log::now_rfc3339());
  line += ",\"type\":\"access\"";
  field(line, "request_id", r.request_id);
  field(line, "tenant", r.tenant);
  field(line, "method", r.method);
  field(line, "path", r.path);
  field(line, "model", r.model);
  field(line, "backend", r.backend);
  line += ",\"status\":" + std::to_string(r.status);
  line += r.stream ? ",\"stream\":true" : ",\"stream\":false";
  line += ",\"attempts\":" + std::to_string(r.attempts);
  line += ",\"duration_ms\":";
  append_number(line, r.duration_ms, "%.3f");
  line += ",\"ttft_ms\":";
  if (r.ttft_ms < 0) {
    line += "null";
  } else {
    append_number(line, r.ttft_ms, "%.3f");
  }
  line += ",\"upstream_ms\":";
  append_number(line, r.upstream_ms, "%.3f");
  line += ",\"overhead_us\":";
  append_number(line, r.overhead_us, "%.1f");
  line += ",\"tokens_in\":";
  line += r.tokens_in < 0 ? "null" : std::to_string(r.tokens_in);
  line += ",\"tokens_out\":";
  line += r.tokens_out < 0 ? "null" : std::to_string(r.tokens_out);
  line += ",\"cost_usd\":";
  append_number(line, r.cost_usd, "%.8f");
  field(line, "sensitivity", r.sensitivity);
  field(line, "error", r.error);
  line += "}\n";
  [[maybe_unused]] auto n = ::write(fd_, line.data(), line.size());
}

void AccessLog::write_line(std::string_view line) const {
  if (fd_ >= 0) {
    [[maybe_unused]] auto n = ::write(fd_, line.data(), line.size());
  }
}

}  // namespace sb::gateway
