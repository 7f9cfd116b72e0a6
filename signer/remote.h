// The signer over the network: `docket-server signer` serves a Signer (normally the local,
// encrypted key store) over HTTPS with mutual TLS, and RemoteSigner is the client the trust
// server uses when trust.signer.url is set (docs/signer.md). Deployments that isolate the
// private keys run the signer on another host; the trust server then holds no private key.
//
// Wire API, version 1 (JSON bodies; every request needs a client certificate that chains
// to the signer's client CA: the TLS handshake fails otherwise):
//   POST   /v1/keys                 {"gun":..,"role":..,"algorithm":"ed25519"}  -> 201 KeyInfo
//   GET    /v1/keys?gun=..&role=..  -> 200 {"keys":[KeyInfo, ...]}  (oldest first)
//   GET    /v1/keys/<key_id>        -> 200 KeyInfo
//   POST   /v1/keys/<key_id>/sign   {"message":<base64>}  -> 200 {"signature":<base64>}
//   DELETE /v1/keys/<key_id>        -> 204
//   GET    /v1/health               -> 200 {"status":"ok"} | 503 {"error":..}
// KeyInfo: {"key_id":..,"gun":..,"role":..,"algorithm":..,"public":<canonical key JSON as a
// string>,"method":..,"created":RFC3339}. Errors: 4xx/5xx with
// {"error":{"code":<docs/errors.md code>,"message":..}}; unknown keys are 404 "not_found".
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/error.h"
#include "net/http_client.h"
#include "net/router.h"
#include "signer/signer.h"

namespace docket::signer {

// Largest message a client may ask to have signed (a snapshot listing many delegations is
// the biggest thing the trust server signs).
inline constexpr std::size_t kMaxSignMessageBytes = 16 * 1024 * 1024;
// Largest request body the signer API reads (base64 of the above plus JSON).
inline constexpr std::size_t kMaxSignerRequestBytes = kMaxSignMessageBytes / 3 * 4 + 4096;

// Mounts the wire API above on `router`, backed by `signer` (which must outlive it). Routes
// are named "signer.*".
void install_signer_routes(net::Router& router, Signer& signer);

struct RemoteSignerOptions {
  // Base URL of `docket-server signer`, e.g. https://signer.internal:7899 (https only).
  std::string url;
  // CA that issued the signer's server certificate; client certificate and key (PEM,
  // unencrypted key) this trust server presents.
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
  // Connect (TCP + TLS) and per-request idle limits: a signer that is down or hung fails
  // the request that needed it, with Error{remote, "signer_unavailable"}.
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{10000};
};

// Validates the options (https URL, all three files readable): Error{user, "config"}. Does
// not contact the signer (the trust server starts while the signer is still coming up;
// /_notary_server/health reports it).
Result<std::unique_ptr<Signer>> open_remote_signer(RemoteSignerOptions o);

}  // namespace docket::signer
