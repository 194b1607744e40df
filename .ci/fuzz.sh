#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time, one after another
# (a fuzzing run takes exactly one target).
#
#   .ci/fuzz.sh                     # every target, FUZZTIME each
#   FUZZTIME=1m .ci/fuzz.sh ./pkg/apikey ./internal/tiles/...
#
# Environment:
#   FUZZTIME     time per target, as go test -fuzztime takes it: "10s" or a
#                count of runs such as "5000x" (default 10s)
#   FUZZ_BUDGET  bound on the whole run in seconds, builds included
#                (default 600). When what is left after the builds cannot
#                give every target its FUZZTIME, each gets an equal share,
#                at least 1s; when nothing is left the run fails and says
#                how far it got.
#
# Each package's test binary is built once with fuzzing instrumentation
# (go test -c -fuzz), and its targets are listed by the binary itself
# (-test.list); each target then runs from its package directory as
# go test -fuzz would run it, with the same corpus cache. The run stops at
# the first failing target and prints its output and the path of the input
# saved under the package's testdata/fuzz, which plain go test then
# reproduces, as printed.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
budget=${FUZZ_BUDGET:-600}
[ "$#" -gt 0 ] || set -- ./...

log() { printf '== %s\n' "$*" >&2; }

if [[ $fuzztime =~ ^[1-9][0-9]*s$ ]]; then
	per=${fuzztime%s}
elif [[ $fuzztime =~ ^[1-9][0-9]*x$ ]]; then
	per=
else
	echo "fuzz.sh: FUZZTIME must be whole seconds (10s) or a count (5000x), not $fuzztime" >&2
	exit 2
fi

start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cachedir=$(go env GOCACHE)/fuzz

# Only packages with a test file that declares a fuzz target get a binary.
mapfile -t pkgs < <(
	go list -f '{{$d := .Dir}}{{$p := .ImportPath}}{{range .TestGoFiles}}{{$p}}{{"\t"}}{{$d}}{{"\t"}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .XTestGoFiles}}{{$p}}{{"\t"}}{{$d}}{{"\t"}}{{$d}}/{{.}}{{"\n"}}{{end}}' "$@" |
		while IFS=$'\t' read -r pkg dir file; do
			if grep -q '^func Fuzz' "$file"; then printf '%s\t%s\n' "$pkg" "$dir"; fi
		done | sort -u
)
if [ "${#pkgs[@]}" -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets in $*" >&2
	exit 1
fi

# targets holds "binary<TAB>dir<TAB>package<TAB>name" per target.
targets=()
for i in "${!pkgs[@]}"; do
	IFS=$'\t' read -r pkg dir <<<"${pkgs[$i]}"
	bin=$work/$i.test
	if ! go test -c -fuzz . -o "$bin" "$pkg" >"$work/out" 2>&1; then
		cat "$work/out" >&2
		echo "fuzz.sh: building the fuzzing test binary of $pkg failed" >&2
		exit 1
	fi
	while read -r name; do
		targets+=("$bin"$'\t'"$dir"$'\t'"$pkg"$'\t'"$name")
	done < <(cd "$dir" && "$bin" -test.list '^Fuzz' | grep '^Fuzz')
done
log "built ${#pkgs[@]} packages in $((SECONDS - start))s; fuzzing ${#targets[@]} targets, $fuzztime each, within ${budget}s"

# deadline_race reports whether a failed run's only complaint is the
# fuzzing coordinator's own "context deadline exceeded" as -fuzztime ends,
# a race in Go's fuzzing engine before Go 1.27 (go.dev/issue/75804): no
# input is saved and no test line fails. A real finding always saves one.
deadline_race() {
	! grep -q 'Failing input written to' "$1" &&
		awk '/^--- FAIL: /{f = 1; next} f && /^[ \t]/{sub(/^[ \t]+/, ""); if ($0 != "") m[$0] = 1; next} f{f = 0}
			END {n = 0; for (k in m) n++; exit !(n == 1 && ("context deadline exceeded" in m))}' "$1"
}

# fuzz_one runs a target from its package directory, where its seed corpus
# and the inputs that fail live (testdata/fuzz).
fuzz_one() {
	(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$name\$" -test.fuzztime "$1" \
		-test.fuzzcachedir "$cachedir/$pkg" -test.timeout 10m) >"$work/out" 2>&1
}

for i in "${!targets[@]}"; do
	IFS=$'\t' read -r bin dir pkg name <<<"${targets[$i]}"
	left=$((budget - (SECONDS - start)))
	if [ "$left" -le 0 ]; then
		echo "fuzz.sh: the ${budget}s budget is spent after $i targets; $pkg $name and later ones were not fuzzed" >&2
		exit 1
	fi
	ft=$fuzztime
	if [ -n "$per" ]; then
		# About a second per run goes to starting the workers and replaying
		# the corpus.
		todo=$((${#targets[@]} - i))
		share=$(((left - todo) / todo))
		[ "$share" -ge 1 ] || share=1
		[ "$share" -ge "$per" ] || ft=${share}s
	fi
	t0=$SECONDS
	status=ok
	if ! fuzz_one "$ft"; then
		status=FAIL
		if deadline_race "$work/out"; then
			echo "fuzz.sh: $pkg $name: the fuzzing engine's deadline race (go.dev/issue/75804), no finding; running it again" >&2
			fuzz_one "$ft" && status=ok
			if [ "$status" = FAIL ] && deadline_race "$work/out"; then
				echo "fuzz.sh: $pkg $name: the deadline race again; counted as run, nothing was found" >&2
				status=ok
			fi
		fi
	fi
	if [ "$status" = ok ]; then
		execs=$(grep -o 'execs: [0-9]*' "$work/out" | tail -n 1 || true)
		printf 'ok    %s %s (%s, %ds%s)\n' "$pkg" "$name" "$ft" $((SECONDS - t0)) "${execs:+, $execs}"
		continue
	fi
	cat "$work/out"
	printf 'FAIL  %s %s\n' "$pkg" "$name"
	saved=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$work/out" | head -n 1)
	if [ -n "$saved" ]; then
		echo "failing input: ${dir#"$PWD"/}/$saved" >&2
		echo "reproduce with: go test -run=${saved#testdata/fuzz/} $pkg" >&2
	fi
	exit 1
done
log "fuzzed ${#targets[@]} targets in $((SECONDS - start))s"
