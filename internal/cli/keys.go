package cli

import "github.com/spf13/cobra"

// newCmdKeys is the `mwctl keys` group.
func newCmdKeys(f *Factory) *cobra.Command {
	cmd := newGroup("keys", "Issue, list, rotate and revoke API keys",
		`Manage the server's API keys.

Public keys (mpw_pk_...) fetch tiles and may be used in web pages, limited
to allowed origins. Secret keys (mpw_sk_...) reach the admin API; keep them
in CI secrets and operators' files, never in a browser.

A key's token is shown once, when it is created or rotated; the server
stores only its SHA-256. Commands name keys by id (as listed by
mwctl keys list), never by token.`)
	cmd.AddCommand(
		newCmdKeysCreate(f, nil),
		newCmdKeysList(f, nil),
		newCmdKeysGet(f, nil),
		newCmdKeysRotate(f, nil),
		newCmdKeysRevoke(f, nil),
		newCmdKeysTOTP(f),
	)
	return cmd
}

// newCmdKeysTOTP is the `mwctl keys totp` group.
func newCmdKeysTOTP(f *Factory) *cobra.Command {
	cmd := newGroup("totp", "Manage TOTP second factors of secret keys",
		`Enrol a TOTP second factor for a secret key. Once enrolled, opening an
admin session with that key (mwctl login) needs a current code.`)
	cmd.AddCommand(newCmdKeysTOTPEnroll(f, nil))
	return cmd
}
