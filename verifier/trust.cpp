#include "verifier/trust.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>
#include <memory>
#include <optional>

#include "client/docker_config.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "keys/key.h"
#include "net/http_client.h"
#include "tuf/fetcher.h"
#include "tuf/repo_store.h"
#include "tuf/store.h"
#include "tuf/trusted_set.h"
#include "tuf/updater.h"
#include "tuf/verify.h"
#include "verifier/notary_store.h"
#include "verifier/root_certs.h"

namespace docket::verifier {
namespace fs = std::filesystem;

std::string gun_of(const client::Reference& ref) {
  return ref.repository();
}

TrustConfig trust_config_for(const client::Reference& ref) {
  TrustConfig c;
  if (const char* s = std::getenv("DOCKER_CONTENT_TRUST_SERVER"); s && *s) {
    c.server_url = s;
  } else if (ref.domain() == client::kDefaultDomain) {
    c.server_url = "https://notary.docker.io";
  } else {
    c.server_url = "https://" + ref.domain();
  }
  while (!c.server_url.empty() && c.server_url.back() == '/') c.server_url.pop_back();
  c.trust_dir = client::docker_config_dir() / "trust";
  c.certs_dirs = trust_certs_search_path();
  c.credentials = [url = c.server_url, domain = ref.domain()] {
    return client::trust_server_credentials(url, domain);
  };
  return c;
}

std::vector<fs::path> trust_certs_search_path() {
  return {client::docker_config_dir() / "tls", "/etc/docker/certs.d"};
}

namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
struct OsslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

// Every PEM certificate in a CA file (at most `max`), in order. Non-certificate PEM blocks
// are skipped; a malformed certificate block is a config error (the user's file).
Result<std::vector<X509Ptr>> parse_pem_certificates(std::string_view pem, std::size_t max,
                                                    const std::string& what) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                &BIO_free);
  if (!bio) return make_error(Fault::local, "internal", "out of memory reading " + what);
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ERR_clear_error();  // end of input (or trailing garbage, which PEM tools ignore too)
      break;
    }
    std::unique_ptr<char, OsslFree> n(name), h(header);
    std::unique_ptr<unsigned char, OsslFree> d(data);
    if (std::string_view(name) != "CERTIFICATE") continue;
    const unsigned char* p = data;
    X509Ptr c(d2i_X509(nullptr, &p, len), &X509_free);
    if (!c || p != data + len) {
      ERR_clear_error();
      return make_error(
          Fault::user, "config",
          what + ": certificate " + std::to_string(out.size() + 1) + " is not valid DER");
    }
    if (out.size() == max)
      return make_error(Fault::user, "config",
                        what + " holds more than " + std::to_string(max) + " certificates");
    out.push_back(std::move(c));
  }
  return out;
}

std::string x509_der(X509* c) {
  unsigned char* buf = nullptr;
  int n = i2d_X509(c, &buf);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(buf), std::size_t(n));
  OPENSSL_free(buf);
  return out;
}

Status load_ca_pin(TrustPins& p, const fs::path& trust_dir, const std::string& prefix,
                   const std::string& file) {
  fs::path f = file;
  if (f.is_relative()) f = trust_dir / f;
  std::string what = "CA file " + f.string() + " pinned for \"" + prefix + "\" in " +
                     (trust_dir / kTrustPinningFile).string();
  auto text = read_file(f, kMaxCaBundleBytes);
  if (!text)
    return make_error(Fault::user, "config", "cannot read " + what + ": " + text.error().message);
  auto certs = parse_pem_certificates(*text, kMaxCaBundleCertificates, what);
  if (!certs) return std::unexpected(certs.error());
  if (certs->empty()) return make_error(Fault::user, "config", what + " holds no PEM certificate");
  p.ca_prefix = prefix;
  p.ca_file = f;
  for (auto& c : *certs) p.ca_certs_der.push_back(x509_der(c.get()));
  return {};
}

}  // namespace

Result<TrustPins> load_trust_pins(const fs::path& trust_dir, const std::string& gun) {
  TrustPins p;
  fs::path f = trust_dir / kTrustPinningFile;
  std::error_code ec;
  if (!fs::exists(f, ec)) return p;
  auto text = read_file(f, 1 << 20);
  if (!text) return std::unexpected(text.error());
  auto j = parse_json(*text, f.string(), Fault::user);
  if (!j) return make_error(Fault::user, "config", j.error().message);
  if (!j->is_object())
    return make_error(Fault::user, "config", f.string() + " is not a JSON object");
  if (j->contains("disable_tofu"))
    p.disable_tofu = (*j)["disable_tofu"].is_boolean() && (*j)["disable_tofu"].get<bool>();
  auto take_ids = [&](const std::string& key, const Json& ids) -> Status {
    if (!ids.is_array())
      return make_error(Fault::user, "config",
                        f.string() + ": certs." + key + " must be a list of key IDs");
    for (const auto& id : ids)
      if (id.is_string() && !id.get<std::string>().empty()) p.key_ids.push_back(id);
    return {};
  };
  if (j->contains("certs") && (*j)["certs"].is_object()) {
    const Json& certs = (*j)["certs"];
    if (certs.contains(gun)) {
      if (auto s = take_ids(gun, certs[gun]); !s) return std::unexpected(s.error());
      return p;
    }
    // Notary's wildcard certs pins: "<prefix>*", the longest matching prefix wins.
    std::optional<std::string> best;
    for (const auto& [key, ids] : certs.items())
      if (key.ends_with('*') && gun.starts_with(std::string_view(key).substr(0, key.size() - 1)) &&
          (!best || key.size() > best->size()))
        best = key;
    if (best) {
      if (auto s = take_ids(*best, certs[*best]); !s) return std::unexpected(s.error());
      return p;
    }
  }
  if (j->contains("ca")) {
    const Json& ca = (*j)["ca"];
    if (!ca.is_object())
      return make_error(Fault::user, "config",
                        f.string() + ": \"ca\" must map GUN prefixes to CA file paths");
    // The longest key that starts the GUN (Notary: a plain prefix; "" matches every GUN).
    std::optional<std::string> best;
    for (const auto& [prefix, path] : ca.items()) {
      if (!path.is_string() || path.get<std::string>().empty())
        return make_error(Fault::user, "config",
                          f.string() + ": ca.\"" + prefix + "\" must be a CA file path");
      if (gun.starts_with(prefix) && (!best || prefix.size() > best->size())) best = prefix;
    }
    if (best)
      if (auto s = load_ca_pin(p, trust_dir, *best, ca[*best].get<std::string>()); !s)
        return std::unexpected(s.error());
  }
  return p;
}

bool pin_matches(const TrustPins& pins, const std::vector<std::string>& ids) {
  for (const auto& id : ids)
    for (const auto& pin : pins.key_ids)
      if (id == pin || id.starts_with(pin)) return true;
  return false;
}

Status check_root_chains_to_ca(const tuf::Metadata<tuf::Root>& root,
                               const std::vector<std::string>& ca_certs_der, const std::string& gun,
                               TimePoint now, const std::string& pin_description) {
  const tuf::Root& r = root.signed_;
  const tuf::RoleKeys& role = r.role(tuf::RoleType::root);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  if (!store) return make_error(Fault::local, "internal", "out of memory (X509_STORE)");
  for (const auto& der : ca_certs_der) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr c(d2i_X509(nullptr, &p, long(der.size())), &X509_free);
    if (!c) {
      ERR_clear_error();
      return make_error(Fault::user, "config",
                        pin_description + " holds an unreadable certificate");
    }
    X509_STORE_add_cert(store.get(), c.get());  // takes its own reference; duplicates ignored
  }
  ERR_clear_error();

  tuf::RoleKeys counting;
  counting.threshold = role.threshold;
  std::string rejected;
  auto reject = [&](const std::string& id, const std::string& why) {
    rejected += (rejected.empty() ? "" : "; ") + id.substr(0, 12) + " " + why;
  };
  for (const auto& id : role.keyids) {
    auto kj = r.keys.find(id);
    if (kj == r.keys.end()) {
      reject(id, "is not in the root's keys");
      continue;
    }
    // The same key parsing and certificate checks as every Notary root (root_certs.cpp); a
    // key that is not an x509 certificate (or leaf + CA bundle) is refused there first.
    auto key = keys::PublicKey::from_json(kj->second, Fault::remote);
    if (!key) {
      reject(id, "has an unreadable certificate");
      continue;
    }
    if (!key->is_x509()) {
      reject(id, "is not an x509 certificate");
      continue;
    }
    if (key->certificate_is_ca().value_or(true)) {
      reject(id, "holds no leaf certificate");
      continue;
    }
    auto cn = key->certificate_common_name();
    if (!cn || *cn != gun) {
      reject(id, "has CN \"" + cn.value_or("") + "\", not the repository name");
      continue;
    }
    auto der = key->certificate_der();
    const unsigned char* p = der ? reinterpret_cast<const unsigned char*>(der->data()) : nullptr;
    X509Ptr leaf(der ? d2i_X509(nullptr, &p, long(der->size())) : nullptr, &X509_free);
    if (!leaf) {
      ERR_clear_error();
      reject(id, "has an unreadable certificate");
      continue;
    }
    // The CA certificates bundled after the leaf may complete the path to a pinned CA, as in
    // Notary; they are never anchors themselves.
    auto free_stack = [](STACK_OF(X509) * sk) { sk_X509_free(sk); };  // a macro in OpenSSL 3
    std::unique_ptr<STACK_OF(X509), decltype(free_stack)> untrusted(sk_X509_new_null(), free_stack);
    std::vector<X509Ptr> chain;
    auto chain_der = key->certificate_chain_der();
    if (!untrusted || !chain_der) {
      ERR_clear_error();
      return make_error(Fault::local, "internal", "cannot set up certificate verification");
    }
    bool readable = true;
    for (const auto& d : *chain_der) {
      const unsigned char* q = reinterpret_cast<const unsigned char*>(d.data());
      chain.emplace_back(d2i_X509(nullptr, &q, long(d.size())), &X509_free);
      if (!chain.back() || !sk_X509_push(untrusted.get(), chain.back().get())) readable = false;
    }
    if (!readable) {
      ERR_clear_error();
      reject(id, "has an unreadable certificate bundle");
      continue;
    }
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        &X509_STORE_CTX_free);
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
      ERR_clear_error();
      return make_error(Fault::local, "internal", "cannot set up certificate verification");
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    // Checked at `now` (not the wall clock); an intermediate CA may be the pin.
    X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(now));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    int ok = X509_verify_cert(ctx.get());
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    if (ok != 1) {
      reject(id, std::string("does not chain to it: ") + X509_verify_cert_error_string(err));
      continue;
    }
    counting.keyids.push_back(id);
  }
  std::string what = "root v" + std::to_string(r.version) + " of " + gun;
  if (tuf::verify_delegate(what, "its root certificates issued by " + pin_description,
                           root.canonical_signed, root.signatures, r.dialect, r.keys, counting))
    return {};
  return make_error(Fault::remote, "pin_mismatch",
                    what + " is not signed by a threshold of " + std::to_string(role.threshold) +
                        " root certificate(s) issued by " + pin_description + "; refusing it" +
                        (rejected.empty() ? "" : " (" + rejected + ")"));
}

Status check_first_use_root(const tuf::Metadata<tuf::Root>& root, const TrustPins& pins,
                            const std::string& gun, const std::string& server_url,
                            const std::function<void(const std::string&)>& warn, TimePoint now) {
  const auto& root_keys = root.signed_.role(tuf::RoleType::root).keyids;
  if (!pins.key_ids.empty()) {
    // A pin names a root key as root.json lists it (Notary: the certificate's ID) or by the
    // ID of its public key (what `docket trust key list` shows).
    std::vector<std::string> ids = root_keys;
    for (const auto& id : root_keys)
      if (auto it = root.signed_.keys.find(id); it != root.signed_.keys.end())
        if (auto k = keys::PublicKey::from_json(it->second, Fault::remote))
          ids.push_back(k->canonical_key_id());
    if (!pin_matches(pins, ids))
      return make_error(Fault::remote, "pin_mismatch",
                        "root.json of " + gun + " is not signed by the pinned root key (" +
                            pins.key_ids.front() + "); refusing it");
    return {};
  }
  if (pins.ca_prefix)
    return check_root_chains_to_ca(
        root, pins.ca_certs_der, gun, now,
        "the CA pinned for \"" + *pins.ca_prefix + "\" (" + pins.ca_file.string() + ")");
  if (pins.disable_tofu)
    return make_error(Fault::user, "not_pinned",
                      "no pinned root key for " + gun + " and trust on first use is disabled");
  if (warn)
    warn("WARNING: first use of trust data for " + gun + ": trusting root key " +
         (root_keys.empty() ? "?" : root_keys.front()) + " from " + server_url + " without a pin");
  return {};
}

namespace {

Result<std::string> decode_sha256(const tuf::TargetInfo& t) {
  auto it = t.file.hashes.find("sha256");
  if (it == t.file.hashes.end())
    return make_error(Fault::remote, "malformed_metadata",
                      "target \"" + t.path.str() + "\" has no sha256 hash");
  if (t.dialect == tuf::Dialect::notary) {
    auto raw = base64_decode(it->second);
    if (!raw || raw->size() != 32)
      return make_error(Fault::remote, "bad_encoding", "target sha256 is not base64 of 32 bytes");
    return *raw;
  }
  auto raw = hex_decode(it->second);
  if (!raw || raw->size() != 32)
    return make_error(Fault::remote, "bad_encoding", "target sha256 is not hex of 32 bytes");
  return *raw;
}

// "host:port" as written in an absolute URL (docker's url.Host), for certs directories.
std::string url_authority(const std::string& url) {
  auto b = url.find("://");
  if (b == std::string::npos) return "";
  b += 3;
  auto e = url.find_first_of("/?#", b);
  std::string a = url.substr(b, e == std::string::npos ? std::string::npos : e - b);
  if (auto at = a.rfind('@'); at != std::string::npos) a = a.substr(at + 1);
  return a;
}

Result<tuf::HttpFetcherOptions> fetcher_options(const TrustConfig& cfg) {
  tuf::HttpFetcherOptions fo;
  if (!cfg.server_url.starts_with("https://")) return fo;
  std::string host = url_authority(cfg.server_url);
  if (host.empty() || host.find("..") != std::string::npos || host.find('/') != std::string::npos)
    return fo;
  for (const auto& dir : cfg.certs_dirs) {
    std::error_code ec;
    fs::path host_dir = dir / host;
    if (!fs::is_directory(host_dir, ec)) continue;
    auto tls = net::tls_options_from_certs_d(host_dir);
    if (!tls) return std::unexpected(with_context(tls.error(), "trust server certificates"));
    fo.tls = *tls;
    break;
  }
  return fo;
}

// DOCKET_TRUST_PIPELINE=0 turns pipelining of first-use metadata requests off.
bool trust_pipelining_enabled() {
  const char* v = std::getenv("DOCKET_TRUST_PIPELINE");
  return !(v && std::string_view(v) == "0");
}

const tuf::RoleName& releases_role() {
  static const tuf::RoleName r = *tuf::RoleName::make("targets/releases");
  return r;
}

// What check_root_certificates() looks at: the signed bytes and every signature.
std::string root_fingerprint(const tuf::Metadata<tuf::Root>& root) {
  std::string f = root.canonical_signed;
  for (const auto& s : root.signatures) {
    f += '\n';
    f += s.keyid + ' ' + s.method + ' ' + s.sig;
  }
  return f;
}

}  // namespace

namespace {

// Refreshes the repository's metadata in `store` and looks `name` up as docker looks a tag
// up. nullopt: not signed in targets/releases or targets (for_tag: then the error names the
// tag).
Result<std::optional<TrustedTarget>> lookup_in(NotaryLayoutStore& store,
                                               const client::Reference& ref, const std::string& tag,
                                               const TrustConfig& cfg,
                                               const std::function<void(const std::string&)>& warn,
                                               bool for_tag) {
  std::string gun = gun_of(ref);
  auto fo = fetcher_options(cfg);
  if (!fo) return std::unexpected(fo.error());
  // The HttpFetcher's transport settings, with authentication on the trust server's challenge.
  net::HttpClientOptions ho;
  ho.connect_timeout = fo->connect_timeout;
  ho.idle_timeout = fo->idle_timeout;
  ho.total_timeout = fo->total_timeout;
  ho.max_retries = 0;
  ho.follow_redirects = false;
  ho.proxy = "";
  ho.tls = fo->tls;
  // The built-in HTTP/1.1 client: a lookup then never loads libcurl (see net/http_client.h).
  ho.transport = net::HttpTransport::native;
  auto http = net::HttpClient::create(ho);
  if (!http) return std::unexpected(http.error());
  client::TrustAuthSession auth(std::make_shared<net::HttpClient>(std::move(*http)),
                                client::url_host_port(cfg.server_url), cfg.credentials);
  tuf::HttpSendPipelined pipelined;
  if (trust_pipelining_enabled())
    pipelined = [&auth](std::vector<net::HttpRequest> q) {
      return auth.send_pipelined(std::move(q));
    };
  auto fetcher = std::make_unique<tuf::SendFetcher>(
      [&auth](const net::HttpRequest& q) { return auth.send(q); }, std::move(pipelined));
  std::string metadata_url = cfg.server_url + "/v2/" + gun + "/_trust/tuf/";
  tuf::Limits limits;
  std::function<TimePoint()> clock =
      cfg.clock ? cfg.clock : [] { return std::chrono::system_clock::now(); };

  auto local_root = store.load(tuf::RoleName::root(), limits.max_root_bytes);
  if (!local_root) return std::unexpected(local_root.error());
  // The root whose certificates were checked at bootstrap, if any: signed part and signatures.
  std::optional<std::string> checked_root;
  // That root, verified, for the refresh to start from (not parsed and verified again).
  std::optional<tuf::TrustedSet> bootstrapped;
  if (!*local_root) {
    // First use: bootstrap the root, pinned or trusted on first use.
    auto pins = load_trust_pins(cfg.trust_dir, gun);
    if (!pins) return std::unexpected(pins.error());
    // Every top-level role must be fetched, so all four requests go out at once, pipelined
    // on one connection (a round trip instead of four), and the answers are kept for the
    // fetches below: the root's right here, the others in the refresh. The
    // updater asks for snapshot and targets by checksum; the fetcher hands it the plain
    // file's bytes only when they hash to that checksum (tuf/fetcher.h). Later lookups
    // fetch the timestamp first and then only what changed, so they prefetch nothing.
    fetcher->prefetch({{metadata_url + "root.json", limits.max_root_bytes},
                       {metadata_url + "timestamp.json", limits.max_timestamp_bytes},
                       {metadata_url + "snapshot.json", limits.max_snapshot_bytes},
                       {metadata_url + "targets.json", limits.max_targets_bytes}});
    auto bytes = fetcher->fetch(metadata_url + "root.json", limits.max_root_bytes);
    if (!bytes) {
      if (bytes.error().code == "not_found")
        return make_error(Fault::user, "not_signed",
                          "no trust data for " + gun + " on " + cfg.server_url +
                              ": the repository has never been signed");
      return std::unexpected(with_context(bytes.error(), "fetching root.json of " + gun));
    }
    auto ts = tuf::TrustedSet::create(*bytes, limits, clock);
    if (!ts) return std::unexpected(with_context(ts.error(), "root.json of " + gun));
    if (auto c = check_root_certificates(ts->root().md, gun, clock()); !c)
      return std::unexpected(c.error());
    checked_root = root_fingerprint(ts->root().md);
    if (auto s = check_first_use_root(ts->root().md, *pins, gun, cfg.server_url, warn, clock()); !s)
      return std::unexpected(s.error());
    if (auto s = store.store(tuf::RoleName::root(), *bytes); !s) return std::unexpected(s.error());
    bootstrapped.emplace(std::move(*ts));
  }

  tuf::UpdaterOptions uo;
  uo.metadata_url = metadata_url;
  uo.target_base_url = metadata_url;
  uo.limits = limits;
  uo.clock = clock;
  tuf::Updater up(uo, store, *fetcher);
  if (auto s = bootstrapped ? up.refresh(std::move(*bootstrapped)) : up.refresh(); !s)
    return std::unexpected(with_context(s.error(), "trust data for " + gun));
  // The root may have been rotated during the refresh: the newest must pass too (unless it
  // is, byte for byte, the one just checked at bootstrap).
  if (!checked_root || *checked_root != root_fingerprint(up.trusted()->root().md))
    if (auto c = check_root_certificates(up.trusted()->root().md, gun, clock()); !c)
      return std::unexpected(c.error());
  auto path = tuf::TargetPath::make(tag);
  if (!path) return std::unexpected(path.error());
  Result<std::optional<tuf::TargetInfo>> t = std::optional<tuf::TargetInfo>();
  if (up.trusted()->dialect() == tuf::Dialect::notary) {
    // As docker: GetTargetByName(tag, targets/releases, targets), each walk skipping the
    // other role's subtree.
    t = up.find_target_from(*path, releases_role(), {tuf::RoleName::targets()});
    if (t && !*t) t = up.find_target_from(*path, tuf::RoleName::targets(), {releases_role()});
  } else {
    t = up.find_target(*path);
  }
  if (!t) return std::unexpected(with_context(t.error(), "trust data for " + gun));
  if (!*t) return std::optional<TrustedTarget>();
  if (up.trusted()->dialect() == tuf::Dialect::notary && (*t)->role != releases_role() &&
      (*t)->role != tuf::RoleName::targets()) {
    if (!for_tag) return std::optional<TrustedTarget>();
    return make_error(Fault::user, "not_signed",
                      "tag \"" + tag + "\" of " + gun + " is signed only by the delegation " +
                          (*t)->role.str() +
                          "; like docker, a pull trusts only targets/releases and targets");
  }
  auto raw = decode_sha256(**t);
  if (!raw) return std::unexpected(raw.error());
  TrustedTarget out;
  out.descriptor.digest = Digest::from_raw(HashAlgorithm::sha256, *raw);
  out.descriptor.size = static_cast<std::uint64_t>((*t)->file.length);
  out.role = (*t)->role.str();
  return out;
}

Result<std::optional<TrustedTarget>> lookup(const client::Reference& ref, const std::string& tag,
                                            const TrustConfig& cfg,
                                            const std::function<void(const std::string&)>& warn,
                                            bool for_tag) {
  auto repo = tuf::RepoStore::open(cfg.trust_dir, gun_of(ref));
  if (!repo) return std::unexpected(repo.error());
  // A first use's root.json is fsynced while the other roles are fetched and verified.
  NotaryLayoutStore store(std::move(*repo), RootWrite::background);
  auto r = lookup_in(store, ref, tag, cfg, warn, for_tag);
  // The answer counts only once the trust anchor it was verified under is on disk.
  if (auto s = store.flush(); !s && r) return std::unexpected(s.error());
  return r;
}

}  // namespace

Result<TrustedTarget> resolve_trusted(const client::Reference& ref, const TrustConfig& cfg,
                                      const std::function<void(const std::string&)>& warn) {
  std::string tag = ref.tag().value_or(std::string(client::kDefaultTag));
  auto t = lookup(ref, tag, cfg, warn, true);
  if (!t) return std::unexpected(t.error());
  if (!*t)
    return make_error(Fault::user, "not_signed",
                      "no signed tag \"" + tag + "\" in the trust data of " + gun_of(ref));
  return **t;
}

Result<std::optional<TrustedTarget>> find_signed_manifest(
    const client::Reference& ref, const Digest& digest, const TrustConfig& cfg,
    const std::function<void(const std::string&)>& warn) {
  if (digest.algorithm() != HashAlgorithm::sha256) return std::optional<TrustedTarget>();
  auto t = lookup(ref, digest.str(), cfg, warn, false);
  if (!t || !*t) return t;
  // The target's name is the digest it must carry: anything else is forged or broken.
  if ((*t)->descriptor.digest != digest)
    return make_error(Fault::remote, "hash_mismatch",
                      "the signed entry \"" + digest.str() + "\" of " + gun_of(ref) +
                          " carries the hash " + (*t)->descriptor.digest.str());
  return t;
}

Status check_platform_manifest(const client::Reference& ref, const client::Descriptor& entry,
                               const TrustConfig& cfg,
                               const std::function<void(const std::string&)>& warn,
                               std::string* signed_by) {
  auto t = find_signed_manifest(ref, entry.digest, cfg, warn);
  if (!t) return std::unexpected(t.error());
  if (!*t) return {};
  if ((*t)->descriptor.size != entry.size)
    return make_error(Fault::remote, "hash_mismatch",
                      "platform manifest " + entry.digest.str() + " is listed as " +
                          std::to_string(entry.size) + " bytes by the index but signed as " +
                          std::to_string((*t)->descriptor.size) + " bytes in " + gun_of(ref));
  if (signed_by) *signed_by = (*t)->role;
  return {};
}

}  // namespace docket::verifier
