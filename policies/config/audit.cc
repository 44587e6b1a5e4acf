// `audit:`: the tamper-evident audit trail's directory, HMAC key, rotation and batching.
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {
namespace {

// HMAC-SHA256 keys shorter than the digest weaken it; 32 bytes is the floor.
constexpr std::size_t kMinAuditKeyBytes = 32;
constexpr std::uint64_t kMinAuditQueue = 16;
constexpr std::uint64_t kMaxAuditQueue = 1u << 22;
// One batch period bounds what a crash loses: long enough to batch, short enough to matter.
constexpr Duration kMaxFlushInterval{10'000};
constexpr std::uint64_t kMinRotateSize = 4096;

}  // namespace

// `audit: {path, key_file, rotate: {size, age}, flush_interval, queue, fsync}`; path and key_file
// are required once the section is there.
void ConfigBuilder::read_audit(const Located& section) {
  AuditSettings& a = config_.audit;
  std::optional<Located> path, key_file, rotate, flush, queue, fsync;
  const Kept keys[] = {
      {"path", &path, kRequired}, {"key_file", &key_file, kRequired},
      {"rotate", &rotate},        {"flush_interval", &flush},
      {"queue", &queue},          {"fsync", &fsync},
  };
  if (!read_kept(section, keys) || !path || !key_file) {
    return;
  }
  if (std::optional<std::string> p = r_.non_empty_string(*path)) {
    a.path = r_.resolve(*p);
  }
  read_secret_file(
      *key_file, {"key", ""},
      [&](const std::string& key) {
        if (key.size() < kMinAuditKeyBytes) {
          r_.error(*key_file, "key file must hold at least " + std::to_string(kMinAuditKeyBytes) +
                                  " bytes (found " + std::to_string(key.size()) + ")");
          return false;
        }
        return true;
      },
      a.key, a.key_file);
  if (rotate) {
    read_audit_rotate(*rotate, a);
  }
  if (flush) {
    assign(a.flush_interval,
           r_.duration_at_most(*flush, kMaxFlushInterval,
                               "must be at most 10s (a crash loses up to one interval of lines)"));
  }
  if (queue) {
    assign(a.queue, r_.integer(*queue, kMinAuditQueue, kMaxAuditQueue,
                               "expected an integer from 16 to 4194304"));
  }
  if (fsync) {
    assign(a.fsync, r_.boolean(*fsync));
  }
}

// `audit.rotate: {size, age}`: a new file when the current one reaches either.
void ConfigBuilder::read_audit_rotate(const Located& v, AuditSettings& a) {
  std::optional<Located> size, age;
  const Kept keys[] = {{"size", &size}, {"age", &age}};
  if (!read_kept(v, keys)) {
    return;
  }
  if (size) {
    std::optional<std::uint64_t> n = r_.size(*size, false);
    if (n && *n < kMinRotateSize) {
      r_.error(*size, "must be at least 4KiB");
    } else {
      assign(a.rotate_size, std::move(n));
    }
  }
  if (age) {
    assign(a.rotate_age, r_.duration(*age, false));
  }
}

}  // namespace sb::config::detail
