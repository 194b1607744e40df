#!/usr/bin/env bash
# Load test of two replicas on one PostgreSQL database: starts a throwaway
# PostgreSQL cluster (.ci/postgres.sh), two mapwrightd replicas on loopback
# sharing it (and the audit and session key files), and runs wrk against
# both at once over TLS, half the connections each, while a third loop
# creates and revokes a key every second through the first replica. It
# reports requests per second, latency percentiles, the count of 5xx
# answers (which must be zero), the replicas' memory every 15 s, their peak
# RSS, and that the audit chain still verifies. Loopback only; bounded.
#
#   scripts/replica-loadtest.sh [DURATION] [CONNECTIONS] [THREADS]   (defaults: 3m 256 2)
#
# Needs wrk (Debian package wrk) and PostgreSQL's server programs.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-3m}
conns=${2:-256}
threads=${3:-2}
command -v wrk >/dev/null || { echo "replica-loadtest: install wrk (apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${MW_PG_DIR:-}" ] && .ci/postgres.sh stop "$MW_PG_DIR"
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/mapwrightd" ./cmd/mapwrightd
go build -o "$work/mwctl" ./cmd/mwctl
eval "$(.ci/postgres.sh start)"
db=$MAPWRIGHT_TEST_POSTGRES

mkdir -p "$work/tiles"
cp internal/demo/countries.pmtiles "$work/tiles/"

# start NAME TLS_PORT: one replica; waits until its admin API is ready.
start() {
	local name=$1 port=$2
	mkdir -p -m 0700 "$work/$name"
	"$work/mapwrightd" serve --data-dir "$work/$name" --tiles "$work/tiles" --database-url "$db" \
		--addr "127.0.0.1:$port" --admin-socket "$work/$name.sock" --log-level warn \
		>"$work/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 300); do
		"$work/mwctl" --server "unix://$work/$name.sock" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$work/$name.log" >&2
	exit 1
}
start a 18443
pid_a=${pids[0]}
# The second replica shares the first one's audit and session keys.
mkdir -p -m 0700 "$work/b"
cp "$work/a/audit.key" "$work/a/session.key" "$work/b/"
start b 18444
pid_b=${pids[1]}

mw() { "$work/mwctl" --server "unix://$work/a.sock" "$@"; }
key=$(mw keys create --name "load test" --rate 1000000 --burst 1000000 --quiet)

cat >"$work/load.lua" <<LUA
local paths = {}
for z = 0, 5 do
  local n = 2 ^ z
  for x = 0, n - 1 do
    for y = 0, n - 1 do
      paths[#paths + 1] = string.format("/v1/tiles/countries/%d/%d/%d.mvt?key=${key}", z, x, y)
    end
  end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() i = 0; errors5xx = 0; other = 0 end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept-Encoding"] = "gzip" })
end
function response(status)
  if status >= 500 then errors5xx = errors5xx + 1
  elseif status ~= 200 and status ~= 204 then other = other + 1 end
end
function done()
  local e, o = 0, 0
  for _, t in ipairs(threads) do e = e + t:get("errors5xx"); o = o + t:get("other") end
  io.write(string.format("5xx responses: %d\nother non-2xx responses: %d\n", e, o))
end
LUA

# Key churn through replica a while the load runs: every change must
# reach replica b through the database's notices.
(
	case $duration in
	*m) secs=$((${duration%m} * 60)) ;;
	*s) secs=${duration%s} ;;
	*) secs=$duration ;;
	esac
	end=$((SECONDS + secs))
	n=0 stale=0
	while [ $SECONDS -lt $end ]; do
		out=$(mw keys create --name "churn $n" -o json 2>/dev/null)
		id=$(printf '%s' "$out" | sed -n 's/.*"id": *"\(key_[0-9A-Z]*\)".*/\1/p' | head -n 1)
		tok=$(printf '%s' "$out" | sed -n 's/.*"key": *"\(mpw_pk_[0-9A-Za-z]*\)".*/\1/p')
		[ -n "$id" ] || continue
		mw keys revoke "$id" --reason "load test churn" --yes >/dev/null
		sleep 1
		# One second later replica b must refuse the key revoked through a.
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/b/tls/ca.pem" \
			-H "Authorization: Bearer $tok" https://localhost:18444/v1/tiles/countries/0/0/0.mvt)
		[ "$code" = 403 ] || { stale=$((stale + 1)); echo "churn key $n: replica b answered $code"; }
		n=$((n + 1))
	done
	echo "key churn: $n keys created and revoked through replica a; still served by b a second later: $stale"
) >"$work/churn.out" 2>&1 &
churn=$!

rss() { awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$1/status"; }
(
	t=0
	while kill -0 "$pid_a" 2>/dev/null; do
		echo "t=${t}s rss a=$(rss "$pid_a") MiB b=$(rss "$pid_b") MiB"
		sleep 15
		t=$((t + 15))
	done
) >"$work/rss.out" &
sampler=$!

half=$((conns / 2))
wrk -t "$threads" -c "$half" -d "$duration" --latency -s "$work/load.lua" https://127.0.0.1:18443 >"$work/wrk.a" &
wa=$!
wrk -t "$threads" -c "$half" -d "$duration" --latency -s "$work/load.lua" https://127.0.0.1:18444 >"$work/wrk.b" &
wb=$!
wait "$wa" "$wb"
wait "$churn" || true
kill "$sampler" 2>/dev/null || true

for r in a b; do
	echo "== replica $r ($half connections, $duration)"
	grep -E 'Requests/sec|requests in|50%|99%|5xx|other non-2xx|Socket errors' "$work/wrk.$r"
done
echo "== memory (RSS every 15 s)"
cat "$work/rss.out"
echo "== peak RSS: a=$(awk '/VmHWM/ {print $2, $3}' /proc/$pid_a/status) b=$(awk '/VmHWM/ {print $2, $3}' /proc/$pid_b/status)"
cat "$work/churn.out"
echo "== audit chain"
mw audit verify
if grep -q '5xx responses: [1-9]' "$work/wrk.a" "$work/wrk.b"; then
	echo "replica-loadtest: FAILED: 5xx responses" >&2
	exit 1
fi
if grep -q 'a second later: [1-9]' "$work/churn.out"; then
	echo "replica-loadtest: FAILED: a revoked key was still served by the other replica" >&2
	exit 1
fi
