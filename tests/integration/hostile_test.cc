// Hostile and broken clients against the real process: request smuggling framings, oversized
// bodies, slow headers. Each must get a clear error and a closed connection, and nothing may
// reach the upstream.

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

class HostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FakeUpstreamOptions o;
    o.name = "local";
    local_ = new FakeUpstream(o);
    closed_ = new FakeUpstream();
    Settings s;
    s.down_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
    s.server_extra = "  max_body_bytes: 1KiB\n  header_timeout: 300ms\n  idle_timeout: 600ms\n";
    gw_ = new GatewayProcess(make_config(*local_, *closed_, s));
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete closed_;
    delete local_;
  }
  void SetUp() override { ASSERT_TRUE(gw_->started()) << gw_->stderr_text(); }

  static FakeUpstream* local_;
  static FakeUpstream* closed_;
  static GatewayProcess* gw_;
};
FakeUpstream* HostileTest::local_ = nullptr;
FakeUpstream* HostileTest::closed_ = nullptr;
GatewayProcess* HostileTest::gw_ = nullptr;

struct RawCase {
  const char* name;
  std::string bytes;
  unsigned status;
};

std::string post(const std::string& headers, const std::string& body) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + body;
}

TEST_F(HostileTest, EveryFramingAttackIsRejectedAndClosed) {
  const std::string body = chat_body("default", "smuggled", false);
  const std::string len = std::to_string(body.size());
  const std::vector<RawCase> cases = {
      {"cl+te", post("Content-Length: " + len + "\r\nTransfer-Encoding: chunked\r\n", body), 400},
      {"te+cl", post("Transfer-Encoding: chunked\r\nContent-Length: " + len + "\r\n", body), 400},
      {"te gzip,chunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 400},
      {"te twice",
       post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400},
      {"te identity", post("Transfer-Encoding: identity\r\n", body), 400},
      {"te on 1.0",
       "POST /v1/chat/completions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"cl negative", post("Content-Length: -1\r\n", body), 400},
      {"cl plus", post("Content-Length: +" + len + "\r\n", body), 400},
      {"cl conflicting", post("Content-Length: " + len + "\r\nContent-Length: 3\r\n", body), 400},
      {"cl list conflicting", post("Content-Length: " + len + ", 3\r\n", body), 400},
      {"cl junk", post("Content-Length: 12abc\r\n", body), 400},
      {"obs-fold", post("X-Folded: a\r\n b\r\nContent-Length: " + len + "\r\n", body), 400},
      {"space before colon", post("Content-Length : " + len + "\r\n", body), 400},
      {"tab before colon", post("Transfer-Encoding\t: chunked\r\n", "0\r\n\r\n"), 400},
      {"bare LF", "POST /v1/chat/completions HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}", 400},
      {"no host", "GET /v1/models HTTP/1.1\r\n\r\n", 400},
      {"two hosts", "GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"http/2 line", "GET /v1/models HTTP/2.0\r\nHost: a\r\n\r\n", 505},
  };
  for (const auto& c : cases) {
    Client client(gw_->port(), 5s);
    ASSERT_TRUE(client.connected());
    client.send_raw(c.bytes);
    auto r = client.read_response();
    ASSERT_TRUE(r) << c.name;
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    EXPECT_EQ(r->header("Connection"), "close") << c.name;
    EXPECT_TRUE(r->closed) << c.name;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos) << c.name;
  }
  EXPECT_EQ(local_->requests().size(), 0u) << "no smuggled request may reach the upstream";
}

TEST_F(HostileTest, OversizedBodyIs413FromContentLengthWithoutReadingIt) {
  Client client(gw_->port(), 5s);
  client.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
  EXPECT_TRUE(r->closed);
}

TEST_F(HostileTest, OversizedChunkedBodyIs413) {
  Client client(gw_->port(), 5s);
  std::string big(2000, 'a');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", big.size());
  client.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      std::string(size) + "\r\n" + big + "\r\n0\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
}

TEST_F(HostileTest, HeaderBlockOverTheLimitIs431) {
  Client client(gw_->port(), 5s);
  std::string headers = "GET /v1/models HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) {
    headers += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'f') + "\r\n";
  }
  client.send_raw(headers + "\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431u);
}

TEST_F(HostileTest, SlowHeaderIsClosedAtTheHeaderTimeout) {
  Client client(gw_->port(), 5s);
  client.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
  // ... and never finishes the header (slowloris): the gateway closes at header_timeout
  // (300 ms here), well before the client's own 5 s receive timeout would end the wait.
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(client.read_until_close(), "");
}

TEST_F(HostileTest, RequestsEndedBeforeAnyHandlerAreCountedByReason) {
  // They have no request id and no access line: the counter is how an operator sees junk
  // traffic and slowloris. Counted from what the gateway already counted (the suite shares it).
  const std::string family = R"(switchboard_client_protocol_errors_total{plane="data",reason=")";
  const auto count = [&](const std::string& metrics, const char* reason) {
    const std::string key = family + reason + "\"} ";
    const std::size_t at = metrics.find(key);
    return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + key.size()));
  };
  const char* reasons[] = {"malformed", "header_too_large", "version", "header_timeout"};
  const std::string before = wait_for_metrics(gw_->admin_port(), {family + "header_timeout"});
  std::string filler;
  for (int i = 0; i < 2000; ++i) {
    filler += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'f') + "\r\n";
  }
  const std::string sends[] = {
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
      "Transfer-Encoding: chunked\r\n\r\n{}",
      "GET /v1/models HTTP/1.1\r\nHost: x\r\n" + filler + "\r\n",
      "GET /v1/models HTTP/2.0\r\nHost: a\r\n\r\n",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",  // never finished
  };
  for (const std::string& bytes : sends) {
    Client client(gw_->port(), 5s);
    ASSERT_TRUE(client.connected());
    client.send_raw(bytes);
    EXPECT_TRUE(client.wait_closed());
  }
  std::vector<std::string> want;
  for (const char* r : reasons) {
    ASSERT_GE(count(before, r), 0) << r << " not exported:\n" << before;
    want.push_back(family + r + "\"} " + std::to_string(count(before, r) + 1) + "\n");
  }
  const std::string after = wait_for_metrics(gw_->admin_port(), want);
  for (const char* r : reasons) {
    EXPECT_EQ(count(after, r), count(before, r) + 1) << r << "\n" << after;
  }
  EXPECT_EQ(local_->requests().size(), 0u);
}

TEST_F(HostileTest, IdleKeepAliveConnectionIsClosedAtTheIdleTimeout) {
  Client client(gw_->port(), 5s);
  client.send_raw("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_FALSE(r->closed);
  // Nothing more is sent: the gateway closes at idle_timeout (600 ms here), before the client's
  // own 5 s receive timeout.
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(HostileTest, MalformedChunkedBodyIsRejected) {
  Client client(gw_->port(), 5s);
  client.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
}

TEST_F(HostileTest, BodyErrorsOnTheMessagesApiAreInAnthropicsShape) {
  // The connection layer answers these itself, before any handler runs: in the shape the route's
  // client reads (an Anthropic SDK looks for {"type":"error","error":{"type",...}}).
  const std::string chunked = "Transfer-Encoding: chunked\r\n\r\n";
  const struct {
    const char* target;
    std::string rest;  // the header's end and the body
    unsigned status;
    const char* type;
  } cases[] = {
      {"/v1/messages", "Content-Length: 5000\r\n\r\n", 413, "request_too_large"},
      {"/v1/messages/count_tokens?beta=true", "Content-Length: 5000\r\n\r\n", 413,
       "request_too_large"},
      {"/v1/messages", chunked + "7d0\r\n" + std::string(2000, 'a') + "\r\n0\r\n\r\n", 413,
       "request_too_large"},
      {"/v1/messages", chunked + "zz\r\n", 400, "invalid_request_error"},
      // Elsewhere, OpenAI's shape.
      {"/v1/chat/completions", "Content-Length: 5000\r\n\r\n", 413, nullptr},
      {"/v1/responses", chunked + "zz\r\n", 400, nullptr},
  };
  for (const auto& c : cases) {
    Client client(gw_->port(), 5s);
    client.send_raw(std::string("POST ") + c.target + " HTTP/1.1\r\nHost: x\r\n" + c.rest);
    auto r = client.read_response();
    ASSERT_TRUE(r) << c.target;
    EXPECT_EQ(r->status, c.status) << c.target;
    const boost::json::value v = boost::json::parse(r->body);
    if (c.type != nullptr) {
      EXPECT_EQ(v.at("type"), "error") << r->body;
      EXPECT_EQ(v.at("error").at("type"), c.type) << r->body;
      EXPECT_FALSE(v.at("error").at("message").as_string().empty()) << r->body;
    } else {
      EXPECT_TRUE(v.at("error").as_object().contains("param")) << r->body;
      EXPECT_FALSE(v.as_object().contains("type")) << r->body;
    }
  }
}

TEST_F(HostileTest, CompressedBodiesAre415AndNeverForwarded) {
  // A gzip body is neither parsed nor scanned: refused in the route's shape, whatever it holds,
  // and nothing reaches an upstream. `identity` is no coding at all.
  const std::size_t before = local_->requests().size() + closed_->requests().size();
  const std::string json = R"({"model":"default","messages":[{"role":"user","content":"hi"}]})";
  const std::string gzip_bytes("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  const struct {
    const char* target;
    const char* coding;
    const char* type;  // the Anthropic error type, or nullptr for OpenAI's shape
  } cases[] = {
      {"/v1/chat/completions", "gzip", nullptr},
      {"/v1/responses", "br", nullptr},
      {"/v1/messages", "gzip", "invalid_request_error"},
      {"/v1/chat/completions", "identity, deflate", nullptr},
  };
  for (const auto& c : cases) {
    Client client(gw_->port(), 5s);
    client.send_raw(
        std::string("POST ") + c.target + " HTTP/1.1\r\nHost: x\r\nContent-Encoding: " + c.coding +
        "\r\nContent-Length: " + std::to_string(gzip_bytes.size()) + "\r\n\r\n" + gzip_bytes);
    auto r = client.read_response();
    ASSERT_TRUE(r) << c.target;
    EXPECT_EQ(r->status, 415u) << c.target;
    const boost::json::value v = boost::json::parse(r->body);
    EXPECT_NE(v.at("error").at("message").as_string().find("send the request body uncompressed"),
              std::string::npos)
        << r->body;
    if (c.type != nullptr) {
      EXPECT_EQ(v.at("type"), "error") << r->body;
      EXPECT_EQ(v.at("error").at("type"), c.type) << r->body;
    } else {
      EXPECT_EQ(v.at("error").at("code"), "unsupported_content_encoding") << r->body;
    }
  }
  EXPECT_EQ(local_->requests().size() + closed_->requests().size(), before);
  Client client(gw_->port(), 5s);
  client.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Encoding: "
      "identity\r\nContent-Length: " +
      std::to_string(json.size()) + "\r\n\r\n" + json);
  auto ok = client.read_response();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200u) << ok->body;
}

TEST_F(HostileTest, BodyErrorsAreRecordedWithTheirRequestId) {
  // The connection layer's own refusals are requests like any other for the operator: the answer
  // carries the request id, the access log has its line, and the request counter its status.
  const std::string chunked = "Transfer-Encoding: chunked\r\n\r\n";
  const struct {
    const char* id;
    const char* target;
    std::string rest;
    unsigned status;
  } cases[] = {
      {"refused-length", "/v1/chat/completions", "Content-Length: 5000\r\n\r\n", 413},
      {"refused-chunks", "/v1/messages",
       chunked + "7d0\r\n" + std::string(2000, 'a') + "\r\n0\r\n\r\n", 413},
      {"refused-framing", "/v1/embeddings", chunked + "zz\r\n", 400},
  };
  for (const auto& c : cases) {
    Client client(gw_->port(), 5s);
    client.send_raw(std::string("POST ") + c.target +
                    " HTTP/1.1\r\nHost: x\r\nx-request-id: " + c.id + "\r\n" + c.rest);
    auto r = client.read_response();
    ASSERT_TRUE(r) << c.id;
    EXPECT_EQ(r->status, c.status) << c.id;
    EXPECT_EQ(r->header("x-request-id"), c.id);
    EXPECT_EQ(r->header("connection"), "close") << c.id;
  }
  // Each line is awaited: the gateway's two workers may write them in either order.
  for (const auto& c : cases) {
    const std::string line = gw_->access_line(c.id, 3s);
    ASSERT_FALSE(line.empty()) << c.id << " has no access line:\n" << gw_->stdout_text();
    EXPECT_NE(line.find(R"("status":)" + std::to_string(c.status)), std::string::npos) << line;
    EXPECT_NE(line.find(std::string(R"("path":")") + c.target + '"'), std::string::npos) << line;
  }
  const std::string m =
      wait_for_metrics(gw_->admin_port(), {R"(rule="none",status="413",tenant="default"})",
                                           R"(rule="none",status="400",tenant="default"})"});
  EXPECT_NE(m.find(R"(status="413",tenant="default"})"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(status="400",tenant="default"})"), std::string::npos) << m;
}

TEST_F(HostileTest, DeeplyNestedJsonIsA400NotACrash) {
  std::string body = "{\"model\":\"default\",\"messages\":";
  body += std::string(500, '[');
  body += std::string(500, ']');
  body += "}";
  // Over the 1 KiB limit of this config: 413. Under a larger limit the depth limit answers 400.
  auto r = request(gw_->port(), "POST", "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->status == 400u || r->status == 413u) << r->status;
  auto again = request(gw_->port(), "GET", "/v1/models");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200u);
}

}  // namespace
}  // namespace sb::testing
