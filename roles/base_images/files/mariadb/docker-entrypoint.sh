#!/bin/bash
# Entrypoint following the official MySQL image's contract:
#   MYSQL_ROOT_PASSWORD / _FILE, MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD,
#   MYSQL_DATABASE, MYSQL_USER / MYSQL_PASSWORD (/ _FILE), /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz},
#   arguments starting with '-' passed to the server.
# Only an empty data folder is initialised; secrets never reach the output or a command line.
set -euo pipefail

log() { echo "entrypoint: $*" >&2; }

# VAR from VAR or from the file VAR_FILE names (a Docker secret); both at once is an error.
file_env() {
  local var=$1 file_var="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    log "both $var and $file_var are set; choose one"
    exit 1
  fi
  if [ -n "${!file_var:-}" ]; then
    export "$var"="$(<"${!file_var}")"
  fi
  unset "$file_var"
}

sql_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }

if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  if [ ! -d /var/lib/mysql/mysql ]; then
    file_env MYSQL_ROOT_PASSWORD
    file_env MYSQL_USER
    file_env MYSQL_PASSWORD
    if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
      log "database is uninitialized and password option is not specified:"
      log "set one of MYSQL_ROOT_PASSWORD(_FILE), MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD"
      exit 1
    fi
    if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
      MYSQL_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
      echo "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    log "initialising the data folder"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
      --auth-root-authentication-method=normal >/dev/null
    mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
    init_pid=$!
    for _ in $(seq 60); do
      mariadb-admin --socket=/run/mysqld/init.sock --user=root ping >/dev/null 2>&1 && break
      sleep 1
    done
    mariadb-admin --socket=/run/mysqld/init.sock --user=root ping >/dev/null

    root_pw=$(sql_escape "${MYSQL_ROOT_PASSWORD:-}")
    {
      echo "SET @@SESSION.SQL_LOG_BIN=0;"
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
      echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_pw';"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
      fi
      if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
        echo "CREATE USER '$(sql_escape "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")';"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
          echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$(sql_escape "$MYSQL_USER")'@'%';"
        fi
      fi
      echo "FLUSH PRIVILEGES;"
    } | mariadb --socket=/run/mysqld/init.sock --user=root

    # The password goes to the client through a private options file, not the command line.
    client_cnf=$(mktemp)
    chmod 600 "$client_cnf"
    printf '[client]\nuser=root\npassword="%s"\nsocket=/run/mysqld/init.sock\n' \
      "$(printf '%s' "${MYSQL_ROOT_PASSWORD:-}" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')" >"$client_cnf"
    client=(mariadb --defaults-extra-file="$client_cnf" ${MYSQL_DATABASE:+"$MYSQL_DATABASE"})
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) log "running $f"; . "$f" ;;
        *.sql) log "running $f"; "${client[@]}" <"$f" ;;
        *.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" ;;
        *) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
      esac
    done
    mariadb-admin --defaults-extra-file="$client_cnf" shutdown
    rm -f "$client_cnf"
    wait "$init_pid"
    log "initialisation done"
  fi
  if [ "$(id -u)" = 0 ]; then
    set -- "$@" --user=mysql
  fi
fi

exec "$@"
