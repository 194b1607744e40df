#!/bin/sh
# rotate-key.sh: rotate one Mapwright API key from a CI job.
#
# Usage: rotate-key.sh KEY_ID [TOKEN_FILE]
#
# Rotates KEY_ID through the admin API with `mwctl keys rotate`: a new key
# with the same name, scopes, tilesets, origins and limits is issued, and
# the old one keeps working for GRACE, so clients can switch. The new
# token goes to TOKEN_FILE (default: new-key.token), created with mode
# 0600 and replaced in one step, for the job's next step to deliver (to the
# secret store of the site or app that uses the key). Standard output gets
# the non-secret result as name=value lines:
#
#   new_id=key_...
#   replaces=key_...        (KEY_ID)
#   old_expires_at=2030-01-02T03:04:05Z
#   token_file=new-key.token
#
# The token itself is never printed.
#
# Environment (mwctl reads the first three itself):
#   MWCTL_SERVER      admin API, e.g. https://tiles-1.internal:9443
#   MWCTL_TOKEN_FILE  file holding a secret key with the keys:rotate scope
#   MWCTL_CA_CERT     CA of the admin listener's certificate
#                     (or MWCTL_FINGERPRINT to pin it)
#   GRACE             how long the old key keeps working (default 24h;
#                     0 ends it at once)
#   MWCTL             the mwctl program (default: mwctl in PATH)
#
# Exit status, mwctl's own:
#   0  rotated
#   1  failure: the server could not be reached, or the rotation failed
#   2  usage: a bad argument or GRACE
#   3  no key has this id
#   4  not allowed: the secret key is missing, invalid, or lacks keys:rotate
#   5  conflict: the key cannot be rotated now (it is revoked)

set -eu
umask 077

me=rotate-key.sh
if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
	echo "usage: $me KEY_ID [TOKEN_FILE]" >&2
	exit 2
fi
key_id=$1
token_file=${2:-new-key.token}
grace=${GRACE:-24h}
mwctl=${MWCTL:-mwctl}

# Scratch space beside the token file, so that the final rename stays on
# one file system; mode 0700, removed however the script ends.
work="$(dirname -- "$token_file")/.rotate-key.$$"
mkdir -m 700 -- "$work"
trap 'rm -rf -- "$work"' EXIT
trap 'exit 130' INT TERM

status=0
"$mwctl" keys rotate "$key_id" --grace "$grace" -o json >"$work/rotated.json" || status=$?
if [ "$status" -ne 0 ]; then
	case $status in
	2) why="usage error: check KEY_ID and GRACE" ;;
	3) why="no key has the id $key_id" ;;
	4) why="not allowed: the secret key is missing, invalid, or lacks the keys:rotate scope" ;;
	5) why="conflict: the key cannot be rotated in its current state" ;;
	*) why="failed; see mwctl's message above" ;;
	esac
	echo "$me: $why (mwctl exit status $status)" >&2
	exit "$status"
fi

# mwctl -o json indents by two spaces, so the document's own fields are the
# lines indented by exactly two; the values read here are plain strings.
field() {
	sed -n "s/^  \"$1\": \"\\([^\"]*\\)\",\\{0,1\\}\$/\\1/p" "$work/rotated.json"
}
token=$(field key)
new_id=$(field id)
replaces=$(field replaces)
old_expires_at=$(field old_expires_at)

case $token in
mpw_pk_* | mpw_sk_*) ;;
*)
	echo "$me: mwctl's output holds no new key; was the key rotated? check: $mwctl keys get $key_id" >&2
	exit 1
	;;
esac

printf '%s\n' "$token" >"$work/token"
mv -f -- "$work/token" "$token_file"

printf 'new_id=%s\nreplaces=%s\nold_expires_at=%s\ntoken_file=%s\n' \
	"$new_id" "$replaces" "$old_expires_at" "$token_file"
