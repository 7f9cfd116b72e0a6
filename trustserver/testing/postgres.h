// A throwaway PostgreSQL server for integration tests: initdb + pg_ctl from Debian's
// postgresql package into a temporary directory, listening on 127.0.0.1 on a free port,
// trust authentication, stopped (immediate mode) and removed when the object dies. Run as
// root, the server programs are started as the `postgres` system user (runuser) with the
// directory chowned to it, since PostgreSQL refuses to run as root.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.h"

namespace docket::testing {

class PostgresServer {
 public:
  // The newest /usr/lib/postgresql/<N>/bin, or "" when PostgreSQL is not installed.
  static std::filesystem::path find_bin_dir();
  static Result<std::unique_ptr<PostgresServer>> start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // libpq URL of a database on this server.
  std::string url(const std::string& database = "postgres") const;
  // Creates a new empty database with a unique name and returns its URL.
  Result<std::string> create_database();
  // Stops the server (fast mode: sessions are terminated, committed data kept, which the
  // immediate mode does not promise with synchronous_commit off) and starts it again on the
  // same port and data directory, for tests of a database outage.
  Status stop();
  Status start_again();

 private:
  PostgresServer() = default;
  std::filesystem::path bin_, dir_;
  std::string opts_;  // the server's pg_ctl -o options
  int port_ = 0;
  int next_db_ = 0;
  bool as_postgres_ = false;
  bool running_ = false;
};

// A free TCP port on 127.0.0.1 (bound and released; the caller binds it soon after).
int free_tcp_port();

}  // namespace docket::testing
