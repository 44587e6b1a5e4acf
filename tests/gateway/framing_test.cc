#include "gateway/net/framing.h"

#include <string>

#include <gtest/gtest.h>

namespace sb::gateway::framing {
namespace {

using namespace std::string_view_literals;

Verdict check(const std::string& block) {
  return validate_header_block(block);
}

TEST(FramingScanTest, FindsEndOfHeaderBlock) {
  const std::string data = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
  ScanState st;
  const auto r = scan_header_block(data, st);
  ASSERT_EQ(r.state, Scan::complete);
  EXPECT_EQ(r.header_bytes, data.size() - 4);
}

TEST(FramingScanTest, ResumesAcrossEveryByteBoundary) {
  const std::string data = "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
  for (std::size_t cut = 0; cut < data.size(); ++cut) {
    ScanState st;
    const auto first = scan_header_block(std::string_view(data).substr(0, cut), st);
    EXPECT_EQ(first.state, Scan::need_more) << cut;
    const auto second = scan_header_block(data, st);
    ASSERT_EQ(second.state, Scan::complete) << cut;
    EXPECT_EQ(second.header_bytes, data.size()) << cut;
  }
}

TEST(FramingScanTest, RejectsBareLineFeed) {
  ScanState st;
  EXPECT_EQ(scan_header_block("GET / HTTP/1.1\nHost: a\n\n", st).state, Scan::bad);
}

TEST(FramingScanTest, RejectsBareCarriageReturn) {
  ScanState st;
  EXPECT_EQ(scan_header_block("GET / HTTP/1.1\rHost: a\r\n\r\n", st).state, Scan::bad);
}

TEST(FramingScanTest, WaitsOnTrailingCarriageReturn) {
  ScanState st;
  EXPECT_EQ(scan_header_block("GET / HTTP/1.1\r", st).state, Scan::need_more);
}

TEST(FramingScanTest, ToleratesLeadingEmptyLines) {
  ScanState st;
  const auto r = scan_header_block("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", st);
  EXPECT_EQ(r.state, Scan::complete);
}

TEST(FramingValidateTest, AcceptsOrdinaryRequests) {
  EXPECT_TRUE(
      check("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n").ok());
  EXPECT_TRUE(check("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").ok());
  EXPECT_TRUE(check("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n").ok());
  EXPECT_TRUE(check("GET / HTTP/1.0\r\n\r\n").ok());
  EXPECT_TRUE(
      check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").ok());
  EXPECT_TRUE(check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").ok());
  EXPECT_TRUE(check("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n").ok());
}

TEST(FramingValidateTest, NotesAContentCodingOtherThanIdentity) {
  const auto coded = [](std::string_view fields) {
    const std::string block = "POST / HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n";
    Head head;
    boost::container::small_vector<FieldAt, 8> list;
    EXPECT_TRUE(validate_header_block(block, head, list).ok()) << fields;
    return head.content_coded;
  };
  EXPECT_FALSE(coded("Content-Length: 2\r\n"));
  EXPECT_FALSE(coded("Content-Encoding: identity\r\n"));
  EXPECT_FALSE(coded("content-encoding: IDENTITY , identity\r\n"));
  EXPECT_FALSE(coded("Content-Encoding:\r\n"));
  EXPECT_TRUE(coded("Content-Encoding: gzip\r\n"));
  EXPECT_TRUE(coded("Content-Encoding: br\r\n"));
  EXPECT_TRUE(coded("Content-Encoding: identity, deflate\r\n"));
  EXPECT_TRUE(coded("Content-Encoding: identity\r\nContent-Encoding: zstd\r\n"));
}

struct Attack {
  const char* name;
  std::string_view block;
  unsigned status;
};

class FramingAttackTest : public ::testing::TestWithParam<Attack> {};

TEST_P(FramingAttackTest, IsRejected) {
  const Attack& a = GetParam();
  const Verdict v = check(std::string(a.block));
  EXPECT_EQ(v.status, a.status) << a.name << " -> " << v.error;
  EXPECT_FALSE(v.error.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Smuggling, FramingAttackTest,
    ::testing::Values(
        Attack{"ContentLengthAndTransferEncoding",
               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: "
               "chunked\r\n\r\n",
               400},
        Attack{"TransferEncodingThenContentLength",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
               "4\r\n\r\n",
               400},
        Attack{"GzipChunked",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
        Attack{"ChunkedTwiceInOneField",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
        Attack{"RepeatedTransferEncoding",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
               "chunked\r\n\r\n",
               400},
        Attack{"IdentityTransferEncoding",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400},
        Attack{"ChunkedWithJunk",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
        Attack{"TransferEncodingOnHttp10",
               "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Attack{"NegativeContentLength", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
               400},
        Attack{"PlusContentLength", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
               400},
        Attack{"HexContentLength", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
               400},
        Attack{"EmptyContentLength", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
        Attack{"SpaceInsideContentLength",
               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 400},
        Attack{"OverflowingContentLength",
               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
               400},
        Attack{"ConflictingContentLength",
               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        Attack{"ConflictingContentLengthList",
               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400},
        Attack{"ObsFoldSpace", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
        Attack{"ObsFoldTab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400},
        Attack{"SpaceBeforeColon", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400},
        Attack{"TabBeforeColon",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400},
        Attack{"MissingColon", "GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", 400},
        Attack{"EmptyFieldName", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400},
        Attack{"NulInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"sv, 400},
        Attack{"MissingHostOnHttp11", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
        Attack{"RepeatedHost", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Attack{"LowercaseVersion", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        Attack{"Http2Version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        Attack{"DoubleSpaceInRequestLine", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Attack{"NoTarget", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Attack{"BadMethod", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(FramingValidateTest, FieldValueLongerThanTheFieldLimitIs431) {
  const std::string ok =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(kMaxFieldBytes, 'v') + "\r\n\r\n";
  EXPECT_TRUE(check(ok).ok());
  const std::string big =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(kMaxFieldBytes + 1, 'v') + "\r\n\r\n";
  EXPECT_EQ(check(big).status, 431u);
  const std::string name =
      "GET / HTTP/1.1\r\nHost: a\r\n" + std::string(kMaxFieldBytes + 1, 'n') + ": v\r\n\r\n";
  EXPECT_EQ(check(name).status, 431u);
}

// Values are checked sixteen bytes at a time: a forbidden byte is found at every offset of a
// value, whatever its length; HTAB and obs-text bytes are accepted anywhere.
TEST(FramingValidateTest, ValueBytesAreCheckedAtEveryOffset) {
  for (std::size_t size = 1; size <= 40; ++size) {
    for (std::size_t at = 0; at < size; ++at) {
      std::string value(size, 'v');
      for (const char bad : {'\0', '\x01', '\x1f', '\x7f', '\r', '\n'}) {
        value[at] = bad;
        const std::string block = "GET / HTTP/1.1\r\nHost: a\r\nX: " + value + "\r\n\r\n";
        EXPECT_EQ(check(block).status, 400u) << size << " at " << at << " byte " << int(bad);
      }
      for (const char good : {'\t', '\x20', '\x7e', '\x80', '\xff'}) {
        value[at] = good;
        const std::string block = "GET / HTTP/1.1\r\nHost: a\r\nX: w" + value + "w\r\n\r\n";
        EXPECT_TRUE(check(block).ok()) << size << " at " << at << " byte " << int(good);
      }
    }
  }
}

using Status = ChunkedDecoder::Status;

struct Decoded {
  Status status;
  std::string body;
  std::size_t consumed;
};

Decoded decode(std::string_view in, std::uint64_t max_body = 1 << 20) {
  ChunkedDecoder d(max_body);
  Decoded r{Status::need_more, {}, 0};
  r.status = d.feed(in, r.body, r.consumed);
  return r;
}

TEST(ChunkedDecoderTest, DecodesChunksAndStopsAtTheEnd) {
  const auto r = decode("5\r\nhello\r\n6;name=value\r\n world\r\n0\r\n\r\nGET /next");
  EXPECT_EQ(r.status, Status::done);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.consumed,
            std::string_view("5\r\nhello\r\n6;name=value\r\n world\r\n0\r\n\r\n").size());
}

TEST(ChunkedDecoderTest, ResumesAcrossEveryByteBoundary) {
  const std::string in = "a;x=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nX-T: v\r\n\r\n";
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    ChunkedDecoder d(1 << 20);
    std::string body;
    std::size_t used = 0;
    std::size_t total = 0;
    auto s = d.feed(std::string_view(in).substr(0, cut), body, used);
    total += used;
    if (s != Status::done) {
      ASSERT_EQ(s, Status::need_more) << cut;
      s = d.feed(std::string_view(in).substr(total), body, used);
      total += used;
    }
    EXPECT_EQ(s, Status::done) << cut;
    EXPECT_EQ(body, "0123456789abc") << cut;
    EXPECT_EQ(total, in.size()) << cut;
  }
}

TEST(ChunkedDecoderTest, ChunkExtensionsAreCappedPerLine) {
  const std::string ok = "1;" + std::string(kMaxChunkLineBytes - 5, 'e') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_EQ(decode(ok).status, Status::done);
  const std::string flood = "1;" + std::string(kMaxChunkLineBytes, 'e');
  EXPECT_EQ(decode(flood).status, Status::bad) << "rejected before the line ends";
}

TEST(ChunkedDecoderTest, ManySmallChunksWithExtensionsOnlyGrowTheBody) {
  ChunkedDecoder d(1 << 20);
  std::string body;
  const std::string chunk = "1;" + std::string(900, 'e') + "\r\nx\r\n";
  for (int i = 0; i < 1000; ++i) {
    std::size_t used = 0;
    ASSERT_EQ(d.feed(chunk, body, used), Status::need_more);
    ASSERT_EQ(used, chunk.size());
  }
  EXPECT_EQ(body.size(), 1000u);
}

TEST(ChunkedDecoderTest, TrailersAreCheckedCappedAndDropped) {
  const auto small = decode("1\r\nx\r\n0\r\nX-Api-Key: sk-1\r\nX-Other: 2\r\n\r\n");
  EXPECT_EQ(small.status, Status::done);
  EXPECT_EQ(small.body, "x");
  const std::string huge = "1\r\nx\r\n0\r\nX-Big: " + std::string(64 * 1024, 't') + "\r\n\r\n";
  EXPECT_EQ(decode(huge).status, Status::bad);
  std::string many = "1\r\nx\r\n0\r\n";
  for (int i = 0; i < 1000; ++i) {
    many += "X-T: v\r\n";
  }
  EXPECT_EQ(decode(many + "\r\n").status, Status::bad);
  EXPECT_EQ(decode("0\r\nno colon\r\n\r\n").status, Status::bad);
  EXPECT_EQ(decode("0\r\n folded: v\r\n\r\n").status, Status::bad);
}

TEST(ChunkedDecoderTest, MalformedInputIsBad) {
  EXPECT_EQ(decode("zz\r\n").status, Status::bad);
  EXPECT_EQ(decode(";x\r\n").status, Status::bad);
  EXPECT_EQ(decode("1 x\r\n").status, Status::bad);
  EXPECT_EQ(decode("1\nx\r\n").status, Status::bad);
  EXPECT_EQ(decode("1\r\nxY\r\n").status, Status::bad);
  EXPECT_EQ(decode("1\r\nx\r\r\n").status, Status::bad);
  EXPECT_EQ(decode("1;a\rb\r\nx\r\n").status, Status::bad);
  EXPECT_EQ(decode("1;a\x01\r\nx\r\n").status, Status::bad);
}

TEST(ChunkedDecoderTest, BodyLimitIsEnforcedFromTheChunkSize) {
  EXPECT_EQ(decode("ffffffffffffffffff\r\n").status, Status::too_large);
  EXPECT_EQ(decode("11\r\n", 16).status, Status::too_large);
  EXPECT_EQ(decode("8\r\n12345678\r\n9\r\n", 16).status, Status::too_large);
  EXPECT_EQ(decode("8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 16).status, Status::done);
}

}  // namespace
}  // namespace sb::gateway::framing
