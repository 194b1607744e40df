package cli

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// statusOptions are the inputs of `mwctl status`.
type statusOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format
}

func newCmdStatus(f *Factory, runF func(context.Context, *statusOptions) error) *cobra.Command {
	opts := &statusOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the server's version, uptime, backend, tilesets and keys",
		Long: `Show the server's version, uptime, storage backend and schema version,
whether it is ready (its store reachable), the tilesets loaded and failed,
and the number of keys in each state.

In a pipe the fields are: server, version, started_at, uptime_seconds,
backend, schema_version, ready, tilesets.loaded, tilesets.failed, and
keys.STATE for each state. With -o json the output is the admin API's
status document (without "server").`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

// stateOrder is the order of key states in status output; others follow
// alphabetically.
var stateOrder = map[string]int{"active": 0, "pending": 1, "expired": 2, "revoked": 3}

func runStatus(ctx context.Context, opts *statusOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	now := opts.Now()
	p := output.New(opts.IO, opts.Format)
	return p.Print(st, nil, func() output.Human {
		d := output.NewDetail().
			Add("server", "Server", c.Server()).
			Add("version", "Version", st.Version).
			Add("started_at", "Started", p.Time(&st.StartedAt, now))
		uptime := strconv.FormatFloat(st.UptimeSeconds, 'f', 0, 64)
		if p.TTY() {
			uptime = output.Duration(time.Duration(st.UptimeSeconds * float64(time.Second)))
		}
		ready := yesNo(st.Ready)
		if !p.TTY() {
			ready = strconv.FormatBool(st.Ready)
		}
		d.Add("uptime_seconds", "Uptime", uptime).
			Add("backend", "Backend", st.Backend).
			Add("schema_version", "Schema", strconv.Itoa(st.SchemaVersion)).
			AddColored("ready", "Ready", ready, func(cs iostreams.ColorScheme, v string) string {
				if st.Ready {
					return cs.Green(v)
				}
				return cs.Red(v)
			}).
			Add("tilesets.loaded", "Tilesets loaded", strconv.Itoa(st.Tilesets.Loaded)).
			AddColored("tilesets.failed", "Tilesets failed", strconv.Itoa(st.Tilesets.Failed), func(cs iostreams.ColorScheme, v string) string {
				if st.Tilesets.Failed > 0 {
					return cs.Red(v)
				}
				return v
			})
		states := make([]string, 0, len(st.Keys))
		for s := range st.Keys {
			states = append(states, s)
		}
		sort.Slice(states, func(i, j int) bool {
			oi, iok := stateOrder[states[i]]
			oj, jok := stateOrder[states[j]]
			switch {
			case iok && jok:
				return oi < oj
			case iok != jok:
				return iok
			}
			return states[i] < states[j]
		})
		for _, s := range states {
			d.Add("keys."+s, "Keys "+s, strconv.Itoa(st.Keys[s]))
		}
		return d
	})
}
