#!/usr/bin/env bash
# Throughput and memory of `mwctl scan`, measured, not asserted:
#
#   1. writes SIZE MiB (default 1100) of mixed files (source, JSON, logs,
#      minified JavaScript, binaries, a few keys and look-alikes) into a
#      temporary directory, and scans it twice with
#      `mwctl scan --offline -o json`; the second run finds the files in the
#      page cache;
#   2. runs a literal search for "mpw_" over the same files with ripgrep, when
#      installed, as the ceiling to compare with;
#   3. writes a git history of GIT_SIZE MiB (default 200) of blobs and scans it
#      with `mwctl scan --git --offline -o json`.
#
# It prints MiB/s and peak resident memory of each run.
#
#   scripts/scan-bench.sh [SIZE_MIB] [GIT_SIZE_MIB]
#
# Peak memory comes from /usr/bin/time -v when present, else from the
# scanner's own report (stats.peak_rss_bytes). The temporary files are
# removed at the end; keep them with KEEP=1. MWCTL=PATH uses that binary
# instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1100}
git_size=${2:-200}

work=$(mktemp -d)
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT

if [ -n "${MWCTL:-}" ]; then
	cp "$MWCTL" "$work/mwctl"
else
	go build -o "$work/mwctl" ./cmd/mwctl
fi
"$work/mwctl" scan --help >/dev/null 2>&1 || { echo "scan-bench: this mwctl has no scan command" >&2; exit 2; }
go build -o "$work/mkcorpus" ./internal/scan/benchcorpus/mkcorpus

have_time=0
[ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1 && have_time=1

# now prints the time in seconds with nanoseconds.
now() { date +%s.%N; }

# field NAME FILE prints the first number after "NAME": in a JSON report.
field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2" | head -n 1; }

# measure LABEL BYTES CMD... runs CMD with its output in $work/out.json and
# prints the label, MiB/s over BYTES, wall time and peak memory.
measure() {
	local label=$1 bytes=$2
	shift 2
	local start end rss=""
	start=$(now)
	if [ "$have_time" = 1 ]; then
		/usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.json" 2>"$work/err.txt" || true
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$work/time.txt")
	else
		"$@" >"$work/out.json" 2>"$work/err.txt" || true
	fi
	end=$(now)
	local self
	self=$(field peak_rss_bytes "$work/out.json")
	awk -v l="$label" -v b="$bytes" -v s="$start" -v e="$end" -v r="$rss" -v self="$self" 'BEGIN {
		t = e - s
		line = sprintf("%-34s %8.1f MiB in %6.2f s = %7.1f MiB/s", l, b / 1048576, t, b / 1048576 / t)
		if (r != "") line = line sprintf(", peak RSS %.1f MiB (with child processes)", r / 1024)
		if (self != "" && self > 0) line = line sprintf(", scanner %.1f MiB", self / 1048576)
		print line
	}'
}

echo "writing ${size} MiB of mixed files..." >&2
read -r files bytes keys < <("$work/mkcorpus" -out "$work/tree" -size "$size")
echo "corpus: $files files, $bytes bytes, $keys keys planted; $(nproc) CPUs"

measure "mwctl scan (first run)" "$bytes" "$work/mwctl" scan --offline -o json "$work/tree"
found=$(grep -c '"hash"' "$work/out.json" || true)
echo "  found $found keys, $(field invalid_count "$work/out.json") look-alikes; $(grep scanned "$work/err.txt" || true)"
measure "mwctl scan (page cache warm)" "$bytes" "$work/mwctl" scan --offline -o json "$work/tree"
measure "mwctl scan (warm, again)" "$bytes" "$work/mwctl" scan --offline -o json "$work/tree"

if command -v rg >/dev/null 2>&1; then
	# Every file, hidden and ignored ones included, binary ones as text:
	# the same bytes the scanner reads.
	measure "rg -F mpw_ --count-matches (warm)" "$bytes" rg -F mpw_ --count-matches -uuu -a "$work/tree"
else
	echo "install ripgrep to compare with a literal search (apt-get install ripgrep)"
fi

echo "writing a git history of ${git_size} MiB of blobs..." >&2
read -r blobs blob_bytes _ < <("$work/mkcorpus" -git -out "$work/repo" -size "$git_size")
echo "history: $blobs blobs, $blob_bytes bytes, $(du -sh "$work/repo/.git" | cut -f1) on disk"
measure "mwctl scan --git" "$blob_bytes" "$work/mwctl" scan --git --offline -o json "$work/repo"
measure "mwctl scan --git (again)" "$blob_bytes" "$work/mwctl" scan --git --offline -o json "$work/repo"
echo "  $(grep scanned "$work/err.txt" || true)"
