// Test-only: a throwaway PKI for real-TLS tests. Link target: docket_net_testing.
//
//   auto dir = TempDir::create("pki");
//   auto pki = make_test_pki(dir.path()).value();
//   // server: pki.server_cert / pki.server_key (SANs localhost, 127.0.0.1, ::1)
//   // client: HttpClientOptions.tls.ca_file = pki.ca_cert; mutual TLS: pki.client_cert/key
//   // Docker layout: pki.certs_d holds ca.crt, client.cert, client.key
//
// Keys are ECDSA P-256 by default (fast); RSA-2048 on request. Private keys are written
// unencrypted (PKCS#8 PEM, mode 0600): never use these outside tests.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"

namespace docket::net::testing {

enum class KeyKind { ec_p256, rsa_2048 };

struct PemKeyCert {
  std::string key_pem;   // PKCS#8 private key
  std::string cert_pem;  // certificate
};

struct CertSpec {
  std::string common_name{};
  std::vector<std::string> dns_names{};     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses{};  // subjectAltName IP entries ("127.0.0.1", "::1")
  bool server_auth = false;                 // extendedKeyUsage serverAuth
  bool client_auth = false;                 // extendedKeyUsage clientAuth
  bool is_ca = false;                       // basicConstraints CA:TRUE, keyCertSign
  // Validity relative to now: [now + not_before, now + not_after].
  std::chrono::seconds not_before{-3600};
  std::chrono::seconds not_after{std::chrono::hours(24)};
  KeyKind key_kind = KeyKind::ec_p256;
};

// A self-signed CA certificate (spec.is_ca is forced on).
Result<PemKeyCert> make_self_signed_ca(CertSpec spec);
// A certificate for a fresh key, signed by `issuer`.
Result<PemKeyCert> issue_certificate(const PemKeyCert& issuer, const CertSpec& spec);

struct TestPki {
  std::filesystem::path dir;
  std::filesystem::path ca_cert, ca_key;          // ca.crt, ca.key
  std::filesystem::path server_cert, server_key;  // server.crt, server.key
  std::filesystem::path client_cert,
      client_key;                 // client.crt, client.key (CN "docket-test-client")
  std::filesystem::path certs_d;  // certs.d/{ca.crt,client.cert,client.key}
  PemKeyCert ca, server, client;
};

struct TestPkiOptions {
  KeyKind key_kind = KeyKind::ec_p256;
  std::string ca_name = "docket test CA";
  std::vector<std::string> extra_dns_names;  // besides "localhost"
  // Server certificate validity (e.g. a negative not_after for an expired-cert test).
  std::chrono::seconds server_not_before{-3600};
  std::chrono::seconds server_not_after{std::chrono::hours(24)};
};

// Creates CA, server certificate (localhost, 127.0.0.1, ::1) and client certificate under
// `dir` (which must exist).
Result<TestPki> make_test_pki(const std::filesystem::path& dir, const TestPkiOptions& opts = {});

}  // namespace docket::net::testing
