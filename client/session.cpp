#include "client/session.h"

#include <algorithm>
#include <cstdlib>

namespace docket::client {

Result<ImageStore> open_default_store() {
  return ImageStore::open(default_data_dir() / "store");
}

Result<std::shared_ptr<RegistryClient>> registry_for(const std::string& domain, bool insecure,
                                                     std::uint64_t chunk_size) {
  auto cfg = DockerConfig::load(docker_config_dir());
  if (!cfg) return std::unexpected(cfg.error());
  auto creds = cfg->get(domain);
  if (!creds) return std::unexpected(creds.error());
  RegistryOptions o;
  o.insecure_http = insecure;
  o.chunk_size = chunk_size;
  return RegistryClient::create(domain, *creds, o);
}

bool content_trust_enabled(bool disable_flag) {
  if (disable_flag) return false;
  const char* v = std::getenv("DOCKER_CONTENT_TRUST");
  if (!v) return false;
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s == "1" || s == "true";
}

}  // namespace docket::client
