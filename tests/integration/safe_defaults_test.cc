// Safe by default, through the real process: a non-Bearer Authorization does not hide a valid
// x-api-key; the admin plane's mutating and explaining endpoints need the admin token while
// probes and scrapes stay open; the process cannot dump core and keeps its key material in
// mappings excluded from core dumps; the startup log says where the data plane listens and why.

#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTenantKey = "sk-test-payments";
constexpr const char* kTenantKeyHash =
    "sha256:6e7619f899e820b5223eb451459f973b0bbdd8239bc2e2a85acb2bbc1ac5482c";
constexpr const char* kAdminToken = "admin-token-0123456789abcdef";
// Longer than the small-string buffer, so it lives in the secret mappings.
constexpr const char* kBackendKey = "sk-backend-key-kept-out-of-core-dumps";

class SafeDefaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { local_ = std::make_unique<FakeUpstream>(); }

  void start(const std::string& admin_extra) {
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 1}
admin:
  listen: "127.0.0.1:0"
)" + admin_extra + R"(backends:
  local:
    provider: vllm
    base_url: ")" + local_->base_url() +
                             R"("
    api_key: ")" + kBackendKey +
                             R"("
    model: m
tenants:
  payments: {api_keys: [")" + kTenantKeyHash +
                             R"("]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> chat(const std::vector<std::pair<std::string, std::string>>& h) {
    auto headers = h;
    headers.emplace_back("Content-Type", "application/json");
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body("local", "hello", false),
                   headers);
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(SafeDefaultsTest, XApiKeyIsUsedWhenAuthorizationIsNotABearerToken) {
  start("");
  // A proxy in front of the gateway may add Basic credentials of its own.
  auto basic = chat({{"Authorization", "Basic dXNlcjpwYXNz"}, {"x-api-key", kTenantKey}});
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 200u) << basic->body;
  // A Bearer token still wins over x-api-key, so a wrong one is refused.
  auto wrong_bearer = chat({{"Authorization", "Bearer sk-wrong"}, {"x-api-key", kTenantKey}});
  ASSERT_TRUE(wrong_bearer);
  EXPECT_EQ(wrong_bearer->status, 401u);
  // Basic alone carries no API key.
  auto basic_only = chat({{"Authorization", "Basic dXNlcjpwYXNz"}});
  ASSERT_TRUE(basic_only);
  EXPECT_EQ(basic_only->status, 401u);
  EXPECT_NE(basic_only->body.find("missing_api_key"), std::string::npos) << basic_only->body;
}

TEST_F(SafeDefaultsTest, AdminTokenGuardsReloadAndExplainButNotProbesOrMetrics) {
  start(std::string("  token: \"") + kAdminToken + "\"\n");
  const std::uint16_t admin = gw_->admin_port();
  const std::string explain_body = chat_body("local", "hello", false);
  for (const char* path : {"/admin/reload", "/admin/explain"}) {
    for (const auto& auth : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {},
             {{"Authorization", "Bearer wrong-token-0123456789"}},
             {{"Authorization", std::string("Basic ") + kAdminToken}},
             {{"x-api-key", kAdminToken}}}) {
      auto r = request(admin, "POST", path, explain_body, auth);
      ASSERT_TRUE(r) << path;
      EXPECT_EQ(r->status, 401u) << path;
      EXPECT_NE(r->body.find("\"code\":\"invalid_admin_token\""), std::string::npos) << r->body;
      EXPECT_NE(r->body.find("\"type\":\"authentication_error\""), std::string::npos) << r->body;
      EXPECT_EQ(r->header("www-authenticate"), "Bearer");
    }
  }
  const std::pair<std::string, std::string> bearer{"Authorization",
                                                   std::string("Bearer ") + kAdminToken};
  auto reload = request(admin, "POST", "/admin/reload", {}, {bearer});
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->status, 200u) << reload->body;
  // With a token, the tenant's key for explain travels in x-api-key.
  auto explained =
      request(admin, "POST", "/admin/explain", explain_body, {bearer, {"x-api-key", kTenantKey}});
  ASSERT_TRUE(explained);
  EXPECT_EQ(explained->status, 200u) << explained->body;
  // The admin token is not a tenant key: without x-api-key explain has no tenant to decide for.
  auto no_tenant = request(admin, "POST", "/admin/explain", explain_body, {bearer});
  ASSERT_TRUE(no_tenant);
  EXPECT_EQ(no_tenant->status, 401u);
  EXPECT_NE(no_tenant->body.find("no API key and no anonymous tenant"), std::string::npos)
      << no_tenant->body;
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto r = request(admin, "GET", path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200u) << path;
  }
}

TEST_F(SafeDefaultsTest, WithoutATokenOnLoopbackTheAdminEndpointsStayOpen) {
  start("");
  auto reload = request(gw_->admin_port(), "POST", "/admin/reload");
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->status, 200u) << reload->body;
}

// Addresses change only on restart: a reload that moves admin.listen to loopback cannot drop the
// token while the running admin plane still listens beyond loopback.
TEST_F(SafeDefaultsTest, ReloadCannotDropTheTokenOfAnAdminPlaneBoundBeyondLoopback) {
  const std::string backends = R"(backends:
  local: {provider: vllm, base_url: ")" +
                               local_->base_url() +
                               R"(", model: m}
)";
  // Bound on every interface for the test's length; the test only connects over loopback.
  gw_ = std::make_unique<GatewayProcess>(std::string(R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "0.0.0.0:0", token: ")") +
                                         kAdminToken + "\"}\n" + backends);
  ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  gw_->write_config(
      "server: {listen: \"127.0.0.1:0\", threads: 1}\nadmin: {listen: "
      "\"127.0.0.1:0\"}\n" +
      backends);
  const std::pair<std::string, std::string> bearer{"Authorization",
                                                   std::string("Bearer ") + kAdminToken};
  auto reload = request(gw_->admin_port(), "POST", "/admin/reload", {}, {bearer});
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->status, 400u) << reload->body;
  EXPECT_TRUE(gw_->wait_for_log("the admin token cannot be removed by a reload", 5s))
      << gw_->stderr_text();
  auto without = request(gw_->admin_port(), "POST", "/admin/reload");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->status, 401u) << without->body;
}

// The value of a field of the "process hardening" startup log line.
std::string hardening_field(const std::string& log, const std::string& field) {
  const auto line = log.find("\"msg\":\"process hardening\"");
  if (line == std::string::npos) {
    return {};
  }
  const std::string key = "\"" + field + "\":\"";
  const auto at = log.find(key, line);
  if (at == std::string::npos) {
    return {};
  }
  const auto start = at + key.size();
  return log.substr(start, log.find('"', start) - start);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(SafeDefaultsTest, ProcessCannotDumpCoreAndKeysAreInMappingsExcludedFromDumps) {
  start(std::string("  token: \"") + kAdminToken + "\"\n");
  ASSERT_TRUE(gw_->wait_for_log("process hardening", 5s)) << gw_->stderr_text();
  const std::string log = gw_->stderr_text();
  const std::string pid = hardening_field(log, "pid");
  ASSERT_FALSE(pid.empty()) << log;
  EXPECT_EQ(hardening_field(log, "dumpable"), "0") << log;

  // The kernel's view: no core file may be written.
  const std::string limits = read_file("/proc/" + pid + "/limits");
  std::istringstream lines(limits);
  bool found = false;
  for (std::string l; std::getline(lines, l);) {
    if (l.starts_with("Max core file size")) {
      std::istringstream words(l.substr(18));
      std::string soft;
      std::string hard;
      words >> soft >> hard;
      EXPECT_EQ(soft, "0") << l;
      EXPECT_EQ(hard, "0") << l;
      found = true;
    }
  }
  EXPECT_TRUE(found) << limits;

  // The admin token and the backend key (both longer than the small-string buffer) sit in their
  // own mappings, which the kernel leaves out of core dumps (VmFlags "dd").
  EXPECT_GE(std::stoi(hardening_field(log, "secret_mappings")), 2) << log;
  const std::string first = hardening_field(log, "first_secret_mapping");
  ASSERT_TRUE(first.starts_with("0x")) << log;
  const std::string smaps = read_file("/proc/" + pid + "/smaps");
  if (::geteuid() != 0) {
    // Without CAP_SYS_PTRACE, another process of the same user cannot read the memory map of a
    // non-dumpable process: that refusal is the kernel's confirmation.
    EXPECT_TRUE(smaps.empty()) << "a same-user process could read /proc/" << pid << "/smaps";
    return;
  }
  ASSERT_FALSE(smaps.empty()) << "cannot read /proc/" << pid << "/smaps";
  const auto mapping = smaps.find(first.substr(2) + "-");
  ASSERT_NE(mapping, std::string::npos) << first << "\n" << smaps.substr(0, 2000);
  const auto flags = smaps.find("VmFlags:", mapping);
  ASSERT_NE(flags, std::string::npos);
  const std::string vmflags = smaps.substr(flags, smaps.find('\n', flags) - flags);
  EXPECT_NE((vmflags + " ").find(" dd "), std::string::npos) << vmflags;
}

TEST_F(SafeDefaultsTest, StartupLogSaysWhereTheDataPlaneListensAndWhy) {
  start("");
  ASSERT_TRUE(gw_->wait_for_log("data plane address", 5s)) << gw_->stderr_text();
  const std::string log = gw_->stderr_text();
  EXPECT_NE(log.find("\"address\":\"127.0.0.1:0\",\"why\":\"set by server.listen\""),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace sb::testing
