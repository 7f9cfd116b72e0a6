#include "trustserver/testing/postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include <libpq-fe.h>

namespace docket::testing {
namespace fs = std::filesystem;

int free_tcp_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

fs::path PostgresServer::find_bin_dir() {
  fs::path best;
  int best_v = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int v = std::atoi(e.path().filename().c_str());
    if (v > best_v && fs::exists(e.path() / "bin" / "initdb")) {
      best_v = v;
      best = e.path() / "bin";
    }
  }
  return best;
}

namespace {
// Runs a shell command; the arguments are temp paths and numbers we made, never user input.
Status sh(const std::string& cmd, std::string_view what) {
  int rc = std::system(cmd.c_str());
  if (rc != 0)
    return make_error(Fault::local, "postgres_fixture",
                      std::string(what) + " failed (exit " + std::to_string(rc) + "): " + cmd);
  return {};
}
}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bin_ = find_bin_dir();
  if (s->bin_.empty())
    return make_error(Fault::local, "postgres_fixture",
                      "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run "
                      "scripts/install-deps.sh --peers");
  std::string tmpl = (fs::temp_directory_path() / "docket-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return make_error(Fault::local, "io", "mkdtemp failed for " + tmpl);
  s->dir_ = tmpl;
  s->as_postgres_ = ::geteuid() == 0;
  std::string prefix;
  if (s->as_postgres_) {
    if (auto st = sh("chown postgres: '" + s->dir_.string() + "'", "chown"); !st)
      return std::unexpected(st.error());
    prefix = "runuser -u postgres -- ";
  }
  const auto data = (s->dir_ / "data").string();
  if (auto st = sh(prefix + "'" + (s->bin_ / "initdb").string() + "' -D '" + data +
                       "' -U postgres --auth=trust -E UTF8 --no-sync >'" +
                       (s->dir_ / "initdb.log").string() + "' 2>&1",
                   "initdb");
      !st)
    return std::unexpected(st.error());
  // A few attempts: the free port may be taken between probing and binding.
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = free_tcp_port();
    std::string opts = "-c listen_addresses=127.0.0.1 -p " + std::to_string(s->port_) + " -k " +
                       s->dir_.string() +
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                       " -c max_connections=100 -c shared_buffers=32MB";
    auto st =
        sh(prefix + "'" + (s->bin_ / "pg_ctl").string() + "' -D '" + data + "' -o '" + opts +
               "' -l '" + (s->dir_ / "server.log").string() + "' -w -t 60 start >/dev/null 2>&1",
           "pg_ctl start");
    if (st) {
      s->opts_ = opts;
      s->running_ = true;
      return s;
    }
  }
  return make_error(Fault::local, "postgres_fixture",
                    "PostgreSQL did not start; see " + (s->dir_ / "server.log").string());
}

PostgresServer::~PostgresServer() {
  if (!dir_.empty()) {
    std::string prefix = as_postgres_ ? "runuser -u postgres -- " : "";
    if (running_)
      (void)sh(prefix + "'" + (bin_ / "pg_ctl").string() + "' -D '" + (dir_ / "data").string() +
                   "' -m immediate -w stop >/dev/null 2>&1",
               "pg_ctl stop");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status PostgresServer::stop() {
  std::string prefix = as_postgres_ ? "runuser -u postgres -- " : "";
  auto st = sh(prefix + "'" + (bin_ / "pg_ctl").string() + "' -D '" + (dir_ / "data").string() +
                   "' -m fast -w stop >/dev/null 2>&1",
               "pg_ctl stop");
  if (st) running_ = false;
  return st;
}

Status PostgresServer::start_again() {
  std::string prefix = as_postgres_ ? "runuser -u postgres -- " : "";
  auto st = sh(prefix + "'" + (bin_ / "pg_ctl").string() + "' -D '" + (dir_ / "data").string() +
                   "' -o '" + opts_ + "' -l '" + (dir_ / "server.log").string() +
                   "' -w -t 60 start >/dev/null 2>&1",
               "pg_ctl start");
  if (st) running_ = true;
  return st;
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

Result<std::string> PostgresServer::create_database() {
  const std::string name = "docket_test_" + std::to_string(++next_db_);
  PGconn* c = PQconnectdb(url().c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    return make_error(Fault::local, "postgres_fixture", "connecting: " + m);
  }
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string m = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) return make_error(Fault::local, "postgres_fixture", "CREATE DATABASE: " + m);
  return url(name);
}

}  // namespace docket::testing
