package config

import (
	"fmt"

	"github.com/spf13/pflag"
)

// ConfigFlag is the name of the flag naming the config file.
const ConfigFlag = "config"

// ConfigEnv is the environment variable naming the config file when
// --config is not given.
const ConfigEnv = "MAPWRIGHT_CONFIG"

// flagSpec is one serve flag: its name, the key it sets, and its help
// without the env note. The backquoted word in the help is the value's
// name in the usage line ("--addr HOST:PORT").
type flagSpec struct {
	name, key, help string
}

var serveFlags = []flagSpec{
	{"data-dir", "data_dir", "data directory `DIR`: database, audit key, local CA, admin socket (default $XDG_DATA_HOME/mapwright, else ~/.local/share/mapwright)"},
	{"database-url", "database_url", "PostgreSQL `URL` (postgres://...); empty uses the embedded SQLite database in the data directory"},
	{"addr", "listen.addr", "public HTTPS listen address `HOST:PORT`"},
	{"http-addr", "listen.http_addr", "plain HTTP listen address `HOST:PORT`, only behind a TLS-terminating proxy; empty: off"},
	{"tls-cert", "listen.tls_cert", "TLS certificate chain `FILE` (PEM); without --tls-cert and --tls-key a local CA in the data directory issues one"},
	{"tls-key", "listen.tls_key", "private key `FILE` (PEM) of --tls-cert"},
	{"trusted-proxy", "listen.trusted_proxies", "network (`CIDR`) of a load balancer or proxy whose X-Forwarded-For and X-Forwarded-Proto are believed; repeatable; list only the proxies' own addresses"},
	{"public-url", "listen.public_url", "public base `URL` of the tiles (https://tiles.example.com), used in TileJSON tile URLs instead of the request's scheme and host"},
	{"tiles", "tiles.dir", "tileset directory `DIR` of .pmtiles and .mbtiles files (default <data-dir>/tiles)"},
	{"public-tileset", "tiles.public", "tileset `NAME` served without an API key; repeatable"},
	{"admin-socket", "admin.socket", "admin API unix socket `PATH`, mode 0660: access to it is admin access (default <data-dir>/admin.sock)"},
	{"admin-addr", "admin.addr", "also serve the admin API over TLS on `HOST:PORT`; empty: off"},
	{"admin-allowed-host", "admin.allowed_hosts", "Host header value `HOST[:PORT]` the TCP admin API accepts; repeatable (default localhost, 127.0.0.1 and [::1] with the admin port)"},
	{"admin-allowed-cidr", "admin.allowed_cidrs", "client network (`CIDR`) the TCP admin API accepts; repeatable"},
	{"admin-client-ca", "admin.client_ca", "require TCP admin clients to present a certificate signed by a CA in this PEM `FILE`"},
	{"log-level", "log.level", "log `LEVEL`: debug, info, warn or error"},
	{"log-format", "log.format", "log `FORMAT`: text or json"},
}

// FlagKeys returns the mapping from the serve flags registered by BindFlags
// to the config keys they set. Callers that add flags of their own copy
// and extend it for LoadOptions.FlagKeys.
func FlagKeys() map[string]string {
	m := make(map[string]string, len(serveFlags))
	for _, f := range serveFlags {
		m[f.name] = f.key
	}
	return m
}

// BindFlags registers the serve flags on fs: --config and one flag per
// setting in FlagKeys. Each flag's help names the environment variable
// that seeds it. The defaults shown are the built-in ones; a flag
// overrides the file and the environment only when given.
func BindFlags(fs *pflag.FlagSet) {
	d := baseDefaults()
	fs.String(ConfigFlag, "", fmt.Sprintf("YAML config `FILE`; no file is read unless one is named (env %s)", ConfigEnv))
	for _, f := range serveFlags {
		def := configSchema.byKey[f.key].value(&d)
		if list, ok := def.Interface().([]string); ok {
			fs.StringSlice(f.name, list, fmt.Sprintf("%s (env %s, comma-separated)", f.help, EnvName(f.key)))
			continue
		}
		fs.String(f.name, def.String(), fmt.Sprintf("%s (env %s)", f.help, EnvName(f.key)))
	}
}
