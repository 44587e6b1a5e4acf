#pragma once
// The data plane's entry (/v1/...): what the sessions of the data listener hand requests to.

#include <boost/asio/awaitable.hpp>

#include "gateway/net/handler.h"

namespace sb::gateway {

/// Data plane: /v1/... Returns false when the connection must close.
boost::asio::awaitable<bool> handle_data(RequestContext& ctx);
/// Data plane, from the request header alone, before the body is read and before any
/// `100 Continue`: answers an unknown path (404) or a missing or wrong API key (401) and returns
/// true (the connection must then close); false when the request may go on.
boost::asio::awaitable<bool> refuse_before_body(RequestContext& ctx);

class DataPlane final : public Handler {
 public:
  boost::asio::awaitable<bool> refuse_before_body(RequestContext& ctx) override {
    return gateway::refuse_before_body(ctx);
  }
  boost::asio::awaitable<bool> handle(RequestContext& ctx) override { return handle_data(ctx); }
  boost::asio::awaitable<void> refuse_body(RequestContext& ctx, unsigned status,
                                           std::string_view message,
                                           std::string_view extra_headers) override;
};

}  // namespace sb::gateway
