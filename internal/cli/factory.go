package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/version"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// Globals are the settings every command shares, from the global flags,
// else the environment. They are loaded once the flags are parsed.
type Globals struct {
	// Server is the admin API address (--server, MWCTL_SERVER).
	Server string `mapstructure:"server"`
	// Token is a secret key (--token, MWCTL_TOKEN). Never printed.
	Token string `mapstructure:"token"`
	// TokenFile is a file holding a secret key (--token-file,
	// MWCTL_TOKEN_FILE).
	TokenFile string `mapstructure:"token-file"`
	// CACert is a PEM file of the server's CA (--ca-cert, MWCTL_CA_CERT).
	CACert string `mapstructure:"ca-cert"`
	// Fingerprint pins the server's CA or leaf certificate by SHA-256
	// (--fingerprint, MWCTL_FINGERPRINT).
	Fingerprint string `mapstructure:"fingerprint"`
	// Context names the context to use (--context, MWCTL_CONTEXT); empty:
	// the current context.
	Context string `mapstructure:"context"`
	// NoColor turns colour off (--no-color).
	NoColor bool `mapstructure:"no-color"`
}

// globalEnv maps each global setting to the environment variable that
// seeds it when its flag is not given.
var globalEnv = [][2]string{
	{"server", "MWCTL_SERVER"},
	{"token", "MWCTL_TOKEN"},
	{"token-file", "MWCTL_TOKEN_FILE"},
	{"ca-cert", "MWCTL_CA_CERT"},
	{"fingerprint", "MWCTL_FINGERPRINT"},
	{"context", "MWCTL_CONTEXT"},
}

// loadGlobals reads the global settings from the parsed flags, then the
// environment, through a viper instance of its own.
func loadGlobals(flags *pflag.FlagSet) (Globals, error) {
	v := viper.New()
	if err := v.BindPFlags(flags); err != nil {
		return Globals{}, fmt.Errorf("bind flags: %w", err)
	}
	for _, kv := range globalEnv {
		if err := v.BindEnv(kv[0], kv[1]); err != nil {
			return Globals{}, fmt.Errorf("bind %s: %w", kv[1], err)
		}
	}
	var g Globals
	if err := v.Unmarshal(&g); err != nil {
		return Globals{}, fmt.Errorf("read settings: %w", err)
	}
	return g, nil
}

// Target is where commands send admin API requests, and with which
// credentials, once flags, environment and contexts are resolved.
type Target struct {
	// Server is the admin API address.
	Server string
	// DefaultSocket is true when nothing chose a server and the default
	// socket is used.
	DefaultSocket bool
	// ContextName names the context in use; empty: none.
	ContextName string
	// Token is the secret key to send; empty: none. Never printed.
	Token string
	// ExplicitToken is true when the token came from --token, --token-file
	// or the environment rather than the context.
	ExplicitToken bool
	// Session is the context's session cookie, used when no explicit
	// token is given and the session has not expired.
	Session string
	// CACert and Fingerprint verify an HTTPS server.
	CACert, Fingerprint string
}

// Factory builds what commands depend on, lazily, once each. Commands take
// the constructors they need into their options struct, so tests can
// replace any of them.
type Factory struct {
	// IOStreams are the standard streams.
	IOStreams *iostreams.IOStreams
	// Now is the clock.
	Now func() time.Time
	// ConfigPath returns the path of the contexts file.
	ConfigPath func() (string, error)
	// Config loads the contexts file.
	Config func() (*contexts.File, error)
	// Target resolves the admin API target and credentials.
	Target func() (*Target, error)
	// Client returns the admin API client for Target.
	Client func() (*client.Client, error)

	globals Globals
}

// NewFactory returns the factory of a process writing to ios.
func NewFactory(ios *iostreams.IOStreams) *Factory {
	f := &Factory{IOStreams: ios, Now: time.Now}
	f.ConfigPath = func() (string, error) { return contexts.DefaultPath(os.LookupEnv) }
	f.Config = sync.OnceValues(func() (*contexts.File, error) {
		path, err := f.ConfigPath()
		if err != nil {
			return nil, err
		}
		if err := contexts.CheckMode(path); err != nil {
			fmt.Fprintf(ios.ErrOut, "mwctl: warning: %v\n", err)
		}
		return contexts.Load(path)
	})
	f.Target = sync.OnceValues(func() (*Target, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return resolveTarget(f.globals, cfg, f.Now(), os.LookupEnv)
	})
	f.Client = sync.OnceValues(func() (*client.Client, error) {
		t, err := f.Target()
		if err != nil {
			return nil, err
		}
		return newClient(t)
	})
	return f
}

// newClient builds the admin API client of a target.
func newClient(t *Target) (*client.Client, error) {
	opts := client.Options{
		Server:            t.Server,
		CACertFile:        t.CACert,
		PinnedFingerprint: t.Fingerprint,
		UserAgent:         "mwctl/" + version.String(),
	}
	// One credential at a time: an explicit token wins; else a live
	// session from `mwctl login`; else the context's token.
	switch {
	case t.ExplicitToken:
		opts.Token = t.Token
	case t.Session != "":
		opts.SessionCookie = t.Session
	default:
		opts.Token = t.Token
	}
	c, err := client.New(opts)
	if err != nil {
		if errors.Is(err, client.ErrServer) || errors.Is(err, client.ErrFingerprint) {
			return nil, usageErrorf("%v", err)
		}
		return nil, err
	}
	return c, nil
}

// DefaultSocket returns the admin socket of the default data directory:
// $XDG_DATA_HOME/mapwright/admin.sock, else
// ~/.local/share/mapwright/admin.sock.
func DefaultSocket(lookup func(string) (string, bool)) string {
	if d, ok := lookup("XDG_DATA_HOME"); ok && filepath.IsAbs(d) {
		return filepath.Join(d, "mapwright", "admin.sock")
	}
	home, _ := lookup("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "mapwright", "admin.sock")
}

// resolveTarget applies the precedence: --server / MWCTL_SERVER, else the
// context (--context / MWCTL_CONTEXT, else the current one), else the
// default socket. A context's credentials are used only when its server is
// the target, so a token never travels to a server it was not set for.
func resolveTarget(g Globals, cfg *contexts.File, now time.Time, lookup func(string) (string, bool)) (*Target, error) {
	var ctx *contexts.Context
	name := g.Context
	if name == "" {
		name = cfg.CurrentContext
	}
	if name != "" {
		c, err := cfg.Get(name)
		if err != nil {
			return nil, fmt.Errorf("context %q: %w (see `mwctl context list`)", name, contexts.ErrNotFound)
		}
		ctx = c
	}
	t := &Target{}
	switch {
	case g.Server != "":
		t.Server = g.Server
		if ctx != nil && !sameServer(g.Server, ctx.Server) {
			ctx = nil
		}
	case ctx != nil:
		t.Server = ctx.Server
	default:
		t.Server = "unix://" + DefaultSocket(lookup)
		t.DefaultSocket = true
	}
	if ctx != nil {
		t.ContextName = ctx.Name
		t.CACert, t.Fingerprint = ctx.CACert, ctx.Fingerprint
		if ctx.Session != "" && (ctx.SessionExpiresAt == nil || now.Before(*ctx.SessionExpiresAt)) {
			t.Session = ctx.Session
		}
	}
	if g.CACert != "" {
		t.CACert = g.CACert
	}
	if g.Fingerprint != "" {
		t.Fingerprint = g.Fingerprint
	}
	switch {
	case g.Token != "":
		t.Token, t.ExplicitToken = strings.TrimSpace(g.Token), true
		if err := checkToken(t.Token, "--token or MWCTL_TOKEN"); err != nil {
			return nil, err
		}
	case g.TokenFile != "":
		tok, err := readTokenFile(g.TokenFile)
		if err != nil {
			return nil, err
		}
		t.Token, t.ExplicitToken = tok, true
	case ctx != nil && ctx.Token != "":
		t.Token = ctx.Token
		if err := checkToken(t.Token, fmt.Sprintf("context %q", ctx.Name)); err != nil {
			return nil, err
		}
	case ctx != nil && ctx.TokenFile != "":
		tok, err := readTokenFile(ctx.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", ctx.Name, err)
		}
		t.Token = tok
	}
	return t, nil
}

// sameServer compares two admin addresses in canonical form.
func sameServer(a, b string) bool {
	pa, errA := client.ParseServer(a)
	pb, errB := client.ParseServer(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return pa.String() == pb.String()
}

// readTokenFile reads a secret key from a file: the first line, trimmed.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	tok = strings.TrimSpace(tok)
	if err := checkToken(tok, "token file "+path); err != nil {
		return "", err
	}
	return tok, nil
}

// checkToken refuses a token that is not a well-formed secret key, before
// anything is sent. The message never contains the token.
func checkToken(tok, from string) error {
	kind, err := apikey.Parse(tok)
	switch {
	case err != nil:
		return usageErrorf("the key from %s is not a valid secret key: %v", from, err)
	case kind != apikey.Secret:
		return usageErrorf("the key from %s is a %s key; the admin API needs a secret key (mpw_sk_...)", from, kind)
	}
	return nil
}
