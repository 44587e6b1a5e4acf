#include "adapters/upstream/resolve.h"

#include <memory>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sb::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

boost::asio::awaitable<Resolved> resolve_until(asio::any_io_executor executor, std::string host,
                                               std::string port,
                                               std::chrono::steady_clock::time_point deadline) {
  struct Pending {
    explicit Pending(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    error_code ec;
    tcp::resolver::results_type results;
    bool done = false;
  };
  auto pending = std::make_shared<Pending>(executor);
  pending->timer.expires_at(deadline);
  pending->resolver.async_resolve(host, port,
                                  [pending](const error_code& ec, tcp::resolver::results_type r) {
                                    pending->ec = ec;
                                    pending->results = std::move(r);
                                    pending->done = true;
                                    pending->timer.cancel();
                                  });
  co_await pending->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  Resolved out;
  if (!pending->done) {
    pending->resolver.cancel();
    out.timed_out = true;
    co_return out;
  }
  out.ec = pending->ec;
  if (!out.ec && pending->results.empty()) {
    out.ec = asio::error::make_error_code(asio::error::host_not_found);
  }
  out.results = std::move(pending->results);
  co_return out;
}

}  // namespace sb::upstream
