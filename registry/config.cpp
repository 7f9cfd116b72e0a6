#include "registry/config.h"

#include <charconv>
#include <cstdlib>

namespace docket::registry {

namespace {

std::string env_name(std::string_view path) {
  std::string n = "DOCKET_";
  for (char c : path)
    n += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n;
}

// The raw text for path: env var, else scalar in the file, else nullopt.
Result<std::optional<std::pair<std::string, std::string>>> lookup(const YAML::Node& doc,
                                                                  std::string_view path) {
  std::string env = env_name(path);
  if (const char* v = std::getenv(env.c_str()))
    return std::make_optional(std::make_pair(std::string(v), "environment variable " + env));
  if (!doc || !doc.IsDefined() || doc.IsNull()) return std::nullopt;
  YAML::Node cur = YAML::Clone(doc);
  std::string_view rest = path;
  while (true) {
    auto dot = rest.find('.');
    std::string key(rest.substr(0, dot));
    if (!cur.IsMap()) return std::nullopt;
    YAML::Node next = cur[key];
    if (!next || !next.IsDefined() || next.IsNull()) return std::nullopt;
    cur = next;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  if (!cur.IsScalar())
    return make_error(Fault::user, "config",
                      "config field " + std::string(path) + " must be a single value");
  return std::make_optional(
      std::make_pair(cur.as<std::string>(), "config field " + std::string(path)));
}

Error bad(const std::string& where, const std::string& value, const std::string& want) {
  return Error{Fault::user, "config", where + ": '" + value + "' is not " + want};
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr == s.data())
    return make_error(Fault::user, "config", "bad duration");
  std::string_view unit(r.ptr, s.data() + s.size() - r.ptr);
  using namespace std::chrono;
  if (unit == "ms") return milliseconds(v);
  if (unit == "s" || unit.empty()) return milliseconds(v * 1000);
  if (unit == "m") return milliseconds(v * 60'000);
  if (unit == "h") return milliseconds(v * 3'600'000);
  return make_error(Fault::user, "config", "bad duration unit");
}

Result<std::string> config_string(const YAML::Node& doc, std::string_view path, std::string def) {
  auto v = lookup(doc, path);
  if (!v) return std::unexpected(v.error());
  return *v ? (*v)->first : def;
}

Result<bool> config_bool(const YAML::Node& doc, std::string_view path, bool def) {
  auto v = lookup(doc, path);
  if (!v) return std::unexpected(v.error());
  if (!*v) return def;
  const std::string& s = (*v)->first;
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::unexpected(bad((*v)->second, s, "a boolean (true/false)"));
}

Result<std::uint64_t> config_uint(const YAML::Node& doc, std::string_view path, std::uint64_t def) {
  auto v = lookup(doc, path);
  if (!v) return std::unexpected(v.error());
  if (!*v) return def;
  const std::string& s = (*v)->first;
  std::uint64_t out = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    return std::unexpected(bad((*v)->second, s, "a non-negative integer"));
  return out;
}

Result<std::chrono::milliseconds> config_duration(const YAML::Node& doc, std::string_view path,
                                                  std::chrono::milliseconds def) {
  auto v = lookup(doc, path);
  if (!v) return std::unexpected(v.error());
  if (!*v) return def;
  auto d = parse_duration((*v)->first);
  if (!d)
    return std::unexpected(
        bad((*v)->second, (*v)->first, "a duration like 300ms, 30s, 5m or 168h"));
  return *d;
}

Result<Config> load_config(const std::optional<std::filesystem::path>& file) {
  Config c;
  if (file) {
    try {
      c.document = YAML::LoadFile(file->string());
    } catch (const YAML::BadFile&) {
      return make_error(Fault::user, "config", "cannot read config file " + file->string());
    } catch (const YAML::Exception& e) {
      return make_error(Fault::user, "config", "config file " + file->string() + ": " + e.what());
    }
    if (c.document && !c.document.IsNull() && !c.document.IsMap())
      return make_error(Fault::user, "config",
                        "config file " + file->string() + " must be a YAML mapping");
  }
  const YAML::Node& d = c.document;
  Status st;
  auto S = [&](std::string_view p, std::string& out) {
    if (!st) return;
    auto v = config_string(d, p, out);
    if (!v)
      st = std::unexpected(v.error());
    else
      out = *v;
  };
  auto B = [&](std::string_view p, bool& out) {
    if (!st) return;
    auto v = config_bool(d, p, out);
    if (!v)
      st = std::unexpected(v.error());
    else
      out = *v;
  };
  auto U = [&](std::string_view p, auto& out) {
    if (!st) return;
    auto v = config_uint(d, p, out);
    if (!v)
      st = std::unexpected(v.error());
    else
      out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
  };
  auto D = [&](std::string_view p, auto& out) {
    if (!st) return;
    auto v = config_duration(d, p, std::chrono::duration_cast<std::chrono::milliseconds>(out));
    if (!v)
      st = std::unexpected(v.error());
    else
      out = std::chrono::duration_cast<std::remove_reference_t<decltype(out)>>(*v);
  };
  S("log.level", c.log_level);
  S("log.format", c.log_format);
  B("log.accesslog.enabled", c.access_log);
  S("http.addr", c.addr);
  U("http.threads", c.http.threads);
  U("http.blocking_threads", c.http.blocking_threads);
  std::string cert, key;
  S("http.tls.certificate", cert);
  S("http.tls.key", key);
  c.http.tls_cert_file = cert;
  c.http.tls_key_file = key;
  D("http.timeouts.header", c.http.header_timeout);
  D("http.timeouts.body", c.http.body_idle_timeout);
  D("http.timeouts.idle", c.http.idle_timeout);
  D("http.timeouts.write", c.http.write_timeout);
  D("http.timeouts.shutdown", c.http.shutdown_grace);
  U("http.limits.header_bytes", c.http.max_header_bytes);
  U("http.limits.connections", c.http.max_connections);
  S("storage.filesystem.rootdirectory", c.root_dir);
  B("storage.filesystem.unsafe_skip_fsync", c.unsafe_skip_fsync);
  B("storage.delete.enabled", c.delete_enabled);
  B("storage.maintenance.readonly.enabled", c.read_only);
  B("storage.maintenance.uploadpurging.enabled", c.upload_purging);
  D("storage.maintenance.uploadpurging.age", c.upload_max_age);
  D("storage.maintenance.uploadpurging.interval", c.upload_purge_interval);
  U("registry.limits.manifest_bytes", c.max_manifest_bytes);
  U("registry.limits.catalog_entries", c.catalog_max_entries);
  U("registry.limits.referrers_entries", c.referrers_max_entries);
  U("registry.cache.manifest_bytes", c.manifest_cache_bytes);
  S("auth.htpasswd.path", c.auth_htpasswd_path);
  S("auth.htpasswd.realm", c.auth_realm);
  S("auth.token.realm", c.auth_token_realm);
  S("auth.token.service", c.auth_token_service);
  S("auth.token.issuer", c.auth_token_issuer);
  S("auth.token.signingkey", c.auth_token_key);
  S("auth.token.policy", c.auth_token_policy);
  D("auth.token.expiration", c.auth_token_ttl);
  B("auth.anonymous_pull", c.auth_anonymous_pull);
  B("ratelimit.enabled", c.ratelimit_enabled);
  U("ratelimit.pulls", c.ratelimit_manifest_pulls);
  D("ratelimit.window", c.ratelimit_window);
  B("metrics.enabled", c.metrics_enabled);
  if (!st) return std::unexpected(st.error());
  if (c.log_format != "json" && c.log_format != "text")
    return make_error(Fault::user, "config",
                      "log.format: '" + c.log_format + "' is not json or text");
  // http.addr -> host/port
  std::string host, port;
  if (c.addr.starts_with("[")) {
    auto close = c.addr.find("]:");
    if (close == std::string::npos)
      return make_error(Fault::user, "config", "http.addr: '" + c.addr + "' is not [ipv6]:port");
    host = c.addr.substr(1, close - 1);
    port = c.addr.substr(close + 2);
  } else {
    auto colon = c.addr.rfind(':');
    if (colon == std::string::npos)
      return make_error(Fault::user, "config", "http.addr: '" + c.addr + "' is not host:port");
    host = c.addr.substr(0, colon);
    port = c.addr.substr(colon + 1);
  }
  if (host.empty() || host == "localhost") host = host.empty() ? "0.0.0.0" : "127.0.0.1";
  unsigned p = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), p);
  if (r.ec != std::errc() || r.ptr != port.data() + port.size() || p > 65535)
    return make_error(Fault::user, "config",
                      "http.addr: port '" + port + "' is not a number 0-65535");
  c.http.host = host;
  c.http.port = static_cast<std::uint16_t>(p);
  return c;
}

}  // namespace docket::registry
