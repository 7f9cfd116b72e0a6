#include "signer/remote.h"

#include <map>
#include <mutex>

#include "common/encoding.h"
#include "common/json.h"
#include "common/log.h"
#include "common/time.h"

namespace docket::signer {
namespace {

bool valid_key_id(std::string_view id) {
  return id.size() == 64 && is_lower_hex(id);
}

Json info_to_json(const KeyInfo& k) {
  return {{"key_id", k.key_id},
          {"gun", k.gun},
          {"role", k.role},
          {"algorithm", std::string(keys::algorithm_name(k.algorithm))},
          {"public", k.public_json},
          {"method", k.method},
          {"created", format_rfc3339_nano(k.created)}};
}

Result<KeyInfo> info_from_json(const Json& j) {
  auto bad = [](const std::string& why) {
    return make_error(Fault::remote, "bad_response", "signer sent a malformed key: " + why);
  };
  if (!j.is_object()) return bad("not an object");
  for (const char* f : {"key_id", "gun", "role", "algorithm", "public", "method", "created"})
    if (!j.contains(f) || !j[f].is_string()) return bad(std::string("no string \"") + f + "\"");
  KeyInfo k;
  k.key_id = j["key_id"];
  if (!valid_key_id(k.key_id)) return bad("key_id is not 64 lower-case hex digits");
  k.gun = j["gun"];
  k.role = j["role"];
  auto a = keys::parse_algorithm(j["algorithm"].get<std::string>(), Fault::remote);
  if (!a) return std::unexpected(a.error());
  k.algorithm = *a;
  k.public_json = j["public"];
  k.method = j["method"];
  auto t = parse_rfc3339(j["created"].get<std::string>());
  if (!t) return bad("created: " + t.error().message);
  k.created = *t;
  // The key ID must be the one of the public key it came with: a signer (or anything in
  // between) cannot hand out a key under another key's ID.
  auto pj = parse_json(k.public_json, "signer key", Fault::remote);
  if (!pj) return std::unexpected(pj.error());
  auto pub = keys::PublicKey::from_json(*pj, Fault::remote);
  if (!pub) return std::unexpected(pub.error());
  if (pub->key_id() != k.key_id) return bad("key_id does not match the public key");
  return k;
}

// ---- server ----

void send_error(net::Response& res, const Error& e) {
  unsigned status = 500;
  if (e.code == "not_found")
    status = 404;
  else if (e.fault == Fault::user || e.fault == Fault::remote)
    status = 400;
  if (status >= 500) log::error("signer request failed", {{"error", e.describe()}});
  res.set_json(status, Json{{"error", {{"code", e.code}, {"message", e.message}}}});
}

Result<Json> request_json(const net::Request& req) {
  auto j = parse_json(req.body, "request body", Fault::user);
  if (!j) return std::unexpected(j.error());
  if (!j->is_object())
    return make_error(Fault::user, "bad_request", "request body is not an object");
  return j;
}

std::optional<std::string> string_field(const Json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) return std::nullopt;
  return j[name].get<std::string>();
}

Status check_gun_role(std::string_view gun, std::string_view role) {
  if (gun.empty() || gun.size() > 255)
    return make_error(Fault::user, "bad_request", "gun must be 1..255 bytes");
  for (unsigned char c : gun)
    if (c <= 0x20 || c >= 0x7f)
      return make_error(Fault::user, "bad_request", "gun holds a space, control or non-ASCII byte");
  if (role != "timestamp" && role != "snapshot")
    return make_error(Fault::user, "bad_request",
                      "role must be \"timestamp\" or \"snapshot\" (the server-managed roles)");
  return {};
}

}  // namespace

void install_signer_routes(net::Router& router, Signer& signer) {
  namespace http = net::http;
  net::RouteOptions small;
  small.max_body = 4096;
  net::RouteOptions none;
  none.max_body = 0;
  net::RouteOptions sign;
  sign.max_body = kMaxSignerRequestBytes;
  Signer* s = &signer;

  router.add(
      http::verb::post, "/v1/keys", "signer.keys.create",
      [s](net::Request& req, net::Response& res) {
        auto j = request_json(req);
        if (!j) return send_error(res, j.error());
        auto gun = string_field(*j, "gun");
        auto role = string_field(*j, "role");
        auto alg = string_field(*j, "algorithm");
        if (!gun || !role || !alg)
          return send_error(res, Error{Fault::user, "bad_request",
                                       "gun, role and algorithm are required strings"});
        if (auto st = check_gun_role(*gun, *role); !st) return send_error(res, st.error());
        auto a = keys::parse_algorithm(*alg);
        if (!a) return send_error(res, a.error());
        auto k = s->create_key(*gun, *role, *a);
        if (!k) return send_error(res, k.error());
        log::info("signer key created", {{"key_id", k->key_id},
                                         {"gun", k->gun},
                                         {"role", k->role},
                                         {"client", req.tls_client_subject}});
        res.set_json(201, info_to_json(*k));
      },
      small);
  router.add(
      http::verb::get, "/v1/keys", "signer.keys.list",
      [s](net::Request& req, net::Response& res) {
        auto gun = req.query_param("gun").value_or("");
        auto role = req.query_param("role").value_or("");
        if (auto st = check_gun_role(gun, role); !st) return send_error(res, st.error());
        auto ks = s->list_keys(gun, role);
        if (!ks) return send_error(res, ks.error());
        Json arr = Json::array();
        for (const auto& k : *ks) arr.push_back(info_to_json(k));
        res.set_json(200, Json{{"keys", arr}});
      },
      none);
  router.add(
      http::verb::get, "/v1/keys/{id}", "signer.keys.get",
      [s](net::Request& req, net::Response& res) {
        const auto& id = req.params["id"];
        if (!valid_key_id(id))
          return send_error(res, Error{Fault::user, "not_found", "no key " + id});
        auto k = s->get_key(id);
        if (!k) return send_error(res, k.error());
        res.set_json(200, info_to_json(*k));
      },
      none);
  router.add(
      http::verb::post, "/v1/keys/{id}/sign", "signer.sign",
      [s](net::Request& req, net::Response& res) {
        const auto& id = req.params["id"];
        if (!valid_key_id(id))
          return send_error(res, Error{Fault::user, "not_found", "no key " + id});
        auto j = request_json(req);
        if (!j) return send_error(res, j.error());
        auto b64 = string_field(*j, "message");
        if (!b64)
          return send_error(res, Error{Fault::user, "bad_request", "message is a required string"});
        auto msg = base64_decode(*b64);
        if (!msg) return send_error(res, Error{Fault::user, "bad_request", "message: not base64"});
        if (msg->size() > kMaxSignMessageBytes)
          return send_error(
              res, Error{Fault::user, "too_large",
                         "message over " + std::to_string(kMaxSignMessageBytes) + " bytes"});
        auto sig = s->sign(id, *msg);
        if (!sig) return send_error(res, sig.error());
        res.set_json(200, Json{{"signature", base64_encode(*sig)}});
      },
      sign);
  router.add(
      http::verb::delete_, "/v1/keys/{id}", "signer.keys.delete",
      [s](net::Request& req, net::Response& res) {
        const auto& id = req.params["id"];
        if (!valid_key_id(id))
          return send_error(res, Error{Fault::user, "not_found", "no key " + id});
        if (auto st = s->delete_key(id); !st) return send_error(res, st.error());
        log::info("signer key deleted", {{"key_id", id}, {"client", req.tls_client_subject}});
        res.status = 204;
      },
      none);
  router.add(
      http::verb::get, "/v1/health", "signer.health",
      [s](net::Request&, net::Response& res) {
        if (auto st = s->check_health(); !st)
          return res.set_json(
              503, Json{{"error", {{"code", st.error().code}, {"message", st.error().message}}}});
        res.set_json(200, Json{{"status", "ok"}});
      },
      none);
}

// ---- client ----

namespace {

class RemoteSigner final : public Signer {
 public:
  RemoteSigner(RemoteSignerOptions o, net::HttpClient c) : o_(std::move(o)), client_(std::move(c)) {
    while (o_.url.ends_with('/')) o_.url.pop_back();
  }

  Result<KeyInfo> create_key(std::string_view gun, std::string_view role,
                             keys::Algorithm a) override {
    Json body = {{"gun", std::string(gun)},
                 {"role", std::string(role)},
                 {"algorithm", std::string(keys::algorithm_name(a))}};
    auto j = call("POST", "/v1/keys", body.dump());
    if (!j) return std::unexpected(j.error());
    auto k = info_from_json(*j);
    if (!k) return k;
    if (k->gun != gun || k->role != role || k->algorithm != a)
      return make_error(Fault::remote, "bad_response",
                        "signer created a key for another gun, role or algorithm");
    remember(*k);
    return k;
  }

  Result<KeyInfo> get_key(std::string_view key_id) override {
    {
      std::lock_guard lk(mu_);
      if (auto it = cache_.find(std::string(key_id)); it != cache_.end()) return it->second;
    }
    if (!valid_key_id(key_id))
      return make_error(Fault::user, "not_found", "no key " + std::string(key_id));
    auto j = call("GET", "/v1/keys/" + std::string(key_id), "");
    if (!j) return std::unexpected(j.error());
    auto k = info_from_json(*j);
    if (!k) return k;
    if (k->key_id != key_id)
      return make_error(Fault::remote, "bad_response", "signer answered with another key");
    remember(*k);
    return k;
  }

  Result<std::vector<KeyInfo>> list_keys(std::string_view gun, std::string_view role) override {
    auto j =
        call("GET", "/v1/keys?gun=" + percent_encode(gun) + "&role=" + percent_encode(role), "");
    if (!j) return std::unexpected(j.error());
    if (!j->contains("keys") || !(*j)["keys"].is_array())
      return make_error(Fault::remote, "bad_response", "signer key list has no \"keys\" array");
    std::vector<KeyInfo> out;
    for (const auto& e : (*j)["keys"]) {
      auto k = info_from_json(e);
      if (!k) return std::unexpected(k.error());
      remember(*k);
      out.push_back(std::move(*k));
    }
    return out;
  }

  Result<std::string> sign(std::string_view key_id, std::string_view message) override {
    if (!valid_key_id(key_id))
      return make_error(Fault::user, "not_found", "no key " + std::string(key_id));
    if (message.size() > kMaxSignMessageBytes)
      return make_error(Fault::user, "too_large",
                        "message over " + std::to_string(kMaxSignMessageBytes) + " bytes");
    Json body = {{"message", base64_encode(message)}};
    auto j = call("POST", "/v1/keys/" + std::string(key_id) + "/sign", body.dump());
    if (!j) return std::unexpected(j.error());
    if (!j->contains("signature") || !(*j)["signature"].is_string())
      return make_error(Fault::remote, "bad_response", "signer answer has no \"signature\"");
    auto sig = base64_decode((*j)["signature"].get<std::string>());
    if (!sig) return make_error(Fault::remote, "bad_response", "signature is not base64");
    return sig;
  }

  Status delete_key(std::string_view key_id) override {
    if (!valid_key_id(key_id))
      return make_error(Fault::user, "not_found", "no key " + std::string(key_id));
    auto j = call("DELETE", "/v1/keys/" + std::string(key_id), "");
    {
      std::lock_guard lk(mu_);
      cache_.erase(std::string(key_id));
    }
    if (!j) return std::unexpected(j.error());
    return {};
  }

  Status check_health() override {
    auto j = call("GET", "/v1/health", "");
    if (!j) return std::unexpected(j.error());
    return {};
  }

 private:
  void remember(const KeyInfo& k) {
    std::lock_guard lk(mu_);
    if (cache_.size() >= kMaxCachedKeys) cache_.clear();
    cache_[k.key_id] = k;
  }

  // One request; the JSON answer of a 2xx, else the signer's error (or signer_unavailable
  // when it cannot be reached at all).
  Result<Json> call(const std::string& method, const std::string& path, std::string body) {
    net::HttpRequest r;
    r.method = method;
    r.url = o_.url + path;
    if (!body.empty()) r.headers.set("Content-Type", "application/json");
    r.body = std::move(body);
    auto res = client_.send(r);
    if (!res)
      return make_error(Fault::remote, "signer_unavailable",
                        "signer " + o_.url + " unreachable: " + res.error().message);
    if (res->status == 204) return Json::object();
    auto j = parse_json(res->body, "signer response", Fault::remote);
    if (res->status >= 200 && res->status < 300) {
      if (!j) return std::unexpected(j.error());
      return j;
    }
    std::string code = "signer_error", msg = "HTTP " + std::to_string(res->status);
    if (j && j->is_object() && j->contains("error") && (*j)["error"].is_object()) {
      const auto& e = (*j)["error"];
      if (e.contains("code") && e["code"].is_string()) code = e["code"];
      if (e.contains("message") && e["message"].is_string()) msg = e["message"];
    }
    if (res->status == 503) code = "signer_unavailable";
    return make_error(Fault::remote, code, "signer: " + msg);
  }

  static constexpr std::size_t kMaxCachedKeys = 100000;
  RemoteSignerOptions o_;
  net::HttpClient client_;
  std::mutex mu_;
  std::map<std::string, KeyInfo> cache_;
};

}  // namespace

Result<std::unique_ptr<Signer>> open_remote_signer(RemoteSignerOptions o) {
  if (!o.url.starts_with("https://"))
    return make_error(Fault::user, "config",
                      "signer URL '" + o.url + "' must be https:// (the signer needs mutual TLS)");
  if (o.ca_file.empty() || o.client_cert_file.empty() || o.client_key_file.empty())
    return make_error(Fault::user, "config",
                      "a remote signer needs a CA file, a client certificate and a client key");
  net::HttpClientOptions co;
  co.connect_timeout = o.connect_timeout;
  co.idle_timeout = o.request_timeout;
  co.total_timeout = o.request_timeout;
  co.proxy = "";
  co.max_body_bytes = 64 * 1024 * 1024;
  co.tls.ca_file = o.ca_file;
  co.tls.client_cert_file = o.client_cert_file;
  co.tls.client_key_file = o.client_key_file;
  auto c = net::HttpClient::create(co);
  if (!c) return std::unexpected(with_context(c.error(), "remote signer"));
  return std::unique_ptr<Signer>(std::make_unique<RemoteSigner>(std::move(o), std::move(*c)));
}

}  // namespace docket::signer
