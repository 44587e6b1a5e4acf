#pragma once
// One client connection: reads requests (framing checked before Beast parses them, with header,
// body and idle limits), dispatches them in order (so pipelined requests are answered in order),
// and closes cleanly. Plain TCP or TLS.

#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl {
class context;
}

namespace sb::gateway {

struct Worker;

enum class Plane { data, admin };

/// Starts a session on `worker`'s thread for an accepted socket. With `tls` non-null the
/// connection is TLS (handshake first). The session owns itself and ends with the connection.
void start_session(Worker& worker, boost::asio::ip::tcp::socket socket, Plane plane,
                   boost::asio::ssl::context* tls);

}  // namespace sb::gateway
