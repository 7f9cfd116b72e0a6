#include "client/progress.h"

#include <unistd.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "common/json.h"

namespace docket::client {
namespace {

std::string human(std::uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2fGB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1fMB", static_cast<double>(b) / (1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1fkB", static_cast<double>(b) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(b));
  return buf;
}

class Quiet : public Progress {
 public:
  void start(const std::string&, const std::string&, std::uint64_t) override {}
  void update(const std::string&, std::uint64_t) override {}
  void finish(const std::string&, const std::string&) override {}
  void message(const std::string&) override {}
};

class Plain : public Progress {
 public:
  explicit Plain(std::FILE* out) : out_(out) {}
  void start(const std::string&, const std::string&, std::uint64_t) override {}
  void update(const std::string&, std::uint64_t) override {}
  void finish(const std::string& id, const std::string& status) override {
    std::lock_guard l(mu_);
    std::fprintf(out_, "%s: %s\n", id.c_str(), status.c_str());
    std::fflush(out_);
  }
  void message(const std::string& text) override {
    std::lock_guard l(mu_);
    std::fprintf(out_, "%s\n", text.c_str());
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  std::mutex mu_;
};

class JsonLines : public Progress {
 public:
  explicit JsonLines(std::FILE* out) : out_(out) {}
  void start(const std::string& id, const std::string& action, std::uint64_t total) override {
    emit({{"event", "start"}, {"id", id}, {"action", action}, {"total", total}});
  }
  void update(const std::string& id, std::uint64_t done) override {
    // At most ~4 updates a second per process, so a log is not flooded.
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard l(mu_);
      if (now - last_ < std::chrono::milliseconds(250)) return;
      last_ = now;
    }
    emit({{"event", "progress"}, {"id", id}, {"current", done}});
  }
  void finish(const std::string& id, const std::string& status) override {
    emit({{"event", "done"}, {"id", id}, {"status", status}});
  }
  void message(const std::string& text) override {
    emit({{"event", "message"}, {"message", text}});
  }

 private:
  void emit(const Json& j) {
    std::lock_guard l(mu_);
    std::fprintf(out_, "%s\n", j.dump().c_str());
    std::fflush(out_);
  }
  std::FILE* out_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};
};

class Terminal : public Progress {
 public:
  explicit Terminal(std::FILE* out) : out_(out) {}
  void start(const std::string& id, const std::string& action, std::uint64_t total) override {
    std::lock_guard l(mu_);
    rows_.push_back(Row{id, action, total, 0, ""});
    redraw(true);
  }
  void update(const std::string& id, std::uint64_t done) override {
    std::lock_guard l(mu_);
    for (auto& r : rows_)
      if (r.id == id) r.done = done;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    redraw(false);
  }
  void finish(const std::string& id, const std::string& status) override {
    std::lock_guard l(mu_);
    bool found = false;
    for (auto& r : rows_)
      if (r.id == id) r.status = status, found = true;
    if (!found) rows_.push_back(Row{id, "", 0, 0, status});
    redraw(!found);
  }
  void message(const std::string& text) override {
    std::lock_guard l(mu_);
    std::fprintf(out_, "%s\n", text.c_str());
    drawn_ = 0;
    rows_.clear();
    std::fflush(out_);
  }

 private:
  struct Row {
    std::string id, action;
    std::uint64_t total, done;
    std::string status;
  };
  void redraw(bool) {
    if (drawn_ > 0) std::fprintf(out_, "\x1b[%zuA", drawn_);
    for (const auto& r : rows_) {
      std::fprintf(out_, "\x1b[2K%s: ", r.id.c_str());
      if (!r.status.empty()) {
        std::fprintf(out_, "%s\n", r.status.c_str());
        continue;
      }
      int width = 40;
      int filled =
          r.total
              ? static_cast<int>(static_cast<double>(r.done) / static_cast<double>(r.total) * width)
              : 0;
      if (filled > width) filled = width;
      std::string bar(static_cast<std::size_t>(filled), '=');
      if (filled < width) bar += '>';
      bar.resize(static_cast<std::size_t>(width), ' ');
      std::fprintf(out_, "%-11s [%s] %s/%s\n", r.action.c_str(), bar.c_str(), human(r.done).c_str(),
                   human(r.total).c_str());
    }
    drawn_ = rows_.size();
    std::fflush(out_);
  }
  std::FILE* out_;
  std::mutex mu_;
  std::vector<Row> rows_;
  std::size_t drawn_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

std::unique_ptr<Progress> make_progress(ProgressMode mode, std::FILE* out) {
  switch (mode) {
    case ProgressMode::terminal:
      return std::make_unique<Terminal>(out);
    case ProgressMode::plain:
      return std::make_unique<Plain>(out);
    case ProgressMode::json:
      return std::make_unique<JsonLines>(out);
    case ProgressMode::quiet:
      break;
  }
  return std::make_unique<Quiet>();
}

ProgressMode choose_progress_mode(bool quiet, bool json, std::FILE* out) {
  if (quiet) return ProgressMode::quiet;
  if (json) return ProgressMode::json;
  return ::isatty(::fileno(out)) ? ProgressMode::terminal : ProgressMode::plain;
}

}  // namespace docket::client
