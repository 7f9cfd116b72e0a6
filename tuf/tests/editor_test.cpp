#include "tuf/editor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "tuf/changelist.h"
#include "tuf/repo_store.h"
#include "tuf/verify.h"

namespace docket::tuf {
namespace {
namespace fs = std::filesystem;
using keys::Dialect;
using keys::PrivateKey;
using keys::PublicKey;

const std::string kGun = "docker.example.com/library/app";

PrivateKey gen(keys::Algorithm a = keys::Algorithm::ecdsa_p256) {
  auto k = PrivateKey::generate(a);
  EXPECT_TRUE(k.has_value());
  return *k;
}

// A root key as the dialect wants it: an x509 certificate (Notary) or the plain key (TUF).
PublicKey root_pub(const PrivateKey& k, Dialect d) {
  if (d == Dialect::tuf) return k.public_key(Dialect::tuf);
  auto c = make_root_certificate(k, kGun);
  EXPECT_TRUE(c.has_value()) << c.error().describe();
  return *c;
}

struct Fixture {
  Dialect d;
  MemoryKeyRing ring;
  std::vector<PrivateKey> root, targets, snapshot, timestamp;
  std::vector<PublicKey> root_pubs;

  explicit Fixture(Dialect dialect, bool hold_snapshot = true, bool hold_timestamp = true,
                   int targets_keys = 1)
      : d(dialect) {
    root = {gen()};
    for (int i = 0; i < targets_keys; ++i) targets.push_back(gen());
    snapshot = {gen()};
    timestamp = {gen(keys::Algorithm::ed25519)};
    ring.add(root[0]);
    for (auto& k : targets) ring.add(k);
    if (hold_snapshot) ring.add(snapshot[0]);
    if (hold_timestamp) ring.add(timestamp[0]);
    root_pubs = {root_pub(root[0], d)};
  }

  CreateOptions options(int targets_threshold = 1) const {
    CreateOptions o;
    o.dialect = d;
    o.gun = kGun;
    o.root.keys = root_pubs;
    for (auto& k : targets) o.targets.keys.push_back(k.public_key(d));
    o.targets.threshold = targets_threshold;
    o.snapshot.keys = {snapshot[0].public_key(d)};
    o.timestamp.keys = {timestamp[0].public_key(d)};
    return o;
  }
};

const SignedRole* find_role(const std::vector<SignedRole>& v, std::string_view name) {
  for (const auto& r : v)
    if (r.role == name) return &r;
  return nullptr;
}

ParseOptions strict(Dialect d) {
  ParseOptions p;
  p.dialect = d;
  return p;
}

// Checks a top-level role file against a root, the way a client does.
template <class T>
void expect_verifies(const std::string& bytes, const Root& root, RoleType t, Dialect d,
                     std::string_view what) {
  auto m = parse_metadata<T>(bytes, strict(d));
  ASSERT_TRUE(m.has_value()) << what << ": " << m.error().describe();
  auto s = verify_delegate(what, "root", *m, root.keys, root.role(t));
  EXPECT_TRUE(s.has_value()) << what << ": " << s.error().describe();
}

class EditorDialectTest : public ::testing::TestWithParam<Dialect> {};

TEST_P(EditorDialectTest, CreateSignsEveryRoleAndTheyVerify) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  ASSERT_TRUE(e->add_target("targets", "v1", make_target_file(f.d, "hello\n")).has_value());
  auto signed_roles = e->sign();
  ASSERT_TRUE(signed_roles.has_value()) << signed_roles.error().describe();
  std::vector<std::string> order;
  for (const auto& r : *signed_roles) {
    order.push_back(r.role);
    EXPECT_EQ(r.version, 1) << r.role;
    EXPECT_TRUE(r.complete) << r.role;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"root", "targets", "snapshot", "timestamp"}));

  auto root = parse_root(find_role(*signed_roles, "root")->bytes, strict(f.d));
  ASSERT_TRUE(root.has_value()) << root.error().describe();
  expect_verifies<Root>(find_role(*signed_roles, "root")->bytes, root->signed_, RoleType::root, f.d,
                        "root");
  expect_verifies<Targets>(find_role(*signed_roles, "targets")->bytes, root->signed_,
                           RoleType::targets, f.d, "targets");
  expect_verifies<Snapshot>(find_role(*signed_roles, "snapshot")->bytes, root->signed_,
                            RoleType::snapshot, f.d, "snapshot");
  expect_verifies<Timestamp>(find_role(*signed_roles, "timestamp")->bytes, root->signed_,
                             RoleType::timestamp, f.d, "timestamp");

  // Snapshot and timestamp describe the bytes they were made from.
  auto snap = parse_snapshot(find_role(*signed_roles, "snapshot")->bytes, strict(f.d));
  ASSERT_TRUE(snap.has_value());
  const MetaFile* tm = snap->signed_.find(RoleName::targets());
  ASSERT_NE(tm, nullptr);
  if (f.d == Dialect::notary) {
    ASSERT_TRUE(verify_length_and_hashes(find_role(*signed_roles, "targets")->bytes, tm->length,
                                         tm->hashes, f.d, true, "targets")
                    .has_value());
    EXPECT_FALSE(tm->version.has_value());
    EXPECT_NE(snap->signed_.find(RoleName::root()), nullptr);  // Notary lists root too
  } else {
    EXPECT_EQ(tm->version, 1);
  }
  auto ts = parse_timestamp(find_role(*signed_roles, "timestamp")->bytes, strict(f.d));
  ASSERT_TRUE(ts.has_value());
  const MetaFile& sm = ts->signed_.snapshot_meta();
  EXPECT_TRUE(verify_length_and_hashes(find_role(*signed_roles, "snapshot")->bytes, sm.length,
                                       sm.hashes, f.d, true, "snapshot")
                  .has_value());

  // The target is there with length and both hashes, encoded the dialect's way.
  auto targets = parse_targets(find_role(*signed_roles, "targets")->bytes, strict(f.d));
  ASSERT_TRUE(targets.has_value());
  const TargetFile& v1 = targets->signed_.targets.at("v1");
  EXPECT_EQ(v1.length, 6);
  EXPECT_TRUE(
      verify_length_and_hashes("hello\n", v1.length, v1.hashes, f.d, true, "v1").has_value());
  EXPECT_EQ(v1.hashes.size(), 2u);
}

TEST_P(EditorDialectTest, DefaultExpiriesAndOverrides) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  TimePoint now = docket::now();
  auto s = e->sign(SignOptions{false, now});
  ASSERT_TRUE(s.has_value());
  using namespace std::chrono;
  auto days = [&](TimePoint t) { return duration_cast<hours>(t - now).count() / 24; };
  EXPECT_EQ(days(e->root().signed_.expires), 3650);
  EXPECT_EQ(days(e->targets("targets")->signed_.expires), 3 * 365);
  EXPECT_EQ(days(e->snapshot()->signed_.expires), 3 * 365);
  EXPECT_EQ(days(e->timestamp()->signed_.expires), 14);

  TimePoint chosen = now + hours(24 * 40);
  ASSERT_TRUE(e->set_expiry("targets", chosen).has_value());
  s = e->sign(SignOptions{false, now});
  ASSERT_TRUE(s.has_value());
  // Targets bumped with the chosen expiry; snapshot and timestamp follow with new versions.
  ASSERT_NE(find_role(*s, "targets"), nullptr);
  EXPECT_EQ(find_role(*s, "targets")->version, 2);
  EXPECT_EQ(find_role(*s, "snapshot")->version, 2);
  EXPECT_EQ(find_role(*s, "timestamp")->version, 2);
  EXPECT_EQ(find_role(*s, "root"), nullptr);
  if (GetParam() == Dialect::notary) {
    EXPECT_EQ(e->targets("targets")->signed_.expires, chosen);
  } else {
    // The TUF dialect writes whole seconds.
    EXPECT_EQ(duration_cast<seconds>(e->targets("targets")->signed_.expires - chosen).count(), 0);
  }
}

TEST_P(EditorDialectTest, ThresholdAboveOneNeedsEveryKeyOrCoSigning) {
  Fixture f(GetParam(), true, true, 2);
  // A second holder has only the second targets key.
  MemoryKeyRing only_first;
  only_first.add(f.root[0]);
  only_first.add(f.targets[0]);
  only_first.add(f.snapshot[0]);
  only_first.add(f.timestamp[0]);
  auto e = Editor::create(f.options(2), only_first);
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  ASSERT_TRUE(e->add_target("targets", "a", make_target_file(f.d, "a")).has_value());
  auto strict_sign = e->sign();
  ASSERT_FALSE(strict_sign.has_value());
  EXPECT_EQ(strict_sign.error().code, "missing_keys");
  EXPECT_EQ(strict_sign.error().fault, Fault::user);
  EXPECT_TRUE(e->dirty("targets"));  // a failed sign() changes nothing

  auto partial = e->sign(SignOptions{true, docket::now()});
  ASSERT_TRUE(partial.has_value()) << partial.error().describe();
  const SignedRole* t = find_role(*partial, "targets");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->complete);
  auto root = parse_root(find_role(*partial, "root")->bytes, strict(f.d));
  ASSERT_TRUE(root.has_value());
  auto tm = parse_targets(t->bytes, strict(f.d));
  ASSERT_TRUE(tm.has_value());
  EXPECT_FALSE(verify_delegate("targets", "root", *tm, root->signed_.keys,
                               root->signed_.role(RoleType::targets))
                   .has_value());

  // The co-signer loads the files and adds the missing signature without changing content.
  MemoryKeyRing second;
  second.add(f.targets[1]);
  RepoFiles files;
  auto all = e->files();
  files.root = all.at("root");
  files.targets["targets"] = all.at("targets");
  auto co = Editor::load(files, kGun, second);
  ASSERT_TRUE(co.has_value()) << co.error().describe();
  auto added = co->add_signatures("targets");
  ASSERT_TRUE(added.has_value()) << added.error().describe();
  EXPECT_TRUE(added->complete);
  EXPECT_EQ(added->version, t->version);
  auto tm2 = parse_targets(added->bytes, strict(f.d));
  ASSERT_TRUE(tm2.has_value());
  EXPECT_EQ(tm2->canonical_signed, tm->canonical_signed);
  EXPECT_EQ(tm2->signatures.size(), 2u);
  auto ok = verify_delegate("targets", "root", *tm2, root->signed_.keys,
                            root->signed_.role(RoleType::targets));
  EXPECT_TRUE(ok.has_value()) << ok.error().describe();
}

TEST_P(EditorDialectTest, ThresholdsAreValidated) {
  Fixture f(GetParam());
  auto o = f.options(2);  // 2 of 1 key
  auto e = Editor::create(o, f.ring);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().fault, Fault::user);
  EXPECT_NE(e.error().message.find("threshold 2"), std::string::npos) << e.error().message;
  auto ok = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(ok.has_value());
  EXPECT_FALSE(ok->set_threshold("targets", 0).has_value());
  EXPECT_FALSE(ok->set_threshold("snapshot", 3).has_value());
}

// Rotates the root twice; a client that trusts v1 walks v2 then v3, each new root verified
// by the previous root's keys and threshold and by its own (TUF spec §5.3.4).
TEST_P(EditorDialectTest, RootRotationIsCrossSignedAndChainWalks) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  auto v1 = e->sign();
  ASSERT_TRUE(v1.has_value());
  std::vector<std::string> chain{find_role(*v1, "root")->bytes};

  for (int round = 0; round < 2; ++round) {
    // Two new root keys, threshold 2: thresholds above 1 on root too.
    PrivateKey a = gen(), b = gen();
    f.ring.add(a);
    f.ring.add(b);
    ASSERT_TRUE(e->rotate_keys("root", {root_pub(a, f.d), root_pub(b, f.d)}, 2).has_value());
    auto s = e->sign();
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    const SignedRole* r = find_role(*s, "root");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->version, round + 2);
    EXPECT_TRUE(r->complete);
    chain.push_back(r->bytes);
  }

  // Client side: trust v1, walk.
  auto trusted = parse_root(chain[0], strict(f.d));
  ASSERT_TRUE(trusted.has_value());
  for (std::size_t i = 1; i < chain.size(); ++i) {
    auto next = parse_root(chain[i], strict(f.d));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->signed_.version, trusted->signed_.version + 1);
    auto by_old = verify_delegate("root", "trusted root", *next, trusted->signed_.keys,
                                  trusted->signed_.role(RoleType::root));
    EXPECT_TRUE(by_old.has_value()) << "v" << i + 1 << ": " << by_old.error().describe();
    auto by_self = verify_delegate("root", "itself", *next, next->signed_.keys,
                                   next->signed_.role(RoleType::root));
    EXPECT_TRUE(by_self.has_value()) << "v" << i + 1 << ": " << by_self.error().describe();
    EXPECT_EQ(next->signed_.role(RoleType::root).threshold, 2);
    trusted = std::move(next);
  }
  // And the rotation really happened: v3 is not signed by v1's key alone.
  auto v1root = parse_root(chain[0], strict(f.d));
  auto v3root = parse_root(chain[2], strict(f.d));
  EXPECT_FALSE(verify_delegate("root", "v1", *v3root, v1root->signed_.keys,
                               v1root->signed_.role(RoleType::root))
                   .has_value());
  // Notary keeps old root certificates in keys; TUF drops them.
  std::size_t root_keys_listed =
      v3root->signed_.keys.count(v1root->signed_.role(RoleType::root).keyids[0]);
  EXPECT_EQ(root_keys_listed, f.d == Dialect::notary ? 1u : 0u);
}

TEST_P(EditorDialectTest, RootRotationWithoutOldKeysIsRefused) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->sign().has_value());
  // A fresh editor over the same files that holds only the new root key.
  PrivateKey n = gen();
  MemoryKeyRing ring;
  ring.add(n);
  ring.add(f.targets[0]);
  ring.add(f.snapshot[0]);
  ring.add(f.timestamp[0]);
  RepoFiles files;
  auto all = e->files();
  files.root = all.at("root");
  files.targets["targets"] = all.at("targets");
  files.snapshot = all.at("snapshot");
  files.timestamp = all.at("timestamp");
  auto e2 = Editor::load(files, kGun, ring);
  ASSERT_TRUE(e2.has_value()) << e2.error().describe();
  ASSERT_TRUE(e2->rotate_keys("root", {root_pub(n, f.d)}).has_value());
  auto s = e2->sign();
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, "missing_keys");
  EXPECT_NE(s.error().message.find("previous root"), std::string::npos) << s.error().message;
}

TEST_P(EditorDialectTest, RotateTargetsAndSnapshotKeys) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->sign().has_value());
  PrivateKey nt = gen();
  f.ring.add(nt);
  ASSERT_TRUE(e->rotate_keys("targets", {nt.public_key(f.d)}).has_value());
  auto s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  ASSERT_NE(find_role(*s, "root"), nullptr);
  ASSERT_NE(find_role(*s, "targets"), nullptr);
  auto root = parse_root(find_role(*s, "root")->bytes, strict(f.d));
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->signed_.role(RoleType::targets).keyids,
            std::vector<std::string>{nt.public_key(f.d).key_id()});
  expect_verifies<Targets>(find_role(*s, "targets")->bytes, root->signed_, RoleType::targets, f.d,
                           "targets");
  // The old targets key is gone from root.keys.
  EXPECT_EQ(root->signed_.keys.count(f.targets[0].public_key(f.d).key_id()), 0u);

  // Handing the snapshot to a server: a key we do not hold.
  PrivateKey server_snap = gen();
  ASSERT_TRUE(e->rotate_keys("snapshot", {server_snap.public_key(f.d)}).has_value());
  EXPECT_TRUE(e->server_manages_snapshot());
  s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_NE(find_role(*s, "root"), nullptr);
  EXPECT_EQ(find_role(*s, "snapshot"), nullptr);
}

TEST_P(EditorDialectTest, DelegationsWithPathsAndNesting) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  PrivateKey rel = gen(), beta = gen();
  f.ring.add(rel);
  f.ring.add(beta);
  bool notary = f.d == Dialect::notary;
  std::string prefix = notary ? "releases/" : "releases/*";
  NewDelegation nd{"targets/releases", "targets", {rel.public_key(f.d)}, 1, {prefix}, false};
  ASSERT_TRUE(e->add_delegation(nd).has_value());
  EXPECT_FALSE(e->add_delegation(nd).has_value());  // twice
  ASSERT_TRUE(
      e->add_target("targets/releases", "releases/v1", make_target_file(f.d, "r1")).has_value());
  auto outside = e->add_target("targets/releases", "other/v1", make_target_file(f.d, "x"));
  ASSERT_FALSE(outside.has_value());
  EXPECT_EQ(outside.error().fault, Fault::user);

  if (notary) {
    // A child may only narrow its parent's paths, and must be named below it.
    NewDelegation bad{
        "targets/releases/beta", "targets/releases", {beta.public_key(f.d)}, 1, {"other/"}, false};
    EXPECT_FALSE(e->add_delegation(bad).has_value());
    NewDelegation misnamed{
        "targets/beta", "targets/releases", {beta.public_key(f.d)}, 1, {"releases/beta/"}, false};
    EXPECT_FALSE(e->add_delegation(misnamed).has_value());
  }
  NewDelegation child{"targets/releases/beta",
                      "targets/releases",
                      {beta.public_key(f.d)},
                      1,
                      {notary ? "releases/beta/" : "releases/beta*"},
                      false};
  ASSERT_TRUE(e->add_delegation(child).has_value());
  ASSERT_TRUE(e->add_target("targets/releases/beta", notary ? "releases/beta/x" : "releases/beta1",
                            make_target_file(f.d, "b"))
                  .has_value());

  auto s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  std::vector<std::string> order;
  for (const auto& r : *s) order.push_back(r.role);
  EXPECT_EQ(order, (std::vector<std::string>{"root", "targets", "targets/releases",
                                             "targets/releases/beta", "snapshot", "timestamp"}));

  // Each delegated role verifies with the keys its parent lists.
  auto top = parse_targets(find_role(*s, "targets")->bytes, strict(f.d));
  auto mid = parse_targets(find_role(*s, "targets/releases")->bytes, strict(f.d));
  auto leaf = parse_targets(find_role(*s, "targets/releases/beta")->bytes, strict(f.d));
  ASSERT_TRUE(top && mid && leaf);
  ASSERT_EQ(top->signed_.delegations->roles.size(), 1u);
  EXPECT_TRUE(verify_delegate("targets/releases", "targets", *mid, top->signed_.delegations->keys,
                              top->signed_.delegations->roles[0].keys)
                  .has_value());
  EXPECT_TRUE(verify_delegate("beta", "targets/releases", *leaf, mid->signed_.delegations->keys,
                              mid->signed_.delegations->roles[0].keys)
                  .has_value());
  auto snap = parse_snapshot(find_role(*s, "snapshot")->bytes, strict(f.d));
  ASSERT_TRUE(snap.has_value());
  EXPECT_NE(snap->signed_.find(*RoleName::make("targets/releases/beta")), nullptr);

  // Threshold 2 on a delegation needs two keys; rotating its key re-signs it.
  EXPECT_FALSE(e->set_threshold("targets/releases", 2).has_value());
  PrivateKey rel2 = gen();
  f.ring.add(rel2);
  ASSERT_TRUE(e->update_delegation("targets/releases", {rel2.public_key(f.d)}, {}, 2, {}, {}, false)
                  .has_value());
  s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  ASSERT_NE(find_role(*s, "targets/releases"), nullptr);
  top = parse_targets(find_role(*s, "targets")->bytes, strict(f.d));
  mid = parse_targets(find_role(*s, "targets/releases")->bytes, strict(f.d));
  EXPECT_EQ(top->signed_.delegations->roles[0].keys.threshold, 2);
  EXPECT_EQ(mid->signatures.size(), 2u);
  EXPECT_TRUE(verify_delegate("targets/releases", "targets", *mid, top->signed_.delegations->keys,
                              top->signed_.delegations->roles[0].keys)
                  .has_value());

  // Without any of the delegation's keys (an admin removing a signer), a key change edits
  // only the parent: the delegated metadata keeps its bytes and the signature of the key
  // that remains, so it still verifies with the new key set.
  {
    MemoryKeyRing admin;  // every key but the delegations' (rel, rel2, beta)
    for (const auto* ks : {&f.root, &f.targets, &f.snapshot, &f.timestamp})
      for (const auto& k : *ks) admin.add(k);
    auto ed = Editor::load(repo_files_from(e->files()), kGun, admin);
    ASSERT_TRUE(ed.has_value()) << ed.error().describe();
    // Replacing both keys by one whose holder has not signed yet would leave the role with
    // no valid signature, and the admin cannot re-sign it: refused, nothing changed.
    PrivateKey rel3 = gen();
    auto orphan = ed->update_delegation(
        "targets/releases", {rel3.public_key(f.d)},
        {rel.public_key(f.d).key_id(), rel2.public_key(f.d).key_id()}, 1, {}, {}, false);
    ASSERT_FALSE(orphan.has_value());
    EXPECT_EQ(orphan.error().code, "unverifiable_delegation");
    EXPECT_EQ(orphan.error().fault, Fault::user);
    EXPECT_FALSE(ed->dirty("targets"));
    EXPECT_EQ(ed->targets("targets")->signed_.delegations->roles[0].keys.keyids.size(), 2u);
    ASSERT_TRUE(ed->update_delegation("targets/releases", {}, {rel2.public_key(f.d).key_id()}, 1,
                                      {}, {}, false)
                    .has_value());
    EXPECT_FALSE(ed->dirty("targets/releases"));
    auto r = ed->sign();
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    EXPECT_EQ(find_role(*r, "targets/releases"), nullptr);
    auto t2 = parse_targets(find_role(*r, "targets")->bytes, strict(f.d));
    ASSERT_TRUE(t2.has_value());
    EXPECT_TRUE(verify_delegate("targets/releases", "targets", *mid, t2->signed_.delegations->keys,
                                t2->signed_.delegations->roles[0].keys)
                    .has_value());
  }

  // targets/releases left out because it no longer verifies (a caller found its signatures
  // short of the threshold), its unverified metadata at version 7: a holder of a current key
  // signing into it replaces it above that version, with none of the old targets.
  {
    auto files = repo_files_from(e->files());
    files.targets.erase("targets/releases");
    files.unloaded_versions["targets/releases"] = 7;
    auto ed = Editor::load(files, kGun, f.ring);
    ASSERT_TRUE(ed.has_value()) << ed.error().describe();
    EXPECT_EQ(ed->targets("targets/releases"), nullptr);
    ASSERT_TRUE(ed->add_target("targets/releases", "releases/v9", make_target_file(f.d, "nine"))
                    .has_value());
    auto r = ed->sign();
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    ASSERT_NE(find_role(*r, "targets/releases"), nullptr);
    auto fresh = parse_targets(find_role(*r, "targets/releases")->bytes, strict(f.d));
    ASSERT_TRUE(fresh.has_value());
    EXPECT_EQ(fresh->signed_.version, 8);
    ASSERT_EQ(fresh->signed_.targets.size(), 1u);
    EXPECT_TRUE(fresh->signed_.targets.contains("releases/v9"));
    EXPECT_EQ(find_role(*r, "targets"), nullptr);  // the delegation itself is unchanged
    auto t = parse_targets(files.targets.at("targets"), strict(f.d));
    ASSERT_TRUE(t.has_value());
    EXPECT_TRUE(verify_delegate("targets/releases", "targets", *fresh, t->signed_.delegations->keys,
                                t->signed_.delegations->roles[0].keys)
                    .has_value());
    // A version that cannot be exceeded is the server's doing; a role both loaded and not a bug.
    files.unloaded_versions["targets/releases"] = std::numeric_limits<std::int64_t>::max();
    auto huge = Editor::load(files, kGun, f.ring);
    ASSERT_FALSE(huge.has_value());
    EXPECT_EQ(huge.error().fault, Fault::remote);
    files.unloaded_versions["targets"] = 1;
    files.unloaded_versions.erase("targets/releases");
    auto both = Editor::load(files, kGun, f.ring);
    ASSERT_FALSE(both.has_value());
    EXPECT_EQ(both.error().fault, Fault::bug);
  }

  // Removing the delegation removes it, its child, their metadata and snapshot entries.
  ASSERT_TRUE(e->remove_delegation("targets/releases").has_value());
  s = e->sign();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(e->targets("targets/releases"), nullptr);
  EXPECT_EQ(e->targets("targets/releases/beta"), nullptr);
  EXPECT_TRUE(e->targets("targets")->signed_.delegations->roles.empty());
  EXPECT_TRUE(e->targets("targets")->signed_.delegations->keys.empty());
  snap = parse_snapshot(find_role(*s, "snapshot")->bytes, strict(f.d));
  EXPECT_EQ(snap->signed_.find(*RoleName::make("targets/releases")), nullptr);
}

TEST_P(EditorDialectTest, LoadEditSignBumpsVersionsOnce) {
  Fixture f(GetParam());
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->sign().has_value());
  // Round trip through a trust directory.
  fs::path dir = fs::temp_directory_path() / ("docket-editor-test-" + random_hex_id());
  auto store = RepoStore::open(dir, kGun);
  ASSERT_TRUE(store.has_value());
  ASSERT_TRUE(store->save(e->files()).has_value());
  auto files = store->load();
  ASSERT_TRUE(files.has_value()) << files.error().describe();
  auto e2 = Editor::load(*files, kGun, f.ring);
  ASSERT_TRUE(e2.has_value()) << e2.error().describe();
  EXPECT_EQ(e2->dialect(), f.d);
  ASSERT_TRUE(e2->add_target("targets", "v2", make_target_file(f.d, "two")).has_value());
  ASSERT_TRUE(e2->add_target("targets", "v3", make_target_file(f.d, "three")).has_value());
  auto s = e2->sign();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(find_role(*s, "targets")->version, 2);
  EXPECT_EQ(find_role(*s, "snapshot")->version, 2);
  EXPECT_EQ(find_role(*s, "root"), nullptr);
  // Nothing dirty: signing again produces nothing.
  auto again = e2->sign();
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->empty());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Dialects, EditorDialectTest,
                         ::testing::Values(Dialect::notary, Dialect::tuf),
                         [](const auto& info) { return std::string(dialect_name(info.param)); });

TEST(EditorNotary, RootKeysMustBeCertificatesForTheGun) {
  Fixture f(Dialect::notary);
  auto o = f.options();
  o.root.keys = {f.root[0].public_key(Dialect::notary)};  // plain key
  auto e = Editor::create(o, f.ring);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, "bad_key");
  auto other = make_root_certificate(f.root[0], "other.example.com/app");
  ASSERT_TRUE(other.has_value());
  o.root.keys = {*other};
  e = Editor::create(o, f.ring);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message.find("CN"), std::string::npos);
}

TEST(EditorNotary, ServerManagedSnapshotAndTimestamp) {
  Fixture f(Dialect::notary, /*hold_snapshot=*/false, /*hold_timestamp=*/false);
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  EXPECT_TRUE(e->server_manages_snapshot());
  EXPECT_TRUE(e->server_manages_timestamp());
  ASSERT_TRUE(
      e->add_target("targets", "latest", make_target_file(Dialect::notary, "x")).has_value());
  auto s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  std::vector<std::string> order;
  for (const auto& r : *s) order.push_back(r.role);
  EXPECT_EQ(order, (std::vector<std::string>{"root", "targets"}));
  // Byte layout as Notary's Go code writes it ({"signed":<canonical>,"signatures":[...]}):
  // its server re-marshals and hashes what it parsed, so anything else breaks its snapshots.
  const std::string& tb = find_role(*s, "targets")->bytes;
  auto parsed = parse_targets(tb, strict(Dialect::notary));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(tb.substr(0, 10 + parsed->canonical_signed.size()),
            "{\"signed\":" + parsed->canonical_signed);
  EXPECT_NE(tb.find(",\"signatures\":[{\"keyid\":"), std::string::npos) << tb;
  EXPECT_NE(tb.find("\"method\":\"ecdsa\",\"sig\":"), std::string::npos) << tb;
  // Notary format details: capitalised _type, base64 hashes, delegations always present.
  auto j = parse_json(tb, "targets", Fault::bug);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["signed"]["_type"], "Targets");
  EXPECT_TRUE((*j)["signed"]["delegations"]["roles"].is_array());
  EXPECT_EQ((*j)["signatures"][0]["method"], "ecdsa");
  auto h =
      base64_decode((*j)["signed"]["targets"]["latest"]["hashes"]["sha256"].get<std::string>());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(*h, sha256("x"));
}

TEST(EditorNotary, AppliesNotaryChangelists) {
  Fixture f(Dialect::notary);
  auto e = Editor::create(f.options(), f.ring);
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->sign().has_value());

  fs::path dir = fs::temp_directory_path() / ("docket-editor-cl-" + random_hex_id());
  auto cl = Changelist::open(dir, kGun);
  ASSERT_TRUE(cl.has_value());
  // The real Notary entry from the samples, then our own entries.
  auto sample = read_file(fs::path(DOCKET_SHARED_DIR) /
                          "notary/samples/local-ed25519/changelist-entry.change");
  ASSERT_TRUE(sample.has_value());
  auto sample_change = Change::parse(*sample, "sample");
  ASSERT_TRUE(sample_change.has_value());
  ASSERT_TRUE(cl->add(*sample_change).has_value());
  PrivateKey rel = gen();
  f.ring.add(rel);
  DelegationChange dc;
  dc.threshold = 1;
  dc.add_keys = {rel.public_key().json()};
  dc.add_paths = {""};
  ASSERT_TRUE(cl->add(make_delegation_change("create", "targets/releases", dc)).has_value());
  TargetChange tc{3, {{"sha256", sha256("abc")}, {"sha512", sha512("abc")}}, std::nullopt};
  ASSERT_TRUE(cl->add(make_target_change("create", "targets/releases", "r1", tc)).has_value());
  ASSERT_TRUE(cl->add(make_target_change("create", "targets", "gone", tc)).has_value());
  ASSERT_TRUE(cl->add(make_target_change("delete", "targets", "gone", std::nullopt)).has_value());

  auto changes = cl->list();
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 5u);
  ASSERT_TRUE(e->apply(*changes).has_value());
  auto s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  const auto& t = e->targets("targets")->signed_.targets;
  ASSERT_TRUE(t.contains("staged"));
  EXPECT_EQ(t.at("staged").length, 7);
  EXPECT_FALSE(t.contains("gone"));
  ASSERT_NE(e->targets("targets/releases"), nullptr);
  EXPECT_EQ(e->targets("targets/releases")->signed_.targets.at("r1").length, 3);
  std::vector<std::string> applied;
  for (const auto& c : *changes) applied.push_back(c.file_name);
  ASSERT_TRUE(cl->remove(applied).has_value());
  EXPECT_TRUE(cl->list()->empty());

  // A change that cannot apply names its file and leaves the editor untouched.
  auto bad = make_target_change("create", "targets/nobody", "x", tc);
  bad.file_name = "00000000000000000001_bad.change";
  auto before = e->files();
  auto r = e->apply(std::vector<Change>{make_target_change("create", "targets", "ok", tc), bad});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("00000000000000000001_bad.change"), std::string::npos);
  EXPECT_FALSE(e->targets("targets")->signed_.targets.contains("ok"));
  EXPECT_FALSE(e->dirty("targets"));

  // Root key replacement through a changelist entry (Notary's TUFRootData).
  PrivateKey nt = gen();
  f.ring.add(nt);
  ASSERT_TRUE(e->apply(make_root_role_change(RootRoleChange{"targets", {nt.public_key().json()}}))
                  .has_value());
  s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_EQ(e->root().signed_.role(RoleType::targets).keyids[0], nt.public_key().key_id());
  fs::remove_all(dir);
}

TEST(EditorTuf, SpecDialectFormat) {
  Fixture f(Dialect::tuf);
  auto o = f.options();
  o.consistent_snapshot = true;
  auto e = Editor::create(o, f.ring);
  ASSERT_TRUE(e.has_value());
  auto s = e->sign();
  ASSERT_TRUE(s.has_value());
  auto j = parse_json(find_role(*s, "root")->bytes, "root", Fault::bug);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["signed"]["_type"], "root");
  EXPECT_TRUE((*j)["signed"]["spec_version"].is_string());
  EXPECT_EQ((*j)["signed"]["consistent_snapshot"], true);
  EXPECT_FALSE((*j)["signatures"][0].contains("method"));
  EXPECT_TRUE(is_lower_hex((*j)["signatures"][0]["sig"].get<std::string>()));
  auto t = parse_json(find_role(*s, "timestamp")->bytes, "ts", Fault::bug);
  EXPECT_EQ((*t)["signed"]["meta"]["snapshot.json"]["version"], 1);
}

}  // namespace
}  // namespace docket::tuf
