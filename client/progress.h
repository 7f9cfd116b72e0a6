// Progress output for push/pull/load: bars redrawn in place on a terminal, one JSON object
// per event for scripts (--format json), or nothing (--quiet). Thread-safe: transfers report
// from worker threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace docket::client {

class Progress {
 public:
  virtual ~Progress() = default;
  // id: a short blob id ("3f2a1b9c0d4e"); action: "Downloading", "Pushing", ...
  virtual void start(const std::string& id, const std::string& action, std::uint64_t total) = 0;
  virtual void update(const std::string& id, std::uint64_t done) = 0;
  // status: "Pull complete", "Already exists", "Mounted from x/y", "Pushed", ...
  virtual void finish(const std::string& id, const std::string& status) = 0;
  // A line of text for humans ("Digest: sha256:…"); a JSON "message" event otherwise.
  virtual void message(const std::string& text) = 0;
};

enum class ProgressMode { terminal, plain, json, quiet };

// terminal: ANSI bars (needs a tty); plain: one line per finished blob; json: JSON lines;
// quiet: nothing.
std::unique_ptr<Progress> make_progress(ProgressMode mode, std::FILE* out);
// terminal if `out` is a tty, else plain; json/quiet as asked.
ProgressMode choose_progress_mode(bool quiet, bool json, std::FILE* out);

}  // namespace docket::client
