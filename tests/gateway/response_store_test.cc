// The response store behind previous_response_id: the memory store on an injected clock (TTL,
// LRU eviction by count and by bytes, oversized entries, tenant isolation, use from two threads'
// coroutines at once), the record it keeps in Redis, the Redis store against a real redis-server
// (round trips, expiry set in Redis, entries larger than the client's reply limit, an unreachable
// server answering `unavailable`, not `not_found`), and the store the config asks for.

#include "gateway/state/response_store.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "tests/support/redis_server.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Found = std::shared_ptr<const StoredResponse>;

/// An io_context run by a thread of its own until destroyed.
class Loop {
 public:
  Loop() : thread_([this] { io_.run(); }) {}
  ~Loop() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

  /// Runs `a` on this loop and waits for its result.
  template <class T>
  T run(asio::awaitable<T> a) {
    return asio::co_spawn(io_, std::move(a), asio::use_future).get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{asio::make_work_guard(io_)};
  std::thread thread_;
};

StoredResponse entry(std::string tenant, std::string conversation, std::string level = "public",
                     std::uint32_t index = 0) {
  StoredResponse r;
  r.tenant = std::move(tenant);
  r.level = std::move(level);
  r.level_index = index;
  r.conversation = std::move(conversation);
  r.response = R"({"id":"resp_1","object":"response"})";
  return r;
}

// An entry of exactly `bytes` (entry_bytes) under `id` for tenant "t".
StoredResponse sized(std::string_view id, std::size_t bytes) {
  StoredResponse r = entry("t", "");
  r.response = "{}";
  r.conversation.assign(bytes - entry_bytes(id, r), 'x');
  EXPECT_EQ(entry_bytes(id, r), bytes);
  return r;
}

// -------------------------------------------------------------------------------------------------
// The memory store.

class MemoryResponseStoreTest : public ::testing::Test {
 protected:
  MemoryResponseStore& make(config::ResponsesSettings s) {
    settings_ = s;
    store_ = std::make_unique<MemoryResponseStore>(home_.executor(), settings_, [this] {
      return MemoryResponseStore::Clock::time_point{std::chrono::milliseconds{now_ms_.load()}};
    });
    return *store_;
  }
  MemoryResponseStore& make() { return make(config::ResponsesSettings{}); }

  StoreStatus put(std::string id, StoredResponse r) {
    return caller_.run(store_->put(std::move(id), std::move(r)));
  }
  StoreStatus find(const std::string& id, const std::string& tenant, Found& out) {
    return caller_.run(store_->find(id, tenant, out));
  }
  bool has(const std::string& id, const std::string& tenant = "t") {
    Found out;
    return find(id, tenant, out) == StoreStatus::ok;
  }
  StoreStatus remove(const std::string& id, const std::string& tenant) {
    return caller_.run(store_->remove(id, tenant));
  }
  const ResponseStoreCounters& counters() const { return store_->counters(); }

  std::atomic<std::int64_t> now_ms_{1'000'000};
  // The caller's loop outlives the store's: the store's thread may still be letting go of the
  // caller's executor when the caller has its result (the gateway keeps its workers for good).
  Loop caller_;  // a data-plane worker
  Loop home_;    // the store's thread
  config::ResponsesSettings settings_;
  std::unique_ptr<MemoryResponseStore> store_;
};

TEST_F(MemoryResponseStoreTest, PutThenFindReturnsTheEntry) {
  make();
  ASSERT_EQ(put("resp_a", entry("t", R"([{"role":"user","content":"hi"}])", "restricted", 3)),
            StoreStatus::ok);
  Found out;
  ASSERT_EQ(find("resp_a", "t", out), StoreStatus::ok);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->tenant, "t");
  EXPECT_EQ(out->level, "restricted");
  EXPECT_EQ(out->level_index, 3u);
  EXPECT_EQ(out->conversation, R"([{"role":"user","content":"hi"}])");
  EXPECT_EQ(out->response, R"({"id":"resp_1","object":"response"})");
  EXPECT_EQ(counters().stored.load(), 1u);
  EXPECT_EQ(counters().entries.load(), 1);
  EXPECT_EQ(counters().bytes.load(), static_cast<std::int64_t>(entry_bytes("resp_a", *out)));
}

TEST_F(MemoryResponseStoreTest, GetCopiesTheEntry) {
  make();
  ASSERT_EQ(put("resp_a", entry("t", "conv")), StoreStatus::ok);
  StoredResponse copy;
  ASSERT_EQ(caller_.run(store_->get("resp_a", "t", copy)), StoreStatus::ok);
  EXPECT_EQ(copy.conversation, "conv");
  StoredResponse untouched = entry("x", "y");
  EXPECT_EQ(caller_.run(store_->get("resp_b", "t", untouched)), StoreStatus::not_found);
  EXPECT_EQ(untouched.tenant, "x");
}

TEST_F(MemoryResponseStoreTest, UnknownIdIsNotFound) {
  make();
  Found out;
  EXPECT_EQ(find("resp_missing", "t", out), StoreStatus::not_found);
  EXPECT_EQ(out, nullptr);
}

TEST_F(MemoryResponseStoreTest, RemoveDeletesOnce) {
  make();
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  EXPECT_EQ(remove("resp_a", "t"), StoreStatus::ok);
  EXPECT_FALSE(has("resp_a"));
  EXPECT_EQ(remove("resp_a", "t"), StoreStatus::not_found);
  EXPECT_EQ(counters().entries.load(), 0);
  EXPECT_EQ(counters().bytes.load(), 0);
}

TEST_F(MemoryResponseStoreTest, AnotherTenantCanNeitherReadNorDelete) {
  make();
  ASSERT_EQ(put("resp_a", entry("payments", "secret")), StoreStatus::ok);
  Found out;
  EXPECT_EQ(find("resp_a", "research", out), StoreStatus::not_found);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(remove("resp_a", "research"), StoreStatus::not_found);
  EXPECT_TRUE(has("resp_a", "payments"));
}

TEST_F(MemoryResponseStoreTest, TenantAndIdCannotBeSplicedIntoAnotherKey) {
  make();
  ASSERT_EQ(put("b_c", entry("a", "x")), StoreStatus::ok);
  EXPECT_FALSE(has("c", "a:b"));  // "a:b" + "c" vs "a" + "b:c": ids hold no ':'
  EXPECT_FALSE(has("a:b_c", ""));
}

TEST_F(MemoryResponseStoreTest, InvalidIdsAreRefusedAndNeverFound) {
  make();
  for (const std::string& id : {std::string(), std::string("resp a"), std::string("resp:a"),
                                std::string("../x"), std::string(257, 'a')}) {
    EXPECT_EQ(put(id, entry("t", "c")), StoreStatus::refused) << id;
    EXPECT_FALSE(has(id)) << id;
    EXPECT_EQ(remove(id, "t"), StoreStatus::not_found) << id;
  }
  EXPECT_EQ(counters().refused.load(), 5u);
  EXPECT_EQ(put(std::string(256, 'a'), entry("t", "c")), StoreStatus::ok);
}

TEST_F(MemoryResponseStoreTest, ReplacingAnEntryKeepsOnlyTheNewOne) {
  make();
  ASSERT_EQ(put("resp_a", entry("t", "old conversation")), StoreStatus::ok);
  ASSERT_EQ(put("resp_a", entry("t", "new")), StoreStatus::ok);
  Found out;
  ASSERT_EQ(find("resp_a", "t", out), StoreStatus::ok);
  EXPECT_EQ(out->conversation, "new");
  EXPECT_EQ(counters().entries.load(), 1);
  EXPECT_EQ(counters().bytes.load(), static_cast<std::int64_t>(entry_bytes("resp_a", *out)));
}

TEST_F(MemoryResponseStoreTest, EntryExpiresAtItsTtl) {
  config::ResponsesSettings s;
  s.ttl = 10s;
  make(s);
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  now_ms_ += 9'999;
  EXPECT_TRUE(has("resp_a"));
  now_ms_ += 1;
  EXPECT_FALSE(has("resp_a"));
  EXPECT_EQ(counters().expired.load(), 1u);
  EXPECT_EQ(counters().entries.load(), 0);
  EXPECT_EQ(remove("resp_a", "t"), StoreStatus::not_found);
}

TEST_F(MemoryResponseStoreTest, ReadingDoesNotExtendTheTtl) {
  config::ResponsesSettings s;
  s.ttl = 10s;
  make(s);
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  now_ms_ += 6'000;
  EXPECT_TRUE(has("resp_a"));
  now_ms_ += 6'000;
  EXPECT_FALSE(has("resp_a"));
}

TEST_F(MemoryResponseStoreTest, ExpiredEntriesAreSweptWithoutBeingRead) {
  config::ResponsesSettings s;
  s.ttl = 10s;
  make(s);
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  now_ms_ += 5'000;
  ASSERT_EQ(put("resp_b", entry("t", "c")), StoreStatus::ok);
  now_ms_ += 5'000;  // resp_a's ttl is up, resp_b's is not
  ASSERT_EQ(put("resp_c", entry("t", "c")), StoreStatus::ok);
  EXPECT_EQ(counters().expired.load(), 1u);
  EXPECT_EQ(counters().entries.load(), 2);
  EXPECT_TRUE(has("resp_b"));
  EXPECT_TRUE(has("resp_c"));
}

TEST_F(MemoryResponseStoreTest, EvictsTheLeastRecentlyUsedBeyondMaxEntries) {
  config::ResponsesSettings s;
  s.max_entries = 2;
  make(s);
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  ASSERT_EQ(put("resp_b", entry("t", "c")), StoreStatus::ok);
  ASSERT_TRUE(has("resp_a"));  // resp_b is now the least recently used
  ASSERT_EQ(put("resp_c", entry("t", "c")), StoreStatus::ok);
  EXPECT_TRUE(has("resp_a"));
  EXPECT_FALSE(has("resp_b"));
  EXPECT_TRUE(has("resp_c"));
  EXPECT_EQ(counters().evicted.load(), 1u);
  EXPECT_EQ(counters().entries.load(), 2);
}

TEST_F(MemoryResponseStoreTest, EvictsTheLeastRecentlyUsedBeyondMaxBytes) {
  config::ResponsesSettings s;
  s.max_bytes = 100;
  s.max_entry_bytes = 100;
  make(s);
  ASSERT_EQ(put("resp_a", sized("resp_a", 40)), StoreStatus::ok);
  ASSERT_EQ(put("resp_b", sized("resp_b", 40)), StoreStatus::ok);
  ASSERT_EQ(put("resp_c", sized("resp_c", 20)), StoreStatus::ok);  // exactly 100: all stay
  EXPECT_EQ(counters().evicted.load(), 0u);
  ASSERT_TRUE(has("resp_a"));
  ASSERT_EQ(put("resp_d", sized("resp_d", 50)), StoreStatus::ok);  // b, then c go
  EXPECT_TRUE(has("resp_a"));
  EXPECT_FALSE(has("resp_b"));
  EXPECT_FALSE(has("resp_c"));
  EXPECT_TRUE(has("resp_d"));
  EXPECT_EQ(counters().evicted.load(), 2u);
  EXPECT_EQ(counters().bytes.load(), 90);
}

TEST_F(MemoryResponseStoreTest, OversizedEntryIsRefusedAndEvictsNothing) {
  config::ResponsesSettings s;
  s.max_bytes = 1000;
  s.max_entry_bytes = 50;
  make(s);
  ASSERT_EQ(put("resp_a", sized("resp_a", 50)), StoreStatus::ok);  // at the limit: kept
  EXPECT_EQ(put("resp_b", sized("resp_b", 51)), StoreStatus::refused);
  EXPECT_FALSE(has("resp_b"));
  EXPECT_TRUE(has("resp_a"));
  EXPECT_EQ(counters().refused.load(), 1u);
  EXPECT_EQ(counters().evicted.load(), 0u);
}

TEST_F(MemoryResponseStoreTest, OversizedReplacementLeavesTheOldEntry) {
  config::ResponsesSettings s;
  s.max_entry_bytes = 50;
  make(s);
  ASSERT_EQ(put("resp_a", sized("resp_a", 30)), StoreStatus::ok);
  EXPECT_EQ(put("resp_a", sized("resp_a", 60)), StoreStatus::refused);
  Found out;
  ASSERT_EQ(find("resp_a", "t", out), StoreStatus::ok);
  EXPECT_EQ(entry_bytes("resp_a", *out), 30u);
}

// Two data-plane threads' coroutines use the store at once; every entry put is found, by its own
// thread and by the other, and the counts add up (run under the sanitizers in CI).
TEST_F(MemoryResponseStoreTest, TwoThreadsCoroutinesShareTheStore) {
  make();
  constexpr int kEach = 300;
  Loop other;
  const auto work = [this](std::string prefix) -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < kEach; ++i) {
      const std::string id = prefix + std::to_string(i);
      if (co_await store_->put(id, entry("t", id)) != StoreStatus::ok) {
        co_return -1;
      }
      Found out;
      if (co_await store_->find(id, "t", out) == StoreStatus::ok && out->conversation == id) {
        ++ok;
      }
    }
    co_return ok;
  };
  std::future<int> a = asio::co_spawn(caller_.io(), work("resp_a"), asio::use_future);
  std::future<int> b = asio::co_spawn(other.io(), work("resp_b"), asio::use_future);
  EXPECT_EQ(a.get(), kEach);
  EXPECT_EQ(b.get(), kEach);
  EXPECT_EQ(counters().entries.load(), 2 * kEach);
  EXPECT_EQ(counters().stored.load(), 2u * kEach);
  for (int i = 0; i < kEach; i += 37) {
    Found out;
    ASSERT_EQ(other.run(store_->find("resp_a" + std::to_string(i), "t", out)), StoreStatus::ok);
    EXPECT_EQ(out->conversation, "resp_a" + std::to_string(i));
  }
}

// -------------------------------------------------------------------------------------------------
// The record kept in Redis.

TEST(StoredResponseRecordTest, RoundTrips) {
  StoredResponse r = entry("payments", std::string("a\0b\nc:", 6), "confidential", 2);
  const std::string bytes = encode_stored_response(r);
  EXPECT_TRUE(bytes.starts_with("sbr1:8:12:2:6:35\n")) << bytes;
  EXPECT_EQ(stored_response_size(bytes), bytes.size());
  StoredResponse back;
  ASSERT_TRUE(decode_stored_response(bytes, back));
  EXPECT_EQ(back.tenant, r.tenant);
  EXPECT_EQ(back.level, r.level);
  EXPECT_EQ(back.level_index, r.level_index);
  EXPECT_EQ(back.conversation, r.conversation);
  EXPECT_EQ(back.response, r.response);
}

TEST(StoredResponseRecordTest, RefusesWhatIsNotAWholeRecord) {
  const std::string good = encode_stored_response(entry("t", "conv"));
  StoredResponse out;
  EXPECT_FALSE(decode_stored_response(good.substr(0, good.size() - 1), out));
  EXPECT_FALSE(decode_stored_response(good + "x", out));
  EXPECT_FALSE(decode_stored_response("", out));
  EXPECT_FALSE(decode_stored_response("garbage", out));
  EXPECT_FALSE(decode_stored_response("sbr1:1:1:0:1\nabc", out));               // four numbers
  EXPECT_FALSE(decode_stored_response("sbr1:1:1:0:1:x\nabc", out));             // not a number
  EXPECT_FALSE(decode_stored_response("sbr1:0:0:4294967296:0:0\n", out));       // index > 32 bits
  EXPECT_FALSE(decode_stored_response("sbr1:0:0:0:0:999999999999999\n", out));  // too large
  EXPECT_TRUE(decode_stored_response("sbr1:0:0:0:0:0\n", out));
  EXPECT_EQ(stored_response_size("sbr1:1:2:0:3:4"), 0u);  // header not complete
  EXPECT_EQ(stored_response_size("sbr1:1:2:0:3:4\n"), 25u);
}

// -------------------------------------------------------------------------------------------------
// The Redis store.

class RedisResponseStoreTest : public ::testing::Test {
 protected:
  RedisResponseStoreTest() {
    state_.store = config::StateSettings::Store::redis;
    state_.host = "127.0.0.1";
    state_.port = redis_.port();
    state_.prefix = "sbt";
    state_.command_timeout = 5s;  // generous for sanitizer builds; no timing is asserted
    state_.reconnect_min = 1ms;
    state_.reconnect_max = 1ms;
    settings_.ttl = 60s;
    rebuild();
  }
  ~RedisResponseStoreTest() override { rebuild(false); }

  /// The client belongs to the home loop: replaced (or destroyed) there.
  void rebuild(bool again = true) { home_.run(replace(again)); }
  asio::awaitable<int> replace(bool again) {
    store_.reset();
    if (again) {
      store_ = std::make_unique<RedisResponseStore>(home_.executor(), state_, settings_);
    }
    co_return 0;
  }

  StoreStatus put(std::string id, StoredResponse r) {
    return caller_.run(store_->put(std::move(id), std::move(r)));
  }
  StoreStatus find(const std::string& id, const std::string& tenant, Found& out) {
    return caller_.run(store_->find(id, tenant, out));
  }
  StoreStatus remove(const std::string& id, const std::string& tenant) {
    return caller_.run(store_->remove(id, tenant));
  }

  testing::RedisServer redis_;
  config::StateSettings state_;
  config::ResponsesSettings settings_;
  Loop caller_;  // outlives home_ (see MemoryResponseStoreTest)
  Loop home_;
  std::unique_ptr<RedisResponseStore> store_;
};

TEST_F(RedisResponseStoreTest, PutFindRemove) {
  ASSERT_EQ(put("resp_a", entry("payments", R"([{"role":"user"}])", "restricted", 3)),
            StoreStatus::ok);
  Found out;
  ASSERT_EQ(find("resp_a", "payments", out), StoreStatus::ok);
  EXPECT_EQ(out->tenant, "payments");
  EXPECT_EQ(out->level, "restricted");
  EXPECT_EQ(out->level_index, 3u);
  EXPECT_EQ(out->conversation, R"([{"role":"user"}])");
  EXPECT_EQ(out->response, R"({"id":"resp_1","object":"response"})");
  EXPECT_EQ(remove("resp_a", "payments"), StoreStatus::ok);
  EXPECT_EQ(find("resp_a", "payments", out), StoreStatus::not_found);
  EXPECT_EQ(remove("resp_a", "payments"), StoreStatus::not_found);
  EXPECT_EQ(store_->counters().stored.load(), 1u);
  EXPECT_EQ(store_->counters().unavailable.load(), 0u);
}

TEST_F(RedisResponseStoreTest, KeyIsPrefixedAndScopedAndExpiresInRedis) {
  ASSERT_EQ(put("resp_a", entry("payments", "c")), StoreStatus::ok);
  EXPECT_EQ(store_->key("payments", "resp_a"), "sbt:resp:payments:resp_a");
  EXPECT_EQ(redis_.cli({"EXISTS", "sbt:resp:payments:resp_a"}), "1");
  const long long pttl = std::stoll(redis_.cli({"PTTL", "sbt:resp:payments:resp_a"}));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 60'000);
  EXPECT_EQ(redis_.cli({"GET", "sbt:resp:payments:resp_a"}),
            encode_stored_response(entry("payments", "c")));
}

TEST_F(RedisResponseStoreTest, AnotherTenantCanNeitherReadNorDelete) {
  ASSERT_EQ(put("resp_a", entry("payments", "secret")), StoreStatus::ok);
  Found out;
  EXPECT_EQ(find("resp_a", "research", out), StoreStatus::not_found);
  EXPECT_EQ(remove("resp_a", "research"), StoreStatus::not_found);
  EXPECT_EQ(find("resp_a", "payments", out), StoreStatus::ok);
}

TEST_F(RedisResponseStoreTest, ExpiredKeyIsNotFound) {
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  ASSERT_EQ(redis_.cli({"PEXPIRE", "sbt:resp:t:resp_a", "1"}), "1");
  // Redis drops a key whose expiry has passed on access; wait until it has passed.
  while (redis_.cli({"EXISTS", "sbt:resp:t:resp_a"}) != "0") {
    std::this_thread::sleep_for(2ms);
  }
  Found out;
  EXPECT_EQ(find("resp_a", "t", out), StoreStatus::not_found);
}

// Larger than the Redis client's 1 MiB reply limit: read back in slices, and the connection
// stays usable afterwards.
TEST_F(RedisResponseStoreTest, EntryLargerThanOneReplyRoundTrips) {
  StoredResponse big = entry("t", "");
  big.conversation.reserve(3 << 20);
  for (int i = 0; big.conversation.size() < (3u << 20) + 123; ++i) {
    big.conversation += std::to_string(i);
    big.conversation += ',';
  }
  ASSERT_EQ(put("resp_big", big), StoreStatus::ok);  // SET, then APPENDs
  EXPECT_EQ(redis_.cli({"STRLEN", "sbt:resp:t:resp_big"}),
            std::to_string(encode_stored_response(big).size()));
  EXPECT_GT(std::stoll(redis_.cli({"PTTL", "sbt:resp:t:resp_big"})), 0);
  Found out;
  ASSERT_EQ(find("resp_big", "t", out), StoreStatus::ok);
  EXPECT_EQ(out->conversation, big.conversation);
  EXPECT_EQ(out->response, big.response);
  ASSERT_EQ(put("resp_small", entry("t", "c")), StoreStatus::ok);
  EXPECT_EQ(find("resp_small", "t", out), StoreStatus::ok);
}

TEST_F(RedisResponseStoreTest, OversizedEntryIsRefusedWithoutACall) {
  settings_.max_entry_bytes = 100;
  rebuild();
  EXPECT_EQ(put("resp_a", sized("resp_a", 101)), StoreStatus::refused);
  EXPECT_EQ(redis_.cli({"EXISTS", "sbt:resp:t:resp_a"}), "0");
  EXPECT_EQ(put("resp_a", sized("resp_a", 100)), StoreStatus::ok);
  EXPECT_EQ(store_->counters().refused.load(), 1u);
}

TEST_F(RedisResponseStoreTest, AValueThatIsNotARecordIsNotFound) {
  ASSERT_EQ(redis_.cli({"SET", "sbt:resp:t:resp_x", "garbage"}), "OK");
  ASSERT_EQ(redis_.cli({"SET", "sbt:resp:t:resp_y", "sbr1:1:0:0:0:0\nab"}), "OK");
  ASSERT_EQ(redis_.cli({"SET", "sbt:resp:t:resp_z", "sbr1:1:0:0:0:0\nu"}), "OK");   // tenant "u"
  ASSERT_EQ(redis_.cli({"SET", "sbt:resp:t:resp_w", "sbr1:5:0:0:0:0\nab"}), "OK");  // cut short
  Found out;
  EXPECT_EQ(find("resp_w", "t", out), StoreStatus::not_found);
  EXPECT_EQ(find("resp_x", "t", out), StoreStatus::not_found);
  EXPECT_EQ(find("resp_y", "t", out), StoreStatus::not_found);
  EXPECT_EQ(find("resp_z", "t", out), StoreStatus::not_found);
}

TEST_F(RedisResponseStoreTest, UnreachableRedisIsUnavailableNotNotFound) {
  ASSERT_EQ(put("resp_a", entry("t", "c")), StoreStatus::ok);
  redis_.stop();
  Found out;
  EXPECT_EQ(find("resp_a", "t", out), StoreStatus::unavailable);
  EXPECT_EQ(find("resp_never", "t", out), StoreStatus::unavailable);
  EXPECT_EQ(remove("resp_a", "t"), StoreStatus::unavailable);
  EXPECT_EQ(put("resp_b", entry("t", "c")), StoreStatus::unavailable);
  EXPECT_EQ(store_->counters().unavailable.load(), 3u);
  EXPECT_EQ(store_->counters().put_failures.load(), 1u);
  EXPECT_EQ(store_->counters().stored.load(), 1u);
  // Invalid ids never need Redis: still simply not found.
  EXPECT_EQ(find("bad id", "t", out), StoreStatus::not_found);

  redis_.restart();  // no persistence: the old entry is gone, the store works again
  StoreStatus s = StoreStatus::unavailable;
  for (int i = 0; i < 200 && s == StoreStatus::unavailable; ++i) {
    s = put("resp_c", entry("t", "c"));  // the client may be backing off for a moment
    if (s == StoreStatus::unavailable) {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_EQ(s, StoreStatus::ok);
  EXPECT_EQ(find("resp_c", "t", out), StoreStatus::ok);
  EXPECT_EQ(find("resp_a", "t", out), StoreStatus::not_found);
}

TEST(RedisResponseStoreDownTest, NothingListeningIsUnavailable) {
  Loop home;
  Loop caller;
  config::StateSettings state;
  state.store = config::StateSettings::Store::redis;
  state.host = "127.0.0.1";
  state.port = 1;  // nothing listens on tcpmux
  auto store =
      std::make_unique<RedisResponseStore>(home.executor(), state, config::ResponsesSettings{});
  Found out;
  EXPECT_EQ(caller.run(store->find("resp_a", "t", out)), StoreStatus::unavailable);
  EXPECT_EQ(caller.run(store->put("resp_a", entry("t", "c"))), StoreStatus::unavailable);
  home.run([&store]() -> asio::awaitable<int> {
    store.reset();
    co_return 0;
  }());
}

// -------------------------------------------------------------------------------------------------
// The store the config asks for.

config::Config config_with(const std::string& extra) {
  const std::string yaml =
      "backends:\n"
      "  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n" +
      extra;
  config::LoadResult r =
      config::load_string(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  return r.ok() ? std::move(*r.config) : config::Config{};
}

TEST(MakeResponseStoreTest, NoneGivesNoStore) {
  EXPECT_EQ(make_response_store(config_with("responses: {store: none}\n")), nullptr);
}

TEST(MakeResponseStoreTest, MemoryStoreRunsOnItsOwnThread) {
  auto store = make_response_store(config_with("responses: {max_entries: 1}\n"));
  ASSERT_NE(store, nullptr);
  Loop caller;
  EXPECT_EQ(caller.run(store->put("resp_a", entry("t", "c"))), StoreStatus::ok);
  EXPECT_EQ(caller.run(store->put("resp_b", entry("t", "c"))), StoreStatus::ok);
  Found out;
  EXPECT_EQ(caller.run(store->find("resp_a", "t", out)), StoreStatus::not_found);  // evicted
  EXPECT_EQ(caller.run(store->find("resp_b", "t", out)), StoreStatus::ok);
  EXPECT_EQ(store->counters().evicted.load(), 1u);
}

TEST(MakeResponseStoreTest, RedisStateGivesTheRedisStore) {
  testing::RedisServer redis;
  auto store = make_response_store(
      config_with("state: {store: redis, url: \"" + redis.url() + "\", prefix: made}\n"));
  ASSERT_NE(store, nullptr);
  Loop caller;
  ASSERT_EQ(caller.run(store->put("resp_a", entry("t", "c"))), StoreStatus::ok);
  EXPECT_EQ(redis.cli({"EXISTS", "made:resp:t:resp_a"}), "1");
  Found out;
  EXPECT_EQ(caller.run(store->find("resp_a", "t", out)), StoreStatus::ok);
  store.reset();  // stops its thread with the connection open
}

}  // namespace
}  // namespace sb::gateway
