// The Redis client against real redis-server processes on loopback: round trips, pipelining,
// scripts, credentials, databases, TLS, timeouts through a delaying relay, a server killed and
// restarted, and the reply limits.

#include "gateway/state/redis_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tests/support/redis_server.h"
#include "tests/support/tcp_relay.h"

namespace sb::gateway::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::RedisServer;
using testing::TcpRelay;

class RedisClientTest : public ::testing::Test {
 protected:
  static config::StateSettings settings(std::uint16_t port) {
    config::StateSettings s;
    s.store = config::StateSettings::Store::redis;
    s.host = "127.0.0.1";
    s.port = port;
    s.connect_timeout = 2s;
    s.command_timeout = 2s;
    s.reconnect_min = 50ms;
    s.reconnect_max = 200ms;
    return s;
  }

  /// Runs `a` on the test's io_context until it completes (the client's own reads keep the
  /// context busy, so this runs handlers one at a time rather than until it is idle).
  template <class T>
  T run(asio::awaitable<T> a) {
    std::optional<T> out;
    std::exception_ptr error;
    asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e, T v) {
      error = e;
      out = std::move(v);
    });
    if (io_.stopped()) {
      io_.restart();
    }
    while (!out && !error) {
      io_.run_one();
    }
    if (error) {
      std::rethrow_exception(error);
    }
    return std::move(*out);
  }

  Result cmd(Client& c, std::vector<std::string> args) { return run(c.command(std::move(args))); }

  void sleep(std::chrono::milliseconds duration) {
    run([](asio::any_io_executor ex, std::chrono::milliseconds d) -> asio::awaitable<int> {
      asio::steady_timer t(ex, d);
      co_await t.async_wait(asio::use_awaitable);
      co_return 0;
    }(io_.get_executor(), duration));
  }

  asio::io_context io_;
};

TEST_F(RedisClientTest, SetGetIncrbyRoundTrips) {
  RedisServer server;
  Client c(io_.get_executor(), settings(server.port()));
  EXPECT_FALSE(c.connected());
  Result r = cmd(c, {"SET", "k", "value"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(r.reply.type, Reply::Type::status);
  EXPECT_EQ(r.reply.str, "OK");
  r = cmd(c, {"GET", "k"});
  EXPECT_EQ(r.reply.type, Reply::Type::string);
  EXPECT_EQ(r.reply.str, "value");
  r = cmd(c, {"INCRBY", "n", "5"});
  EXPECT_EQ(r.reply.type, Reply::Type::integer);
  EXPECT_EQ(r.reply.integer, 5);
  r = cmd(c, {"INCRBY", "n", "-7"});
  EXPECT_EQ(r.reply.integer, -2);
  r = cmd(c, {"GET", "missing"});
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.reply.type, Reply::Type::nil);
  r = cmd(c, {"MGET", "k", "missing"});
  ASSERT_EQ(r.reply.elements.size(), 2u);
  EXPECT_EQ(r.reply.elements[0].str, "value");
  EXPECT_EQ(r.reply.elements[1].type, Reply::Type::nil);
  r = cmd(c, {"INCRBY", "k", "1"});  // a Redis error reply
  EXPECT_EQ(r.error, Error::server);
  EXPECT_EQ(r.message, "redis " + c.server() + ": ERR value is not an integer or out of range");
  EXPECT_TRUE(c.connected());  // an error reply is an answer, not a broken connection
  EXPECT_EQ(cmd(c, {"PING"}).reply.str, "PONG");
  EXPECT_EQ(server.cli({"GET", "k"}), "value");  // what the client wrote, seen from outside
  EXPECT_EQ(server.url(), "redis://127.0.0.1:" + std::to_string(server.port()));
}

TEST_F(RedisClientTest, HostNamesAreResolved) {
  RedisServer server;
  config::StateSettings s = settings(server.port());
  s.host = "localhost";  // /etc/hosts: no query leaves the machine
  Client c(io_.get_executor(), s);
  Result r = run(c.ping());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(c.server(), "localhost:" + std::to_string(server.port()));
}

TEST_F(RedisClientTest, ThousandConcurrentCommandsAreAnsweredInOrderOnOneConnection) {
  RedisServer server;
  Client c(io_.get_executor(), settings(server.port()));
  constexpr int kCommands = 1000;
  int right = 0;
  int finished = 0;
  for (int i = 0; i < kCommands; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          // Alternate kinds so a reply matched to the wrong command would be noticed.
          if (i % 2 == 0) {
            std::vector<std::string> args{"ECHO", "value-" + std::to_string(i)};
            Result r = co_await c.command(std::move(args));
            right += r.ok() && r.reply.str == "value-" + std::to_string(i);
          } else {
            std::vector<std::string> args{"INCRBY", "counter:" + std::to_string(i % 7),
                                          std::to_string(i)};
            Result r = co_await c.command(std::move(args));
            right += r.ok() && r.reply.type == Reply::Type::integer && r.reply.integer >= i;
          }
          ++finished;
        },
        asio::detached);
  }
  while (finished < kCommands) {
    io_.run_one();
  }
  EXPECT_EQ(right, kCommands);
  std::int64_t total = 0;
  for (int k = 0; k < 7; ++k) {
    total += std::stoll(cmd(c, {"GET", "counter:" + std::to_string(k)}).reply.str);
  }
  EXPECT_EQ(total, 250'000);  // the sum of the odd numbers below 1000
  Result clients = cmd(c, {"INFO", "stats"});
  EXPECT_NE(clients.reply.str.find("total_connections_received:1\r\n"), std::string::npos)
      << clients.reply.str;
}

TEST_F(RedisClientTest, EvalshaFallsBackToEvalAfterScriptFlush) {
  RedisServer server;
  Client c(io_.get_executor(), settings(server.port()));
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  ASSERT_TRUE(cmd(c, {"SCRIPT", "FLUSH"}).ok());
  Result r = run(c.eval(script, {"budget"}, {"5"}));  // NOSCRIPT, then EVAL
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.reply.integer, 5);
  r = cmd(c, {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_EQ(r.reply.elements.size(), 1u);
  EXPECT_EQ(r.reply.elements[0].integer, 1);   // EVAL cached it under the SHA we computed
  r = run(c.eval(script, {"budget"}, {"7"}));  // EVALSHA now
  EXPECT_EQ(r.reply.integer, 12);
  ASSERT_TRUE(cmd(c, {"SCRIPT", "FLUSH"}).ok());
  r = run(c.eval(script, {"budget"}, {"1"}));
  EXPECT_EQ(r.reply.integer, 13);
}

TEST_F(RedisClientTest, ScriptsReturnNestedArrays) {
  RedisServer server;
  Client c(io_.get_executor(), settings(server.port()));
  const Script script(
      "redis.call('SET', KEYS[1], ARGV[1])\n"
      "return {redis.call('GET', KEYS[1]), tonumber(ARGV[1]) + 1, {KEYS[2], false}}");
  Result r = run(c.eval(script, {"{t}:a", "{t}:b"}, {"41"}));
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.reply.type, Reply::Type::array);
  ASSERT_EQ(r.reply.elements.size(), 3u);
  EXPECT_EQ(r.reply.elements[0].str, "41");
  EXPECT_EQ(r.reply.elements[1].integer, 42);
  ASSERT_EQ(r.reply.elements[2].elements.size(), 2u);
  EXPECT_EQ(r.reply.elements[2].elements[0].str, "{t}:b");
  EXPECT_EQ(r.reply.elements[2].elements[1].type, Reply::Type::nil);
  r = run(c.eval(Script("return redis.error_reply('budget gone')"), {}, {}));
  EXPECT_EQ(r.error, Error::server);
  EXPECT_EQ(r.reply.str, "budget gone");
}

TEST_F(RedisClientTest, RequirepassRightAndWrong) {
  RedisServer server({.requirepass = "right-password-123"});
  config::StateSettings s = settings(server.port());
  s.password = "right-password-123";
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(r.reply.str, "PONG");
  }
  s.password = "wrong-password-456";
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::auth);
    EXPECT_EQ(r.message.find("redis " + c.server() + ": authentication failed: WRONGPASS"), 0u)
        << r.message;
    EXPECT_EQ(r.message.find("wrong-password-456"), std::string::npos);
    EXPECT_FALSE(c.connected());
  }
  s.password.clear();
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::auth);
    EXPECT_EQ(r.message, "redis " + c.server() +
                             ": authentication required (NOAUTH Authentication required.): set "
                             "state.password or state.password_file");
  }
}

TEST_F(RedisClientTest, AclUserRightAndWrong) {
  RedisServer server({.requirepass = "default-user-pass",
                      .acl_user = "switchboard",
                      .acl_password = "acl-password-789"});
  config::StateSettings s = settings(server.port());
  s.username = "switchboard";
  s.password = "acl-password-789";
  {
    Client c(io_.get_executor(), s);
    ASSERT_TRUE(run(c.ping()).ok());
    Result who = cmd(c, {"ACL", "WHOAMI"});
    EXPECT_EQ(who.reply.str, "switchboard");
    EXPECT_EQ(server.cli({"ACL", "WHOAMI"}), "switchboard");
  }
  s.password = "default-user-pass";  // the default user's password is not this user's
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::auth);
    EXPECT_NE(r.message.find("authentication failed: WRONGPASS"), std::string::npos) << r.message;
  }
}

TEST_F(RedisClientTest, DatabasesAreIsolated) {
  RedisServer server;
  config::StateSettings s = settings(server.port());
  Client zero(io_.get_executor(), s);
  s.database = 3;
  Client three(io_.get_executor(), s);
  ASSERT_TRUE(cmd(zero, {"SET", "k", "in-zero"}).ok());
  ASSERT_TRUE(cmd(three, {"SET", "k", "in-three"}).ok());
  EXPECT_EQ(cmd(zero, {"GET", "k"}).reply.str, "in-zero");
  EXPECT_EQ(cmd(three, {"GET", "k"}).reply.str, "in-three");
  EXPECT_EQ(cmd(three, {"DBSIZE"}).reply.integer, 1);

  s.database = 99;  // the server has 16
  Client missing(io_.get_executor(), s);
  Result r = cmd(missing, {"PING"});
  EXPECT_EQ(r.error, Error::server);
  EXPECT_EQ(r.message,
            "redis " + missing.server() + ": SELECT 99 failed: ERR DB index is out of range");
}

TEST_F(RedisClientTest, TlsWithTheTestCa) {
  RedisServer server({.tls = true});
  config::StateSettings s = settings(server.port());
  s.tls = true;
  s.ca_file = RedisServer::ca_file();
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(cmd(c, {"SET", "k", "over-tls"}).reply.str, "OK");
    EXPECT_EQ(cmd(c, {"GET", "k"}).reply.str, "over-tls");
    EXPECT_EQ(server.cli({"GET", "k"}), "over-tls");
  }
  s.server_name = "localhost";  // SNI and the name verified: the certificate's DNS name
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_TRUE(r.ok()) << r.message;
  }
  s.server_name.clear();
  s.host = "localhost";  // the host name is the default server name
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_TRUE(r.ok()) << r.message;
  }
}

TEST_F(RedisClientTest, TlsWithAnotherCaOrNameFailsClearly) {
  RedisServer server({.tls = true});
  config::StateSettings s = settings(server.port());
  s.tls = true;
  s.ca_file = RedisServer::other_ca_file();
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::tls);
    EXPECT_EQ(r.message.find("redis " + c.server() + ": TLS: certificate verify failed ("), 0u)
        << r.message;
  }
  s.ca_file = RedisServer::ca_file();
  s.server_name = "redis.example.com";  // not in the certificate
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::tls);
    EXPECT_NE(r.message.find("TLS: "), std::string::npos) << r.message;
  }
  s.tls = false;  // plain text against a TLS port: the server's bytes are not RESP
  s.server_name.clear();
  s.connect_timeout = 300ms;
  s.command_timeout = 300ms;
  {
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_FALSE(r.ok());
  }
}

TEST_F(RedisClientTest, SlowServerTimesOutAndTheNextCommandUsesANewConnection) {
  RedisServer server;
  TcpRelay relay(server.port());
  config::StateSettings s = settings(relay.port());
  s.command_timeout = 100ms;
  Client c(io_.get_executor(), s);
  ASSERT_TRUE(cmd(c, {"SET", "k", "v"}).ok());
  EXPECT_EQ(relay.accepted(), 1u);

  relay.set_delay(400ms);
  Result r = cmd(c, {"GET", "k"});
  EXPECT_EQ(r.error, Error::timeout);
  EXPECT_EQ(r.message, "redis " + c.server() + ": no reply within 100ms; connection closed");
  EXPECT_FALSE(c.connected());

  relay.set_delay(0ms);
  r = cmd(c, {"GET", "k"});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.reply.str, "v");  // not the late reply of the command that timed out
  EXPECT_EQ(relay.accepted(), 2u);
}

TEST_F(RedisClientTest, BlackHoleTimesOutConnectAndCommands) {
  RedisServer server({.requirepass = "black-hole-pass"});
  TcpRelay relay(server.port());
  relay.set_black_hole(true);
  config::StateSettings s = settings(relay.port());
  s.connect_timeout = 150ms;
  s.command_timeout = 100ms;
  {
    // AUTH is part of connecting: no answer means a connect timeout.
    s.password = "black-hole-pass";
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::timeout);
    EXPECT_EQ(r.message, "redis " + c.server() + ": connect timed out after 150ms");
    // Then the backoff: fail fast, without waiting for another timeout.
    r = run(c.ping());
    EXPECT_EQ(r.error, Error::connect);
    EXPECT_NE(r.message.find("not connected; next attempt in "), std::string::npos) << r.message;
  }
  {
    // Without AUTH the connect is only TCP, which the relay accepts: the command times out.
    s.password.clear();
    Client c(io_.get_executor(), s);
    Result r = run(c.ping());
    EXPECT_EQ(r.error, Error::timeout);
  }
}

TEST_F(RedisClientTest, ServerKilledAndRestartedFailsFastThenRecovers) {
  RedisServer server;
  Client c(io_.get_executor(), settings(server.port()));
  ASSERT_TRUE(cmd(c, {"SET", "k", "before"}).ok());
  server.kill9();
  Result r = cmd(c, {"GET", "k"});
  EXPECT_FALSE(r.ok());  // the dead connection (io), or a refused reconnect (connect)
  r = cmd(c, {"GET", "k"});
  EXPECT_EQ(r.error, Error::connect);
  r = cmd(c, {"GET", "k"});
  EXPECT_EQ(r.error, Error::connect);
  EXPECT_NE(r.message.find("not connected; next attempt in "), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("Connection refused"), std::string::npos) << r.message;

  server.restart();
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {  // backoff at most 200ms
    recovered = cmd(c, {"SET", "k", "after"}).ok();
    if (!recovered) {
      sleep(50ms);
    }
  }
  EXPECT_TRUE(recovered);
  EXPECT_EQ(cmd(c, {"GET", "k"}).reply.str, "after");
}

TEST_F(RedisClientTest, ConnectionCutFailsPendingCommandsAndReconnects) {
  RedisServer server;
  TcpRelay relay(server.port());
  Client c(io_.get_executor(), settings(relay.port()));
  ASSERT_TRUE(cmd(c, {"PING"}).ok());
  relay.set_delay(300ms);
  std::optional<Result> pending;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        std::vector<std::string> ping{"PING"};
        pending = co_await c.command(std::move(ping));
      },
      asio::detached);
  io_.poll();  // the command is written
  relay.cut_all();
  while (!pending) {
    io_.run_one();
  }
  EXPECT_EQ(pending->error, Error::io);
  EXPECT_EQ(pending->message.find("redis " + c.server() + ": connection lost: "), 0u)
      << pending->message;
  relay.set_delay(0ms);
  EXPECT_TRUE(cmd(c, {"PING"}).ok());
}

TEST_F(RedisClientTest, CloseFailsPendingCommands) {
  RedisServer server;
  TcpRelay relay(server.port());
  Client c(io_.get_executor(), settings(relay.port()));
  ASSERT_TRUE(cmd(c, {"PING"}).ok());
  relay.set_black_hole(true);
  std::optional<Result> pending;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        std::vector<std::string> ping{"PING"};
        pending = co_await c.command(std::move(ping));
      },
      asio::detached);
  io_.poll();
  c.close();
  while (!pending) {
    io_.run_one();
  }
  EXPECT_EQ(pending->error, Error::io);
  EXPECT_FALSE(c.connected());
  relay.set_black_hole(false);
  EXPECT_TRUE(cmd(c, {"PING"}).ok());  // the next command connects again
}

TEST_F(RedisClientTest, ReplyLimitsCloseTheConnection) {
  RedisServer server;
  Client c(io_.get_executor(), settings(server.port()));
  ASSERT_TRUE(cmd(c, {"SET", "big", std::string(2 << 20, 'b')}).ok());
  Result r = cmd(c, {"GET", "big"});
  EXPECT_EQ(r.error, Error::too_large);
  EXPECT_EQ(r.message,
            "redis " + c.server() + ": reply larger than 1048576 bytes; connection closed");
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(cmd(c, {"STRLEN", "big"}).reply.integer, 2 << 20);  // next command fine

  std::vector<std::string> push{"RPUSH", "list"};
  for (int i = 0; i < 1025; ++i) {
    push.push_back(std::to_string(i));
  }
  ASSERT_EQ(cmd(c, push).reply.integer, 1025);
  EXPECT_EQ(cmd(c, {"LRANGE", "list", "0", "1023"}).reply.elements.size(), 1024u);
  r = cmd(c, {"LRANGE", "list", "0", "-1"});
  EXPECT_EQ(r.error, Error::too_large);
  EXPECT_EQ(r.message,
            "redis " + c.server() + ": array of 1025 elements (at most 1024); connection closed");

  r = run(c.eval(Script("return {{{{1}}}}"), {}, {}));
  EXPECT_TRUE(r.ok()) << r.message;
  r = run(c.eval(Script("return {{{{{1}}}}}"), {}, {}));
  EXPECT_EQ(r.error, Error::protocol);
  EXPECT_EQ(r.message,
            "redis " + c.server() + ": reply nested deeper than 4 arrays; connection closed");
  EXPECT_TRUE(cmd(c, {"PING"}).ok());
}

}  // namespace
}  // namespace sb::gateway::redis
