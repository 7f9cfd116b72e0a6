#include "client/docker_config.h"

#include <cstdlib>

#include "client/process.h"
#include "common/encoding.h"
#include "common/file.h"

namespace docket::client {
namespace fs = std::filesystem;

fs::path docker_config_dir() {
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) return fs::path(d);
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".docker";
}

std::string credential_server_key(std::string_view domain) {
  if (domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io")
    return "https://index.docker.io/v1/";
  return std::string(domain);
}

std::string normalize_auth_key(std::string_view key) {
  std::string_view k = key;
  if (auto p = k.find("://"); p != std::string_view::npos) k = k.substr(p + 3);
  if (auto s = k.find('/'); s != std::string_view::npos) k = k.substr(0, s);
  std::string host(k);
  if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
  return host;
}

Result<DockerConfig> DockerConfig::load(const fs::path& dir) {
  DockerConfig c;
  c.file_ = dir / "config.json";
  std::error_code ec;
  if (!fs::exists(c.file_, ec)) return c;
  auto text = read_file(c.file_, 16 * 1024 * 1024);
  if (!text) return std::unexpected(text.error());
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) return c;
  auto j = parse_json(*text, c.file_.string(), Fault::user);
  if (!j) return make_error(Fault::user, "config", j.error().message);
  if (!j->is_object())
    return make_error(Fault::user, "config", c.file_.string() + ": not a JSON object");
  for (const char* k : {"auths", "credHelpers"})
    if (j->contains(k) && !(*j)[k].is_object())
      return make_error(Fault::user, "config",
                        c.file_.string() + ": \"" + k + "\" must be an object");
  if (j->contains("credsStore") && !(*j)["credsStore"].is_string())
    return make_error(Fault::user, "config",
                      c.file_.string() + ": \"credsStore\" must be a string");
  c.doc_ = std::move(*j);
  return c;
}

std::optional<std::string> DockerConfig::helper_for(std::string_view domain) const {
  std::string want = normalize_auth_key(credential_server_key(domain));
  if (doc_.contains("credHelpers")) {
    for (const auto& [k, v] : doc_["credHelpers"].items())
      if (v.is_string() && normalize_auth_key(k) == want && !v.get<std::string>().empty())
        return v.get<std::string>();
  }
  if (doc_.contains("credsStore") && !doc_["credsStore"].get<std::string>().empty())
    return doc_["credsStore"].get<std::string>();
  return std::nullopt;
}

namespace {
Result<std::optional<Credentials>> helper_get(const std::string& helper,
                                              const std::string& server) {
  auto r = run_process({"docker-credential-" + helper, "get"}, server);
  if (!r) return std::unexpected(r.error());
  if (r->exit_code != 0) {
    std::string msg = r->out + r->err;
    if (msg.find("credentials not found") != std::string::npos) return std::nullopt;
    return make_error(Fault::user, "config",
                      "credential helper docker-credential-" + helper + " get failed: " + msg);
  }
  auto j = parse_json(r->out, "docker-credential-" + helper + " output", Fault::user);
  if (!j || !j->is_object())
    return make_error(
        Fault::user, "config",
        "docker-credential-" + helper + " printed something that is not a JSON object");
  Credentials c;
  if (j->contains("Username") && (*j)["Username"].is_string()) c.username = (*j)["Username"];
  if (j->contains("Secret") && (*j)["Secret"].is_string()) c.password = (*j)["Secret"];
  if (c.username == "<token>") {
    c.identity_token = c.password;
    c.username.clear();
    c.password.clear();
  }
  if (c.empty()) return std::nullopt;
  return c;
}
}  // namespace

Result<std::optional<Credentials>> DockerConfig::get(std::string_view domain) const {
  std::string key = credential_server_key(domain);
  if (auto h = helper_for(domain)) return helper_get(*h, key);
  if (!doc_.contains("auths")) return std::nullopt;
  std::string want = normalize_auth_key(key);
  for (const auto& [k, v] : doc_["auths"].items()) {
    if (normalize_auth_key(k) != want || !v.is_object()) continue;
    Credentials c;
    if (v.contains("auth") && v["auth"].is_string() && !v["auth"].get<std::string>().empty()) {
      auto dec = base64_decode(v["auth"].get<std::string>());
      if (!dec)
        return make_error(Fault::user, "config",
                          file_.string() + ": auths." + k + ".auth is not base64");
      auto colon = dec->find(':');
      if (colon == std::string::npos)
        return make_error(Fault::user, "config",
                          file_.string() + ": auths." + k + ".auth is not \"user:password\"");
      c.username = dec->substr(0, colon);
      c.password = dec->substr(colon + 1);
    } else {
      if (v.contains("username") && v["username"].is_string()) c.username = v["username"];
      if (v.contains("password") && v["password"].is_string()) c.password = v["password"];
    }
    if (v.contains("identitytoken") && v["identitytoken"].is_string())
      c.identity_token = v["identitytoken"];
    if (c.empty()) return std::nullopt;
    return c;
  }
  return std::nullopt;
}

Status DockerConfig::store(std::string_view domain, const Credentials& creds) {
  std::string key = credential_server_key(domain);
  if (auto h = helper_for(domain)) {
    Json in = {{"ServerURL", key},
               {"Username", creds.identity_token.empty() ? creds.username : "<token>"},
               {"Secret", creds.identity_token.empty() ? creds.password : creds.identity_token}};
    auto r = run_process({"docker-credential-" + *h, "store"}, in.dump());
    if (!r) return std::unexpected(r.error());
    if (r->exit_code != 0)
      return make_error(
          Fault::user, "config",
          "credential helper docker-credential-" + *h + " store failed: " + r->out + r->err);
    // Docker records the registry in "auths" with no secret so it lists as logged in.
    doc_["auths"][key] = Json::object();
    return save();
  }
  Json entry = Json::object();
  if (doc_.contains("auths") && doc_["auths"].contains(key) && doc_["auths"][key].is_object())
    entry = doc_["auths"][key];
  entry.erase("username");
  entry.erase("password");
  entry["auth"] = base64_encode(creds.username + ":" + creds.password);
  if (!creds.identity_token.empty())
    entry["identitytoken"] = creds.identity_token;
  else
    entry.erase("identitytoken");
  doc_["auths"][key] = entry;
  return save();
}

Result<bool> DockerConfig::erase(std::string_view domain) {
  std::string key = credential_server_key(domain);
  bool found = false;
  if (auto h = helper_for(domain)) {
    auto r = run_process({"docker-credential-" + *h, "erase"}, key);
    if (!r) return std::unexpected(r.error());
    if (r->exit_code == 0)
      found = true;
    else if ((r->out + r->err).find("not found") == std::string::npos)
      return make_error(
          Fault::user, "config",
          "credential helper docker-credential-" + *h + " erase failed: " + r->out + r->err);
  }
  if (doc_.contains("auths")) {
    std::string want = normalize_auth_key(key);
    std::vector<std::string> drop;
    for (const auto& [k, v] : doc_["auths"].items())
      if (normalize_auth_key(k) == want) drop.push_back(k);
    for (const auto& k : drop) doc_["auths"].erase(k), found = true;
  }
  if (found) {
    auto s = save();
    if (!s) return std::unexpected(s.error());
  }
  return found;
}

Status DockerConfig::save() const {
  std::error_code ec;
  fs::create_directories(file_.parent_path(), ec);
  if (ec)
    return make_error(Fault::local, "io",
                      "creating " + file_.parent_path().string() + ": " + ec.message());
  return atomic_write_file(file_, doc_.dump(1, '\t') + "\n", 0600);
}

}  // namespace docket::client
