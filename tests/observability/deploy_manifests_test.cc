// The deployment files are well-formed and agree with each other: every YAML file parses, every
// dashboard is valid JSON wired to the provisioned datasource with tenant and backend variables,
// every alert has promtool unit tests that fire and that stay quiet, the Kubernetes objects
// reference each other consistently, the configs embedded in the ConfigMap and in compose.yaml
// pass the gateway's own `check`, and the image builds through deploy/dev.sh.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>

namespace sb::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kDeploy = fs::path(SB_SOURCE_DIR) / "deploy";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> files_under(const fs::path& dir, const std::set<std::string>& extensions) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && extensions.contains(entry.path().extension().string())) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<YAML::Node> k8s_documents() {
  std::vector<YAML::Node> out;
  for (const fs::path& p : files_under(kDeploy / "k8s", {".yaml", ".yml"})) {
    if (p.filename() == "kustomization.yaml") {
      continue;
    }
    for (const YAML::Node& doc : YAML::LoadAllFromFile(p.string())) {
      if (doc && !doc.IsNull()) {
        out.push_back(doc);
      }
    }
  }
  return out;
}

YAML::Node k8s_object(const std::string& kind) {
  for (const YAML::Node& doc : k8s_documents()) {
    if (doc["kind"].as<std::string>() == kind) {
      return doc;
    }
  }
  return YAML::Node();
}

/// A stand-in admin token for the configs that read SWITCHBOARD_ADMIN_TOKEN.
constexpr const char* kAdminTokenEnv =
    "SWITCHBOARD_ADMIN_TOKEN=deploy-test-admin-token-0123 REDIS_PASSWORD=deploy-test-redis-password";

/// Runs `switchboard check` on `yaml` with `env` (NAME=value words) set; its exit code, with its
/// output in `output`.
int switchboard_check(const std::string& yaml, std::string& output,
                      const std::string& env = kAdminTokenEnv) {
  char tmpl[] = "/tmp/switchboard-deploy-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return -1;
  }
  const fs::path file = fs::path(tmpl) / "switchboard.yaml";
  std::ofstream(file) << yaml;
  const std::string cmd =
      "env " + env + " '" + SB_SWITCHBOARD_BIN + "' check --config '" + file.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) {
    output += buf;
  }
  const int status = p != nullptr ? pclose(p) : -1;
  fs::remove_all(tmpl);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// --------------------------------------------------------------------------------------------

TEST(DeployFilesTest, EveryYamlFileParses) {
  const auto files = files_under(kDeploy, {".yaml", ".yml"});
  EXPECT_GE(files.size(), 15u);
  for (const fs::path& p : files) {
    EXPECT_NO_THROW({
      const auto docs = YAML::LoadAllFromFile(p.string());
      EXPECT_FALSE(docs.empty()) << p;
    }) << p;
  }
}

TEST(DeployFilesTest, EveryDashboardIsValidJson) {
  const auto files = files_under(kDeploy / "grafana" / "dashboards", {".json"});
  EXPECT_EQ(files.size(), 3u);
  for (const fs::path& p : files) {
    boost::system::error_code ec;
    const json::value v = json::parse(read_text(p), ec);
    EXPECT_FALSE(ec) << p << ": " << ec.message();
    EXPECT_TRUE(v.is_object()) << p;
  }
}

// --- Grafana ---------------------------------------------------------------------------------

std::string provisioned_datasource_uid() {
  const YAML::Node ds =
      YAML::LoadFile((kDeploy / "grafana/provisioning/datasources/switchboard.yaml").string());
  return ds["datasources"][0]["uid"].as<std::string>();
}

void check_panels(const std::string& file, const json::array& panels, const std::string& uid,
                  std::set<std::int64_t>& ids, std::size_t& queries) {
  for (const json::value& pv : panels) {
    const json::object& p = pv.as_object();
    const std::string title(p.at("title").as_string());
    EXPECT_TRUE(ids.insert(p.at("id").as_int64()).second) << file << ": duplicate id, " << title;
    const json::object& grid = p.at("gridPos").as_object();
    EXPECT_LE(grid.at("x").as_int64() + grid.at("w").as_int64(), 24) << file << ": " << title;
    if (p.at("type") == "row") {
      check_panels(file, p.at("panels").as_array(), uid, ids, queries);
      continue;
    }
    EXPECT_EQ(p.at("datasource").at("uid"), uid.c_str()) << file << ": " << title;
    const json::array& targets = p.at("targets").as_array();
    EXPECT_FALSE(targets.empty()) << file << ": " << title;
    for (const json::value& t : targets) {
      EXPECT_FALSE(t.at("expr").as_string().empty()) << file << ": " << title;
      EXPECT_EQ(t.at("datasource").at("uid"), uid.c_str()) << file << ": " << title;
      ++queries;
    }
  }
}

TEST(GrafanaTest, DashboardsUseTheProvisionedDatasourceAndTenantAndBackendVariables) {
  const std::string uid = provisioned_datasource_uid();
  std::set<std::string> uids;
  for (const fs::path& p : files_under(kDeploy / "grafana" / "dashboards", {".json"})) {
    const std::string file = p.filename().string();
    const json::object d = json::parse(read_text(p)).as_object();
    EXPECT_TRUE(uids.insert(std::string(d.at("uid").as_string())).second) << file;

    std::map<std::string, std::string> vars;
    for (const json::value& v : d.at("templating").at("list").as_array()) {
      EXPECT_EQ(v.at("type"), "query") << file;
      EXPECT_EQ(v.at("datasource").at("uid"), uid.c_str()) << file;
      EXPECT_EQ(v.at("allValue"), ".*") << file;
      vars[std::string(v.at("name").as_string())] = v.at("definition").as_string();
    }
    for (const char* name : {"tenant", "backend"}) {
      ASSERT_TRUE(vars.contains(name)) << file << ": no $" << name << " variable";
      EXPECT_TRUE(vars[name].starts_with("label_values(switchboard_"))
          << file << ": " << vars[name];
      EXPECT_TRUE(vars[name].ends_with(std::string(", ") + name + ")"))
          << file << ": " << vars[name];
    }

    std::set<std::int64_t> ids;
    std::size_t queries = 0;
    check_panels(file, d.at("panels").as_array(), uid, ids, queries);
    EXPECT_GE(queries, 10u) << file;
  }
}

TEST(GrafanaTest, DashboardProviderReadsTheDirectoryComposeMounts) {
  const YAML::Node provider =
      YAML::LoadFile((kDeploy / "grafana/provisioning/dashboards/switchboard.yaml").string());
  const std::string path = provider["providers"][0]["options"]["path"].as<std::string>();
  const YAML::Node compose = YAML::LoadFile((kDeploy / "compose.yaml").string());
  bool mounted = false;
  for (const YAML::Node& v : compose["services"]["grafana"]["volumes"]) {
    mounted = mounted || v.as<std::string>() == "./grafana/dashboards:" + path + ":ro";
  }
  EXPECT_TRUE(mounted) << "compose.yaml does not mount ./grafana/dashboards at " << path;
}

// --- Prometheus ------------------------------------------------------------------------------

TEST(PrometheusRulesTest, EveryAlertHasUnitTestsThatFireAndThatStayQuiet) {
  std::set<std::string> alerts;
  for (const fs::path& p : files_under(kDeploy / "prometheus" / "rules", {".yml", ".yaml"})) {
    for (const YAML::Node& group : YAML::LoadFile(p.string())["groups"]) {
      for (const YAML::Node& rule : group["rules"]) {
        if (rule["alert"]) {
          EXPECT_TRUE(rule["labels"]["severity"]) << rule["alert"].as<std::string>();
          EXPECT_TRUE(rule["annotations"]["summary"]) << rule["alert"].as<std::string>();
          alerts.insert(rule["alert"].as<std::string>());
        }
      }
    }
  }
  EXPECT_GE(alerts.size(), 7u);

  std::set<std::string> firing;
  std::set<std::string> quiet;
  const YAML::Node tests =
      YAML::LoadFile((kDeploy / "prometheus/tests/switchboard.test.yml").string());
  for (const YAML::Node& t : tests["tests"]) {
    for (const YAML::Node& a : t["alert_rule_test"]) {
      const std::string name = a["alertname"].as<std::string>();
      EXPECT_TRUE(alerts.contains(name)) << "test of an unknown alert " << name;
      (a["exp_alerts"].size() > 0 ? firing : quiet).insert(name);
    }
  }
  for (const std::string& name : alerts) {
    EXPECT_TRUE(firing.contains(name)) << name << " has no test where it fires";
    EXPECT_TRUE(quiet.contains(name)) << name << " has no test where it stays quiet";
  }
}

TEST(PrometheusRulesTest, ComposeMountsTheConfigAndTheRules) {
  const YAML::Node prom = YAML::LoadFile((kDeploy / "prometheus/prometheus.yml").string());
  bool job = false;
  for (const YAML::Node& j : prom["scrape_configs"]) {
    job = job || j["job_name"].as<std::string>() == "switchboard";
  }
  EXPECT_TRUE(job) << "no scrape job named switchboard (the alerts select job=\"switchboard\")";
  for (const YAML::Node& f : prom["rule_files"]) {
    EXPECT_TRUE(fs::exists(kDeploy / "prometheus" / f.as<std::string>())) << f.as<std::string>();
  }
  const YAML::Node compose = YAML::LoadFile((kDeploy / "compose.yaml").string());
  std::set<std::string> volumes;
  for (const YAML::Node& v : compose["services"]["prometheus"]["volumes"]) {
    volumes.insert(v.as<std::string>());
  }
  EXPECT_TRUE(volumes.contains("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"));
  EXPECT_TRUE(volumes.contains("./prometheus/rules:/etc/prometheus/rules:ro"));
}

// --- compose.yaml ----------------------------------------------------------------------------

TEST(ComposeTest, EveryHostPathExistsAndEveryServiceIsThere) {
  const YAML::Node compose = YAML::LoadFile((kDeploy / "compose.yaml").string());
  for (const char* name : {"switchboard", "redis", "prometheus", "grafana"}) {
    EXPECT_TRUE(compose["services"][name]) << name;
  }
  EXPECT_EQ(compose["services"]["switchboard"]["build"]["dockerfile"].as<std::string>(),
            "deploy/Dockerfile");
  EXPECT_TRUE(fs::exists(kDeploy /
                         compose["services"]["switchboard"]["build"]["context"].as<std::string>() /
                         "deploy" / "Dockerfile"));
  for (const auto& service : compose["services"]) {
    for (const YAML::Node& v : service.second["volumes"]) {
      const std::string spec = v.as<std::string>();
      if (spec.starts_with("./")) {
        const std::string host = spec.substr(0, spec.find(':'));
        EXPECT_TRUE(fs::exists(kDeploy / host)) << spec;
      }
    }
  }
  // The vLLM service is documented, commented out.
  EXPECT_NE(read_text(kDeploy / "compose.yaml").find("#   image: vllm/vllm-openai"),
            std::string::npos);
}

TEST(ComposeTest, EmbeddedGatewayConfigPassesCheck) {
  const YAML::Node compose = YAML::LoadFile((kDeploy / "compose.yaml").string());
  std::string content = compose["configs"]["switchboard-config"]["content"].as<std::string>();
  // Compose turns `$$` into `$` before the gateway sees the file.
  for (auto at = content.find("$$"); at != std::string::npos; at = content.find("$$", at + 1)) {
    content.erase(at, 1);
  }
  const YAML::Node cfg = YAML::Load(content);
  EXPECT_EQ(cfg["admin"]["listen"].as<std::string>(), "0.0.0.0:9090");
  EXPECT_EQ(cfg["server"]["listen"].as<std::string>(), "0.0.0.0:8080");
  std::string output;
  EXPECT_EQ(switchboard_check(content, output), 0) << output;

  // The admin plane is beyond loopback, so the token is required: compose refuses to start
  // without SWITCHBOARD_ADMIN_TOKEN, and so would the gateway.
  EXPECT_EQ(cfg["admin"]["token"].as<std::string>(), "${SWITCHBOARD_ADMIN_TOKEN}");
  const YAML::Node service = compose["services"]["switchboard"];
  EXPECT_TRUE(service["environment"]["SWITCHBOARD_ADMIN_TOKEN"].as<std::string>().starts_with(
      "${SWITCHBOARD_ADMIN_TOKEN:?"));
  std::string refused;
  EXPECT_EQ(switchboard_check(content, refused, "-u SWITCHBOARD_ADMIN_TOKEN"), 1) << refused;
  EXPECT_NE(refused.find("admin.token: environment variable 'SWITCHBOARD_ADMIN_TOKEN' is not set"),
            std::string::npos)
      << refused;
  // No tenants: the data plane is published on the host's loopback only.
  EXPECT_FALSE(cfg["tenants"]);
  EXPECT_EQ(service["ports"][0].as<std::string>(), "127.0.0.1:8080:8080");
}

// --- Kubernetes ------------------------------------------------------------------------------

TEST(KubernetesTest, EveryObjectHasApiVersionKindAndNameAndIsListedInTheKustomization) {
  const YAML::Node kustomization = YAML::LoadFile((kDeploy / "k8s/kustomization.yaml").string());
  std::set<std::string> listed;
  for (const YAML::Node& r : kustomization["resources"]) {
    listed.insert(r.as<std::string>());
    EXPECT_TRUE(fs::exists(kDeploy / "k8s" / r.as<std::string>())) << r.as<std::string>();
  }
  for (const fs::path& p : files_under(kDeploy / "k8s", {".yaml", ".yml"})) {
    if (p.filename() != "kustomization.yaml") {
      EXPECT_TRUE(listed.contains(p.filename().string())) << p.filename() << " is not listed";
    }
  }
  std::set<std::string> kinds;
  for (const YAML::Node& doc : k8s_documents()) {
    EXPECT_TRUE(doc["apiVersion"]) << doc;
    EXPECT_TRUE(doc["metadata"]["name"]) << doc;
    kinds.insert(doc["kind"].as<std::string>());
  }
  for (const char* kind : {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
                           "PodDisruptionBudget", "ServiceMonitor"}) {
    EXPECT_TRUE(kinds.contains(kind)) << kind;
  }
}

TEST(KubernetesTest, DeploymentProbesTheAdminPlaneAndTakesKeysFromASecret) {
  const YAML::Node deployment = k8s_object("Deployment");
  const YAML::Node pod = deployment["spec"]["template"]["spec"];
  const YAML::Node c = pod["containers"][0];
  std::map<std::string, int> ports;
  for (const YAML::Node& p : c["ports"]) {
    ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  }
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<std::string>(), "admin");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), "admin");
  EXPECT_TRUE(c["envFrom"][0]["secretRef"]["name"]);
  // The admin token comes from its own Secret.
  bool token_from_secret = false;
  for (const YAML::Node& e : c["env"]) {
    if (e["name"].as<std::string>() == "SWITCHBOARD_ADMIN_TOKEN") {
      token_from_secret =
          e["valueFrom"]["secretKeyRef"]["name"].as<std::string>() == "switchboard-admin" &&
          e["valueFrom"]["secretKeyRef"]["key"].as<std::string>() == "token";
    }
  }
  EXPECT_TRUE(token_from_secret) << c["env"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());

  // The config the ConfigMap mounts listens where the ports say, and passes the gateway's check.
  const YAML::Node cm = k8s_object("ConfigMap");
  const std::string content = cm["data"]["switchboard.yaml"].as<std::string>();
  const YAML::Node cfg = YAML::Load(content);
  EXPECT_EQ(cfg["admin"]["listen"].as<std::string>(), "0.0.0.0:" + std::to_string(ports["admin"]));
  EXPECT_EQ(cfg["server"]["listen"].as<std::string>(), "0.0.0.0:" + std::to_string(ports["http"]));
  EXPECT_EQ(pod["volumes"][0]["configMap"]["name"].as<std::string>(),
            cm["metadata"]["name"].as<std::string>());
  EXPECT_EQ(cfg["admin"]["token"].as<std::string>(), "${SWITCHBOARD_ADMIN_TOKEN}");
  std::string output;
  EXPECT_EQ(switchboard_check(content, output), 0) << output;
  std::string refused;
  EXPECT_EQ(switchboard_check(content, refused, "-u SWITCHBOARD_ADMIN_TOKEN"), 1) << refused;

  // Draining (server.drain_timeout) fits in the grace period.
  const std::string drain = cfg["server"]["drain_timeout"].as<std::string>();
  ASSERT_TRUE(drain.ends_with("s"));
  EXPECT_LT(std::stoi(drain), pod["terminationGracePeriodSeconds"].as<int>());
}

TEST(KubernetesTest, ServiceAutoscalerBudgetAndMonitorPointAtTheDeployment) {
  const YAML::Node deployment = k8s_object("Deployment");
  const std::string name = deployment["metadata"]["name"].as<std::string>();
  const YAML::Node labels = deployment["spec"]["template"]["metadata"]["labels"];
  auto selects = [&](const YAML::Node& selector) {
    for (const auto& kv : selector) {
      if (!labels[kv.first.as<std::string>()] ||
          labels[kv.first.as<std::string>()].as<std::string>() != kv.second.as<std::string>()) {
        return false;
      }
    }
    return selector.size() > 0;
  };
  EXPECT_TRUE(selects(deployment["spec"]["selector"]["matchLabels"]));
  const YAML::Node service = k8s_object("Service");
  EXPECT_TRUE(selects(service["spec"]["selector"]));
  EXPECT_TRUE(selects(k8s_object("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]));
  const YAML::Node hpa = k8s_object("HorizontalPodAutoscaler");
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"]["kind"].as<std::string>(), "Deployment");
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"]["name"].as<std::string>(), name);

  // The ServiceMonitor selects the Service and scrapes a port it has; its job label (the
  // Service's name) is the one the alerts expect.
  const YAML::Node monitor = k8s_object("ServiceMonitor");
  const YAML::Node svc_labels = service["metadata"]["labels"];
  for (const auto& kv : monitor["spec"]["selector"]["matchLabels"]) {
    EXPECT_EQ(svc_labels[kv.first.as<std::string>()].as<std::string>(),
              kv.second.as<std::string>());
  }
  std::set<std::string> port_names;
  for (const YAML::Node& p : service["spec"]["ports"]) {
    port_names.insert(p["name"].as<std::string>());
  }
  EXPECT_TRUE(port_names.contains(monitor["spec"]["endpoints"][0]["port"].as<std::string>()));
  EXPECT_EQ(service["metadata"]["name"].as<std::string>(), "switchboard");
}

// --- Dockerfile and systemd ------------------------------------------------------------------

TEST(DockerfileTest, BuildsThroughDevShAndRunsUnprivilegedWithAHealthCheck) {
  const std::string d = read_text(kDeploy / "Dockerfile");
  EXPECT_NE(d.find("FROM debian:bookworm AS build"), std::string::npos);
  EXPECT_NE(d.find("FROM debian:bookworm-slim"), std::string::npos);
  EXPECT_NE(d.find("RUN deploy/dev.sh install"), std::string::npos);
  EXPECT_NE(d.find("deploy/dev.sh build switchboard"), std::string::npos);
  EXPECT_NE(d.find("HEALTHCHECK"), std::string::npos);
  EXPECT_NE(d.find("/healthz"), std::string::npos);
  // The default config listens on loopback unless told otherwise; in a container that address is
  // unreachable through a published port, so the image says where to listen.
  EXPECT_NE(d.find("\nENV SWITCHBOARD_LISTEN=0.0.0.0:8080\n"), std::string::npos);
  const auto user = d.find("\nUSER ");
  ASSERT_NE(user, std::string::npos);
  const std::string who = d.substr(user + 6, d.find('\n', user + 1) - user - 6);
  EXPECT_FALSE(who.starts_with("root") || who.starts_with("0")) << who;
  // Every path the build stage copies exists in the repository.
  std::istringstream lines(d);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("COPY ") && line.find("--from=") == std::string::npos) {
      std::istringstream words(line.substr(5));
      std::vector<std::string> args;
      for (std::string w; words >> w;) {
        args.push_back(w);
      }
      for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        EXPECT_TRUE(fs::exists(fs::path(SB_SOURCE_DIR) / args[i])) << line;
      }
    }
  }
  // dev.sh installs promtool and prometheus for these tests.
  EXPECT_NE(read_text(kDeploy / "dev.sh").find(" prometheus"), std::string::npos);
}

TEST(SystemdTest, UnitIsHardenedAndReloadsWithSighup) {
  const std::string u = read_text(kDeploy / "systemd/switchboard.service");
  for (const char* line :
       {"ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes", "NoNewPrivileges=yes",
        "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
        "LimitCORE=0\n",
        "ExecStart=/usr/local/bin/switchboard run --config /etc/switchboard/switchboard.yaml"}) {
    EXPECT_NE(u.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace sb::testing
