#pragma once
// Incremental decoder (and encoder) of the AWS event stream framing,
// `application/vnd.amazon.eventstream`, used by Bedrock's ConverseStream and InvokeModel
// streaming APIs.
//
// Wire format (https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#
// streaming-event-stream, and the smithy event stream spec
// https://smithy.io/2.0/aws/amazon-eventstream.html):
//
//   total length u32 BE | headers length u32 BE | prelude CRC32 u32 BE (of the 8 bytes before)
//   headers (headers length bytes) | payload | message CRC32 u32 BE (of everything before it)
//
// Each header: name length u8, name, value type u8, value. Types: 0 bool true, 1 bool false
// (no value bytes), 2 byte, 3 short, 4 int, 5 long (big-endian, signed), 6 bytes and 7 string
// (u16 BE length, then the bytes), 8 timestamp (i64 BE, milliseconds since the epoch), 9 uuid
// (16 bytes). CRC32 is the IEEE/zlib one.
//
// Pure and per stream; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::adapters {

/// CRC-32 (IEEE 802.3, reflected, as zlib's crc32), continuing from `crc` (0 to start).
std::uint32_t crc32_ieee(std::string_view data, std::uint32_t crc = 0);

enum class EventStreamHeaderType : std::uint8_t {
  kBoolTrue = 0,
  kBoolFalse = 1,
  kByte = 2,
  kShort = 3,
  kInt = 4,
  kLong = 5,
  kBytes = 6,
  kString = 7,
  kTimestamp = 8,
  kUuid = 9,
};

struct EventStreamHeader {
  std::string name;
  EventStreamHeaderType type = EventStreamHeaderType::kString;
  std::int64_t integer = 0;  ///< byte/short/int/long/timestamp values; 1/0 for booleans
  std::string bytes;         ///< bytes/string values; the 16 raw bytes of a uuid

  bool operator==(const EventStreamHeader&) const = default;

  static EventStreamHeader string(std::string name, std::string value) {
    return {std::move(name), EventStreamHeaderType::kString, 0, std::move(value)};
  }
};

struct EventStreamMessage {
  std::vector<EventStreamHeader> headers;  ///< in wire order
  std::string payload;

  /// The first header called `name`, or nullptr.
  const EventStreamHeader* find(std::string_view name) const;
  /// The value of string header `name` (`:event-type`, `:message-type`, `:content-type`,
  /// `:exception-type`, `:error-code`, ...); empty when absent or not a string.
  std::string_view string_header(std::string_view name) const;
};

/// Appends one encoded message to `out`. Header names longer than 255 bytes and string/bytes
/// values longer than 65535 bytes cannot be framed: returns false and appends nothing.
bool append_eventstream_message(std::string& out, const std::vector<EventStreamHeader>& headers,
                                std::string_view payload);

class EventStreamDecoder {
 public:
  enum class Error : std::uint8_t {
    kNone,
    kPreludeCrc,  ///< the prelude checksum does not match
    kMessageCrc,  ///< the message checksum does not match
    kLength,      ///< total length below 16, above the limit, or headers longer than the message
    kHeader,      ///< a header is truncated or has an unknown type
  };

  /// 16 MiB: the largest message the event stream spec allows.
  static constexpr std::size_t kDefaultMaxMessage = 16 * 1024 * 1024;

  explicit EventStreamDecoder(std::size_t max_message = kDefaultMaxMessage)
      : max_message_(max_message) {}

  /// Feeds `bytes` (split anywhere), appending each complete message to `out` (not cleared).
  /// Returns false on the first framing error; the decoder then stays failed and ignores input.
  /// A corrupted prelude is reported as soon as its 12 bytes are in, before any body is held.
  bool feed(std::string_view bytes, std::vector<EventStreamMessage>& out);

  Error error() const { return error_; }
  /// A short description of `error()`, empty when none.
  std::string_view error_message() const;
  /// Bytes held for an incomplete message.
  std::size_t pending_bytes() const { return buffer_.size() - offset_; }
  /// True when every byte fed so far formed whole messages (a stream may end here).
  bool at_boundary() const { return error_ == Error::kNone && pending_bytes() == 0; }

 private:
  bool fail(Error e);
  bool parse_headers(std::string_view block, std::vector<EventStreamHeader>& headers) const;

  std::size_t max_message_;
  std::string buffer_;
  std::size_t offset_ = 0;   // start of the unparsed bytes in buffer_
  std::uint32_t total_ = 0;  // total length of the current message, once its prelude is in
  std::uint32_t headers_len_ = 0;
  Error error_ = Error::kNone;
};

}  // namespace sb::adapters
