#include "tuf/repo_publish.h"

#include "common/json.h"
#include "tuf/repo_store.h"

namespace docket::tuf {

namespace {
std::string printable_prefix(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

Error status_error(long status, std::string_view what, std::string_view body) {
  std::string msg = std::string(what) + ": HTTP " + std::to_string(status);
  std::string detail = describe_notary_error(body);
  if (!detail.empty()) msg += ": " + detail;
  if (status == 400) return Error{Fault::user, "update_rejected", msg};
  if (status == 401) return Error{Fault::user, "unauthorized", msg};
  if (status == 403) return Error{Fault::user, "denied", msg};
  if (status == 404) return Error{Fault::user, "not_found", msg};
  return Error{Fault::remote, "http_status", msg};
}
}  // namespace

std::string describe_notary_error(std::string_view body) {
  if (body.empty()) return "";
  JsonLimits limits;
  limits.max_bytes = kMaxNotaryErrorBodyBytes;
  auto j = parse_json(body, "error document", Fault::remote, limits);
  if (!j || !j->is_object() || !j->contains("errors") || !(*j)["errors"].is_array() ||
      (*j)["errors"].empty())
    return printable_prefix(body);
  const Json& e = (*j)["errors"][0];
  std::string out;
  if (e.contains("code") && e["code"].is_string()) out += e["code"].get<std::string>();
  if (e.contains("message") && e["message"].is_string())
    out += (out.empty() ? "" : ": ") + e["message"].get<std::string>();
  if (e.contains("detail") && e["detail"].is_object() && !e["detail"].empty()) {
    const Json& d = e["detail"];
    std::string name =
        d.contains("Name") && d["Name"].is_string() ? d["Name"].get<std::string>() : "";
    std::string msg;
    if (d.contains("Error") && d["Error"].is_object() && d["Error"].contains("Msg") &&
        d["Error"]["Msg"].is_string())
      msg = d["Error"]["Msg"].get<std::string>();
    else if (d.contains("Msg") && d["Msg"].is_string())
      msg = d["Msg"].get<std::string>();
    if (!name.empty() || !msg.empty())
      out += " (" + name + (name.empty() || msg.empty() ? "" : ": ") + msg + ")";
    else
      out += " (" + printable_prefix(d.dump()) + ")";
  } else if (e.contains("detail") && e["detail"].is_string()) {
    out += " (" + e["detail"].get<std::string>() + ")";
  }
  return out;
}

Result<keys::PublicKey> fetch_server_key(const net::HttpClient& http, std::string_view base_url,
                                         std::string_view gun, std::string_view role, bool rotate,
                                         const net::HttpHeaders& headers) {
  return fetch_server_key([&](const net::HttpRequest& r) { return http.send(r); }, base_url, gun,
                          role, rotate, headers);
}

Result<keys::PublicKey> fetch_server_key(const HttpSend& send, std::string_view base_url,
                                         std::string_view gun, std::string_view role, bool rotate,
                                         const net::HttpHeaders& headers) {
  if (role != "timestamp" && role != "snapshot")
    return make_error(
        Fault::user, "usage",
        "the server manages only timestamp and snapshot keys, not \"" + std::string(role) + "\"");
  if (auto s = check_gun_path(gun); !s) return std::unexpected(s.error());
  net::HttpRequest req;
  req.method = rotate ? "POST" : "GET";
  req.url = notary_tuf_url(base_url, gun) + std::string(role) + ".key";
  req.headers = headers;
  req.max_body_bytes = kMaxNotaryErrorBodyBytes;
  auto r = send(req);
  if (!r) return std::unexpected(r.error());
  std::string what = req.method + " " + std::string(role) + ".key for " + std::string(gun);
  if (r->status != 200) {
    Error e = status_error(r->status, what, r->body);
    if (r->status == 400 || r->status == 404) e.fault = Fault::remote;
    return std::unexpected(e);
  }
  auto j = parse_json(r->body, what, Fault::remote);
  if (!j) return std::unexpected(j.error());
  auto k = keys::PublicKey::from_json(*j, Fault::remote);
  if (!k) return std::unexpected(with_context(k.error(), what));
  return k;
}

Status publish_to_notary(const net::HttpClient& http, std::string_view base_url,
                         std::string_view gun, const std::vector<SignedRole>& roles,
                         const net::HttpHeaders& headers) {
  return publish_to_notary([&](const net::HttpRequest& r) { return http.send(r); }, base_url, gun,
                           roles, headers);
}

Status publish_to_notary(const HttpSend& send, std::string_view base_url, std::string_view gun,
                         const std::vector<SignedRole>& roles, const net::HttpHeaders& headers) {
  if (auto s = check_gun_path(gun); !s) return std::unexpected(s.error());
  auto body = notary_upload_body(Editor::for_notary_upload(roles));
  if (!body) return std::unexpected(body.error());
  net::HttpRequest req;
  req.method = "POST";
  req.url = notary_tuf_url(base_url, gun);
  req.headers = headers;
  req.headers.set("Content-Type", body->content_type);
  req.body = std::move(body->body);
  req.max_body_bytes = kMaxNotaryErrorBodyBytes;
  auto r = send(req);
  if (!r) return std::unexpected(r.error());
  std::string names;
  for (const auto& role : roles)
    if (role.role != "timestamp") names += (names.empty() ? "" : ", ") + role.role;
  if (r->status != 200)
    return std::unexpected(status_error(
        r->status, "publishing " + (names.empty() ? "nothing" : names) + " of " + std::string(gun),
        r->body));
  return {};
}

}  // namespace docket::tuf
