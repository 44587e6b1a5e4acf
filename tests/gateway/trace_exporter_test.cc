// The exporter against a loopback collector that answers, refuses or hangs: what arrives is the
// encoder's bytes; a full queue drops and counts without blocking; a dead or hanging endpoint
// counts failures; stop() flushes. And the Tracer facade: off, server spans from a traceparent,
// children, submit.

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/observability/trace_attributes.h"
#include "gateway/observability/trace_exporter.h"

namespace sb::gateway::trace {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A collector on 127.0.0.1:0 serving one connection at a time: answers `status` (recording each
// request), or with `hang` reads the request and never answers.
class FakeCollector {
 public:
  explicit FakeCollector(unsigned status, bool hang = false)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        status_(status),
        hang_(hang) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeCollector() {
    stop_ = true;
    boost::system::error_code ec;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the blocking accept (Linux)
    {
      std::lock_guard lock(mutex_);
      for (tcp::socket* s : open_) {
        s->shutdown(tcp::socket::shutdown_both, ec);
      }
    }
    thread_.join();
    acceptor_.close(ec);
  }
  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/v1/traces";
  }
  std::vector<http::request<http::string_body>> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) {
        return;
      }
      {
        std::lock_guard lock(mutex_);
        open_.push_back(&socket);
      }
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (!ec) {
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(req);
        }
        if (hang_) {
          char c;
          socket.read_some(asio::buffer(&c, 1), ec);  // until the client gives up
        } else {
          http::response<http::string_body> res{static_cast<http::status>(status_), 11};
          res.set(http::field::content_type, "application/x-protobuf");
          res.prepare_payload();
          http::write(socket, res, ec);
        }
      }
      std::lock_guard lock(mutex_);
      open_.clear();
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned status_;
  bool hang_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<tcp::socket*> open_;
  std::vector<http::request<http::string_body>> requests_;
  std::thread thread_;
};

// A port nothing listens on: bound, then closed.
std::string refused_endpoint() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const unsigned short port = a.local_endpoint().port();
  a.close();
  return "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
}

Span span_named(std::string name) {
  Span s;
  s.trace_id = new_trace_id();
  s.span_id = new_span_id();
  s.flags = kSampledFlag;
  s.name = std::move(name);
  s.start_unix_nano = 1;
  s.end_unix_nano = 2;
  return s;
}

config::TraceSettings options(std::string endpoint) {
  config::TraceSettings o;
  o.endpoint = std::move(endpoint);
  o.queue = 16;
  o.batch = 16;
  o.interval = 60s;  // only stop() or a full batch sends
  o.timeout = 2s;
  o.headers = {{"authorization", "Bearer t"}};
  return o;
}

ResourceInfo resource() {
  ResourceInfo r;
  r.service_name = "svc";
  return r;
}

TEST(TraceExporterTest, StopSendsTheQueuedSpansAsTheEncoderWritesThem) {
  FakeCollector collector(200);
  config::TraceSettings o = options(collector.endpoint());
  TraceExporter exporter(o, resource());
  std::vector<Span> spans{span_named("a"), span_named("b"), span_named("c")};
  std::string expected;
  encode_export_request(resource(), spans, expected);
  for (Span& s : spans) {
    EXPECT_TRUE(exporter.submit(Span(s)));
  }
  exporter.stop();
  const TraceExporter::Counters c = exporter.counters();
  EXPECT_EQ(c.exported, 3u);
  EXPECT_EQ(c.requests, 1u);
  EXPECT_EQ(c.dropped + c.failed + c.failed_requests, 0u);
  const auto requests = collector.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method(), http::verb::post);
  EXPECT_EQ(requests[0].target(), "/v1/traces");
  EXPECT_EQ(requests[0][http::field::content_type], "application/x-protobuf");
  EXPECT_EQ(requests[0]["authorization"], "Bearer t");
  EXPECT_EQ(requests[0].body(), expected);
  EXPECT_FALSE(exporter.submit(span_named("late")));
  EXPECT_EQ(exporter.counters().dropped, 1u);
}

TEST(TraceExporterTest, AFullBatchIsSentWithoutWaitingForTheInterval) {
  FakeCollector collector(200);
  config::TraceSettings o = options(collector.endpoint());
  o.batch = 4;
  TraceExporter exporter(o, resource());
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(exporter.submit(span_named("s")));
  }
  for (int i = 0; i < 1000 && exporter.counters().exported < 4; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(exporter.counters().exported, 4u);  // the interval is a minute
}

TEST(TraceExporterTest, AFullQueueDropsAndCountsWithoutBlocking) {
  FakeCollector collector(200, /*hang=*/true);
  config::TraceSettings o = options(collector.endpoint());
  o.queue = 4;
  o.batch = 4;
  o.timeout = 500ms;
  TraceExporter exporter(o, resource());
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) {
    accepted += exporter.submit(span_named("s")) ? 1 : 0;
  }
  const TraceExporter::Counters before = exporter.counters();
  EXPECT_GT(before.dropped, 0u);
  EXPECT_EQ(accepted + before.dropped, 1000u);
  exporter.stop();
  const TraceExporter::Counters c = exporter.counters();
  EXPECT_EQ(c.exported, 0u);
  EXPECT_EQ(c.exported + c.dropped + c.failed, 1000u);  // every span accounted for once
}

TEST(TraceExporterTest, RefusedEndpointCountsFailedSpans) {
  TraceExporter exporter(options(refused_endpoint()), resource());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(exporter.submit(span_named("s")));
  }
  exporter.stop();
  const TraceExporter::Counters c = exporter.counters();
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.failed_requests, 1u);
  EXPECT_EQ(c.exported + c.requests + c.dropped, 0u);
}

TEST(TraceExporterTest, HangingEndpointTimesOutAndCountsFailedSpans) {
  FakeCollector collector(200, /*hang=*/true);
  config::TraceSettings o = options(collector.endpoint());
  o.timeout = 300ms;
  TraceExporter exporter(o, resource());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(exporter.submit(span_named("s")));
  }
  exporter.stop();
  const TraceExporter::Counters c = exporter.counters();
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.failed_requests, 1u);
  EXPECT_EQ(collector.requests().size(), 1u);
}

TEST(TraceExporterTest, ErrorStatusCountsFailedSpans) {
  FakeCollector collector(503);
  TraceExporter exporter(options(collector.endpoint()), resource());
  EXPECT_TRUE(exporter.submit(span_named("s")));
  exporter.stop();
  EXPECT_EQ(exporter.counters().failed, 1u);
  EXPECT_EQ(exporter.counters().exported, 0u);
}

TEST(TraceExporterTest, RejectsANonHttpEndpoint) {
  EXPECT_THROW(TraceExporter(options("https://127.0.0.1:1/v1/traces"), resource()),
               std::invalid_argument);
}

config::TraceSettings settings(std::string endpoint, double ratio = 1.0) {
  config::TraceSettings s;
  s.enabled = true;
  s.endpoint = std::move(endpoint);
  s.sample_ratio = ratio;
  s.interval = 60s;
  return s;
}

TEST(TracerTest, OffCostsNothingAndReturnsNothing) {
  Tracer off;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.start_server_span("", "", "POST /v1/chat/completions"));
  EXPECT_FALSE(off.submit(span_named("s")));
  config::TraceSettings disabled = settings("http://127.0.0.1:1/v1/traces");
  disabled.enabled = false;
  EXPECT_FALSE(Tracer(disabled, "1").start_server_span("", "", "x"));
}

TEST(TracerTest, ServerSpanContinuesTheClientsTrace) {
  Tracer tracer(settings(refused_endpoint(), 0.0), "1.2.3");
  const std::optional<Span> s = tracer.start_server_span(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE", "POST", 5);
  ASSERT_TRUE(s);
  EXPECT_EQ(to_hex(s->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(s->parent_span_id), "00f067aa0ba902b7");
  EXPECT_TRUE(s->parent_remote);
  EXPECT_TRUE(s->sampled());  // the parent's flag wins over ratio 0
  EXPECT_EQ(s->trace_state, "congo=t61rcWkgMzE");
  EXPECT_EQ(s->kind, SpanKind::server);
  EXPECT_EQ(s->start_unix_nano, 5u);
  EXPECT_NE(to_hex(s->span_id), "00f067aa0ba902b7");

  const Span child = Tracer::start_child(*s, SpanKind::client, "chat m", 6);
  EXPECT_EQ(child.trace_id, s->trace_id);
  EXPECT_EQ(child.parent_span_id, s->span_id);
  EXPECT_FALSE(child.parent_remote);
  EXPECT_TRUE(child.sampled());
  EXPECT_EQ(child.trace_state, s->trace_state);
  const auto tp = child.traceparent();
  EXPECT_EQ(std::string(tp.data(), tp.size()),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-" + to_hex(child.span_id) + "-01");
}

TEST(TracerTest, UnsampledParentIsFollowedAndNotExported) {
  Tracer tracer(settings(refused_endpoint(), 1.0), "1");
  std::optional<Span> s = tracer.start_server_span(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "", "POST");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->sampled());
  const auto tp = s->traceparent();
  EXPECT_EQ(std::string(tp.data() + 53, 2), "00");  // propagated as not sampled
  EXPECT_FALSE(tracer.submit(std::move(*s)));
  tracer.stop();
  EXPECT_EQ(tracer.counters().failed + tracer.counters().dropped, 0u);
}

TEST(TracerTest, InvalidTraceparentStartsANewRootAndDropsTracestate) {
  Tracer tracer(settings(refused_endpoint(), 1.0), "1");
  const std::optional<Span> s = tracer.start_server_span("00-zz", "a=b", "POST");
  ASSERT_TRUE(s);
  EXPECT_TRUE(is_zero(s->parent_span_id));
  EXPECT_FALSE(s->parent_remote);
  EXPECT_TRUE(s->trace_state.empty());
  EXPECT_TRUE(s->sampled());
  EXPECT_FALSE(
      Tracer(settings(refused_endpoint(), 0.0), "1").start_server_span("", "", "x")->sampled());
}

TEST(TracerTest, SubmitSetsTheEndTimeAndExports) {
  FakeCollector collector(200);
  Tracer tracer(settings(collector.endpoint()), "1");
  std::optional<Span> s = tracer.start_server_span("", "", "POST", 10);
  ASSERT_TRUE(s);
  s->set_string(attr::kHttpRequestMethod, "POST");
  EXPECT_TRUE(tracer.submit(std::move(*s), 20));
  tracer.stop();
  EXPECT_EQ(tracer.counters().exported, 1u);
  ASSERT_EQ(collector.requests().size(), 1u);
  // end_time_unix_nano (field 8, fixed64) = 20.
  const std::string end = {0x41, 20, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_NE(collector.requests()[0].body().find(end), std::string::npos);
}

}  // namespace
}  // namespace sb::gateway::trace
