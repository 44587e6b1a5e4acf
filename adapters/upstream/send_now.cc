#include "adapters/upstream/send_now.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace sb::upstream {

std::size_t send_now(int fd, std::span<const boost::asio::const_buffer> buffers) noexcept {
  // More pieces than this are rare (an answer's head and body, an event's frame); the rest goes
  // with the asynchronous write.
  constexpr std::size_t kMaxPieces = 16;
  iovec pieces[kMaxPieces];
  std::size_t count = 0;
  for (const boost::asio::const_buffer& b : buffers) {
    if (count == kMaxPieces) {
      break;
    }
    if (b.size() != 0) {
      pieces[count++] = iovec{const_cast<void*>(b.data()), b.size()};
    }
  }
  if (count == 0) {
    return 0;
  }
  msghdr message{};
  message.msg_iov = pieces;
  message.msg_iovlen = count;
  for (;;) {
    const ssize_t sent = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) {
      return static_cast<std::size_t>(sent);
    }
    if (errno != EINTR) {
      return 0;
    }
  }
}

}  // namespace sb::upstream
