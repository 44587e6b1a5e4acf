#pragma once
// A DNS resolve bounded by a deadline, for the upstream client and the Redis client alike.
// getaddrinfo cannot be interrupted (resolver.cancel() only drops a query that has not started),
// so the resolve runs detached in shared state and the caller waits on a timer that the
// completion cancels; on timeout the caller walks away and the late completion frees the state.

#include <chrono>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace sb::upstream {

struct Resolved {
  bool timed_out = false;
  boost::system::error_code ec;  ///< the resolver's error; host_not_found for an empty answer
  boost::asio::ip::tcp::resolver::results_type results;
};

/// Never throws.
boost::asio::awaitable<Resolved> resolve_until(boost::asio::any_io_executor executor,
                                               std::string host, std::string port,
                                               std::chrono::steady_clock::time_point deadline);

}  // namespace sb::upstream
