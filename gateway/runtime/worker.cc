#include "gateway/runtime/worker.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

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

}  // namespace

Worker::Worker(unsigned i, AccessLog& log, InternalErrors& e, upstream::PoolSettings pool_settings)
    : index(i), access_log(log), errors(e), pool(ioc.get_executor(), pool_settings) {}

std::string Worker::next_request_id() {
  char buf[64];
  std::snprintf(buf, sizeof buf, "req_%s%02x%08llx", process_prefix().c_str(), index & 0xff,
                static_cast<unsigned long long>(++counter_));
  return buf;
}

std::string Worker::next_connection_id() {
  char buf[48];
  std::snprintf(buf, sizeof buf, "c%u-%llu", index,
                static_cast<unsigned long long>(++connections_));
  return buf;
}

}  // namespace sb::gateway
