#pragma once
// The audit trail's writer: lines handed over by the request path, sealed into the HMAC chain
// (chain.h) and appended in batches to DIR/audit-<UTC time>-<NNNNNN>.jsonl.
//
// Line schema v1. One JSON object per line. The request path builds the BODY (the object's text
// without its closing brace); the writer appends `,"seq":N,"prev":"<64 hex>"`, then
// `,"mac":"<HMAC-SHA256 of every byte before it, 64 hex>"}` and a newline. seq is 1 for a new
// trail's first line and +1 per line across files and restarts; prev is the previous line's mac
// (64 zeros for seq 1). Every line has `v` (1), `type`, `ts` (RFC 3339 UTC, milliseconds) and
// `config` (the hash of the config in force: SHA-256 of DIR/configs/<hash>.yaml, its redacted
// snapshot, snapshot.h). Types:
//   config    `event` (start | reload), `snapshot` (configs/<hash>.yaml)
//   dropped   `count`: lines lost to a full queue since the line before
//   decision  request_id, endpoint, tenant, model, outcome, rule, sensitivity, tier;
//             why {detected, entities {name: count}, floor, classification, unscannable [kinds],
//             unscannable_bits, tier_header, tier_source}; features {prompt_tokens, max_tokens,
//             tools, images, json_schema, depth, reasoning_effort, headers {name: value}};
//             state {in_flight, rpm, tpm: {backend: value}, budget {day|month|any: fraction},
//             exhausted?}: only what the engine read; backends [try order];
//             estimated_tokens, estimated_cost_nanos (pipeline/audit_line.h writes them)
//   attempt   request_id, tenant, model, sensitivity, n, backend, hosting, provider, status,
//             result (ok | an error kind), stream, upstream_ms, usage {input, output, cached,
//             cache_write, reasoning} or null, usage_estimated, cost_nanos
//
// Threads: submit() is called by any worker thread and never blocks nor locks (a bounded
// lock-free queue of pointers; when full the line is dropped and counted, and the writer then
// writes a `dropped` line with the count). One writer thread drains the queue every
// flush_interval, seals the lines in queue order, writes the batch with one write() per MiB (then
// fdatasync when `fsync`), and rotates to a new file by size or age. record_config() and stop()
// are control-path calls.
//
// Crash semantics: lines still in the queue and the batch being written are lost when the
// process dies: at most the lines submitted during the last flush interval (plus the batch in
// flight). The last line of the file may then be torn; the next open() starts a new file whose
// first line chains to the last complete line, and `audit verify` reports the torn tail as a
// warning. With `fsync: false` a machine crash (not a process crash) may lose more: what the OS
// had not written yet.
//
// A write error never crashes or blocks the gateway: it is counted and logged, the sealed bytes
// are kept and written again at the next interval (new lines are counted as dropped while more
// than kMaxPendingBytes wait), so the chain stays intact.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/lockfree/queue.hpp>

#include "gateway/audit/chain.h"
#include "policies/config.h"

namespace sb::gateway::audit {

/// The writer's counters (relaxed atomics, read at scrape time).
struct TrailCounters {
  std::atomic<std::uint64_t> lines{0};         ///< lines written (all types)
  std::atomic<std::uint64_t> bytes{0};         ///< bytes written
  std::atomic<std::uint64_t> dropped{0};       ///< lines lost to a full queue (or after stop)
  std::atomic<std::uint64_t> write_errors{0};  ///< failed write/fdatasync/open calls
  std::atomic<std::uint64_t> rotations{0};     ///< files started after the first
};

class Trail {
 public:
  /// Sealed bytes kept for retry after write errors before new lines are dropped instead.
  static constexpr std::size_t kMaxPendingBytes = 64u << 20;
  /// A drain writes whenever this much is sealed, so a burst never piles up in memory.
  static constexpr std::size_t kBatchBytes = 1u << 20;

  /// Creates DIR (0700) and DIR/configs (0700) if needed, resumes the chain from the newest
  /// file's last complete line (error when it does not verify with the key: wrong key or a
  /// damaged trail), starts a new file (0600) and the writer thread. nullptr with `error` set
  /// on failure. Precondition: settings.enabled().
  static std::unique_ptr<Trail> open(const config::AuditSettings& settings, std::string& error);
  ~Trail();  ///< stop()
  Trail(const Trail&) = delete;
  Trail& operator=(const Trail&) = delete;

  /// Queues one line BODY (a JSON object's text without its closing brace, see the schema).
  /// Thread-safe, lock-free, never blocks; dropped and counted when the queue is full or the
  /// trail is stopped.
  void submit(std::string body);

  /// Writes DIR/configs/<hash>.yaml if absent (temp file + rename) and queues a `config` line
  /// (`event`: "start" | "reload") ahead of the lines queued after it returns. Control path.
  void record_config(std::string_view snapshot_text, std::string_view hash, std::string_view event);

  /// Drains the queue, writes everything, joins the writer. Idempotent. Control path.
  void stop();

  const TrailCounters& counters() const { return counters_; }
  const std::string& dir() const { return dir_; }
  /// The chain position after the last line sealed (writer thread's view; for tests after stop).
  ChainState chain() const;

 private:
  explicit Trail(const config::AuditSettings& settings);
  bool resume(std::string& error);
  bool start_file();
  void run();
  void flush();
  void seal_line(std::string_view body);
  bool write_pending();
  void maybe_rotate();
  std::string dropped_body(std::uint64_t count);

  std::string dir_;
  config::AuditSettings settings_;  // its key stays in secret memory (policies/secret_memory.h)
  Hmac hmac_;                       // writer thread (and open(), before it starts)
  boost::lockfree::queue<std::string*> queue_;
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> dropped_since_{0};  // drops not yet reported by a `dropped` line
  std::atomic<bool> stopped_{false};
  TrailCounters counters_;

  // Control path → writer: config lines, written before the queue's lines.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::string> config_lines_;
  std::string config_hash_;  // the last recorded config, for `dropped` lines

  // Writer thread only.
  ChainState chain_;
  int fd_ = -1;
  std::uint64_t file_number_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::int64_t file_opened_ms_ = 0;
  std::string pending_;  // sealed, not yet written
  bool failing_ = false;
  bool mid_line_ = false;  // a write stopped inside a line
  std::thread writer_;
};

/// The file name for file number `n` started at `unix_ms`: audit-YYYYMMDDTHHMMSSZ-NNNNNN.jsonl.
std::string trail_file_name(std::int64_t unix_ms, std::uint64_t n);
/// The trail's files in chain order (name order), names only.
std::vector<std::string> trail_files(const std::string& dir);
/// Reads a whole file into `out`; false when it cannot be read.
bool read_file(const std::string& path, std::string& out);
/// RFC 3339 UTC with milliseconds for `unix_ms`.
std::string rfc3339_ms(std::int64_t unix_ms);

}  // namespace sb::gateway::audit
