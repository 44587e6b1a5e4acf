#pragma once
// Access log: one JSON line per request on stdout (request id, model alias, backend, status,
// durations, tokens). Never prompt text, never keys: the record has no field that could carry
// them. Lines are gathered per thread and written whole lines at a time, when 32 KiB have
// gathered or when the worker flushes (every 100 ms, and when it stops), like nginx's buffered
// access_log: no system call per request, and lines of different workers never interleave.

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::gateway {

struct AccessRecord {
  std::string_view request_id;
  std::string_view tenant;  ///< empty when unknown
  std::string_view method;
  std::string_view path;     ///< without the query string
  std::string_view model;    ///< the configured alias (empty when the request named none)
  std::string_view backend;  ///< empty when no backend was reached
  unsigned status = 0;
  bool stream = false;
  unsigned attempts = 0;  ///< backends tried
  double duration_ms = 0;
  double ttft_ms = -1;  ///< < 0 when not a stream or nothing was sent
  double upstream_ms = 0;
  double overhead_us = 0;
  std::int64_t tokens_in = -1;  ///< < 0 when the upstream reported no usage
  std::int64_t tokens_out = -1;
  std::int64_t cost_nanos = 0;   ///< written as `cost_usd`, exact (nine decimals)
  std::string_view sensitivity;  ///< level name, once decided
  std::string_view error;        ///< short error kind, e.g. "connect_timeout"
};

class AccessLog {
 public:
  /// `fd` < 0 disables the log.
  explicit AccessLog(int fd) : fd_(fd) {}
  void write(const AccessRecord& r) const;
  /// Writes one complete JSON line (newline included) as is: the audit line of a decision.
  void write_line(std::string_view line) const;
  /// Writes what the calling thread has gathered.
  void flush_this_thread() const;

 private:
  int fd_;
};

}  // namespace sb::gateway
