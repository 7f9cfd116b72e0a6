// Docker's client configuration, ~/.docker/config.json (or $DOCKER_CONFIG/config.json),
// read and written in Docker's own format so that `docker login` and `docket login` share
// credentials: "auths" entries with base64 "user:password" (or an identity token),
// "credsStore" for a default credential helper and "credHelpers" per registry host.
// Fields docket does not know are preserved on write.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/json.h"

namespace docket::client {

struct Credentials {
  std::string username;
  std::string password;        // never logged
  std::string identity_token;  // OAuth refresh token ("<token>" user in helpers)
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// $DOCKER_CONFIG, else $HOME/.docker.
std::filesystem::path docker_config_dir();

// The key Docker uses in "auths" and passes to helpers for a registry domain: docker.io is
// "https://index.docker.io/v1/", every other domain is the bare host[:port].
std::string credential_server_key(std::string_view domain);
// The host[:port] of an "auths" key ("https://h:5000/v1/" → "h:5000").
std::string normalize_auth_key(std::string_view key);

class DockerConfig {
 public:
  // Loads <dir>/config.json; a missing file is an empty configuration. A malformed file is a
  // Fault::user "config" error naming the file.
  static Result<DockerConfig> load(const std::filesystem::path& dir);

  // The credential helper that holds `domain`'s credentials, if any ("pass", "ecr-login").
  std::optional<std::string> helper_for(std::string_view domain) const;

  // Credentials for a registry domain, from its helper or from "auths". nullopt if none.
  Result<std::optional<Credentials>> get(std::string_view domain) const;
  // Stores credentials (in the helper if one is configured, else base64 in "auths") and
  // writes config.json atomically with mode 0600.
  Status store(std::string_view domain, const Credentials& creds);
  // Removes credentials; returns false if there were none.
  Result<bool> erase(std::string_view domain);

  const Json& json() const { return doc_; }
  const std::filesystem::path& file() const { return file_; }
  Status save() const;

 private:
  std::filesystem::path file_;
  Json doc_ = Json::object();
};

}  // namespace docket::client
