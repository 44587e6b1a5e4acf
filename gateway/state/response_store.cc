#include "gateway/state/response_store.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <list>
#include <new>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/observability/hop.h"
#include "gateway/observability/io_thread.h"
#include "gateway/observability/log.h"
#include "gateway/state/redis_client.h"

namespace sb::gateway {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxIdChars = 256;
constexpr std::string_view kRecordMagic = "sbr1:";
/// A record's header is "sbr1:" and five decimal numbers: well under this.
constexpr std::size_t kMaxHeaderBytes = 128;
/// The largest record read back (Redis's own string limit).
constexpr std::uint64_t kMaxRecordBytes = 512ull << 20;
/// A record is written (SET, then APPEND) and read (GETRANGE) in slices of this size: half the
/// Redis client's reply-size limit (redis::ReplyParser::Limits), so a large entry never makes the
/// client drop its connection, and no single command is big enough to time out on a slow link.
constexpr std::int64_t kSliceBytes = 512 * 1024;

/// The key of (tenant, id) inside a store. Ids never contain ':', so the split is unambiguous
/// whatever the tenant's name holds.
std::string scoped_key(std::string_view tenant, std::string_view id) {
  std::string k;
  k.reserve(tenant.size() + 1 + id.size());
  k += tenant;
  k += ':';
  k += id;
  return k;
}

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::string_view to_string(StoreStatus s) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"ok", "not_found", "unavailable", "refused"};
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

bool valid_response_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdChars && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::uint64_t entry_bytes(std::string_view id, const StoredResponse& r) {
  return id.size() + r.tenant.size() + r.level.size() + r.conversation.size() + r.response.size();
}

asio::awaitable<StoreStatus> ResponseStore::get(std::string_view id, std::string_view tenant,
                                                StoredResponse& out) {
  std::shared_ptr<const StoredResponse> found;
  const StoreStatus s = co_await find(id, tenant, found);
  if (s == StoreStatus::ok) {
    out = *found;
  }
  co_return s;
}

// -------------------------------------------------------------------------------------------------
// The stores whose state lives on an executor of their own.

HomedResponseStore::HomedResponseStore(asio::any_io_executor home,
                                       const config::ResponsesSettings& settings)
    : home_(std::move(home)), settings_(settings) {}

asio::awaitable<StoreStatus> HomedResponseStore::put(std::string id, StoredResponse r) {
  if (!valid_response_id(id) || entry_bytes(id, r) > settings_.max_entry_bytes) {
    bump(counters_.refused);
    co_return StoreStatus::refused;
  }
  co_return co_await hop_to(home_, put_at_home(std::move(id), std::move(r)));
}

asio::awaitable<StoreStatus> HomedResponseStore::find(std::string_view id, std::string_view tenant,
                                                      std::shared_ptr<const StoredResponse>& out) {
  if (!valid_response_id(id)) {
    co_return StoreStatus::not_found;
  }
  co_return co_await hop_to(home_, find_at_home(id, tenant, out));
}

asio::awaitable<StoreStatus> HomedResponseStore::remove(std::string_view id,
                                                        std::string_view tenant) {
  if (!valid_response_id(id)) {
    co_return StoreStatus::not_found;
  }
  co_return co_await hop_to(home_, remove_at_home(id, tenant));
}

// -------------------------------------------------------------------------------------------------
// The record.

std::string encode_stored_response(const StoredResponse& r) {
  std::string out(kRecordMagic);
  for (const std::uint64_t n :
       {std::uint64_t{r.tenant.size()}, std::uint64_t{r.level.size()}, std::uint64_t{r.level_index},
        std::uint64_t{r.conversation.size()}, std::uint64_t{r.response.size()}}) {
    if (out.size() > kRecordMagic.size()) {
      out += ':';
    }
    out += std::to_string(n);
  }
  out += '\n';
  out.reserve(out.size() + r.tenant.size() + r.level.size() + r.conversation.size() +
              r.response.size());
  out += r.tenant;
  out += r.level;
  out += r.conversation;
  out += r.response;
  return out;
}

namespace {

struct RecordHeader {
  std::size_t header = 0;  ///< bytes up to and including '\n'
  std::uint64_t tenant = 0, level = 0, level_index = 0, conversation = 0, response = 0;
  std::uint64_t total() const { return header + tenant + level + conversation + response; }
};

bool parse_header(std::string_view head, RecordHeader& h) {
  if (!head.starts_with(kRecordMagic)) {
    return false;
  }
  const std::size_t nl = head.substr(0, kMaxHeaderBytes).find('\n');
  if (nl == std::string_view::npos) {
    return false;
  }
  const char* p = head.data() + kRecordMagic.size();
  const char* const end = head.data() + nl;
  std::uint64_t* const fields[] = {&h.tenant, &h.level, &h.level_index, &h.conversation,
                                   &h.response};
  for (std::size_t i = 0; i < std::size(fields); ++i) {
    if (i > 0) {
      if (p == end || *p != ':') {
        return false;
      }
      ++p;
    }
    const auto [next, ec] = std::from_chars(p, end, *fields[i]);
    if (ec != std::errc() || next == p || *fields[i] > kMaxRecordBytes) {
      return false;
    }
    p = next;
  }
  h.header = nl + 1;
  return p == end && h.level_index <= UINT32_MAX && h.total() <= kMaxRecordBytes;
}

}  // namespace

std::uint64_t stored_response_size(std::string_view head) {
  RecordHeader h;
  return parse_header(head, h) ? h.total() : 0;
}

bool decode_stored_response(std::string_view bytes, StoredResponse& out) {
  RecordHeader h;
  if (!parse_header(bytes, h) || h.total() != bytes.size()) {
    return false;
  }
  std::size_t at = h.header;
  const auto take = [&](std::uint64_t n) {
    std::string s(bytes.substr(at, n));
    at += n;
    return s;
  };
  out.tenant = take(h.tenant);
  out.level = take(h.level);
  out.level_index = static_cast<std::uint32_t>(h.level_index);
  out.conversation = take(h.conversation);
  out.response = take(h.response);
  return true;
}

// -------------------------------------------------------------------------------------------------
// The memory store.

// The entries, their recency (for eviction) and their age (for expiry). Every entry expires
// `ttl` after it was stored on a monotonic clock, so storage order is expiry order: sweeping
// pops expired entries from the front of `age` and stops at the first live one.
struct MemoryResponseStore::Map {
  struct Slot {
    std::shared_ptr<const StoredResponse> value;
    std::uint64_t bytes = 0;
    Clock::time_point expires;
    std::list<const std::string*>::iterator lru;  // in `recency`
    std::list<const std::string*>::iterator age;  // in `stored`
  };
  // The lists point at the table's keys (node-based: their addresses never move).
  std::unordered_map<std::string, Slot> table;
  std::list<const std::string*> recency;  // front: most recently stored or found
  std::list<const std::string*> stored;   // front: stored first, so expires first
  std::uint64_t bytes = 0;
  ResponseStoreCounters& counters;

  explicit Map(ResponseStoreCounters& c) : counters(c) {}

  void erase(std::unordered_map<std::string, Slot>::iterator it) {
    bytes -= it->second.bytes;
    recency.erase(it->second.lru);
    stored.erase(it->second.age);
    table.erase(it);
    counters.entries.store(static_cast<std::int64_t>(table.size()), std::memory_order_relaxed);
    counters.bytes.store(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
  }

  void sweep(Clock::time_point now) {
    while (!stored.empty()) {
      auto it = table.find(*stored.front());
      if (it->second.expires > now) {
        break;
      }
      erase(it);
      bump(counters.expired);
    }
  }

  // Least recently used first, until one more entry of `need` bytes fits.
  void make_room(std::uint64_t need, const config::ResponsesSettings& s) {
    while (!recency.empty() && (table.size() + 1 > s.max_entries || bytes + need > s.max_bytes)) {
      erase(table.find(*recency.back()));
      bump(counters.evicted);
    }
  }

  void insert(std::string key, StoredResponse r, std::uint64_t size, Clock::time_point expires) {
    auto [it, fresh] = table.try_emplace(std::move(key));
    (void)fresh;  // an entry under this key was erased just before
    Slot& slot = it->second;
    slot.value = std::make_shared<const StoredResponse>(std::move(r));
    slot.bytes = size;
    slot.expires = expires;
    recency.push_front(&it->first);
    slot.lru = recency.begin();
    stored.push_back(&it->first);
    slot.age = std::prev(stored.end());
    bytes += size;
    counters.entries.store(static_cast<std::int64_t>(table.size()), std::memory_order_relaxed);
    counters.bytes.store(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
  }
};

MemoryResponseStore::MemoryResponseStore(asio::any_io_executor home,
                                         const config::ResponsesSettings& settings, NowFn now)
    : HomedResponseStore(std::move(home), settings),
      now_(now ? std::move(now) : NowFn(&Clock::now)),
      map_(std::make_unique<Map>(counters_)) {}

MemoryResponseStore::~MemoryResponseStore() = default;

asio::awaitable<StoreStatus> MemoryResponseStore::put_at_home(std::string id, StoredResponse r) {
  Map& m = *map_;
  const Clock::time_point now = now_();
  m.sweep(now);
  const std::uint64_t size = entry_bytes(id, r);
  std::string key = scoped_key(r.tenant, id);
  if (auto it = m.table.find(key); it != m.table.end()) {
    m.erase(it);
  }
  m.make_room(size, settings_);
  try {
    m.insert(std::move(key), std::move(r), size, now + settings_.ttl);
  } catch (const std::bad_alloc&) {
    bump(counters_.refused);
    co_return StoreStatus::refused;
  }
  bump(counters_.stored);
  co_return StoreStatus::ok;
}

asio::awaitable<StoreStatus> MemoryResponseStore::find_at_home(
    std::string_view id, std::string_view tenant, std::shared_ptr<const StoredResponse>& out) {
  Map& m = *map_;
  m.sweep(now_());  // what is left has not expired
  auto it = m.table.find(scoped_key(tenant, id));
  if (it == m.table.end()) {
    co_return StoreStatus::not_found;
  }
  m.recency.splice(m.recency.begin(), m.recency, it->second.lru);
  out = it->second.value;
  co_return StoreStatus::ok;
}

asio::awaitable<StoreStatus> MemoryResponseStore::remove_at_home(std::string_view id,
                                                                 std::string_view tenant) {
  Map& m = *map_;
  m.sweep(now_());
  auto it = m.table.find(scoped_key(tenant, id));
  if (it == m.table.end()) {
    co_return StoreStatus::not_found;
  }
  m.erase(it);
  co_return StoreStatus::ok;
}

// -------------------------------------------------------------------------------------------------
// The Redis store.

// APPEND to a key that exists, never creating one: a slice written after the key expired or was
// deleted must not leave a key without a TTL behind.
constexpr std::string_view kAppendIfExists = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('APPEND', KEYS[1], ARGV[1])
)lua";

struct RedisResponseStore::Impl {
  Impl(const asio::any_io_executor& home, const config::StateSettings& state)
      : client(home, state), append(std::string(kAppendIfExists)) {}
  redis::Client client;
  redis::Script append;
  bool up = true;  // the last call reached Redis; failures are logged when this changes

  void mark(bool ok, const std::string& why) {
    if (ok != up) {
      up = ok;
      if (ok) {
        log::info("response store: Redis reachable again");
      } else {
        log::warn("response store: Redis unavailable", {{"error", why}});
      }
    }
  }
};

RedisResponseStore::RedisResponseStore(asio::any_io_executor home,
                                       const config::StateSettings& state,
                                       const config::ResponsesSettings& settings)
    : HomedResponseStore(std::move(home), settings),
      prefix_(state.prefix + ":resp:"),
      impl_(std::make_unique<Impl>(home_, state)) {}

RedisResponseStore::~RedisResponseStore() = default;

std::string RedisResponseStore::key(std::string_view tenant, std::string_view id) const {
  return prefix_ + scoped_key(tenant, id);
}

// Encoded here, on the caller's thread: the store's thread only moves bytes.
asio::awaitable<StoreStatus> RedisResponseStore::put_at_home(std::string id, StoredResponse r) {
  return write(key(r.tenant, id), encode_stored_response(r));
}

// Written in slices like it is read: SET of the first 512 KiB with the TTL, then one APPEND per
// further slice, so no command takes long enough on a slow link to time out (a timeout closes
// the connection and fails every call pending on it). A reader meanwhile sees a record shorter
// than its header says: not found, as it is until the last slice lands.
asio::awaitable<StoreStatus> RedisResponseStore::write(std::string key, std::string value) {
  const std::size_t slice = static_cast<std::size_t>(kSliceBytes);
  const std::size_t size = value.size();
  std::vector<std::string> args;
  args.reserve(5);
  args.emplace_back("SET");
  args.push_back(key);
  // Most records are one slice: moved, not copied (the loop below then never runs).
  args.push_back(size <= slice ? std::move(value) : value.substr(0, slice));
  args.emplace_back("PX");
  args.push_back(std::to_string(std::max<std::int64_t>(1, settings_.ttl.count())));
  redis::Result res = co_await impl_->client.command(std::move(args));
  bool ok = res.ok() && res.reply.type == redis::Reply::Type::status;
  for (std::size_t at = slice; ok && at < size; at += slice) {
    std::vector<std::string> keys;
    keys.push_back(key);
    std::vector<std::string> rest;
    rest.push_back(value.substr(at, slice));
    res = co_await impl_->client.eval(impl_->append, std::move(keys), std::move(rest));
    ok = res.ok() && res.reply.type == redis::Reply::Type::integer && res.reply.integer > 0;
  }
  if (!res.ok()) {
    bump(counters_.put_failures);
    impl_->mark(false, res.message);
    co_return StoreStatus::unavailable;
  }
  impl_->mark(true, {});
  if (!ok) {
    // Redis answered, but not as asked: the key expired or was deleted between two slices, or
    // the server refused the write (an error reply such as OOM is !res.ok() above).
    bump(counters_.put_failures);
    log::warn("response store: entry not stored", {{"why", "unexpected reply while writing"}});
    co_return StoreStatus::unavailable;
  }
  bump(counters_.stored);
  co_return StoreStatus::ok;
}

// Read in slices (GETRANGE), each well under the client's reply limit: a small entry takes one
// call, the largest one call per 512 KiB. Entries are never rewritten in place (ids are unique),
// so slices of one key belong together; a key that expires or is deleted between two slices
// comes back short and counts as not found.
asio::awaitable<StoreStatus> RedisResponseStore::find_at_home(
    std::string_view id, std::string_view tenant, std::shared_ptr<const StoredResponse>& out) {
  const std::string key = this->key(tenant, id);
  std::string record;
  std::uint64_t total = 0;
  for (std::int64_t offset = 0;; offset += kSliceBytes) {
    std::vector<std::string> args;
    args.reserve(4);
    args.emplace_back("GETRANGE");
    args.push_back(key);
    args.push_back(std::to_string(offset));
    args.push_back(std::to_string(offset + kSliceBytes - 1));
    redis::Result res = co_await impl_->client.command(std::move(args));
    if (!res.ok() || res.reply.type != redis::Reply::Type::string) {
      bump(counters_.unavailable);
      impl_->mark(false, res.ok() ? "unexpected reply to GETRANGE" : res.message);
      co_return StoreStatus::unavailable;
    }
    impl_->mark(true, {});
    if (offset == 0) {
      total = stored_response_size(res.reply.str);
      if (total == 0) {
        co_return StoreStatus::not_found;  // no such key (GETRANGE answers ""), or not a record
      }
    }
    const bool last = res.reply.str.size() < static_cast<std::size_t>(kSliceBytes);
    if (record.empty()) {
      record = std::move(res.reply.str);
    } else {
      record += res.reply.str;
    }
    if (last || record.size() >= total) {
      break;
    }
  }
  StoredResponse r;
  if (record.size() != total || !decode_stored_response(record, r) || r.tenant != tenant) {
    co_return StoreStatus::not_found;
  }
  out = std::make_shared<const StoredResponse>(std::move(r));
  co_return StoreStatus::ok;
}

asio::awaitable<StoreStatus> RedisResponseStore::remove_at_home(std::string_view id,
                                                                std::string_view tenant) {
  std::vector<std::string> args;
  args.emplace_back("DEL");
  args.push_back(key(tenant, id));
  const redis::Result res = co_await impl_->client.command(std::move(args));
  if (!res.ok() || res.reply.type != redis::Reply::Type::integer) {
    bump(counters_.unavailable);
    impl_->mark(false, res.ok() ? "unexpected reply to DEL" : res.message);
    co_return StoreStatus::unavailable;
  }
  impl_->mark(true, {});
  co_return res.reply.integer > 0 ? StoreStatus::ok : StoreStatus::not_found;
}

// -------------------------------------------------------------------------------------------------
// The store on a thread of its own.

namespace {

class HostedStore final : public ResponseStore {
 public:
  explicit HostedStore(const config::Config& c) {
    if (c.responses.store == config::ResponsesSettings::Store::redis) {
      inner_ = std::make_unique<RedisResponseStore>(io_.get_executor(), c.state, c.responses);
    } else {
      inner_ = std::make_unique<MemoryResponseStore>(io_.get_executor(), c.responses);
    }
    thread_ = std::thread([this] { run_logging_escapes(io_, "response store"); });
  }
  ~HostedStore() override {
    guard_.reset();
    io_.stop();  // a Redis connection's reader would otherwise keep run() going
    thread_.join();
  }
  HostedStore(const HostedStore&) = delete;
  HostedStore& operator=(const HostedStore&) = delete;

  asio::awaitable<StoreStatus> put(std::string id, StoredResponse r) override {
    return inner_->put(std::move(id), std::move(r));
  }
  asio::awaitable<StoreStatus> find(std::string_view id, std::string_view tenant,
                                    std::shared_ptr<const StoredResponse>& out) override {
    return inner_->find(id, tenant, out);
  }
  asio::awaitable<StoreStatus> remove(std::string_view id, std::string_view tenant) override {
    return inner_->remove(id, tenant);
  }
  const ResponseStoreCounters& counters() const override { return inner_->counters(); }

 private:
  // Declared first, destroyed last: the store's timers and sockets belong to it.
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{asio::make_work_guard(io_)};
  std::unique_ptr<ResponseStore> inner_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ResponseStore> make_response_store(const config::Config& config) {
  if (config.responses.store == config::ResponsesSettings::Store::none) {
    return nullptr;
  }
  return std::make_unique<HostedStore>(config);
}

}  // namespace sb::gateway
