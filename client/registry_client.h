// The registry protocol client (OCI distribution v1.1 plus Docker's token auth):
//
//  - Auth: a request answered 401 is retried once after following its WWW-Authenticate
//    challenge: Bearer → GET the token realm (service, scope; Basic credentials when we have
//    any) → "Authorization: Bearer <token>", tokens cached per scope; Basic → the stored
//    credentials. Credentials and tokens never reach logs or error messages.
//  - TLS always, with certs.d/<host>/ CAs and client certificates; plain HTTP only with
//    RegistryOptions::insecure_http (the CLI's --insecure).
//  - Manifests: GET with every supported Accept type, capped at kMaxManifestBytes, and the
//    bytes' digest checked against the digest asked for (by-digest) or the server's
//    Docker-Content-Digest (by-tag). PUT checks the digest the server reports.
//  - Blobs: downloads stream into a caller's sink (the store's verifying ingest), resuming
//    with a Range request after a dropped connection; uploads are monolithic or chunked
//    (PATCH with Content-Range) and resume from the server's reported offset after a
//    dropped connection; cross-repository mounts are tried when a source repo is known.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/docker_config.h"
#include "client/image.h"
#include "client/stream.h"
#include "net/http_client.h"

namespace docket::client {

// How many times a blob transfer is resumed after dropped connections before giving up.
inline constexpr int kMaxTransferAttempts = 4;
// Most pages followed for tags/list and _catalog (each page up to the requested n).
inline constexpr int kMaxListPages = 1000;

struct RegistryOptions {
  // Plain HTTP. Only ever on explicit request (--insecure).
  bool insecure_http = false;
  // Directories searched for <host>/ca.crt etc. Default: certs_d_search_path().
  std::vector<std::filesystem::path> certs_dirs;
  // 0: monolithic uploads (one PUT); otherwise PATCH chunks of this size.
  std::uint64_t chunk_size = 0;
  net::HttpClientOptions http;
};

// $DOCKET_CERTS_D if set; else <docker config dir>/certs.d, /etc/docker/certs.d and
// /etc/containers/certs.d (the first holding a directory for the host wins).
std::vector<std::filesystem::path> certs_d_search_path();

struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  Digest digest = Digest::of("");
  Descriptor descriptor() const { return Descriptor{media_type, digest, bytes.size(), {}, {}, {}}; }
};

// Progress callback for transfers: bytes moved so far of the blob.
using TransferProgress = std::function<void(std::uint64_t done)>;

class RegistryClient {
 public:
  // domain: "127.0.0.1:5000", "docker.io" (contacted at registry-1.docker.io).
  static Result<std::shared_ptr<RegistryClient>> create(std::string domain,
                                                        std::optional<Credentials> creds,
                                                        RegistryOptions opts = {});

  const std::string& domain() const { return domain_; }
  std::string base_url() const;  // "https://host:port"

  // GET /v2/, authenticating if challenged: checks the registry speaks the API and that the
  // credentials work (used by login). Fails with user/unauthorized on bad credentials. On a
  // token-auth registry it asks for an identity token, and returns it when the token
  // service issued one ("" otherwise): login stores it instead of the password, as Docker does.
  Result<std::string> check_login();

  Result<FetchedManifest> get_manifest(const std::string& repo, const std::string& reference);
  // HEAD: the descriptor (digest from Docker-Content-Digest), nullopt if absent.
  Result<std::optional<Descriptor>> head_manifest(const std::string& repo,
                                                  const std::string& reference);
  // PUT; returns the digest the registry stored (checked against the bytes).
  Result<Digest> put_manifest(const std::string& repo, const std::string& reference,
                              std::string_view bytes, std::string_view media_type);
  Status delete_manifest(const std::string& repo, const Digest& digest);

  Result<bool> blob_exists(const std::string& repo, const Digest& d);
  // Streams the blob into `sink`. `restart` is called before bytes are re-sent from 0 (when a
  // resume is not possible) so the sink can discard what it had. Verification is the sink's.
  Status get_blob(const std::string& repo, const Descriptor& d, const Sink& sink,
                  const std::function<Status()>& restart, const TransferProgress& progress = {});
  // Tries POST ?mount=&from=; true if the registry mounted it.
  Result<bool> mount_blob(const std::string& repo, const Digest& d, const std::string& from_repo);
  // Uploads a blob. `open` returns a Source positioned at the given offset.
  Status upload_blob(const std::string& repo, const Descriptor& d,
                     const std::function<Result<Source>(std::uint64_t offset)>& open,
                     const TransferProgress& progress = {});

  // All tags (following Link pagination), page size n.
  Result<std::vector<std::string>> list_tags(const std::string& repo, int page_size = 1000);
  // Repositories from /v2/_catalog, up to max_entries.
  Result<std::vector<std::string>> catalog(std::size_t max_entries, int page_size = 1000);

  // Test hook: counts of requests by kind ("upload_patch", "mount", ...).
  std::map<std::string, int> counters() const;

 private:
  RegistryClient() = default;
  struct Auth;
  Result<net::HttpResponse> send(net::HttpRequest req, const std::string& scope);
  Result<std::string> fetch_token(const std::map<std::string, std::string>& challenge,
                                  const std::string& scope);
  Status upload_chunked(const std::string& repo, const Descriptor& d, std::string location,
                        const std::function<Result<Source>(std::uint64_t)>& open,
                        const TransferProgress& progress);
  std::string absolute(const std::string& location) const;
  void count(const std::string& k);

  std::string domain_;
  std::string scheme_;
  std::string host_;
  std::optional<Credentials> creds_;
  RegistryOptions opts_;
  std::shared_ptr<net::HttpClient> http_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> tokens_;  // scope → bearer token
  bool basic_ = false;                         // the registry asked for Basic auth
  bool want_identity_token_ = false;           // set by check_login()
  std::string identity_token_;                 // what the token service issued, if any
  std::map<std::string, int> counters_;
};

// Parses a WWW-Authenticate header into scheme (lower-cased) and parameters.
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Result<AuthChallenge> parse_www_authenticate(std::string_view header);

// The OCI error document's first code/message, for error messages ("MANIFEST_UNKNOWN: …").
std::string describe_registry_error(const net::HttpResponse& r);

}  // namespace docket::client
