// Authentication against a trust server (Notary v1 protocol), as Docker's client does it:
// requests go out without credentials; a 401 carrying a WWW-Authenticate challenge is
// answered once — Bearer: a token fetched from the challenge's realm for the challenged
// scope(s) (Basic credentials sent to the realm when we have any), Basic: the stored
// credentials — and the request is retried with it. Tokens are cached per scope for the
// life of the session (the process), so a refresh that reads many roles pays for one token.
//
// Credentials come from a provider called at most once, on the first challenge (so a
// credential helper is only run when the server asks). Credentials and tokens never reach
// logs or error messages.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/docker_config.h"
#include "net/http_client.h"

namespace docket::client {

using CredentialProvider = std::function<Result<std::optional<Credentials>>()>;

// The client id docket names itself with to token services (Docker sends "docker").
inline constexpr const char* kTokenClientId = "docket";

struct BearerToken {
  std::string token;
  // An identity (OAuth2 refresh) token, when the service issued one: stored by `docket login`
  // in place of the password, as Docker does.
  std::string refresh_token;
};

// The scopes of a space-separated list, as a challenge's `scope` parameter and a token
// request's `scope` form field write several; empty items are dropped.
std::vector<std::string> split_scopes(const std::string& list);

// Fetches a bearer token from a challenge's realm, as Docker's client does:
//  - with an identity token (Credentials::identity_token, e.g. a credential helper's
//    "<token>" user): POST realm, form grant_type=refresh_token (OAuth2, token spec's
//    "oauth" flow), never falling back to the password;
//  - else GET realm?service=&scope=… with Basic credentials when given; `offline` also asks
//    for an identity token (offline_token=true&client_id=docket), which login stores.
// `server` names the server in errors. Errors: user/unauthorized when the token service
// refuses the credentials, remote otherwise. Neither secrets nor tokens appear in errors.
Result<BearerToken> request_bearer_token(const net::HttpClient& http,
                                         const std::map<std::string, std::string>& challenge,
                                         const std::vector<std::string>& scopes,
                                         const std::optional<Credentials>& creds,
                                         const std::string& server, bool offline = false);

// request_bearer_token's access token alone.
Result<std::string> fetch_bearer_token(const net::HttpClient& http,
                                       const std::map<std::string, std::string>& challenge,
                                       const std::vector<std::string>& scopes,
                                       const std::optional<Credentials>& creds,
                                       const std::string& server);

// Credentials for a trust server, as Docker picks them: those stored for the trust server's
// host[:port]; else, when the trust server is on the registry's own host (another port),
// the registry's; notary.docker.io uses Docker Hub's. nullopt when none are stored.
Result<std::optional<Credentials>> trust_server_credentials(const std::string& server_url,
                                                            const std::string& registry_domain);

class TrustAuthSession {
 public:
  // `server` is the trust server's host[:port], for messages ("docket login <server>").
  TrustAuthSession(std::shared_ptr<const net::HttpClient> http, std::string server,
                   CredentialProvider credentials);

  // Sends the request, authenticating and retrying once on a 401 challenge. A 401 that
  // remains (no credentials, refused credentials, scope not granted) is user/unauthorized
  // naming the server and the server's own reason; other statuses are returned as they are.
  Result<net::HttpResponse> send(net::HttpRequest req);

  // The GETs pipelined on one connection (net::HttpClient::send_pipelined) with the
  // session's authorization; on a 401 challenge, authenticates as send() does and sends the
  // refused ones once more, pipelined. A 401 that remains, or an authentication failure,
  // is left as the 401 answer: callers drop it and send() reports the failure.
  std::vector<Result<net::HttpResponse>> send_pipelined(std::vector<net::HttpRequest> reqs);

  const net::HttpClient& http() const { return *http_; }
  // Test hook: how many tokens were fetched.
  int tokens_fetched() const;

 private:
  Result<std::optional<Credentials>> creds();
  // The Authorization value answering a challenge (`sent` was refused; `reason` is the
  // server's, for messages); fetches a token when needed.
  Result<std::string> authorization_for(const std::string& www_authenticate,
                                        const std::string& sent, const std::string& reason);

  std::shared_ptr<const net::HttpClient> http_;
  std::string server_;
  CredentialProvider provider_;
  mutable std::mutex mu_;
  bool loaded_ = false;
  std::optional<Credentials> creds_;
  std::map<std::string, std::string> tokens_;  // challenged scope(s) -> bearer token
  std::string current_;                        // the Authorization value sent first
  int tokens_fetched_ = 0;
};

// The host[:port] of an absolute URL ("https://h:4443/x" -> "h:4443"), userinfo dropped.
std::string url_host_port(const std::string& url);

}  // namespace docket::client
