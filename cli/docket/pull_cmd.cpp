// `docket pull` and `docket push`.
#include <cstdio>

#include "cli/command.h"
#include "client/session.h"
#include "client/transfer.h"
#if defined(DOCKET_HAVE_VERIFIER)
#include "verifier/trust.h"
#endif
#if defined(DOCKET_HAVE_TRUSTCLIENT)
#include "trustclient/context.h"
#endif

namespace {
using namespace docket;
using namespace docket::client;

struct TransferArgs {
  std::string ref, platform, format;
  bool quiet = false, insecure = false, disable_trust = false, recursive = false;
  int parallel = kDefaultParallelTransfers;
  std::uint64_t chunk = 0;
};

void add_common(CLI::App* cmd, TransferArgs& a) {
  cmd->add_option("reference", a.ref, "Image reference, e.g. localhost:5000/app:1")->required();
  cmd->add_flag("-q,--quiet", a.quiet, "Print only the digest");
  cmd->add_option("--format", a.format, "Progress format: json (one JSON object per line)")
      ->check(CLI::IsMember({"json", "text"}));
  cmd->add_flag("--insecure", a.insecure,
                "Talk plain HTTP to the registry (unsafe outside test set-ups)");
  cmd->add_flag("--disable-content-trust", a.disable_trust,
                "Skip TUF verification even if DOCKER_CONTENT_TRUST=1");
  cmd->add_option("-j,--parallel", a.parallel, "Concurrent blob transfers")
      ->check(CLI::Range(1, kMaxParallelTransfers));
}

#if !defined(DOCKET_HAVE_TRUSTCLIENT)
void refuse_unsigned_push_if_trust(bool disable) {
  // Never fall back to an unsigned push when the user asked for content trust.
  if (content_trust_enabled(disable))
    raise(Fault::user, "trust_unavailable",
          "DOCKER_CONTENT_TRUST is on but this docket build cannot sign; "
          "unset it or pass --disable-content-trust to push without signing");
}
#endif

docket::cli::Registration reg("docket", 20, {"pull", "push"}, [](CLI::App& app) {
  auto a = std::make_shared<TransferArgs>();
  auto* pull = app.add_subcommand("pull", "Pull an image from a registry into the local store");
  add_common(pull, *a);
  pull->add_option("--platform", a->platform,
                   "os/arch[/variant] to pull from a multi-platform image (default: this machine)");
  pull->callback([a] {
    auto ref = value_or_raise(Reference::parse(a->ref));
    std::optional<Descriptor> trusted;
    if (content_trust_enabled(a->disable_trust)) {
#if defined(DOCKET_HAVE_VERIFIER)
      if (ref.digest()) {
        // A digest is its own proof: the manifest is checked against it.
      } else {
        auto cfg = verifier::trust_config_for(ref);
        auto t = value_or_raise(verifier::resolve_trusted(
            ref, cfg, [](const std::string& w) { std::fprintf(stderr, "%s\n", w.c_str()); }));
        trusted = t.descriptor;
        if (!a->quiet && a->format != "json")
          std::printf("Pull (1 of 1): %s@%s (signed by %s)\n",
                      ref.with_default_tag().familiar().c_str(), t.descriptor.digest.str().c_str(),
                      t.role.c_str());
      }
#else
      raise(Fault::user, "trust_unavailable",
            "DOCKER_CONTENT_TRUST is on but this docket build cannot verify yet; "
            "unset it or pass --disable-content-trust to pull without verification");
#endif
    }
    auto store = value_or_raise(open_default_store());
    auto reg = value_or_raise(registry_for(ref.domain(), a->insecure));
    auto progress =
        make_progress(choose_progress_mode(a->quiet, a->format == "json", stdout), stdout);
    PullOptions o;
    if (!a->platform.empty()) o.platform = value_or_raise(Platform::parse(a->platform));
    o.parallel = a->parallel;
    o.progress = progress.get();
    // The signed digest, not the registry's answer for the tag, decides what is stored.
    o.trusted = trusted;
#if defined(DOCKET_HAVE_VERIFIER)
    if (trusted) {
      // A platform manifest signed by its digest (`push --recursive`) must match the entry of
      // the trusted index it was chosen from.
      o.check_platform_manifest = [ref, a](const Descriptor& entry) -> Status {
        std::string role;
        auto cfg = verifier::trust_config_for(ref);
        if (auto s = verifier::check_platform_manifest(ref, entry, cfg, nullptr, &role); !s)
          return s;
        if (!role.empty() && !a->quiet && a->format != "json")
          std::printf("Platform manifest %s (%s) signed by %s\n", entry.digest.str().c_str(),
                      entry.platform ? entry.platform->str().c_str() : "?", role.c_str());
        return {};
      };
    }
#endif
    if (!a->quiet && a->format != "json")
      std::printf("Pulling from %s\n", ref.without_tag_or_digest().familiar().c_str());
    auto r = value_or_raise(pull_image(*reg, store, ref, o));
    if (a->quiet) std::printf("%s\n", r.reference.str().c_str());
  });

  auto b = std::make_shared<TransferArgs>();
  auto* push = app.add_subcommand("push", "Push an image from the local store to a registry");
  add_common(push, *b);
  push->add_option("--chunk-size", b->chunk,
                   "Upload in PATCH chunks of this many bytes (0: one PUT per blob)");
  push->add_flag("--recursive", b->recursive,
                 "With content trust on and a multi-platform index: also sign each platform "
                 "manifest (by its digest)");
  push->callback([b] {
    auto ref = value_or_raise(Reference::parse(b->ref));
    if (ref.digest() && !ref.tag())
      raise(Fault::user, "usage", "push needs a tag, not a digest: " + b->ref);
    const bool sign = content_trust_enabled(b->disable_trust);
    if (b->recursive && !sign)
      raise(Fault::user, "usage",
            "--recursive signs platform manifests and needs content trust "
            "(DOCKER_CONTENT_TRUST=1, no --disable-content-trust)");
#if defined(DOCKET_HAVE_TRUSTCLIENT)
    // With content trust on, everything signing needs is checked before any byte moves:
    // the trust server answers, we hold a key for a role the tag can be signed into, and
    // the passphrases can be had without prompting when there is no terminal.
    std::unique_ptr<trustclient::KeyContext> kc;
    std::unique_ptr<trustclient::Repository> repo;
    if (sign) {
      kc = value_or_raise(trustclient::KeyContext::create());
      auto cfg = value_or_raise(trustclient::repository_config(ref, kc->trust_dir));
      cfg.warn = [](const std::string& w) { std::fprintf(stderr, "%s\n", w.c_str()); };
      repo = value_or_raise(trustclient::Repository::open(std::move(cfg), *kc->store));
      bool exists = value_or_raise(repo->refresh());
      if (!exists) value_or_raise(repo->probe_server());
      std::string tag = ref.tag().value_or(std::string(kDefaultTag));
      auto roles = exists ? value_or_raise(repo->signable_roles(tag))
                          : std::vector<std::string>{"root", "targets"};
      value_or_raise(trustclient::preflight_passphrases(*kc, roles));
    }
#else
    refuse_unsigned_push_if_trust(b->disable_trust);
#endif
    auto store = value_or_raise(open_default_store());
    auto reg = value_or_raise(registry_for(ref.domain(), b->insecure, b->chunk));
    auto progress =
        make_progress(choose_progress_mode(b->quiet, b->format == "json", stdout), stdout);
    PushOptions o;
    o.parallel = b->parallel;
    o.progress = progress.get();
    if (!b->quiet && b->format != "json")
      std::printf("The push refers to repository [%s]\n",
                  ref.without_tag_or_digest().str().c_str());
    auto r = value_or_raise(push_image(*reg, store, ref, ref, o));
    if (b->quiet) std::printf("%s\n", r.target.digest.str().c_str());
#if defined(DOCKET_HAVE_TRUSTCLIENT)
    if (sign) {
      std::string tag = ref.tag().value_or(std::string(kDefaultTag));
      if (!b->quiet && b->format != "json") std::printf("Signing and pushing trust metadata\n");
      std::vector<Descriptor> children;
      if (b->recursive) children = r.platform_manifests;
      auto out = value_or_raise(
          trustclient::sign_tag(*repo, tag, r.target.digest, r.target.size, children));
      if (!b->quiet && b->format != "json") {
        if (out.initialized)
          std::printf("Finished initializing \"%s\"\n", repo->config().gun.c_str());
        std::string roles;
        for (const auto& x : out.roles) roles += (roles.empty() ? "" : ", ") + x;
        std::printf(
            out.unchanged ? "%s:%s was already signed (%s)\n" : "Successfully signed %s:%s (%s)\n",
            ref.without_tag_or_digest().familiar().c_str(), tag.c_str(), roles.c_str());
        for (const auto& c : children)
          std::printf("Signed platform manifest %s (%s)\n", c.digest.str().c_str(),
                      c.platform ? c.platform->str().c_str() : "no platform");
        if (b->recursive && r.platform_manifests.empty())
          std::printf("%s is a single manifest: --recursive had nothing more to sign\n",
                      ref.familiar().c_str());
      }
    }
#endif
  });
});
}  // namespace
