#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for the test suite, on a
# temporary data directory and a unix socket only (no TCP listener).
#
#   eval "$(.ci/postgres.sh start)"   # exports MAPWRIGHT_TEST_POSTGRES and MW_PG_DIR
#   .ci/postgres.sh stop "$MW_PG_DIR"
#
# PostgreSQL refuses to run as root; as root the cluster runs as the
# "postgres" system user, which must own the directory.
set -euo pipefail

pgbin() {
	local name=$1
	if command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
		return
	fi
	local found
	found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$found" ] || { echo "postgres.sh: $name not found; install PostgreSQL" >&2; exit 1; }
	echo "$found"
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local dir
	dir=$(mktemp -d -t mwpg.XXXXXX)
	chmod 0755 "$dir"
	mkdir -p "$dir/data" "$dir/sock"
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres:postgres "$dir"
	fi
	as_owner "$(pgbin initdb)" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_owner "$(pgbin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	echo "export MW_PG_DIR='$dir'"
	echo "export MAPWRIGHT_TEST_POSTGRES='postgres://postgres@/postgres?host=$dir/sock&sslmode=disable'"
}

stop() {
	local dir=${1:?usage: postgres.sh stop DIR}
	[ -d "$dir/data" ] || return 0
	as_owner "$(pgbin pg_ctl)" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
