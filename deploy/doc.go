// Package deploy holds no code: its tests keep the deployment kit beside it
// true to the daemon. They check the systemd unit (its hardening, and that
// mapwrightd accepts every flag and setting it passes), the Prometheus
// scrape config and alert rules (only metrics mapwrightd exports), the
// operations guide's commands (real mwctl and mapwrightd commands and
// flags), and run the CI key rotation script against a live daemon.
package deploy
