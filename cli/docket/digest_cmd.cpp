// `docket digest FILE...`: the content digest of files, as registries and TUF name them.
#include <cstdio>
#include <fstream>

#include "cli/command.h"
#include "common/digest.h"
#include "common/encoding.h"

namespace {
docket::cli::Registration reg("docket", 900, {"digest"}, [](CLI::App& app) {
  auto* cmd = app.add_subcommand("digest", "Print the sha256 digest and size of files");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("files", *files, "Files to hash")->required()->check(CLI::ExistingFile);
  cmd->callback([files] {
    for (const auto& f : *files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) docket::raise(docket::Fault::user, "io", "cannot open " + f);
      docket::Hasher h(docket::HashAlgorithm::sha256);
      std::vector<char> buf(1 << 20);
      std::size_t total = 0;
      while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
        h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
        total += static_cast<std::size_t>(in.gcount());
      }
      std::printf("sha256:%s %zu %s\n", docket::hex_encode(h.finish()).c_str(), total, f.c_str());
    }
  });
});
}  // namespace
