#include "gateway/runtime/worker.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

namespace sb::gateway {
namespace {

// Random per process, so ids from restarts and replicas do not collide.
const std::string& process_prefix() {
  static const std::string prefix = [] {
    std::random_device rd;
    const auto v = (static_cast<unsigned long long>(rd()) << 32) ^ rd() ^
                   static_cast<unsigned long long>(::getpid()) ^
                   static_cast<unsigned long long>(
                       std::chrono::system_clock::now().time_since_epoch().count());
    char buf[24];
    std::snprintf(buf, sizeof buf, "%012llx", v & 0xffffffffffffULL);
    return std::string(buf);
  }();
  return prefix;
}

/// Appends `v` in lower-case hex, at least `width` digits (zero-padded, as printf's %0*llx).
void append_hex(std::string& out, unsigned long long v, int width) {
  char digits[16];
  const char* end = std::to_chars(digits, digits + sizeof digits, v, 16).ptr;
  const auto n = static_cast<int>(end - digits);
  out.append(static_cast<std::size_t>(width > n ? width - n : 0), '0');
  out.append(digits, static_cast<std::size_t>(n));
}

}  // namespace

Worker::Worker(unsigned i, AccessLog& log, InternalErrors& e, upstream::PoolSettings pool_settings)
    : index(i), access_log(log), errors(e), pool(ioc.get_executor(), pool_settings) {}

// "req_<process prefix><worker, 2 hex digits><counter, at least 8 hex digits>", without snprintf
// (it cost about 1,600 instructions of every request).
std::string Worker::next_request_id() {
  const std::string& prefix = process_prefix();
  std::string id;
  id.reserve(4 + prefix.size() + 2 + 16);
  id += "req_";
  id += prefix;
  append_hex(id, index & 0xff, 2);
  append_hex(id, ++counter_, 8);
  return id;
}

std::string Worker::next_connection_id() {
  char buf[48];
  std::snprintf(buf, sizeof buf, "c%u-%llu", index,
                static_cast<unsigned long long>(++connections_));
  return buf;
}

}  // namespace sb::gateway
