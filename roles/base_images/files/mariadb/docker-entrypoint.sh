#!/bin/bash
# Entrypoint of the woodylab MariaDB base, following the official MySQL image's contract:
#   MYSQL_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD_FILE, MYSQL_ALLOW_EMPTY_PASSWORD,
#   MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ROOT_HOST (default %), MYSQL_DATABASE,
#   MYSQL_USER / MYSQL_PASSWORD (and their _FILE forms), MYSQL_INITDB_SKIP_TZINFO,
#   /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz (in name order, against MYSQL_DATABASE),
#   arguments starting with '-' appended to the server's command line.
# Only an empty data folder is initialised. Given passwords never reach the output or a command
# line: SQL goes through stdin, the client reads the password from a private options file.
# The one exception, as in the official image, is a generated MYSQL_RANDOM_ROOT_PASSWORD,
# printed once since nothing else could tell it.
set -eo pipefail
shopt -s nullglob

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
warn() { printf '%s [Warn] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
error() {
  printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
  exit 1
}

# file_env VAR [DEFAULT]: VAR from $VAR or from the file $VAR_FILE names (a Docker secret).
file_env() {
  local var=$1 file_var="${1}_FILE" default=${2:-} value
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    error "both $var and $file_var are set (but they are exclusive)"
  fi
  value=$default
  if [ -n "${!var:-}" ]; then
    value=${!var}
  elif [ -n "${!file_var:-}" ]; then
    [ -r "${!file_var}" ] || error "$file_var names ${!file_var}, which cannot be read"
    value=$(<"${!file_var}")
  fi
  export "$var"="$value"
  unset "$file_var"
}

# A value inside '...' in SQL (backslash and quote escaped; sql_mode has no NO_BACKSLASH_ESCAPES).
sql_string() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }
# A name inside `...` in SQL.
# shellcheck disable=SC2016 # the backticks are SQL, not a command
sql_name() { printf '%s' "$1" | sed -e 's/`/``/g'; }

# server_option NAME SERVER [ARGS...]: one option of the server's effective configuration
# (my.cnf, mariadb.conf.d, conf.d, command line).
server_option() {
  local name=$1
  shift
  "$@" --verbose --help 2>/dev/null | awk -v name="$name" '$1 == name { print $2; exit }'
}

if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  "$@" --verbose --help >/dev/null 2>&1 ||
    error "the server refuses its configuration: $("$@" --verbose --help 2>&1 >/dev/null | tail -n 3)"
  DATADIR=$(server_option datadir "$@")
  DATADIR=${DATADIR%/}
  [ -n "$DATADIR" ] || error "could not read datadir from the server's configuration"

  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" /run/mysqld
    # A volume may come owned by root: the server runs as mysql.
    find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql: '{}' +
    run_as=(--user=mysql)
  else
    run_as=()
  fi

  if [ ! -d "$DATADIR/mysql" ]; then
    file_env MYSQL_ROOT_PASSWORD
    file_env MYSQL_ROOT_HOST '%'
    file_env MYSQL_DATABASE
    file_env MYSQL_USER
    file_env MYSQL_PASSWORD
    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
      error "database is uninitialized and password option is not specified;" \
        "set one of MYSQL_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD_FILE, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD"
    fi
    if [ "$MYSQL_USER" = root ]; then
      error 'MYSQL_USER="root": MYSQL_USER and MYSQL_PASSWORD are for a regular user; use MYSQL_ROOT_PASSWORD for root'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
      warn "MYSQL_USER is set without MYSQL_PASSWORD: the user will not be created"
    elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
      warn "MYSQL_PASSWORD is set without MYSQL_USER: it is ignored"
    fi
    if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ] && [ -z "$MYSQL_ROOT_PASSWORD" ]; then
      MYSQL_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
      note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi

    note "initialising the data folder $DATADIR"
    if ! install_log=$(mariadb-install-db "${run_as[@]}" --datadir="$DATADIR" --skip-test-db \
      --auth-root-authentication-method=normal --skip-log-bin "${@:2}" 2>&1); then
      printf '%s\n' "$install_log" >&2
      error "mariadb-install-db failed"
    fi

    # A temporary server on a private socket, no network, while the accounts are made.
    init_socket=/run/mysqld/init.sock
    "$@" "${run_as[@]}" --skip-networking --socket="$init_socket" --skip-log-bin &
    init_pid=$!
    for _ in $(seq 60); do
      if mariadb-admin --socket="$init_socket" --user=root ping >/dev/null 2>&1; then
        break
      fi
      kill -0 "$init_pid" 2>/dev/null || error "the temporary server stopped during initialisation"
      sleep 1
    done
    mariadb-admin --socket="$init_socket" --user=root ping >/dev/null 2>&1 ||
      error "waited 60 s for the temporary server to answer on $init_socket"

    # From here on the client reads the root password from this file, never the command line.
    client_cnf=$(mktemp)
    trap 'rm -f "$client_cnf"' EXIT
    printf '[client]\nuser=root\nsocket=%s\n' "$init_socket" >"$client_cnf"
    client=(mariadb --defaults-extra-file="$client_cnf" --protocol=socket)

    if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ]; then
      # Time zone tables, as the official image loads them (CONVERT_TZ with named zones).
      mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | "${client[@]}" --database=mysql
    fi

    root_password=$(sql_string "$MYSQL_ROOT_PASSWORD")
    root_host=$(sql_string "$MYSQL_ROOT_HOST")
    {
      echo "SET @@SESSION.SQL_LOG_BIN=0;"
      # Only root@localhost and the system accounts stay: no anonymous or per-hostname root.
      echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host<>'localhost');"
      echo "DELETE FROM mysql.proxies_priv WHERE Host<>'localhost';"
      echo "FLUSH PRIVILEGES;"
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';"
      if [ "$MYSQL_ROOT_HOST" != localhost ]; then
        echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_password';"
        echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
        echo "GRANT PROXY ON ''@'%' TO 'root'@'$root_host' WITH GRANT OPTION;"
      fi
      if [ -n "$MYSQL_DATABASE" ]; then
        echo "CREATE DATABASE IF NOT EXISTS \`$(sql_name "$MYSQL_DATABASE")\`;"
      fi
      if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        echo "CREATE USER '$(sql_string "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_string "$MYSQL_PASSWORD")';"
        if [ -n "$MYSQL_DATABASE" ]; then
          echo "GRANT ALL ON \`$(sql_name "$MYSQL_DATABASE")\`.* TO '$(sql_string "$MYSQL_USER")'@'%';"
        fi
      fi
      echo "FLUSH PRIVILEGES;"
    } | "${client[@]}" --database=mysql
    unset root_password
    printf '[client]\nuser=root\nsocket=%s\npassword="%s"\n' "$init_socket" \
      "$(printf '%s' "$MYSQL_ROOT_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')" >"$client_cnf"
    if [ -n "$MYSQL_DATABASE" ]; then
      client+=(--database="$MYSQL_DATABASE")
    fi

    # For sourced *.sh scripts, as in the official image: docker_process_sql <file.sql
    docker_process_sql() { "${client[@]}" "$@"; }
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh)
          if [ -x "$f" ]; then
            note "running $f"
            "$f"
          else
            note "sourcing $f"
            # shellcheck disable=SC1090
            . "$f"
          fi
          ;;
        *.sql)
          note "running $f"
          "${client[@]}" <"$f"
          ;;
        *.sql.gz)
          note "running $f"
          gunzip -c "$f" | "${client[@]}"
          ;;
        *) note "ignoring $f" ;;
      esac
    done

    mariadb-admin --defaults-extra-file="$client_cnf" shutdown
    for _ in $(seq 60); do
      kill -0 "$init_pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$init_pid" 2>/dev/null; then
      error "waited 60 s for the temporary server to stop"
    fi
    wait "$init_pid" || true
    rm -f "$client_cnf"
    trap - EXIT
    note "initialisation done; starting the server"
  fi
  # The server does not need the passwords in its environment.
  unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD
  set -- "$@" "${run_as[@]}"
fi

exec "$@"
