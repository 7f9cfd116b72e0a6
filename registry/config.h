// docket-server configuration: a YAML file in the spirit of distribution's config.yml.
// Every field has a default (docs/server-config.md) and an environment override: the
// field's path upper-cased, '.' -> '_', prefixed with DOCKET_ (http.addr ->
// DOCKET_HTTP_ADDR, storage.filesystem.rootdirectory -> DOCKET_STORAGE_FILESYSTEM_ROOTDIRECTORY).
// Precedence: command-line flag > environment > file > default.
//
// Other roles mounted in `docket-server serve` (the trust server) read their own sections
// from Config::document with the same override rule (config_string()/config_bool()...).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "net/http_server.h"

namespace docket::registry {

struct Config {
  // log.*
  std::string log_level = "info";   // debug|info|warn|error
  std::string log_format = "json";  // json|text
  bool access_log = true;           // log.accesslog.enabled
  // http.*
  std::string addr = "127.0.0.1:5000";  // http.addr ("host:port", IPv6 as "[::1]:5000")
  net::ServerOptions http;              // http.threads, http.tls.*, http.timeouts.*, ...
  // storage.*
  std::string root_dir = "./data";  // storage.filesystem.rootdirectory
  bool unsafe_skip_fsync = false;   // storage.filesystem.unsafe_skip_fsync (see FilesystemOptions)
  bool delete_enabled = true;       // storage.delete.enabled
  bool read_only = false;           // storage.maintenance.readonly.enabled
  bool upload_purging = true;       // storage.maintenance.uploadpurging.enabled
  std::chrono::seconds upload_max_age{7 * 24 * 3600};     // ...uploadpurging.age
  std::chrono::seconds upload_purge_interval{24 * 3600};  // ...uploadpurging.interval
  // registry.*
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;     // registry.limits.manifest_bytes
  std::uint64_t catalog_max_entries = 1000;               // registry.limits.catalog_entries
  std::uint64_t referrers_max_entries = 1000;             // registry.limits.referrers_entries
  std::uint64_t manifest_cache_bytes = 64 * 1024 * 1024;  // registry.cache.manifest_bytes
  // auth.*
  std::string auth_htpasswd_path;     // auth.htpasswd.path (enables Basic auth)
  std::string auth_realm = "docket";  // auth.htpasswd.realm / token realm name
  std::string auth_token_realm;  // auth.token.realm (URL of the token endpoint; enables Bearer)
  std::string auth_token_service = "docket-registry";     // auth.token.service (JWT aud)
  std::string auth_token_issuer = "docket-token-issuer";  // auth.token.issuer (JWT iss)
  std::string auth_token_key;                // auth.token.signingkey (PEM private key file)
  std::string auth_token_policy;             // auth.token.policy (JSON access rules file; default:
                                             // authenticated users get all)
  std::chrono::seconds auth_token_ttl{300};  // auth.token.expiration
  bool auth_anonymous_pull = false;          // auth.anonymous_pull
  // ratelimit.*
  bool ratelimit_enabled = false;                   // ratelimit.enabled
  std::uint64_t ratelimit_manifest_pulls = 100;     // ratelimit.pulls (per client per window)
  std::chrono::seconds ratelimit_window{6 * 3600};  // ratelimit.window
  // metrics / health
  bool metrics_enabled = true;  // metrics.enabled (/metrics)

  YAML::Node document;  // the parsed file (empty when none), for other roles' sections
};

// Defaults, then the file (if any), then the environment. Errors: Fault::user "config"
// naming the field and where the bad value came from.
Result<Config> load_config(const std::optional<std::filesystem::path>& file);

// Typed lookups for other roles: "trust.storage.dsn" -> file value or DOCKET_TRUST_STORAGE_DSN.
Result<std::string> config_string(const YAML::Node& doc, std::string_view path, std::string def);
Result<bool> config_bool(const YAML::Node& doc, std::string_view path, bool def);
Result<std::uint64_t> config_uint(const YAML::Node& doc, std::string_view path, std::uint64_t def);
// "300ms", "30s", "5m", "168h" (a bare integer is seconds).
Result<std::chrono::milliseconds> config_duration(const YAML::Node& doc, std::string_view path,
                                                  std::chrono::milliseconds def);
Result<std::chrono::milliseconds> parse_duration(std::string_view s);

}  // namespace docket::registry
