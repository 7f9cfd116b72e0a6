#include "tuf/changelist.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "common/encoding.h"
#include "common/file.h"

namespace docket::tuf {
namespace fs = std::filesystem;

namespace {

Error malformed(std::string_view what, std::string_view msg) {
  return Error{Fault::local, "malformed_change", std::string(what) + ": " + std::string(msg)};
}

// A JSON string literal (nlohmann escapes only what JSON requires plus control characters).
std::string quote(std::string_view s) {
  return Json(std::string(s)).dump();
}

std::string key_list_bytes(const std::vector<Json>& keys, bool null_if_empty) {
  if (keys.empty() && null_if_empty) return "null";
  std::string out = "[";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) out += ",";
    out += keys[i].dump();
  }
  return out + "]";
}

std::string string_list_bytes(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ",";
    out += quote(v[i]);
  }
  return out + "]";
}

Result<std::vector<std::string>> string_list(const Json& obj, const char* key,
                                             std::string_view what) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return std::unexpected(malformed(what, std::string(key) + " is not a list"));
  for (const Json& e : *it) {
    if (!e.is_string())
      return std::unexpected(malformed(what, std::string(key) + " holds a non-string"));
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::vector<Json>> key_list(const Json& obj, const char* key, std::string_view what) {
  std::vector<Json> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return std::unexpected(malformed(what, std::string(key) + " is not a list"));
  for (const Json& k : *it) {
    if (!k.is_object() || !k.contains("keytype") || !k.contains("keyval"))
      return std::unexpected(malformed(what, std::string(key) + " holds something not a key"));
    out.push_back(k);
  }
  return out;
}

Result<Json> parse_object(std::string_view bytes, std::string_view what) {
  auto j = parse_json(bytes, what, Fault::local);
  if (!j) return std::unexpected(Error{Fault::local, "malformed_change", j.error().message});
  if (!j->is_object()) return std::unexpected(malformed(what, "not a JSON object"));
  return j;
}

bool is_entry_name(const std::string& n) {
  return !n.empty() && n[0] != '.' && n.size() > 7 && n.ends_with(".change");
}

}  // namespace

// ---- Change ------------------------------------------------------------------------------

std::string Change::to_file_bytes() const {
  std::string out = "{\"action\":" + quote(action) + ",\"role\":" + quote(role) +
                    ",\"type\":" + quote(type) + ",\"path\":" + quote(path) + ",\"data\":";
  out += data_null ? std::string("null") : quote(base64_encode(data));
  return out + "}";
}

Result<Change> Change::parse(std::string_view bytes, std::string_view what) {
  auto j = parse_object(bytes, what);
  if (!j) return std::unexpected(j.error());
  Change c;
  for (auto [field, dest] : {std::pair{"action", &c.action}, std::pair{"role", &c.role},
                             std::pair{"type", &c.type}, std::pair{"path", &c.path}}) {
    auto it = j->find(field);
    if (it == j->end() || it->is_null()) {
      if (std::string_view(field) == "path") continue;
      return std::unexpected(malformed(what, std::string("missing \"") + field + "\""));
    }
    if (!it->is_string())
      return std::unexpected(malformed(what, std::string("\"") + field + "\" is not a string"));
    *dest = it->get<std::string>();
  }
  if (c.action != change::kActionCreate && c.action != change::kActionUpdate &&
      c.action != change::kActionDelete)
    return std::unexpected(malformed(what, "unknown action \"" + c.action + "\""));
  if (c.role.empty()) return std::unexpected(malformed(what, "empty role"));
  auto d = j->find("data");
  if (d != j->end() && !d->is_null()) {
    if (!d->is_string()) return std::unexpected(malformed(what, "\"data\" is not base64 text"));
    auto raw = base64_decode(d->get<std::string>());
    if (!raw) return std::unexpected(malformed(what, "\"data\": " + raw.error().message));
    c.data = std::move(*raw);
    c.data_null = false;
  }
  return c;
}

// ---- TargetChange -----------------------------------------------------------------------

std::string TargetChange::to_bytes() const {
  std::string out = "{\"length\":" + std::to_string(length) + ",\"hashes\":{";
  bool first = true;
  for (const auto& [alg, raw] : hashes) {
    if (!first) out += ",";
    first = false;
    out += quote(alg) + ":" + quote(base64_encode(raw));
  }
  out += "}";
  if (custom) out += ",\"custom\":" + custom->dump();
  return out + "}";
}

Result<TargetChange> TargetChange::parse(std::string_view bytes, std::string_view what) {
  auto j = parse_object(bytes, what);
  if (!j) return std::unexpected(j.error());
  TargetChange t;
  auto len = j->find("length");
  if (len == j->end() || !len->is_number_integer())
    return std::unexpected(malformed(what, "target length missing or not an integer"));
  t.length = len->get<std::int64_t>();
  if (t.length < 0) return std::unexpected(malformed(what, "negative target length"));
  auto h = j->find("hashes");
  if (h == j->end() || !h->is_object() || h->empty())
    return std::unexpected(malformed(what, "target hashes missing"));
  for (const auto& [alg, v] : h->items()) {
    if (!v.is_string()) return std::unexpected(malformed(what, "hash " + alg + " is not text"));
    auto raw = base64_decode(v.get<std::string>());
    if (!raw) return std::unexpected(malformed(what, "hash " + alg + ": " + raw.error().message));
    t.hashes[alg] = std::move(*raw);
  }
  auto c = j->find("custom");
  if (c != j->end() && !c->is_null()) t.custom = *c;
  return t;
}

// ---- DelegationChange ---------------------------------------------------------------------

std::string DelegationChange::to_bytes() const {
  // Notary's struct tags "threshold, omitempty" and "add_keys, omitempty" carry a space, so
  // Go never omits those two; the others are omitted when empty.
  std::string out = "{";
  if (!new_name.empty()) out += "\"new_name\":" + quote(new_name) + ",";
  out += "\"threshold\":" + std::to_string(threshold);
  out += ",\"add_keys\":" + key_list_bytes(add_keys, true);
  if (!remove_keys.empty()) out += ",\"remove_keys\":" + string_list_bytes(remove_keys);
  if (!add_paths.empty()) out += ",\"add_paths\":" + string_list_bytes(add_paths);
  if (!remove_paths.empty()) out += ",\"remove_paths\":" + string_list_bytes(remove_paths);
  if (clear_paths) out += ",\"clear_paths\":true";
  return out + "}";
}

Result<DelegationChange> DelegationChange::parse(std::string_view bytes, std::string_view what) {
  auto j = parse_object(bytes, what);
  if (!j) return std::unexpected(j.error());
  DelegationChange d;
  if (auto it = j->find("new_name"); it != j->end() && !it->is_null()) {
    if (!it->is_string()) return std::unexpected(malformed(what, "new_name is not text"));
    d.new_name = it->get<std::string>();
  }
  if (auto it = j->find("threshold"); it != j->end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > 1'000'000)
      return std::unexpected(malformed(what, "threshold is not a small non-negative integer"));
    d.threshold = static_cast<int>(it->get<std::int64_t>());
  }
  auto keys = key_list(*j, "add_keys", what);
  if (!keys) return std::unexpected(keys.error());
  d.add_keys = std::move(*keys);
  for (auto [field, dest] :
       {std::pair{"remove_keys", &d.remove_keys}, std::pair{"add_paths", &d.add_paths},
        std::pair{"remove_paths", &d.remove_paths}}) {
    auto v = string_list(*j, field, what);
    if (!v) return std::unexpected(v.error());
    *dest = std::move(*v);
  }
  if (auto it = j->find("clear_paths"); it != j->end() && !it->is_null()) {
    if (!it->is_boolean()) return std::unexpected(malformed(what, "clear_paths is not a bool"));
    d.clear_paths = it->get<bool>();
  }
  return d;
}

// ---- RootRoleChange ---------------------------------------------------------------------

std::string RootRoleChange::to_bytes() const {
  return "{\"keys\":" + key_list_bytes(keys, true) + ",\"role\":" + quote(role) + "}";
}

Result<RootRoleChange> RootRoleChange::parse(std::string_view bytes, std::string_view what) {
  auto j = parse_object(bytes, what);
  if (!j) return std::unexpected(j.error());
  RootRoleChange r;
  auto role = j->find("role");
  if (role == j->end() || !role->is_string())
    return std::unexpected(malformed(what, "root role change names no role"));
  r.role = role->get<std::string>();
  if (r.role != "root" && r.role != "targets" && r.role != "snapshot" && r.role != "timestamp")
    return std::unexpected(malformed(what, "\"" + r.role + "\" is not a base role"));
  auto keys = key_list(*j, "keys", what);
  if (!keys) return std::unexpected(keys.error());
  r.keys = std::move(*keys);
  return r;
}

// ---- constructors -------------------------------------------------------------------------

Change make_target_change(std::string_view action, std::string_view role, std::string_view path,
                          const std::optional<TargetChange>& meta) {
  Change c{std::string(action),
           std::string(role),
           std::string(change::kTypeTarget),
           std::string(path),
           "",
           true,
           ""};
  if (meta) {
    c.data = meta->to_bytes();
    c.data_null = false;
  }
  return c;
}

Change make_delegation_change(std::string_view action, std::string_view role,
                              const std::optional<DelegationChange>& d) {
  Change c{std::string(action),
           std::string(role),
           std::string(change::kTypeDelegation),
           "",
           "",
           true,
           ""};
  if (d) {
    c.data = d->to_bytes();
    c.data_null = false;
  }
  return c;
}

Change make_witness_change(std::string_view role) {
  return Change{std::string(change::kActionUpdate),
                std::string(role),
                std::string(change::kTypeWitness),
                "",
                "",
                true,
                ""};
}

Change make_root_role_change(const RootRoleChange& r) {
  return Change{std::string(change::kActionCreate),
                std::string(change::kScopeRoot),
                std::string(change::kTypeBaseRole),
                "",
                r.to_bytes(),
                false,
                ""};
}

// ---- Changelist ------------------------------------------------------------------------

Status check_gun_path(std::string_view gun) {
  auto bad = [&](std::string_view why) {
    return std::unexpected(
        Error{Fault::user, "usage", "GUN \"" + std::string(gun) + "\" " + std::string(why)});
  };
  if (gun.empty()) return bad("is empty");
  if (gun.size() > 255) return bad("is longer than 255 bytes");
  if (gun.front() == '/') return bad("starts with '/'");
  for (char ch : gun)
    if (static_cast<unsigned char>(ch) < 0x21 || ch == 0x7f || ch == '\\')
      return bad("contains a control character, space or backslash");
  std::size_t start = 0;
  while (start <= gun.size()) {
    std::size_t end = gun.find('/', start);
    if (end == std::string_view::npos) end = gun.size();
    std::string_view seg = gun.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return bad("has an empty, '.' or '..' segment");
    start = end + 1;
  }
  return {};
}

Result<Changelist> Changelist::open(const fs::path& trust_dir, std::string_view gun,
                                    ChangelistLimits limits) {
  if (auto s = check_gun_path(gun); !s) return std::unexpected(s.error());
  return open_dir(trust_dir / "tuf" / std::string(gun) / "changelist", limits);
}

Result<Changelist> Changelist::open_dir(fs::path dir, ChangelistLimits limits) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    // Created one level at a time with 0700 like Notary's MkdirAll(dir, 0700).
    fs::path cur;
    for (const auto& part : dir) {
      cur /= part;
      if (fs::is_directory(cur, ec)) continue;
      if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
        return std::unexpected(
            Error{Fault::local, "io",
                  "creating changelist directory " + cur.string() + ": " + std::strerror(errno)});
    }
  }
  return Changelist(std::move(dir), limits);
}

Result<std::string> Changelist::add(const Change& c) {
  static std::atomic<std::int64_t> last{0};
  std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  // Strictly increasing within the process, so two entries staged in one clock tick keep
  // their order.
  std::int64_t prev = last.load();
  std::int64_t next;
  do {
    next = std::max(ns, prev + 1);
  } while (!last.compare_exchange_weak(prev, next));
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%020lld", static_cast<long long>(next));
  std::string name = std::string(stamp) + "_" + uuid4() + ".change";
  std::string bytes = c.to_file_bytes();
  if (bytes.size() > limits_.max_entry_bytes)
    return std::unexpected(Error{Fault::user, "too_large",
                                 "change for " + c.role + " is " + std::to_string(bytes.size()) +
                                     " bytes, over the " + std::to_string(limits_.max_entry_bytes) +
                                     "-byte limit"});
  if (auto s = atomic_write_file(dir_ / name, bytes, 0644); !s) return std::unexpected(s.error());
  return name;
}

Result<std::vector<std::string>> Changelist::names() const {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return std::unexpected(
        Error{Fault::local, "io", "listing " + dir_.string() + ": " + ec.message()});
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec)
      return std::unexpected(
          Error{Fault::local, "io", "listing " + dir_.string() + ": " + ec.message()});
    std::string n = it->path().filename().string();
    if (!is_entry_name(n) || !it->is_regular_file(ec)) continue;
    out.push_back(std::move(n));
    if (out.size() > limits_.max_entries)
      return std::unexpected(Error{
          Fault::local, "too_large",
          dir_.string() + " holds more than " + std::to_string(limits_.max_entries) + " changes"});
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Change>> Changelist::list() const {
  auto ns = names();
  if (!ns) return std::unexpected(ns.error());
  std::vector<Change> out;
  out.reserve(ns->size());
  for (const std::string& n : *ns) {
    fs::path p = dir_ / n;
    auto bytes = read_file(p, limits_.max_entry_bytes);
    if (!bytes) {
      // Removed between listing and reading (a concurrent publish): not ours to apply.
      if (bytes.error().code == "not_found") continue;
      return std::unexpected(bytes.error());
    }
    auto c = Change::parse(*bytes, "changelist entry " + p.string());
    if (!c) return std::unexpected(c.error());
    c->file_name = n;
    out.push_back(std::move(*c));
  }
  return out;
}

Status Changelist::remove(const std::vector<std::string>& file_names) {
  for (const std::string& n : file_names) {
    if (!is_entry_name(n) || n.find('/') != std::string::npos)
      return std::unexpected(
          Error{Fault::bug, "usage", "\"" + n + "\" is not a changelist entry name"});
    std::error_code ec;
    fs::remove(dir_ / n, ec);
    if (ec)
      return std::unexpected(
          Error{Fault::local, "io", "removing " + (dir_ / n).string() + ": " + ec.message()});
  }
  if (!file_names.empty()) return fsync_dir(dir_);
  return {};
}

Status Changelist::clear() {
  auto ns = names();
  if (!ns) return std::unexpected(ns.error());
  return remove(*ns);
}

}  // namespace docket::tuf
