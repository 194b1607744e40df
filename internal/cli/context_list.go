package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
)

// contextView is a context as `context list` shows it: whether a key or
// session is stored, never the key or session itself.
type contextView struct {
	Name             string     `json:"name"`
	Current          bool       `json:"current"`
	Server           string     `json:"server"`
	Token            string     `json:"token"` // "set", "file" or "-"
	TokenFile        string     `json:"token_file,omitempty"`
	CACert           string     `json:"ca_cert,omitempty"`
	Fingerprint      string     `json:"fingerprint,omitempty"`
	Session          string     `json:"session"` // "active", "expired" or "-"
	SessionExpiresAt *time.Time `json:"session_expires_at,omitempty"`
}

// contextListOptions are the inputs of `mwctl context list`.
type contextListOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*contexts.File, error)
	Now    func() time.Time
	Format output.Format
}

func newCmdContextList(f *Factory, runF func(context.Context, *contextListOptions) error) *cobra.Command {
	opts := &contextListOptions{IO: f.IOStreams, Config: f.Config, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List contexts",
		Long: `List the contexts, the current one marked with "*".

Columns: CURRENT, NAME, SERVER, TOKEN ("set" when a key is stored in the
file, "file" when it is read from a token file, "-" for none), TLS (the CA
file or the pinned fingerprint), SESSION ("active" or "expired" with its
end, "-" for none). With -o json each context is {"name", "current",
"server", "token", "token_file", "ca_cert", "fingerprint", "session",
"session_expires_at"}: a stored key or session never appears.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runContextList(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL)
	return cmd
}

func runContextList(_ context.Context, opts *contextListOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	now := opts.Now()
	views := make([]contextView, 0, len(cfg.Contexts))
	for _, c := range cfg.Contexts {
		v := contextView{
			Name: c.Name, Current: c.Name == cfg.CurrentContext, Server: c.Server,
			Token: "-", TokenFile: c.TokenFile, CACert: c.CACert, Fingerprint: c.Fingerprint,
			Session: "-",
		}
		switch {
		case c.Token != "":
			v.Token = "set"
		case c.TokenFile != "":
			v.Token = "file"
		}
		if c.Session != "" {
			v.Session = "active"
			if c.SessionExpiresAt != nil && !now.Before(*c.SessionExpiresAt) {
				v.Session = "expired"
			}
			v.SessionExpiresAt = c.SessionExpiresAt
		}
		views = append(views, v)
	}
	p := output.New(opts.IO, opts.Format)
	if len(views) == 0 && p.IsTable() && p.TTY() {
		fmt.Fprintln(opts.IO.ErrOut, "No contexts. Add one with `mwctl context add NAME --server ADDRESS`.")
		return nil
	}
	return p.Print(views, views, func() output.Human {
		t := output.NewTable("CURRENT", "NAME", "SERVER", "TOKEN", "TLS", "SESSION")
		t.Color(5, func(cs iostreams.ColorScheme, v string) string {
			if strings.HasPrefix(v, "expired") {
				return cs.Yellow(v)
			}
			return v
		})
		for _, v := range views {
			cur := ""
			if v.Current {
				cur = "*"
			}
			tls := v.CACert
			if v.Fingerprint != "" {
				tls = "sha256:" + v.Fingerprint[:min(16, len(v.Fingerprint))] + "…"
				if !p.TTY() {
					tls = "sha256:" + v.Fingerprint
				}
			}
			token := v.Token
			if token == "-" {
				token = ""
			}
			session := ""
			if v.Session != "-" {
				session = v.Session
				if v.SessionExpiresAt != nil {
					if p.TTY() {
						session += ", ends " + output.Relative(*v.SessionExpiresAt, now)
					} else {
						session += " " + p.Time(v.SessionExpiresAt, now)
					}
				}
			}
			t.AddRow(cur, v.Name, v.Server, token, tls, session)
		}
		return t
	})
}
