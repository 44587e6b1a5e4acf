// send_now (adapters/upstream/send_now.h): what a socket takes at once, never a wait.

#include "adapters/upstream/send_now.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>

#include <gtest/gtest.h>

namespace sb::upstream {
namespace {

namespace asio = boost::asio;

/// A connected pair of stream sockets, closed at the end.
struct Pair {
  int fd[2] = {-1, -1};
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
  std::string read(std::size_t n) const {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fd[1], out.data() + got, n - got);
      if (r <= 0) {
        break;
      }
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
};

TEST(SendNowTest, SendsEveryPieceInOrder) {
  Pair p;
  const std::array<asio::const_buffer, 3> pieces{asio::buffer("head ", 5), asio::buffer("", 0),
                                                 asio::buffer("and body", 8)};
  EXPECT_EQ(send_now(p.fd[0], pieces), 13u);
  EXPECT_EQ(p.read(13), "head and body");
}

TEST(SendNowTest, NothingToSendIsZero) {
  Pair p;
  EXPECT_EQ(send_now(p.fd[0], {}), 0u);
}

// A peer that does not read: the send buffer fills, and send_now returns what it took (and then
// 0) at once, on a socket in blocking mode, where a plain send would wait.
TEST(SendNowTest, AFullSendBufferTakesPartOfItAndNeverWaits) {
  Pair p;
  const int small = 4096;
  ::setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  const std::string big(4 << 20, 'x');
  const std::array<asio::const_buffer, 1> piece{asio::buffer(big)};
  const std::size_t first = send_now(p.fd[0], piece);
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, big.size());
  EXPECT_EQ(send_now(p.fd[0], piece), 0u);
}

// A peer gone: 0 (the asynchronous write that follows reports the error), and no SIGPIPE kills
// the process.
TEST(SendNowTest, AClosedPeerIsZeroWithoutSigpipe) {
  Pair p;
  ::close(p.fd[1]);
  p.fd[1] = -1;
  const std::array<asio::const_buffer, 1> piece{asio::buffer("hello", 5)};
  EXPECT_EQ(send_now(p.fd[0], piece), 0u);
}

TEST(SendNowTest, NotASocketIsZero) {
  const std::array<asio::const_buffer, 1> piece{asio::buffer("hello", 5)};
  EXPECT_EQ(send_now(-1, piece), 0u);
}

// More pieces than one call takes: the first ones go, the rest is left for the asynchronous
// write.
TEST(SendNowTest, ManyPiecesSendAPrefix) {
  Pair p;
  std::array<asio::const_buffer, 40> pieces;
  std::string expected;
  static const char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    pieces[i] = asio::buffer(kLetters + i, 1);
    expected += kLetters[i];
  }
  const std::size_t sent = send_now(p.fd[0], pieces);
  EXPECT_GT(sent, 0u);
  EXPECT_LE(sent, pieces.size());
  EXPECT_EQ(p.read(sent), expected.substr(0, sent));
}

}  // namespace
}  // namespace sb::upstream
