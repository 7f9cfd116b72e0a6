#include "tuf/metadata.h"

#include <algorithm>
#include <set>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/fast_json.h"

namespace docket::tuf {
namespace {

// Parse context: the role being parsed and whose fault a malformed document is.
struct Ctx {
  Fault fault;
  std::string what;  // "timestamp metadata"
  Dialect dialect = Dialect::tuf;

  std::unexpected<Error> bad(std::string_view msg) const {
    return make_error(fault, "malformed_metadata", what + ": " + std::string(msg));
  }
};

// An object being consumed field by field; what remains is the unknown fields. It takes the
// JSON by value: callers move the subtree in (a copy of a 10,000-target object per parse was
// a large share of parsing a big targets file). `where` names the object in error messages
// and is only assembled when an error needs it (prefix + key + suffix).
class Obj {
 public:
  Obj(Json j, const Ctx& c, std::string where) : c_(c), where_(std::move(where)) { adopt(j); }
  Obj(Json j, const Ctx& c, std::string_view prefix, std::string_view key, std::string_view suffix)
      : c_(c), prefix_(prefix), key_(key), suffix_(suffix) {
    adopt(j);
  }
  bool ok() const { return ok_; }
  std::unexpected<Error> not_object() const { return c_.bad(where() + " is not a JSON object"); }
  std::unexpected<Error> bad(std::string_view field, std::string_view msg) const {
    return c_.bad(where() + "." + std::string(field) + " " + std::string(msg));
  }
  bool has(std::string_view k) const { return rest_.contains(k); }

  Result<Json> take(std::string_view k) {
    auto it = rest_.find(k);
    if (it == rest_.end()) return bad(k, "is missing");
    Json v = std::move(*it);
    rest_.erase(it);
    return v;
  }
  std::optional<Json> take_opt(std::string_view k) {
    auto it = rest_.find(k);
    if (it == rest_.end()) return std::nullopt;
    Json v = std::move(*it);
    rest_.erase(it);
    return v;
  }
  Result<std::string> str(std::string_view k) {
    auto v = take(k);
    if (!v) return std::unexpected(v.error());
    if (!v->is_string()) return bad(k, "is not a string");
    return v->get<std::string>();
  }
  Result<std::int64_t> integer(const Json& v, std::string_view k) const {
    if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
    if (v.is_number_unsigned()) {
      auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return bad(k, "is out of range");
      return static_cast<std::int64_t>(u);
    }
    return bad(k, "is not an integer");
  }
  Result<std::int64_t> integer(std::string_view k) {
    auto v = take(k);
    if (!v) return std::unexpected(v.error());
    return integer(*v, k);
  }
  Result<bool> boolean(std::string_view k) {
    auto v = take(k);
    if (!v) return std::unexpected(v.error());
    if (!v->is_boolean()) return bad(k, "is not a boolean");
    return v->get<bool>();
  }
  Result<std::vector<std::string>> strings(std::string_view k) {
    auto v = take(k);
    if (!v) return std::unexpected(v.error());
    return strings_of(*v, k);
  }
  Result<std::vector<std::string>> strings_of(const Json& v, std::string_view k) const {
    if (!v.is_array()) return bad(k, "is not an array");
    std::vector<std::string> out;
    out.reserve(v.size());
    for (const auto& e : v) {
      if (!e.is_string()) return bad(k, "contains a non-string");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  Json rest() && { return std::move(rest_); }
  std::string where() const {
    if (!where_.empty()) return where_;
    return std::string(prefix_) + std::string(key_) + std::string(suffix_);
  }
  const Ctx& ctx() const { return c_; }

 private:
  void adopt(Json& j) {
    if (j.is_object()) {
      rest_ = std::move(j);
      ok_ = true;
    }
  }
  const Ctx& c_;
  std::string where_;
  std::string_view prefix_, key_, suffix_;  // the lazy form of where_
  Json rest_;
  bool ok_ = false;
};

#define TRY_ASSIGN(lhs, expr)                               \
  do {                                                      \
    auto _r = (expr);                                       \
    if (!_r) return std::unexpected(std::move(_r.error())); \
    lhs = std::move(*_r);                                   \
  } while (0)

// `where` is the hashes object's owner; errors name "<where>.hashes".
Result<Hashes> parse_hashes(Json j, const Ctx& c, const Obj& where) {
  if (!j.is_object()) return c.bad(where.where() + ".hashes is not a JSON object");
  Hashes h;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      return c.bad(where.where() + ".hashes." + it.key() + " is not a string");
    h.emplace_hint(h.end(), it.key(), std::move(it.value().get_ref<std::string&>()));
  }
  return h;
}

Result<MetaFile> parse_meta_file(Json j, const Ctx& c, std::string_view key) {
  Obj o(std::move(j), c, "meta[\"", key, "\"]");
  if (!o.ok()) return o.not_object();
  MetaFile m;
  if (auto v = o.take_opt("version")) {
    std::int64_t n;
    TRY_ASSIGN(n, o.integer(*v, "version"));
    if (n < 1) return o.bad("version", "must be at least 1");
    m.version = n;
  } else if (c.dialect == Dialect::tuf) {
    return o.bad("version", "is missing");
  }
  if (auto v = o.take_opt("length")) {
    std::int64_t n;
    TRY_ASSIGN(n, o.integer(*v, "length"));
    if (n < 0) return o.bad("length", "is negative");
    m.length = n;
  }
  if (auto v = o.take_opt("hashes")) {
    TRY_ASSIGN(m.hashes, parse_hashes(std::move(*v), c, o));
    if (m.hashes.empty()) return o.bad("hashes", "is empty");
  }
  m.unknown = std::move(o).rest();
  return m;
}

Result<std::map<std::string, MetaFile>> parse_meta_map(Obj& o, const Ctx& c) {
  Json j;
  TRY_ASSIGN(j, o.take("meta"));
  if (!j.is_object()) return o.bad("meta", "is not a JSON object");
  std::map<std::string, MetaFile> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    MetaFile m;
    TRY_ASSIGN(m, parse_meta_file(std::move(it.value()), c, it.key()));
    out.emplace(it.key(), std::move(m));
  }
  return out;
}

Result<RoleKeys> parse_role_keys(Obj& o) {
  RoleKeys r;
  TRY_ASSIGN(r.keyids, o.strings("keyids"));
  TRY_ASSIGN(r.threshold, o.integer("threshold"));
  if (r.threshold < 1) return o.bad("threshold", "must be at least 1");
  return r;
}

Result<std::map<std::string, Json>> parse_keys(const Json& j, const Ctx& c,
                                               const std::string& where) {
  if (!j.is_object()) return c.bad(where + " is not a JSON object");
  std::map<std::string, Json> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    // The key's own structure is the key layer's business: a key it cannot use simply never
    // verifies anything. Only the shape needed to hold it is checked here.
    if (!it.value().is_object()) return c.bad(where + "[\"" + it.key() + "\"] is not an object");
    out.emplace(it.key(), it.value());
  }
  return out;
}

Status parse_common(Obj& o, Common& out, RoleType expected, const Ctx& c) {
  std::string type;
  TRY_ASSIGN(type, o.str("_type"));
  Dialect d;
  if (type == type_string(expected, Dialect::tuf)) {
    d = Dialect::tuf;
  } else if (type == type_string(expected, Dialect::notary)) {
    d = Dialect::notary;
  } else {
    return make_error(c.fault, "wrong_type",
                      c.what + ": _type is \"" + type + "\", expected \"" +
                          std::string(role_type_name(expected)) + "\"");
  }
  out.dialect = d;
  out.type = expected;
  TRY_ASSIGN(out.version, o.integer("version"));
  if (out.version < 1) return o.bad("version", "must be at least 1");
  std::string exp;
  TRY_ASSIGN(exp, o.str("expires"));
  auto t = parse_rfc3339(exp);
  if (!t)
    return make_error(c.fault, "bad_time", c.what + ": expires \"" + exp + "\" is not RFC 3339");
  out.expires = *t;
  if (d == Dialect::tuf) {
    TRY_ASSIGN(out.spec_version, o.str("spec_version"));
    // TUF spec §4: clients reject metadata of an unsupported major spec version.
    const auto& sv = out.spec_version;
    auto dot = sv.find('.');
    if (dot == std::string::npos || sv.substr(0, dot) != "1")
      return make_error(c.fault, "unsupported_spec_version",
                        c.what + ": spec_version \"" + sv + "\" is not 1.x");
  }
  return {};
}

struct Parsed {
  Json doc;
  Json signed_json;
  std::vector<Signature> signatures;
  std::string canonical;
  Json unknown;
};

// From `bytes`, or from `doc` (consumed) when the caller already parsed them.
// `canonical`: canonical_json(doc["signed"]) when the caller has it, else empty.
Result<Parsed> parse_envelope(std::string_view bytes, Json* doc, RoleType t, const ParseOptions& po,
                              Ctx& c, std::string_view canonical = {}) {
  Parsed p;
  if (doc) {
    p.doc = std::move(*doc);
  } else {
    if (bytes.size() > po.max_bytes)
      return make_error(po.fault, "too_large",
                        c.what + ": " + std::to_string(bytes.size()) +
                            " bytes is over the limit of " + std::to_string(po.max_bytes));
    JsonLimits jl;
    jl.max_bytes = po.max_bytes;
    jl.max_depth = po.max_depth;
    // parse_json's result and errors, faster (common/fast_json.h). When the received "signed"
    // text is exactly its canonical form, the signatures are checked over those bytes (the
    // same bytes canonical_json() would produce) instead of re-serialising the tree.
    std::string_view received_canonical;
    TRY_ASSIGN(p.doc, parse_json_fast(bytes, c.what, po.fault, jl, &received_canonical));
    if (canonical.empty()) canonical = received_canonical;
  }
  Obj top(std::move(p.doc), c, "metadata");
  if (!top.ok()) return top.not_object();
  TRY_ASSIGN(p.signed_json, top.take("signed"));
  if (!p.signed_json.is_object()) return c.bad("signed is not a JSON object");
  Json sigs;
  TRY_ASSIGN(sigs, top.take("signatures"));
  if (!sigs.is_array()) return c.bad("signatures is not an array");
  if (sigs.size() > 100000) return c.bad("too many signatures");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    Obj so(std::move(sigs[i]), c, "signatures[" + std::to_string(i) + "]");
    if (!so.ok()) return so.not_object();
    Signature s;
    TRY_ASSIGN(s.keyid, so.str("keyid"));
    TRY_ASSIGN(s.sig, so.str("sig"));
    if (so.has("method")) TRY_ASSIGN(s.method, so.str("method"));
    s.unknown = std::move(so).rest();
    // Duplicate keyids would let one key count twice: reject the whole file.
    if (!seen.insert(s.keyid).second)
      return make_error(c.fault, "duplicate_signature",
                        c.what + ": signatures list key " + s.keyid + " more than once");
    p.signatures.push_back(std::move(s));
  }
  p.unknown = std::move(top).rest();
  // Signed bytes: canonical JSON of `signed` exactly as received, unknown fields included.
  if (!canonical.empty())
    p.canonical = canonical;
  else
    TRY_ASSIGN(p.canonical, canonical_json(p.signed_json, po.fault));
  return p;
}

Ctx make_ctx(RoleType t, const ParseOptions& po) {
  return Ctx{po.fault, std::string(role_type_name(t)) + " metadata", Dialect::tuf};
}

Status check_dialect(const Common& c, const ParseOptions& po, const Ctx& ctx) {
  if (po.dialect && *po.dialect != c.dialect)
    return make_error(po.fault, "wrong_dialect",
                      ctx.what + " is in the " + std::string(dialect_name(c.dialect)) +
                          " dialect, expected " + std::string(dialect_name(*po.dialect)));
  return {};
}

template <class T, class Body>
Result<Metadata<T>> parse_role(std::string_view bytes, const ParseOptions& po, Body body,
                               Json* doc = nullptr, std::string_view canonical = {}) {
  Ctx c = make_ctx(T::kType, po);
  Parsed p;
  TRY_ASSIGN(p, parse_envelope(bytes, doc, T::kType, po, c, canonical));
  Metadata<T> m;
  m.signatures = std::move(p.signatures);
  m.canonical_signed = std::move(p.canonical);
  m.unknown = std::move(p.unknown);
  Obj o(std::move(p.signed_json), c, "signed");
  if (auto s = parse_common(o, m.signed_, T::kType, c); !s) return std::unexpected(s.error());
  if (auto s = check_dialect(m.signed_, po, c); !s) return std::unexpected(s.error());
  c.dialect = m.signed_.dialect;
  c.what = std::string(role_type_name(T::kType)) + " v" + std::to_string(m.signed_.version);
  if (auto s = body(o, m.signed_, c); !s) return std::unexpected(s.error());
  m.signed_.unknown = std::move(o).rest();
  return m;
}

Result<Delegations> parse_delegations(Json j, const Ctx& c, const RoleName* /*unused*/) {
  Obj o(std::move(j), c, "delegations");
  if (!o.ok()) return o.not_object();
  Delegations d;
  d.dialect = c.dialect;
  Json keys;
  TRY_ASSIGN(keys, o.take("keys"));
  TRY_ASSIGN(d.keys, parse_keys(keys, c, "delegations.keys"));
  auto roles = o.take_opt("roles");
  auto succinct = o.take_opt("succinct_roles");
  if (roles && succinct) return c.bad("delegations has both roles and succinct_roles");
  if (!roles && !succinct) {
    if (c.dialect == Dialect::tuf) return c.bad("delegations has neither roles nor succinct_roles");
    roles = Json::array();
  }
  if (roles) {
    if (!roles->is_array()) return c.bad("delegations.roles is not an array");
    std::set<std::string> names;
    for (std::size_t i = 0; i < roles->size(); ++i) {
      Obj r(std::move((*roles)[i]), c, "delegations.roles[" + std::to_string(i) + "]");
      if (!r.ok()) return r.not_object();
      DelegatedRole dr;
      std::string name;
      TRY_ASSIGN(name, r.str("name"));
      TRY_ASSIGN(dr.name, RoleName::make(name, c.fault));
      if (dr.name.is_top_level()) return r.bad("name", "\"" + name + "\" is a top-level role name");
      if (c.dialect == Dialect::notary && name.rfind("targets/", 0) != 0)
        return r.bad("name", "\"" + name + "\" does not start with targets/");
      if (!names.insert(name).second) return r.bad("name", "\"" + name + "\" is delegated twice");
      TRY_ASSIGN(dr.keys, parse_role_keys(r));
      if (auto t = r.take_opt("terminating")) {
        if (!t->is_boolean()) return r.bad("terminating", "is not a boolean");
        dr.terminating = t->get<bool>();
      } else if (c.dialect == Dialect::tuf) {
        return r.bad("terminating", "is missing");
      }
      auto paths = r.take_opt("paths");
      auto prefixes = r.take_opt("path_hash_prefixes");
      if (paths && prefixes) return r.bad("paths", "and path_hash_prefixes are both set");
      if (paths) {
        std::vector<std::string> v;
        TRY_ASSIGN(v, r.strings_of(*paths, "paths"));
        dr.paths = std::move(v);
      }
      if (prefixes) {
        std::vector<std::string> v;
        TRY_ASSIGN(v, r.strings_of(*prefixes, "path_hash_prefixes"));
        for (auto& p : v)
          if (!is_lower_hex(p) && !p.empty())
            return r.bad("path_hash_prefixes", "contains a non-hex prefix \"" + p + "\"");
        dr.path_hash_prefixes = std::move(v);
      }
      dr.keys.unknown = Json::object();
      dr.unknown = std::move(r).rest();
      d.roles.push_back(std::move(dr));
    }
  }
  if (succinct) {
    Obj s(std::move(*succinct), c, "delegations.succinct_roles");
    if (!s.ok()) return s.not_object();
    SuccinctRoles sr;
    TRY_ASSIGN(sr.keys, parse_role_keys(s));
    std::int64_t bits;
    TRY_ASSIGN(bits, s.integer("bit_length"));
    if (bits < 1 || bits > 32) return s.bad("bit_length", "must be 1..32");
    sr.bit_length = static_cast<int>(bits);
    TRY_ASSIGN(sr.name_prefix, s.str("name_prefix"));
    sr.unknown = std::move(s).rest();
    d.succinct_roles = std::move(sr);
  }
  d.unknown = std::move(o).rest();
  return d;
}

bool hash_equal(Dialect d, std::string_view listed, std::string_view raw) {
  if (d == Dialect::notary) return listed == base64_encode(raw);
  auto want = hex_encode(raw);
  if (listed.size() != want.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    char a = listed[i];
    if (a >= 'A' && a <= 'F') a = static_cast<char>(a - 'A' + 'a');
    if (a != want[i]) return false;
  }
  return true;
}

}  // namespace

std::string encode_hash(Dialect d, std::string_view raw) {
  return d == Dialect::notary ? base64_encode(raw) : hex_encode(raw);
}

Status verify_length_and_hashes(std::string_view data, std::optional<std::int64_t> length,
                                const Hashes& hashes, Dialect d, bool require_hashes,
                                std::string_view what) {
  if (length && static_cast<std::uint64_t>(*length) != data.size())
    return make_error(Fault::remote, "hash_mismatch",
                      std::string(what) + ": length " + std::to_string(data.size()) +
                          " does not match the trusted length " + std::to_string(*length));
  if (require_hashes && hashes.empty())
    return make_error(Fault::remote, "hash_mismatch", std::string(what) + ": no trusted hashes");
  for (const auto& [alg, listed] : hashes) {
    auto a = parse_hash_algorithm(alg);
    if (!a)
      return make_error(Fault::remote, "unsupported_algorithm",
                        std::string(what) + ": hash algorithm \"" + alg + "\" is not supported");
    if (!hash_equal(d, listed, hash_bytes(*a, data)))
      return make_error(Fault::remote, "hash_mismatch",
                        std::string(what) + ": " + alg + " does not match the trusted hash");
  }
  return {};
}

std::string meta_key(const RoleName& role, Dialect d) {
  return d == Dialect::notary ? role.str() : role.str() + ".json";
}

const MetaFile& Timestamp::snapshot_meta() const {
  return meta.at(meta_key(RoleName::snapshot(), dialect));
}

const MetaFile* Snapshot::find(const RoleName& role) const {
  auto it = meta.find(meta_key(role, dialect));
  return it == meta.end() ? nullptr : &it->second;
}

std::string SuccinctRoles::role_name(std::uint32_t bin) const {
  int width = (bit_length + 3) / 4;
  static const char* hexd = "0123456789abcdef";
  std::string h(static_cast<std::size_t>(width), '0');
  for (int i = width - 1; i >= 0; --i, bin >>= 4) h[static_cast<std::size_t>(i)] = hexd[bin & 15];
  return name_prefix + "-" + h;
}

std::string SuccinctRoles::role_for(const TargetPath& path) const {
  auto d = sha256(path.str());
  std::uint32_t first = 0;
  for (int i = 0; i < 4; ++i)
    first = first << 8 | static_cast<unsigned char>(d[static_cast<std::size_t>(i)]);
  std::uint32_t bin = bit_length == 32 ? first : first >> (32 - bit_length);
  return role_name(bin);
}

bool SuccinctRoles::is_bin(std::string_view name) const {
  std::string p = name_prefix + "-";
  if (name.substr(0, p.size()) != p) return false;
  auto h = name.substr(p.size());
  if (h.size() != static_cast<std::size_t>((bit_length + 3) / 4) || !is_lower_hex(h)) return false;
  std::uint64_t v = std::stoull(std::string(h), nullptr, 16);
  return v < bin_count();
}

Result<Metadata<Root>> parse_root(std::string_view bytes, const ParseOptions& po) {
  return parse_role<Root>(bytes, po, [](Obj& o, Root& r, const Ctx& c) -> Status {
    TRY_ASSIGN(r.consistent_snapshot, o.boolean("consistent_snapshot"));
    Json keys, roles;
    TRY_ASSIGN(keys, o.take("keys"));
    TRY_ASSIGN(r.keys, parse_keys(keys, c, "keys"));
    TRY_ASSIGN(roles, o.take("roles"));
    if (!roles.is_object()) return o.bad("roles", "is not a JSON object");
    for (auto it = roles.begin(); it != roles.end(); ++it) {
      Obj ro(std::move(it.value()), c, "roles[\"", it.key(), "\"]");
      if (!ro.ok()) return ro.not_object();
      RoleKeys rk;
      TRY_ASSIGN(rk, parse_role_keys(ro));
      rk.unknown = std::move(ro).rest();
      r.roles.emplace(it.key(), std::move(rk));
    }
    for (auto t : {RoleType::root, RoleType::timestamp, RoleType::snapshot, RoleType::targets})
      if (!r.roles.contains(std::string(role_type_name(t))))
        return c.bad("roles has no \"" + std::string(role_type_name(t)) + "\" role");
    return {};
  });
}

Result<Metadata<Timestamp>> parse_timestamp(std::string_view bytes, const ParseOptions& po) {
  return parse_role<Timestamp>(bytes, po, [](Obj& o, Timestamp& t, const Ctx& c) -> Status {
    TRY_ASSIGN(t.meta, parse_meta_map(o, c));
    if (!t.meta.contains(meta_key(RoleName::snapshot(), t.dialect)))
      return c.bad("meta has no entry for " + meta_key(RoleName::snapshot(), t.dialect));
    return {};
  });
}

Result<Metadata<Snapshot>> parse_snapshot(std::string_view bytes, const ParseOptions& po) {
  return parse_role<Snapshot>(bytes, po, [](Obj& o, Snapshot& s, const Ctx& c) -> Status {
    TRY_ASSIGN(s.meta, parse_meta_map(o, c));
    return {};
  });
}

namespace {
Status parse_targets_body(Obj& o, Targets& t, const Ctx& c) {
  Json targets;
  TRY_ASSIGN(targets, o.take("targets"));
  if (!targets.is_object()) return o.bad("targets", "is not a JSON object");
  for (auto it = targets.begin(); it != targets.end(); ++it) {
    // The shape nearly every target has, {"hashes":{<alg>:<string>...},"length":<n >= 0>},
    // read directly (the general path below builds the same TargetFile, and reports every
    // other shape's errors); it was a large share of parsing a big targets file.
    if (auto& v = it.value(); v.is_object() && v.size() == 2) {
      auto& o = v.get_ref<Json::object_t&>();
      auto h = o.find("hashes");
      auto l = o.find("length");
      if (h != o.end() && l != o.end() && h->second.is_object() && l->second.is_number_unsigned() &&
          l->second.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)) {
        auto& ho = h->second.get_ref<Json::object_t&>();
        bool strings = true;
        for (const auto& [alg, digest] : ho) strings = strings && digest.is_string();
        if (strings) {
          TargetFile f;
          f.length = static_cast<std::int64_t>(l->second.get<std::uint64_t>());
          for (auto& [alg, digest] : ho)
            f.hashes.emplace_hint(f.hashes.end(), alg, std::move(digest.get_ref<std::string&>()));
          t.targets.emplace_hint(t.targets.end(), it.key(), std::move(f));  // keys arrive sorted
          continue;
        }
      }
    }
    Obj to(std::move(it.value()), c, "targets[\"", it.key(), "\"]");
    if (!to.ok()) return to.not_object();
    TargetFile f;
    TRY_ASSIGN(f.length, to.integer("length"));
    if (f.length < 0) return to.bad("length", "is negative");
    Json h;
    TRY_ASSIGN(h, to.take("hashes"));
    TRY_ASSIGN(f.hashes, parse_hashes(std::move(h), c, to));
    f.custom = to.take_opt("custom");
    f.unknown = std::move(to).rest();
    t.targets.emplace_hint(t.targets.end(), it.key(), std::move(f));  // keys arrive sorted
  }
  if (auto d = o.take_opt("delegations")) {
    Delegations del;
    TRY_ASSIGN(del, parse_delegations(std::move(*d), c, nullptr));
    t.delegations = std::move(del);
  }
  return {};
}
}  // namespace

Result<Metadata<Targets>> parse_targets(std::string_view bytes, const ParseOptions& po) {
  return parse_role<Targets>(bytes, po, parse_targets_body);
}

Result<Metadata<Targets>> parse_targets_json(Json doc, const ParseOptions& po,
                                             std::string_view signed_canonical) {
  return parse_role<Targets>({}, po, parse_targets_body, &doc, signed_canonical);
}

Result<Header> parse_header(std::string_view bytes, const ParseOptions& po) {
  Ctx c{po.fault, "metadata", Dialect::tuf};
  Json doc;
  JsonLimits jl;
  jl.max_bytes = po.max_bytes;
  jl.max_depth = po.max_depth;
  TRY_ASSIGN(doc, parse_json(bytes, "metadata", po.fault, jl));
  if (!doc.is_object() || !doc.contains("signed") || !doc["signed"].is_object())
    return c.bad("no signed object");
  const Json& s = doc["signed"];
  if (!s.contains("_type") || !s["_type"].is_string()) return c.bad("no _type");
  std::string type = s["_type"].get<std::string>();
  Header h;
  bool found = false;
  for (auto t : {RoleType::root, RoleType::timestamp, RoleType::snapshot, RoleType::targets}) {
    for (auto d : {Dialect::tuf, Dialect::notary}) {
      if (type == type_string(t, d)) {
        h.type = t;
        h.dialect = d;
        found = true;
      }
    }
  }
  if (!found) return c.bad("unknown _type \"" + type + "\"");
  if (!s.contains("version") || !s["version"].is_number_integer()) return c.bad("no version");
  h.version = s["version"].get<std::int64_t>();
  return h;
}

// ---- writing ----

namespace {
Json merged(const Json& unknown) {
  return unknown.is_object() ? unknown : Json::object();
}

void put_common(Json& j, const Common& c) {
  j["_type"] = type_string(c.type, c.dialect);
  j["version"] = c.version;
  j["expires"] =
      c.dialect == Dialect::notary ? format_rfc3339_nano(c.expires) : format_rfc3339(c.expires);
  if (c.dialect == Dialect::tuf)
    j["spec_version"] = c.spec_version.empty() ? "1.0.31" : c.spec_version;
}

Json role_keys_json(const RoleKeys& r) {
  Json j = merged(r.unknown);
  j["keyids"] = r.keyids;
  j["threshold"] = r.threshold;
  return j;
}

Json meta_map_json(const std::map<std::string, MetaFile>& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = to_json(v);
  return j;
}
}  // namespace

Json to_json(const MetaFile& m) {
  Json j = merged(m.unknown);
  if (m.version) j["version"] = *m.version;
  if (m.length) j["length"] = *m.length;
  if (!m.hashes.empty()) j["hashes"] = m.hashes;
  return j;
}

Json to_json(const TargetFile& t) {
  Json j = merged(t.unknown);
  j["length"] = t.length;
  j["hashes"] = t.hashes;
  if (t.custom) j["custom"] = *t.custom;
  return j;
}

Json to_json(const Delegations& d) {
  Json j = merged(d.unknown);
  Json keys = Json::object();
  for (const auto& [id, k] : d.keys) keys[id] = k;
  j["keys"] = std::move(keys);
  if (d.succinct_roles) {
    const auto& s = *d.succinct_roles;
    Json sj = role_keys_json(s.keys);
    for (auto it = s.unknown.begin(); it != s.unknown.end(); ++it) sj[it.key()] = it.value();
    sj["bit_length"] = s.bit_length;
    sj["name_prefix"] = s.name_prefix;
    j["succinct_roles"] = std::move(sj);
  } else {
    Json roles = Json::array();
    for (const auto& r : d.roles) {
      Json rj = merged(r.unknown);
      rj["name"] = r.name.str();
      rj["keyids"] = r.keys.keyids;
      rj["threshold"] = r.keys.threshold;
      // Notary never writes `terminating`; TUF requires it.
      if (d.dialect == Dialect::tuf || r.terminating) rj["terminating"] = r.terminating;
      if (r.paths) rj["paths"] = *r.paths;
      if (r.path_hash_prefixes) rj["path_hash_prefixes"] = *r.path_hash_prefixes;
      roles.push_back(std::move(rj));
    }
    j["roles"] = std::move(roles);
  }
  return j;
}

Json to_json(const Root& r) {
  Json j = merged(r.unknown);
  put_common(j, r);
  j["consistent_snapshot"] = r.consistent_snapshot;
  Json keys = Json::object();
  for (const auto& [id, k] : r.keys) keys[id] = k;
  j["keys"] = std::move(keys);
  Json roles = Json::object();
  for (const auto& [name, rk] : r.roles) roles[name] = role_keys_json(rk);
  j["roles"] = std::move(roles);
  return j;
}

Json to_json(const Timestamp& t) {
  Json j = merged(t.unknown);
  put_common(j, t);
  j["meta"] = meta_map_json(t.meta);
  return j;
}

Json to_json(const Snapshot& s) {
  Json j = merged(s.unknown);
  put_common(j, s);
  j["meta"] = meta_map_json(s.meta);
  return j;
}

Json to_json(const Targets& t) {
  Json j = merged(t.unknown);
  put_common(j, t);
  Json targets = Json::object();
  for (const auto& [name, f] : t.targets) targets[name] = to_json(f);
  j["targets"] = std::move(targets);
  if (t.delegations) j["delegations"] = to_json(*t.delegations);
  return j;
}

Json to_json(const Signature& s) {
  Json j = merged(s.unknown);
  j["keyid"] = s.keyid;
  if (!s.method.empty()) j["method"] = s.method;
  j["sig"] = s.sig;
  return j;
}

template <class T>
Result<std::string> serialize(const Metadata<T>& m) {
  Json j = merged(m.unknown);
  j["signed"] = to_json(m.signed_);
  Json sigs = Json::array();
  for (const auto& s : m.signatures) sigs.push_back(to_json(s));
  j["signatures"] = std::move(sigs);
  return write_json(j);
}

Result<std::string> write_json(const Json& j) {
  // Valid JSON (control characters escaped), compact, keys sorted: canonical JSON itself
  // is not always valid JSON (it writes a PEM key's newlines raw), so files are not written
  // in it; signatures cover the canonical form of what a reader parses back.
  if (auto c = canonical_json(j, Fault::bug); !c) return std::unexpected(c.error());
  try {
    return j.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const std::exception& e) {
    return make_error(Fault::bug, "malformed_json", std::string("cannot write JSON: ") + e.what());
  }
}

template Result<std::string> serialize(const Metadata<Root>&);
template Result<std::string> serialize(const Metadata<Timestamp>&);
template Result<std::string> serialize(const Metadata<Snapshot>&);
template Result<std::string> serialize(const Metadata<Targets>&);

}  // namespace docket::tuf
