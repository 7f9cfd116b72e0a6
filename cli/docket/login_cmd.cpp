// `docket login` / `docket logout`: credentials in Docker's config.json (or its credential
// helper), checked against the registry before they are saved.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "client/docker_config.h"
#include "client/reference.h"
#include "client/session.h"

namespace {
using namespace docket;
using namespace docket::client;

std::string domain_of(const std::string& server) {
  if (server.empty()) return "docker.io";
  std::string s = normalize_auth_key(server);
  if (s.empty() || s.find('/') != std::string::npos)
    raise(Fault::user, "usage", "invalid registry address \"" + server + "\"");
  return s;
}

std::string prompt(const std::string& text, bool secret) {
  if (!::isatty(0))
    raise(Fault::user, "usage",
          "no terminal to ask for the " + text + "; pass --username and --password-stdin");
  std::fprintf(stderr, "%s: ", text.c_str());
  std::fflush(stderr);
  termios old{};
  bool restore = false;
  if (secret && ::tcgetattr(0, &old) == 0) {
    termios noecho = old;
    noecho.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(0, TCSANOW, &noecho) == 0;
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(0, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

struct LoginArgs {
  std::string server, username, password;
  bool password_stdin = false, insecure = false;
};

docket::cli::Registration reg("docket", 10, {"login", "logout"}, [](CLI::App& app) {
  auto a = std::make_shared<LoginArgs>();
  auto* cmd = app.add_subcommand(
      "login", "Log in to a registry (credentials kept in ~/.docker/config.json)");
  cmd->add_option("server", a->server, "Registry host[:port] (default docker.io)");
  cmd->add_option("-u,--username", a->username, "Username");
  cmd->add_option("-p,--password", a->password,
                  "Password (prefer --password-stdin: argv is visible to other users)");
  cmd->add_flag("--password-stdin", a->password_stdin, "Read the password from standard input");
  cmd->add_flag("--insecure", a->insecure,
                "Talk plain HTTP to the registry (unsafe outside test set-ups)");
  cmd->callback([a] {
    std::string domain = domain_of(a->server);
    if (a->password_stdin && !a->password.empty())
      raise(Fault::user, "usage", "--password and --password-stdin are mutually exclusive");
    if (a->password_stdin && a->username.empty())
      raise(Fault::user, "usage", "--password-stdin needs --username");
    if (!a->password.empty())
      std::fprintf(stderr,
                   "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    if (a->username.empty()) a->username = prompt("Username", false);
    if (a->password_stdin) {
      std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
      while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
      a->password = all;
    } else if (a->password.empty()) {
      a->password = prompt("Password", true);
    }
    if (a->username.empty() || a->password.empty())
      raise(Fault::user, "usage", "username and password must not be empty");
    Credentials creds{a->username, a->password, ""};
    RegistryOptions o;
    o.insecure_http = a->insecure;
    auto c = value_or_raise(RegistryClient::create(domain, creds, o));
    auto identity = value_or_raise(c->check_login());
    // As Docker does: an identity token, when the token service issues one, is kept instead
    // of the password.
    if (!identity.empty()) creds = Credentials{creds.username, "", identity};
    auto cfg = value_or_raise(DockerConfig::load(docker_config_dir()));
    value_or_raise(cfg.store(domain, creds));
    std::printf("Login Succeeded\n");
  });

  auto server = std::make_shared<std::string>();
  auto* out = app.add_subcommand("logout", "Remove a registry's stored credentials");
  out->add_option("server", *server, "Registry host[:port] (default docker.io)");
  out->callback([server] {
    std::string domain = domain_of(*server);
    auto cfg = value_or_raise(DockerConfig::load(docker_config_dir()));
    bool removed = value_or_raise(cfg.erase(domain));
    if (removed)
      std::printf("Removing login credentials for %s\n", credential_server_key(domain).c_str());
    else
      std::printf("Not logged in to %s\n", credential_server_key(domain).c_str());
  });
});
}  // namespace
