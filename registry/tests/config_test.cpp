#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/file.h"
#include "registry/config.h"

using namespace docket;
using namespace docket::registry;

namespace {

struct EnvGuard {
  std::vector<std::string> names;
  void set(const std::string& n, const std::string& v) {
    ::setenv(n.c_str(), v.c_str(), 1);
    names.push_back(n);
  }
  ~EnvGuard() {
    for (auto& n : names) ::unsetenv(n.c_str());
  }
};

std::filesystem::path write_tmp(const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("docket-cfg-" + random_hex_id() + ".yml");
  EXPECT_TRUE(atomic_write_file(p, text));
  return p;
}

TEST(Config, DefaultsWithoutFile) {
  auto c = load_config(std::nullopt);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->http.host, "127.0.0.1");
  EXPECT_EQ(c->http.port, 5000);
  EXPECT_EQ(c->root_dir, "./data");
  EXPECT_TRUE(c->delete_enabled);
  EXPECT_FALSE(c->read_only);
  EXPECT_EQ(c->max_manifest_bytes, 4u * 1024 * 1024);
}

TEST(Config, FileThenEnvironmentOverride) {
  auto p = write_tmp(
      "http:\n  addr: '[::1]:6000'\n  timeouts:\n    header: 5s\nstorage:\n  filesystem:\n    "
      "rootdirectory: /srv/x\n"
      "  maintenance:\n    readonly:\n      enabled: true\n");
  auto c = load_config(p);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->http.host, "::1");
  EXPECT_EQ(c->http.port, 6000);
  EXPECT_EQ(c->http.header_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->root_dir, "/srv/x");
  EXPECT_TRUE(c->read_only);
  EnvGuard env;
  env.set("DOCKET_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/env/dir");
  env.set("DOCKET_HTTP_ADDR", "127.0.0.1:7000");
  env.set("DOCKET_STORAGE_MAINTENANCE_READONLY_ENABLED", "false");
  c = load_config(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->root_dir, "/env/dir");
  EXPECT_EQ(c->http.port, 7000);
  EXPECT_FALSE(c->read_only);
  std::filesystem::remove(p);
}

TEST(Config, BadValuesNameTheFieldAndSource) {
  auto p = write_tmp("http:\n  threads: many\n");
  auto c = load_config(p);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "config");
  EXPECT_NE(c.error().message.find("http.threads"), std::string::npos);
  std::filesystem::remove(p);
  EnvGuard env;
  env.set("DOCKET_HTTP_TIMEOUTS_IDLE", "soon");
  c = load_config(std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("DOCKET_HTTP_TIMEOUTS_IDLE"), std::string::npos);
  EXPECT_FALSE(load_config(std::filesystem::path("/nonexistent/docket.yml")));
  auto q = write_tmp("http: [1, 2\n");
  EXPECT_FALSE(load_config(q));
  std::filesystem::remove(q);
  auto r = write_tmp("http:\n  addr: nohostport\n");
  EXPECT_FALSE(load_config(r));
  std::filesystem::remove(r);
}

TEST(Config, Durations) {
  EXPECT_EQ(*parse_duration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*parse_duration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*parse_duration("168h"), std::chrono::hours(168));
  EXPECT_EQ(*parse_duration("7"), std::chrono::seconds(7));
  EXPECT_FALSE(parse_duration("1d"));
  EXPECT_FALSE(parse_duration("s"));
}

}  // namespace
