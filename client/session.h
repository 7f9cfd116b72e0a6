// Glue shared by the `docket` client commands: the local store, credentials from the
// docker config, a registry client per domain, and the content-trust switch.
#pragma once

#include <memory>
#include <string>

#include "client/registry_client.h"
#include "client/store.h"

namespace docket::client {

// The image store under default_data_dir()/store.
Result<ImageStore> open_default_store();

// A client for `domain` with the user's stored credentials (if any). insecure: plain HTTP.
Result<std::shared_ptr<RegistryClient>> registry_for(const std::string& domain, bool insecure,
                                                     std::uint64_t chunk_size = 0);

// DOCKER_CONTENT_TRUST is "1" or "true" (case-insensitive) and not overridden by the
// command's --disable-content-trust.
bool content_trust_enabled(bool disable_flag);

}  // namespace docket::client
