#pragma once
// The store behind the Responses API's `previous_response_id` (and GET/DELETE
// /v1/responses/{id}): per response, the conversation so far, the Response object, the tenant and
// the conversation's sensitivity level, so that a follow-up is never sent to a backend below the
// level of anything earlier in the conversation and never crosses tenants. Settings: `responses:`
// (config::ResponsesSettings).
//
// Two kinds:
// - memory: one map owned by the store's own executor (a single thread); callers reach it by
//   co_spawn-ing onto that executor and resume on their own, so the data-plane workers take no
//   lock. Bounded by entry count and total bytes (least recently used evicted first), each entry
//   expiring `ttl` after it was stored (checked on every read; expired entries are swept on every
//   operation, oldest first, in O(expired)).
// - redis: the Redis of `state:` through the gateway's own client (gateway/state/redis_client.h:
//   same URL, credentials, TLS, timeouts), on its own connection owned by the store's executor.
//   One key per entry, `{state.prefix}:resp:{tenant}:{id}`, set with PX ttl; the value is a
//   length-prefixed record (encode_stored_response) written and read in slices of at most
//   512 KiB (SET then APPEND; GETRANGE), so no reply exceeds the client's reply-size limit and no
//   command risks the command timeout whatever max_entry_bytes is. A record read while it is
//   still being written, or cut short, is shorter than its header says: not found.
//
// Tenant isolation is by construction: the tenant is part of the key, so a tenant can neither
// read nor delete another tenant's entry, and cannot learn that it exists (both answer
// not_found).
//
// Thread-safety: every public function may be called from any thread's coroutine at once.
// Lifetime: the store must outlive every operation started on it; destroy it after the workers
// stopped.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "policies/config.h"

namespace sb::gateway {

/// One stored response. `level`/`level_index` are the conversation's sensitivity so far (the
/// highest of every turn); the name is kept so the index can be re-resolved after a reload that
/// changed `sensitivity.levels`.
struct StoredResponse {
  std::string tenant;
  std::string level;
  std::uint32_t level_index = 0;
  std::string conversation;  ///< the chat messages so far, as JSON text
  std::string response;      ///< the Response object, as JSON text
};

enum class StoreStatus {
  ok,
  not_found,    ///< unknown, expired, evicted, another tenant's, or an id that cannot be one
  unavailable,  ///< the store could not be asked (Redis unreachable, timed out, failed): 503
  refused,      ///< put only: larger than max_entry_bytes, or an invalid id; nothing stored
};
std::string_view to_string(StoreStatus s);

/// Response ids the store accepts: 1 to 256 of [A-Za-z0-9_-] (what the gateway generates; any
/// other id a client sends is simply not found).
bool valid_response_id(std::string_view id);

/// An entry's size as max_entry_bytes and max_bytes count it: the sizes of its id, tenant,
/// level, conversation and response.
std::uint64_t entry_bytes(std::string_view id, const StoredResponse& r);

/// What the store did, for the metrics (read with relaxed loads from any thread).
struct ResponseStoreCounters {
  std::atomic<std::uint64_t> stored{0};        ///< puts kept
  std::atomic<std::uint64_t> refused{0};       ///< puts refused (too large, invalid id)
  std::atomic<std::uint64_t> put_failures{0};  ///< puts Redis did not take (logged)
  std::atomic<std::uint64_t> unavailable{0};   ///< gets and removes answered `unavailable`
  std::atomic<std::uint64_t> evicted{0};       ///< memory: dropped for max_entries / max_bytes
  std::atomic<std::uint64_t> expired{0};       ///< memory: dropped at ttl
  std::atomic<std::int64_t> entries{0};        ///< memory: entries held now
  std::atomic<std::int64_t> bytes{0};          ///< memory: their entry_bytes() summed
};

class ResponseStore {
 public:
  virtual ~ResponseStore() = default;

  /// Stores `r` under (r.tenant, id), replacing an entry of the same key, for `ttl`. Returns
  /// ok; refused (too large or invalid id: nothing stored, counted); or unavailable (Redis did
  /// not take it: logged and counted; the caller still answers its client). Resumes on the
  /// caller's executor. Never throws.
  virtual boost::asio::awaitable<StoreStatus> put(std::string id, StoredResponse r) = 0;

  /// The entry `id` of `tenant`, shared and immutable (no copy of the conversation): ok with
  /// `out` set, not_found, or unavailable. `id` and `tenant` must stay valid until it completes.
  /// Resumes on the caller's executor. Never throws.
  virtual boost::asio::awaitable<StoreStatus> find(std::string_view id, std::string_view tenant,
                                                   std::shared_ptr<const StoredResponse>& out) = 0;

  /// find() copying the entry into `out` (for callers that want to own and edit it).
  boost::asio::awaitable<StoreStatus> get(std::string_view id, std::string_view tenant,
                                          StoredResponse& out);

  /// Deletes the entry `id` of `tenant`: ok (it existed), not_found, or unavailable. `id` and
  /// `tenant` must stay valid until it completes.
  virtual boost::asio::awaitable<StoreStatus> remove(std::string_view id,
                                                     std::string_view tenant) = 0;

  virtual const ResponseStoreCounters& counters() const = 0;
};

/// What the memory and Redis stores share: their state lives on `home` (an executor that runs one
/// thing at a time), and each call hops onto it by co_spawn and resumes on the caller's executor.
/// What needs no state is checked first, on the caller's thread: an id that cannot be one is not
/// found (put: refused), an entry larger than max_entry_bytes refused; refusals are counted.
class HomedResponseStore : public ResponseStore {
 public:
  boost::asio::awaitable<StoreStatus> put(std::string id, StoredResponse r) final;
  boost::asio::awaitable<StoreStatus> find(std::string_view id, std::string_view tenant,
                                           std::shared_ptr<const StoredResponse>& out) final;
  boost::asio::awaitable<StoreStatus> remove(std::string_view id, std::string_view tenant) final;
  const ResponseStoreCounters& counters() const final { return counters_; }

 protected:
  HomedResponseStore(boost::asio::any_io_executor home, const config::ResponsesSettings& settings);

  /// The store's own part of each call, once the checks passed: called on the caller's thread,
  /// the awaitable it returns runs on home.
  virtual boost::asio::awaitable<StoreStatus> put_at_home(std::string id, StoredResponse r) = 0;
  virtual boost::asio::awaitable<StoreStatus> find_at_home(
      std::string_view id, std::string_view tenant, std::shared_ptr<const StoredResponse>& out) = 0;
  virtual boost::asio::awaitable<StoreStatus> remove_at_home(std::string_view id,
                                                             std::string_view tenant) = 0;

  boost::asio::any_io_executor home_;
  config::ResponsesSettings settings_;
  ResponseStoreCounters counters_;
};

/// The memory store; its map lives on `home` (an io_context run by one thread, or a strand).
/// `now` is for tests (steady clock by default). max_bytes and max_entries apply when an entry is
/// stored: the least recently used (stored or found) entries are evicted until the new one fits.
class MemoryResponseStore final : public HomedResponseStore {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;

  MemoryResponseStore(boost::asio::any_io_executor home, const config::ResponsesSettings& settings,
                      NowFn now = {});
  ~MemoryResponseStore() override;

 private:
  struct Map;  // lives on home_ only
  boost::asio::awaitable<StoreStatus> put_at_home(std::string id, StoredResponse r) override;
  boost::asio::awaitable<StoreStatus> find_at_home(
      std::string_view id, std::string_view tenant,
      std::shared_ptr<const StoredResponse>& out) override;
  boost::asio::awaitable<StoreStatus> remove_at_home(std::string_view id,
                                                     std::string_view tenant) override;

  NowFn now_;
  std::unique_ptr<Map> map_;
};

/// The Redis store, on its own connection (a redis::Client on `home`, which must run one thing
/// at a time) with the connection settings of `state`. Connects on first use.
class RedisResponseStore final : public HomedResponseStore {
 public:
  RedisResponseStore(boost::asio::any_io_executor home, const config::StateSettings& state,
                     const config::ResponsesSettings& settings);
  ~RedisResponseStore() override;

  /// The Redis key of (tenant, id).
  std::string key(std::string_view tenant, std::string_view id) const;

 private:
  struct Impl;
  boost::asio::awaitable<StoreStatus> put_at_home(std::string id, StoredResponse r) override;
  boost::asio::awaitable<StoreStatus> write(std::string key, std::string value);
  boost::asio::awaitable<StoreStatus> find_at_home(
      std::string_view id, std::string_view tenant,
      std::shared_ptr<const StoredResponse>& out) override;
  boost::asio::awaitable<StoreStatus> remove_at_home(std::string_view id,
                                                     std::string_view tenant) override;

  std::string prefix_;  ///< "{state.prefix}:resp:"
  std::unique_ptr<Impl> impl_;
};

/// The store `config.responses` asks for, running on a thread of its own (started here, stopped
/// and joined by the store's destructor): memory, or redis with `config.state`'s connection.
/// nullptr for `store: none`. Built once by the composition root; `responses:` changes take
/// effect at the next start.
std::unique_ptr<ResponseStore> make_response_store(const config::Config& config);

/// Length-prefixed record of an entry (the Redis value): "sbr1:T:L:I:C:R\n" with the byte
/// lengths of tenant, level, conversation and response and the level index, then the four
/// strings. Exposed for tests.
std::string encode_stored_response(const StoredResponse& r);
/// Parses a whole record; false when `bytes` is not one.
bool decode_stored_response(std::string_view bytes, StoredResponse& out);
/// The total size of the record whose first bytes are `head` (its header must be complete);
/// 0 when `head` does not start a record.
std::uint64_t stored_response_size(std::string_view head);

}  // namespace sb::gateway
