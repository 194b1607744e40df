#!/usr/bin/env bash
# Load test of tile serving: starts `mapwrightd demo` on loopback (TLS, and
# plain HTTP on a second port), then runs wrk against keyed and public-path
# tile URLs spread over zooms 0-5. Loopback only, bounded duration.
#
#   scripts/loadtest.sh [DURATION] [CONNECTIONS] [THREADS]     (defaults: 20s 64 2)
#
# Each of the eight runs lasts DURATION.
#
# Needs wrk (Debian package wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
conns=${2:-64}
threads=${3:-2}
command -v wrk >/dev/null || { echo "loadtest: install wrk (apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d)
trap 'kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/mapwrightd" ./cmd/mapwrightd
tls_port=18443
http_port=18080
"$work/mapwrightd" demo --addr "127.0.0.1:$tls_port" --http-addr "127.0.0.1:$http_port" \
	--public --key-rate 1000000 --key-burst 1000000 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q 'Press Ctrl-C' "$work/out" 2>/dev/null && break; sleep 0.1; done
key=$(grep -o 'mpw_pk_[0-9A-Za-z]*' "$work/out" | head -n 1)
[ -n "$key" ] || { cat "$work/err" >&2; exit 1; }

# Every tile of zooms 0-5 that the bundled set holds or not, in turn; the
# public script sends no key (the tileset is public in this run too).
for mode in keyed public; do
query="?key=${key}"
[ "$mode" = public ] && query=""
cat >"$work/$mode.lua" <<LUA
local paths = {}
for z = 0, 5 do
  local n = 2 ^ z
  for x = 0, n - 1 do
    for y = 0, n - 1 do
      paths[#paths + 1] = string.format("/v1/tiles/countries/%d/%d/%d.mvt${query}", z, x, y)
    end
  end
end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept-Encoding"] = "gzip" })
end
LUA
done

# Each scheme runs public, keyed, keyed, public, so that neither mode always
# meets a cold or a warm daemon; the keyed/public line divides the sums.
run() {
	echo "== $1"
	wrk -t "$threads" -c "$conns" -d "$duration" --latency -s "$work/$3.lua" "$2" | tee "$work/wrk.out" |
		grep -E 'Requests/sec|99%|Non-2xx|Socket errors|requests in'
	awk '/Requests\/sec/ {print $2}' "$work/wrk.out" >>"$work/$4.$3"
}
for scheme in tls http; do
	url="https://127.0.0.1:$tls_port" name="HTTPS (TLS 1.3)"
	[ "$scheme" = http ] && url="http://127.0.0.1:$http_port" name="plain HTTP"
	for mode in public keyed keyed public; do run "$name, $mode" "$url" "$mode" "$scheme"; done
	awk -v n="$name" 'NR==FNR {p += $1; next} {k += $1} END {printf "== %s: keyed/public requests per second %.3f\n", n, k/p}' \
		"$work/$scheme.public" "$work/$scheme.keyed"
done
echo "== daemon peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
