#include "gateway/observability/io_thread.h"

#include <exception>
#include <string>

#include <boost/asio/io_context.hpp>

#include "gateway/observability/log.h"

namespace sb::gateway {

void run_logging_escapes(boost::asio::io_context& io, std::string_view name) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      log::error(std::string(name) + " thread: unexpected exception", {{"what", e.what()}});
    }
  }
}

}  // namespace sb::gateway
