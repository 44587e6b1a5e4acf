#pragma once
// The admin plane: /healthz, /readyz, /metrics, /admin/reload and /admin/explain, on the admin
// listener (see admin.cc).

#include <boost/asio/awaitable.hpp>

#include "gateway/net/handler.h"

namespace sb::gateway {

class Server;

/// Admin plane: answers one request. Returns false to close.
boost::asio::awaitable<bool> handle_admin(RequestContext& ctx, Server& server);

class AdminPlane final : public Handler {
 public:
  explicit AdminPlane(Server& server) : server_(server) {}
  /// Nothing on the admin plane is refused before its body is read.
  boost::asio::awaitable<bool> refuse_before_body(RequestContext&) override { co_return false; }
  boost::asio::awaitable<bool> handle(RequestContext& ctx) override {
    return handle_admin(ctx, server_);
  }

 private:
  Server& server_;
};

}  // namespace sb::gateway
