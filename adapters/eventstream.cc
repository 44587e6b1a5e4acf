#include "adapters/eventstream.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::adapters {
namespace {

constexpr std::size_t kPreludeLen = 12;  // total, headers length, prelude CRC
constexpr std::size_t kMinMessage = 16;  // prelude + message CRC

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    }
    table[n] = c;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

std::uint32_t read_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (static_cast<std::uint32_t>(u[0]) << 24) | (static_cast<std::uint32_t>(u[1]) << 16) |
         (static_cast<std::uint32_t>(u[2]) << 8) | static_cast<std::uint32_t>(u[3]);
}

std::uint64_t read_be(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

void put_be(std::string& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i > 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * (i - 1))) & 0xFF));
  }
}

/// Sign-extends the low `bytes` bytes of `v`.
std::int64_t sign_extend(std::uint64_t v, std::size_t bytes) {
  if (bytes == 8) {
    return static_cast<std::int64_t>(v);
  }
  const std::uint64_t sign = 1ULL << (8 * bytes - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

std::size_t fixed_width(EventStreamHeaderType t) {
  switch (t) {
    case EventStreamHeaderType::kByte:
      return 1;
    case EventStreamHeaderType::kShort:
      return 2;
    case EventStreamHeaderType::kInt:
      return 4;
    case EventStreamHeaderType::kLong:
    case EventStreamHeaderType::kTimestamp:
      return 8;
    default:
      return 0;
  }
}

}  // namespace

std::uint32_t crc32_ieee(std::string_view data, std::uint32_t crc) {
  crc = ~crc;
  for (const char ch : data) {
    crc = kCrcTable[(crc ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (crc >> 8);
  }
  return ~crc;
}

const EventStreamHeader* EventStreamMessage::find(std::string_view name) const {
  for (const EventStreamHeader& h : headers) {
    if (h.name == name) {
      return &h;
    }
  }
  return nullptr;
}

std::string_view EventStreamMessage::string_header(std::string_view name) const {
  const EventStreamHeader* h = find(name);
  if (h == nullptr || h->type != EventStreamHeaderType::kString) {
    return {};
  }
  return h->bytes;
}

bool append_eventstream_message(std::string& out, const std::vector<EventStreamHeader>& headers,
                                std::string_view payload) {
  std::string block;
  for (const EventStreamHeader& h : headers) {
    if (h.name.size() > 0xFF) {
      return false;
    }
    block.push_back(static_cast<char>(h.name.size()));
    block.append(h.name);
    block.push_back(static_cast<char>(h.type));
    switch (h.type) {
      case EventStreamHeaderType::kBoolTrue:
      case EventStreamHeaderType::kBoolFalse:
        break;
      case EventStreamHeaderType::kBytes:
      case EventStreamHeaderType::kString:
        if (h.bytes.size() > 0xFFFF) {
          return false;
        }
        put_be(block, h.bytes.size(), 2);
        block.append(h.bytes);
        break;
      case EventStreamHeaderType::kUuid:
        if (h.bytes.size() != 16) {
          return false;
        }
        block.append(h.bytes);
        break;
      default:
        put_be(block, static_cast<std::uint64_t>(h.integer), fixed_width(h.type));
        break;
    }
  }
  const std::size_t total = kMinMessage + block.size() + payload.size();
  if (total > 0xFFFFFFFFULL) {
    return false;
  }
  const std::size_t start = out.size();
  put_be(out, total, 4);
  put_be(out, block.size(), 4);
  put_be(out, crc32_ieee(std::string_view(out).substr(start, 8)), 4);
  out.append(block);
  out.append(payload);
  put_be(out, crc32_ieee(std::string_view(out).substr(start)), 4);
  return true;
}

std::string_view EventStreamDecoder::error_message() const {
  // In Error's order; kNone has no message.
  static constexpr std::array<std::string_view, 5> kNames{
      std::string_view(), "event stream prelude checksum mismatch",
      "event stream message checksum mismatch", "event stream message length out of range",
      "event stream message has a malformed header"};
  const auto i = static_cast<std::size_t>(error_);
  return i < kNames.size() ? kNames[i] : "event stream error";
}

bool EventStreamDecoder::fail(Error e) {
  error_ = e;
  buffer_.clear();
  offset_ = 0;
  return false;
}

bool EventStreamDecoder::parse_headers(std::string_view block,
                                       std::vector<EventStreamHeader>& headers) const {
  std::size_t i = 0;
  while (i < block.size()) {
    const std::size_t name_len = static_cast<unsigned char>(block[i++]);
    if (name_len == 0 || i + name_len + 1 > block.size()) {
      return false;
    }
    EventStreamHeader h;
    h.name.assign(block.substr(i, name_len));
    i += name_len;
    const auto type = static_cast<unsigned char>(block[i++]);
    if (type > static_cast<unsigned char>(EventStreamHeaderType::kUuid)) {
      return false;
    }
    h.type = static_cast<EventStreamHeaderType>(type);
    switch (h.type) {
      case EventStreamHeaderType::kBoolTrue:
        h.integer = 1;
        break;
      case EventStreamHeaderType::kBoolFalse:
        h.integer = 0;
        break;
      case EventStreamHeaderType::kBytes:
      case EventStreamHeaderType::kString: {
        if (i + 2 > block.size()) {
          return false;
        }
        const std::size_t len = read_be(block.data() + i, 2);
        i += 2;
        if (i + len > block.size()) {
          return false;
        }
        h.bytes.assign(block.substr(i, len));
        i += len;
        break;
      }
      case EventStreamHeaderType::kUuid:
        if (i + 16 > block.size()) {
          return false;
        }
        h.bytes.assign(block.substr(i, 16));
        i += 16;
        break;
      default: {
        const std::size_t w = fixed_width(h.type);
        if (i + w > block.size()) {
          return false;
        }
        h.integer = sign_extend(read_be(block.data() + i, w), w);
        i += w;
        break;
      }
    }
    headers.push_back(std::move(h));
  }
  return true;
}

bool EventStreamDecoder::feed(std::string_view bytes, std::vector<EventStreamMessage>& out) {
  if (error_ != Error::kNone) {
    return false;
  }
  buffer_.append(bytes);
  for (;;) {
    const std::string_view pending = std::string_view(buffer_).substr(offset_);
    if (total_ == 0) {
      if (pending.size() < kPreludeLen) {
        break;
      }
      // Validate the prelude before trusting its lengths, so a corrupted length can neither
      // make us wait for gigabytes nor be misread as a message boundary.
      if (crc32_ieee(pending.substr(0, 8)) != read_u32(pending.data() + 8)) {
        return fail(Error::kPreludeCrc);
      }
      const std::uint32_t total = read_u32(pending.data());
      const std::uint32_t headers_len = read_u32(pending.data() + 4);
      if (total < kMinMessage || total > max_message_ || headers_len > total - kMinMessage) {
        return fail(Error::kLength);
      }
      total_ = total;
      headers_len_ = headers_len;
    }
    if (pending.size() < total_) {
      break;
    }
    const std::string_view message = pending.substr(0, total_);
    if (crc32_ieee(message.substr(0, total_ - 4)) != read_u32(message.data() + total_ - 4)) {
      return fail(Error::kMessageCrc);
    }
    EventStreamMessage m;
    if (!parse_headers(message.substr(kPreludeLen, headers_len_), m.headers)) {
      return fail(Error::kHeader);
    }
    m.payload.assign(
        message.substr(kPreludeLen + headers_len_, total_ - kMinMessage - headers_len_));
    out.push_back(std::move(m));
    offset_ += total_;
    total_ = 0;
    headers_len_ = 0;
  }
  // Compact once per feed: amortized linear, and the buffer never holds more than one message.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 0) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return true;
}

}  // namespace sb::adapters
