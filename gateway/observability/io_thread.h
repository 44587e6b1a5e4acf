#pragma once
// The loop of a background thread that runs an io_context of its own (the engine-load scraper,
// the response store, the shared state store).

#include <string_view>

namespace boost::asio {
class io_context;
}

namespace sb::gateway {

/// Runs `io` on the calling thread until it runs out of work or is stopped. An exception that
/// escapes one of its handlers is logged ("<name> thread: unexpected exception") and `io` runs
/// on.
void run_logging_escapes(boost::asio::io_context& io, std::string_view name);

}  // namespace sb::gateway
