#pragma once
// AWS Signature Version 4 request signing, as a pure function: no clock, no environment, no
// sockets. The caller supplies the timestamp.
//
// Reference: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
//
// Who supplies what:
//  - The caller gives the request as it will go on the wire: method, path (already
//    percent-encoded, e.g. "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"), raw
//    query string (without '?'), the Host value, the other headers it wants signed, and the body.
//  - The signer adds and signs `x-amz-date` (from the injected timestamp), `x-amz-security-token`
//    (when a session token is given) and, when asked, `x-amz-content-sha256`. Headers with those
//    names passed by the caller are ignored (the signer's values win), as is a caller `host`
//    header (the `host` field wins), so what is signed is exactly what `SigV4Result::headers`
//    tells the caller to send.
//  - The caller sends `Host: <host>` and every header of `SigV4Result::headers`, plus the headers
//    it passed in with the same values; other unsigned headers (content-length, user-agent) may
//    be added freely.
//
// Path rule (the one that bites Bedrock): every service except S3 URI-encodes the wire path once
// more for the canonical request ("double encoding"). A Bedrock model id segment
// `anthropic.claude-3-5-sonnet-20240620-v1:0` is sent as `...-v1%3A0` and appears in the canonical
// URI as `...-v1%253A0`. The AWS SDKs do the same (smithy `useDoubleUriEncode`, default true
// except for S3: https://docs.aws.amazon.com/smithy-kotlin/api/latest/http-auth-aws/
// aws.smithy.kotlin.runtime.http.auth/-aws-http-signer/-config/use-double-uri-encode.html).
// The path is also normalized (RFC 3986 dot segments removed, empty segments collapsed) for
// every service except S3, as the AWS signing test suite's *-normalized vectors expect.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::adapters {

/// A request to sign, as it will be sent. Views must outlive the call only.
struct SigV4Request {
  std::string_view method = "POST";
  std::string_view path = "/";  ///< wire form: percent-encoded as sent, no query
  std::string_view query;       ///< wire form without '?', may be empty
  std::string_view host;        ///< the Host header value (with ":port" if non-default)
  /// Further headers to sign, any case; duplicates are joined with ',' in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view payload;
};

struct SigV4Credentials {
  std::string_view access_key_id;
  std::string_view secret_access_key;
  std::string_view session_token;  ///< empty when none
};

struct SigV4Options {
  std::string_view region;   ///< e.g. "us-east-1"
  std::string_view service;  ///< e.g. "bedrock" (the signing name of bedrock-runtime)
  /// Sign and send `x-amz-content-sha256` (required by S3, accepted by every service).
  bool content_sha256_header = false;
  /// Encode the wire path once more for the canonical URI (false only for S3).
  bool double_encode_path = true;
  /// Remove dot segments and collapse empty segments before encoding (false only for S3).
  bool normalize_path = true;
};

struct SigV4Result {
  /// Headers to add to the request, lower-case names: x-amz-date, x-amz-content-sha256 (when
  /// asked), x-amz-security-token (when a token is given), authorization.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string authorization;      ///< the Authorization header value
  std::string amz_date;           ///< the x-amz-date value
  std::string payload_sha256;     ///< hex SHA-256 of the payload
  std::string canonical_request;  ///< for tests and debugging (contains no secret)
  std::string string_to_sign;
  std::string signed_headers;  ///< e.g. "content-type;host;x-amz-date"
  std::string signature;       ///< hex
};

/// Signs `request` at `amz_date` ("YYYYMMDDTHHMMSSZ", UTC). nullopt when `amz_date` is not of
/// that form or the method, host, region, service or key id is empty. Thread-safe (pure).
std::optional<SigV4Result> sigv4_sign(const SigV4Request& request,
                                      const SigV4Credentials& credentials,
                                      const SigV4Options& options, std::string_view amz_date);

/// Formats seconds since the Unix epoch as an x-amz-date value ("20150830T123600Z").
std::string format_amz_date(std::int64_t unix_seconds);

/// URI-encodes `s` per SigV4: RFC 3986 unreserved bytes (A-Z a-z 0-9 - . _ ~) are kept, every
/// other byte becomes %XX (upper-case hex); '/' is kept only when `keep_slash`. Use it with
/// `keep_slash = false` to build one wire path segment, e.g. a Bedrock model id.
std::string sigv4_uri_encode(std::string_view s, bool keep_slash);

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace sb::adapters
