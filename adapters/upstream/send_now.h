#pragma once
// Sending what a socket takes at once: one non-blocking sendmsg, before any asynchronous write.
//
// An asynchronous write that the socket accepts at once still completes through the scheduler:
// the completion is queued, the worker polls its reactor (an epoll_wait that finds nothing) and
// then resumes the coroutine. A request to an upstream and nearly every answer or streamed event
// to a client fit the socket's send buffer, so the upstream client and the gateway's plain-TCP
// sessions send first, as nginx does, and wait (asynchronously, under their watchdog) only for
// what is left.

#include <cstddef>
#include <span>

#include <boost/asio/buffer.hpp>

namespace sb::upstream {

/// Sends as much of `buffers` to socket `fd` as it takes without waiting (at most one system
/// call; no SIGPIPE). Returns the bytes sent: 0 when the send buffer is full and on any error,
/// which the asynchronous write that follows meets again and reports.
std::size_t send_now(int fd, std::span<const boost::asio::const_buffer> buffers) noexcept;

}  // namespace sb::upstream
