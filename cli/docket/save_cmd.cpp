// `docket save`, `docket load`, `docket import`: image tarballs without an engine.
#include <unistd.h>

#include <cstdio>

#include "cli/command.h"
#include "client/archive.h"
#include "client/session.h"
#include "common/file.h"

namespace {
using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;

struct SaveArgs {
  std::string output, platform;
  std::vector<std::string> refs;
};

docket::cli::Registration reg("docket", 40, {"save", "load", "import"}, [](CLI::App& app) {
  auto a = std::make_shared<SaveArgs>();
  auto* save = app.add_subcommand(
      "save", "Write images to a tar archive (Docker archive and OCI layout in one)");
  save->add_option("-o,--output", a->output, "Archive file to write (default: standard output)");
  save->add_option("--platform", a->platform, "Platform to save from a multi-platform image");
  save->add_option("references", a->refs, "Images to save")->required();
  save->callback([a] {
    auto store = value_or_raise(open_default_store());
    std::vector<Reference> refs;
    for (const auto& s : a->refs) refs.push_back(value_or_raise(Reference::parse(s)));
    Platform p =
        a->platform.empty() ? Platform::host() : value_or_raise(Platform::parse(a->platform));
    if (a->output.empty()) {
      if (::isatty(1))
        raise(Fault::user, "usage",
              "refusing to write an archive to a terminal; use -o FILE or redirect stdout");
      value_or_raise(save_images(store, refs, p, [](std::string_view b) -> Status {
        if (std::fwrite(b.data(), 1, b.size(), stdout) != b.size())
          return make_error(Fault::local, "io", "writing to standard output failed");
        return {};
      }));
      std::fflush(stdout);
      return;
    }
    // Written beside the target and renamed into place, so a failed save leaves no torn file.
    fs::path out = fs::absolute(a->output);
    fs::path tmp = out.parent_path() / ("." + out.filename().string() + ".tmp-" + random_hex_id());
    auto w = value_or_raise(FileWriter::create(tmp, 0644));
    value_or_raise(save_images(store, refs, p, w->sink()));
    value_or_raise(w->close());
    std::error_code ec;
    fs::rename(tmp, out, ec);
    if (ec)
      raise(Fault::local, "io",
            "renaming " + tmp.string() + " to " + out.string() + ": " + ec.message());
  });

  auto in = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  auto* load = app.add_subcommand(
      "load",
      "Load images from a tar archive (docker save, skopeo docker-archive/oci-archive; gzip ok)");
  load->add_option("-i,--input", *in, "Archive to read (default: standard input)");
  load->add_flag("-q,--quiet", *quiet, "Print nothing");
  load->callback([in, quiet] {
    auto store = value_or_raise(open_default_store());
    Source src;
    if (in->empty()) {
      if (::isatty(0))
        raise(Fault::user, "usage", "no archive given: use -i FILE or pipe one on standard input");
      src = [](char* b, std::size_t n) -> Result<std::size_t> {
        std::size_t k = std::fread(b, 1, n, stdin);
        if (k == 0 && std::ferror(stdin))
          return make_error(Fault::local, "io", "reading standard input failed");
        return k;
      };
    } else {
      auto f = file_source(*in);
      if (!f) raise(Fault::user, "not_found", f.error().message);
      src = *f;
    }
    auto loaded = value_or_raise(load_archive(store, src));
    if (*quiet) return;
    for (const auto& l : loaded) {
      if (l.reference)
        std::printf("Loaded image: %s\n", l.reference->familiar().c_str());
      else
        std::printf("Loaded image ID: %s\n", l.target.digest.str().c_str());
    }
  });

  struct ImportArgs {
    std::string source, ref, platform, message;
    std::vector<std::string> cmd;
  };
  auto im = std::make_shared<ImportArgs>();
  auto* imp = app.add_subcommand(
      "import", "Make a one-layer image from a directory or a rootfs tarball (plain or gzip)");
  imp->add_option("source", im->source, "Directory or tarball")->required();
  imp->add_option("reference", im->ref, "Name for the new image")->required();
  imp->add_option("--platform", im->platform,
                  "os/arch[/variant] recorded in the config (default: this machine)");
  imp->add_option("-m,--message", im->message, "History comment");
  imp->add_option("--cmd", im->cmd, "Default command (repeat for each argument)");
  imp->callback([im] {
    auto store = value_or_raise(open_default_store());
    auto ref = value_or_raise(Reference::parse(im->ref));
    if (ref.digest()) raise(Fault::user, "usage", "import needs a name[:tag], not a digest");
    ImportOptions o;
    if (!im->platform.empty()) o.platform = value_or_raise(Platform::parse(im->platform));
    o.message = im->message;
    o.cmd = im->cmd;
    auto d = value_or_raise(import_image(store, im->source, ref, o));
    std::printf("%s\n", d.digest.str().c_str());
  });
});
}  // namespace
