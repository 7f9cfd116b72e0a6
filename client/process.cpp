#include "client/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace docket::client {

Result<ProcessResult> run_process(const std::vector<std::string>& argv, std::string_view input) {
  if (argv.empty()) return make_error(Fault::bug, "usage", "run_process: empty argv");
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    return make_error(Fault::local, "io", std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    return make_error(Fault::local, "io", std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    return make_error(Fault::local, "io", std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]), ::close(out[0]), ::close(err[0]);
    return make_error(Fault::user, "config", "cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  // Feed stdin and drain both outputs together so a chatty helper cannot deadlock us.
  ProcessResult res;
  std::size_t written = 0;
  int fds_open = 2;
  bool in_open = true;
  if (input.empty()) ::close(in[1]), in_open = false;
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  bool too_much = false;
  while (fds_open > 0 || in_open) {
    pollfd p[3];
    int n = 0;
    int io = -1, oo = -1, eo = -1;
    if (in_open) p[n] = {in[1], POLLOUT, 0}, io = n++;
    if (out[0] >= 0) p[n] = {out[0], POLLIN, 0}, oo = n++;
    if (err[0] >= 0) p[n] = {err[0], POLLIN, 0}, eo = n++;
    if (::poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (io >= 0 && p[io].revents) {
      ssize_t w = ::write(in[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 || written == input.size()) ::close(in[1]), in_open = false;
    }
    auto drain = [&](int idx, int& fd, std::string& buf) {
      if (idx < 0 || !p[idx].revents) return;
      char tmp[8192];
      ssize_t r = ::read(fd, tmp, sizeof tmp);
      if (r <= 0) {
        ::close(fd), fd = -1, --fds_open;
        return;
      }
      if (buf.size() + static_cast<std::size_t>(r) > kMaxHelperOutput)
        too_much = true;
      else
        buf.append(tmp, static_cast<std::size_t>(r));
    };
    drain(oo, out[0], res.out);
    drain(eo, err[0], res.err);
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (too_much)
    return make_error(
        Fault::user, "config",
        argv[0] + " printed more than " + std::to_string(kMaxHelperOutput) + " bytes");
  return res;
}

}  // namespace docket::client
