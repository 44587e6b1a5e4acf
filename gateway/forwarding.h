#pragma once
// Which client headers travel upstream: end-to-end headers only. Hop-by-hop headers
// (RFC 9110 §7.6.1) and those the client names in Connection, the client's credentials (the
// backend's own key replaces them), and the headers the gateway sets or consumes itself never do.

#include "adapters/upstream/client.h"
#include "gateway/handler.h"

namespace sb::gateway {

/// Copies the forwardable headers of `in` into `out`.
void forward_headers(const Request& in, upstream::Request& out);

}  // namespace sb::gateway
