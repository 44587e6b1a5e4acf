#pragma once
// One client connection: reads requests (the head parsed by the framing rules, with header,
// body and idle limits), dispatches them in order (so pipelined requests are answered in order),
// and closes cleanly. Plain TCP or TLS.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/net/limits.h"

namespace boost::asio::ssl {
class context;
}

namespace sb::gateway {

struct Worker;
class Handler;

enum class Plane { data, admin };

/// An accepted connection on a worker's io_context. The executor type is concrete (not
/// any_io_executor), so no socket operation copies a type-erased executor.
using ClientSocket =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

/// What the sessions of one listener share. Owned by the composition root; outlives them.
struct PlaneContext {
  PlaneContext(Plane p, Handler& h, ConnectionLimit& c, BodyBytesBudget& b,
               ProtocolErrors* e = nullptr)
      : plane(p), handler(h), connections(c), body_budget(b), protocol_errors(e) {}

  Plane plane;
  Handler& handler;                 ///< answers the plane's requests
  ConnectionLimit& connections;     ///< the session releases its admission when it ends
  BodyBytesBudget& body_budget;     ///< process-wide, shared by both planes
  ProtocolErrors* protocol_errors;  ///< the plane's; nullptr: not counted
};

/// Starts a session on `worker`'s thread for an accepted socket, admitted against
/// `plane.connections`. With `tls` non-null the connection is TLS (handshake first). The session
/// owns itself and ends with the connection.
void start_session(Worker& worker, ClientSocket socket, const PlaneContext& plane,
                   boost::asio::ssl::context* tls);

}  // namespace sb::gateway
