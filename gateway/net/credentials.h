#pragma once
// Credentials in request headers, parsed the same way on the data plane (tenant API keys) and the
// admin plane (the admin token).

#include <string_view>

#include "gateway/net/header_name.h"

namespace sb::gateway {

/// The token of an `Authorization: Bearer TOKEN` value: the scheme is case-insensitive and the
/// spaces after it are skipped. Empty when the value is empty or uses another scheme (`Basic`).
inline std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !is_name(authorization.substr(0, kScheme.size()), kScheme)) {
    return {};
  }
  authorization.remove_prefix(kScheme.size());
  while (!authorization.empty() && authorization.front() == ' ') {
    authorization.remove_prefix(1);
  }
  return authorization;
}

/// A client's API key: the Bearer token of `Authorization` (OpenAI SDKs), else `x-api-key`
/// (Anthropic SDKs). An `Authorization` that is not a Bearer token (a proxy's `Basic`
/// credentials) does not hide the `x-api-key` beside it. Empty when neither holds a key.
inline std::string_view api_key_from(std::string_view authorization, std::string_view x_api_key) {
  const std::string_view bearer = bearer_token(authorization);
  return bearer.empty() ? x_api_key : bearer;
}

/// api_key_from's rule on a request's header fields; `x-api-key` is looked up only when
/// `Authorization` holds no Bearer token.
template <class Fields>
std::string_view api_key_in(const Fields& fields) {
  const std::string_view bearer = bearer_token(field_value(fields, "authorization"));
  return !bearer.empty() ? bearer : field_value(fields, "x-api-key");
}

}  // namespace sb::gateway
