#include "cli/docket/key_export.h"

#include <algorithm>
#include <cstdio>

#include "common/file.h"

namespace docket::cli {

Result<std::vector<std::string>> select_keys(keys::KeyStore& store, const KeySelection& sel) {
  auto listed = store.list();
  if (!listed) return std::unexpected(listed.error());
  std::vector<std::string> out;
  if (!sel.ids.empty()) {
    for (const auto& id : sel.ids) {
      bool found = std::any_of(listed->begin(), listed->end(),
                               [&](const keys::KeyInfo& k) { return k.id == id; });
      if (!found)
        return make_error(Fault::user, "not_found", "no key " + id + " in " + store.location());
      out.push_back(id);
    }
    return out;
  }
  for (const auto& k : *listed)
    if ((sel.role.empty() || k.role == sel.role) && (sel.gun.empty() || k.gun == sel.gun))
      out.push_back(k.id);
  if (out.empty())
    return make_error(Fault::user, "not_found", "no keys match in " + store.location());
  return out;
}

Result<std::vector<std::string>> select_signer_keys(keys::KeyStore& store,
                                                    const std::string& name_or_id) {
  if (name_or_id.empty())
    return make_error(Fault::user, "usage", "a signer name or key ID is needed");
  auto listed = store.list();
  if (!listed) return std::unexpected(listed.error());
  std::vector<std::string> by_name, by_id;
  for (const auto& k : *listed) {
    if (k.role == name_or_id || k.role == "targets/" + name_or_id) by_name.push_back(k.id);
    if (name_or_id.size() >= kMinKeyIdPrefix && k.id.starts_with(name_or_id)) by_id.push_back(k.id);
  }
  if (!by_name.empty()) return by_name;
  if (by_id.size() == 1) return by_id;
  if (by_id.size() > 1)
    return make_error(Fault::user, "usage",
                      "key ID prefix \"" + name_or_id + "\" matches " +
                          std::to_string(by_id.size()) + " keys in " + store.location() +
                          "; give more of the ID");
  return make_error(Fault::user, "not_found",
                    "no signer \"" + name_or_id + "\" and no key with that ID in " +
                        store.location() + " (`docket trust key list` shows them)");
}

Result<std::size_t> write_key_export(keys::KeyStore& store, const std::vector<std::string>& ids,
                                     const std::string& output) {
  std::string out;
  for (const auto& id : ids) {
    auto pem = store.export_pem(id);
    if (!pem) return std::unexpected(with_context(pem.error(), "exporting key " + id));
    out += *pem;
  }
  if (output.empty()) {
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size())
      return make_error(Fault::local, "io", "writing the exported keys to stdout failed");
    std::fflush(stdout);
  } else {
    if (auto s = atomic_write_file(output, out, 0600); !s) return std::unexpected(s.error());
  }
  return ids.size();
}

}  // namespace docket::cli
