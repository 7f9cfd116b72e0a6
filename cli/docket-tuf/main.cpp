// docket-tuf: the TUF client conformance CLI (shared/tuf/CLIENT-CONTRACT.md).
//
//   docket-tuf --metadata-dir DIR init TRUSTED_ROOT_FILE
//   docket-tuf --metadata-url URL --metadata-dir DIR refresh
//   docket-tuf --metadata-url URL --metadata-dir DIR --target-name PATH [--target-name PATH ...]
//              --target-dir DIR --target-base-url URL download
//
// Options may appear in any order (before or after the command). Exit status is 0 on full
// success and 1 on ANY failure, usage errors included: no argument parser exit codes, no
// uncaught exceptions. Time comes from libc (std::chrono::system_clock), so libfaketime
// moves it; the binary is dynamically linked. Every request and every accept/reject decision
// is logged to stderr.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/file.h"
#include "tuf/fetcher.h"
#include "tuf/metadata.h"
#include "tuf/store.h"
#include "tuf/updater.h"

namespace {

using namespace docket;
using namespace docket::tuf;

const char* kUsage =
    "usage:\n"
    "  docket-tuf --metadata-dir DIR init TRUSTED_ROOT_FILE\n"
    "  docket-tuf --metadata-url URL --metadata-dir DIR refresh\n"
    "  docket-tuf --metadata-url URL --metadata-dir DIR --target-name PATH [--target-name PATH "
    "...]\n"
    "             --target-dir DIR --target-base-url URL download\n"
    "options: -v/--verbose (accepted; logging to stderr is always on)\n";

struct Args {
  std::optional<std::string> metadata_dir, metadata_url, target_dir, target_base_url;
  std::vector<std::string> target_names;
  std::vector<std::string> positional;
  bool help = false;
};

[[noreturn]] void usage_error(const std::string& msg) {
  raise(Fault::user, "usage", msg);
}

Args parse_args(int argc, char** argv) {
  Args a;
  auto single = [](std::optional<std::string>& slot, const std::string& flag, std::string v) {
    if (slot) usage_error(flag + " given twice");
    slot = std::move(v);
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      a.help = true;
      continue;
    }
    if (arg == "-v" || arg == "--verbose") continue;
    if (arg.rfind("--", 0) == 0) {
      std::string flag = arg, value;
      bool has_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        flag = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      static const char* known[] = {"--metadata-dir", "--metadata-url", "--target-name",
                                    "--target-dir", "--target-base-url"};
      bool is_known = false;
      for (const char* k : known) is_known = is_known || flag == k;
      if (!is_known) usage_error("unknown option " + flag);
      if (!has_value) {
        if (i + 1 >= argc) usage_error(flag + " needs a value");
        value = argv[++i];
      }
      if (flag == "--metadata-dir")
        single(a.metadata_dir, flag, value);
      else if (flag == "--metadata-url")
        single(a.metadata_url, flag, value);
      else if (flag == "--target-dir")
        single(a.target_dir, flag, value);
      else if (flag == "--target-base-url")
        single(a.target_base_url, flag, value);
      else
        a.target_names.push_back(value);
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') usage_error("unknown option " + arg);
    a.positional.push_back(arg);
  }
  return a;
}

void log_line(std::string_view line) {
  std::fprintf(stderr, "docket-tuf: %.*s\n", static_cast<int>(line.size()), line.data());
}

std::string require(const std::optional<std::string>& v, const char* flag, const std::string& cmd) {
  if (!v || v->empty()) usage_error(cmd + " needs " + flag);
  return *v;
}

std::filesystem::path require_dir(const std::optional<std::string>& v, const char* flag,
                                  const std::string& cmd) {
  std::filesystem::path p = require(v, flag, cmd);
  std::error_code ec;
  if (!std::filesystem::is_directory(p, ec))
    raise(Fault::user, "not_found", std::string(flag) + " " + p.string() + " is not a directory");
  return p;
}

int cmd_init(const Args& a) {
  if (a.positional.size() != 2) usage_error("init takes exactly one TRUSTED_ROOT_FILE");
  auto dir = require_dir(a.metadata_dir, "--metadata-dir", "init");
  Limits limits;
  std::string bytes = value_or_raise(read_file(a.positional[1], limits.max_root_bytes));
  // Light validation: the file must at least be root metadata. Signatures and expiry are
  // checked by every refresh before anything is trusted through it.
  ParseOptions po;
  po.fault = Fault::user;
  po.max_bytes = limits.max_root_bytes;
  if (auto r = parse_root(bytes, po); !r)
    raise(with_context(r.error(), "trusted root " + a.positional[1]));
  value_or_raise(atomic_write_file(dir / "root.json", bytes));
  log_line("initialised " + (dir / "root.json").string());
  return 0;
}

struct Client {
  DirectoryStore store;
  std::unique_ptr<HttpFetcher> fetcher;
  std::unique_ptr<Updater> updater;
};

Client make_client(const Args& a, const std::string& cmd) {
  auto dir = require_dir(a.metadata_dir, "--metadata-dir", cmd);
  Client c{DirectoryStore(dir), nullptr, nullptr};
  c.fetcher = value_or_raise(HttpFetcher::create());
  UpdaterOptions o;
  o.metadata_url = require(a.metadata_url, "--metadata-url", cmd);
  if (a.target_base_url) o.target_base_url = *a.target_base_url;
  o.log = log_line;
  c.updater = std::make_unique<Updater>(o, c.store, *c.fetcher);
  return c;
}

int cmd_refresh(const Args& a) {
  if (a.positional.size() != 1) usage_error("refresh takes no arguments");
  auto c = make_client(a, "refresh");
  value_or_raise(c.updater->refresh());
  log_line("refresh succeeded");
  return 0;
}

int cmd_download(const Args& a) {
  if (a.positional.size() != 1) usage_error("download takes no arguments (use --target-name)");
  if (a.target_names.empty()) usage_error("download needs at least one --target-name");
  require(a.target_base_url, "--target-base-url", "download");
  auto target_dir = require_dir(a.target_dir, "--target-dir", "download");
  auto c = make_client(a, "download");
  value_or_raise(c.updater->refresh());
  for (const auto& name : a.target_names) {
    auto path = value_or_raise(TargetPath::make(name));
    auto info = value_or_raise(c.updater->find_target(path));
    if (!info)
      raise(Fault::remote, "not_found", "target " + name + " is not listed by any trusted role");
    // Flat, encoded file name: a target path can never escape the directory.
    auto dest = target_dir / path.encoded();
    std::error_code ec;
    if (std::filesystem::is_regular_file(dest, ec)) {
      auto cached = read_file(dest, static_cast<std::size_t>(info->file.length) + 1);
      if (cached && c.updater->verify_target(*info, *cached)) {
        log_line("target " + name + " already present and verified: " + dest.string());
        continue;
      }
    }
    // Verified in memory before anything is written; then written atomically.
    std::string bytes = value_or_raise(c.updater->download_target(*info));
    value_or_raise(atomic_write_file(dest, bytes));
    log_line("target " + name + " verified and stored as " + dest.string());
  }
  return 0;
}

int run(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  if (a.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (a.positional.empty()) usage_error("no command given (init, refresh or download)");
  const std::string& cmd = a.positional[0];
  if (cmd == "init") return cmd_init(a);
  if (cmd == "refresh") return cmd_refresh(a);
  if (cmd == "download") return cmd_download(a);
  usage_error("unknown command \"" + cmd + "\"");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const docket::Exception& e) {
    std::fprintf(stderr, "docket-tuf: %s\n", e.what());
    if (e.error().code == "usage") std::fputs(kUsage, stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "docket-tuf: bug error (unexpected): %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "docket-tuf: bug error (unexpected exception)\n");
  }
  return 1;
}
