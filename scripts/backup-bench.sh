#!/bin/sh
# Measure backups at scale: seed a store with KEYS keys and EVENTS audit
# events, then time mwctl backup create, verify and restore and record their
# peak memory. With DATABASE_URL (an empty PostgreSQL database) the source
# is PostgreSQL and pg_dump -Fc of the same database is timed for
# comparison; RESTORE_DATABASE_URL (another empty database) adds a restore
# into PostgreSQL.
#
#   scripts/backup-bench.sh                                  # SQLite, 1M keys, 5M events
#   KEYS=100000 EVENTS=500000 scripts/backup-bench.sh        # smaller
#   DATABASE_URL=postgres://... scripts/backup-bench.sh      # PostgreSQL
#
# mwctl reads the database directly (backup create --data-dir), so no
# server is needed; through the admin API the same code runs behind a
# local socket. Work files go to a temporary directory (BENCH_DIR to
# choose it), removed at the end unless KEEP=1.
set -eu

KEYS=${KEYS:-1000000}
EVENTS=${EVENTS:-5000000}
DATABASE_URL=${DATABASE_URL:-}
RESTORE_DATABASE_URL=${RESTORE_DATABASE_URL:-}

root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
if [ "${KEEP:-0}" != 1 ]; then
	trap 'rm -rf "$work"' EXIT
fi

echo "building mwctl, the seeder and age-keygen" >&2
(cd "$root" && go build -o "$work/bin/" ./cmd/mwctl ./internal/backup/seed filippo.io/age/cmd/age-keygen)
mwctl=$work/bin/mwctl

# A throwaway age identity. The backups are encrypted to it rather than
# with a passphrase, whose scrypt costs about a second and 256 MiB of
# memory at every open, which would hide the streaming's own figures.
"$work/bin/age-keygen" -o "$work/identity.txt" 2>/dev/null
recipient=$(awk '/^# public key: / { print $4 }' "$work/identity.txt")

have_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
	have_time=1
fi

results=$work/results.txt
: >"$results"

# measure NAME COMMAND...: run COMMAND, record wall time and peak memory.
measure() {
	name=$1
	shift
	echo "running $name" >&2
	if [ "$have_time" = 1 ]; then
		/usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out"
		secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {
			n = split($2, p, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + p[i]
			printf "%.1f", s }' "$work/$name.time")
		rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/$name.time")
	else
		start=$(date +%s.%N)
		"$@" >"$work/$name.out"
		end=$(date +%s.%N)
		secs=$(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }')
		rss=n/a
	fi
	printf '%-22s %8s s %8s MiB\n' "$name" "$secs" "$rss" >>"$results"
}

size_mib() {
	awk '{ printf "%.1f MiB", $1 / 1048576 }' <<EOF
$(wc -c <"$1")
EOF
}

src=$work/src
if [ -n "$DATABASE_URL" ]; then
	measure seed "$work/bin/seed" --data-dir "$src" --database-url "$DATABASE_URL" --keys "$KEYS" --events "$EVENTS"
	measure "backup create" "$mwctl" backup create -o "$work/backup.mwbak" --recipient "$recipient" --data-dir "$src" --database-url "$DATABASE_URL"
	if command -v pg_dump >/dev/null 2>&1; then
		measure "pg_dump -Fc" pg_dump -Fc -f "$work/dump.pgc" "$DATABASE_URL"
	fi
else
	measure seed "$work/bin/seed" --data-dir "$src" --keys "$KEYS" --events "$EVENTS"
	measure "backup create" "$mwctl" backup create -o "$work/backup.mwbak" --recipient "$recipient" --data-dir "$src"
fi
measure "backup verify" "$mwctl" backup verify "$work/backup.mwbak" --identity "$work/identity.txt" --scratch-dir "$work"
measure "restore (SQLite)" "$mwctl" backup restore "$work/backup.mwbak" --identity "$work/identity.txt" --data-dir "$work/restored"
if [ -n "$RESTORE_DATABASE_URL" ]; then
	measure "restore (PostgreSQL)" "$mwctl" backup restore "$work/backup.mwbak" --identity "$work/identity.txt" --data-dir "$work/restored-pg" --database-url "$RESTORE_DATABASE_URL"
fi

echo
echo "backups of $KEYS keys and $EVENTS audit events ($([ -n "$DATABASE_URL" ] && echo PostgreSQL || echo SQLite) source)"
cat "$results"
echo "backup file           $(size_mib "$work/backup.mwbak")"
if [ -f "$work/dump.pgc" ]; then
	echo "pg_dump -Fc file      $(size_mib "$work/dump.pgc")"
	awk '/^backup create/ { c = $3 } /^pg_dump -Fc/ { d = $3 }
		END { if (d > 0) printf "create / pg_dump      %.2f\n", c / d }' "$results"
fi
