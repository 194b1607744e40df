package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
)

// walk calls fn for every command of the tree under c, hidden ones and
// cobra's own help included.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func testRoot() *cobra.Command {
	ios, _, _, _ := iostreams.Test()
	root := NewRootCmd(NewFactory(ios))
	root.InitDefaultHelpCmd()
	return root
}

// TestCommandTree checks every mwctl command: it has a short help; a command
// that runs has -o unless it is marked as printing no data; and --help
// works without panicking.
func TestCommandTree(t *testing.T) {
	var paths [][]string
	walk(testRoot(), func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(c.CommandPath(), func(t *testing.T) {
			if strings.TrimSpace(c.Short) == "" {
				t.Error("no Short help")
			}
			if c.Name() == "help" || c.Hidden || !c.Runnable() {
				return
			}
			hasOutput := c.Flags().Lookup(output.FlagName) != nil
			_, noOutput := c.Annotations[annotationNoOutput]
			switch {
			case hasOutput && noOutput:
				t.Errorf("has -o yet is marked %q", annotationNoOutput)
			case !hasOutput && !noOutput:
				t.Errorf("has no -o flag and is not marked %q: a command that prints data must take -o", annotationNoOutput)
			}
			if hasOutput && c.Flags().ShorthandLookup("o") == nil {
				t.Error("the output flag has no -o shorthand")
			}
			if c.Args == nil {
				t.Error("no argument validator: stray arguments would be ignored")
			}
		})
		paths = append(paths, path)
	})
	if len(paths) < 20 {
		t.Fatalf("walked only %d commands", len(paths))
	}
	for _, path := range paths {
		args := append(append([]string{}, path...), "--help")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			f := NewFactory(ios)
			code := Run(context.Background(), f, args)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out.String(), "Usage:") {
				t.Errorf("help lacks a usage line:\n%s", out)
			}
		})
	}
}

// TestOptionsCapture checks that flags land in the options structs, with the
// documented defaults, by running commands with a runF that records the
// options instead of doing the work.
func TestOptionsCapture(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios)
	run := func(t *testing.T, cmd *cobra.Command, args ...string) {
		t.Helper()
		cmd.SetArgs(args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("keys create", func(t *testing.T) {
		var got *keysCreateOptions
		cmd := newCmdKeysCreate(f, func(_ context.Context, o *keysCreateOptions) error { got = o; return nil })
		run(t, cmd, "--name", "web", "--scope", "tiles:read", "--scope", "a,b", "--origin", "https://a.example",
			"--tileset", "osm", "--rate", "12.5", "--burst", "40", "--expires", "30d", "--label", "a=1,2", "--label", "b=", "-q")
		if got.Name != "web" || got.Kind != "public" || strings.Join(got.Scopes, " ") != "tiles:read a b" ||
			got.Rate != 12.5 || got.Burst != 40 || got.Expires != "30d" || !got.Quiet ||
			strings.Join(got.Labels, " ") != "a=1,2 b=" || got.Format != output.FormatTable {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("keys list", func(t *testing.T) {
		var got *keysListOptions
		cmd := newCmdKeysList(f, func(_ context.Context, o *keysListOptions) error { got = o; return nil })
		run(t, cmd, "--state", "expiring", "--expiring-within", "7d", "--limit", "20", "--all", "-o", "jsonl")
		if got.State != "expiring" || got.ExpiringWithin != 7*24*time.Hour || got.Limit != 20 || !got.All || got.Format != output.FormatJSONL {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("keys rotate default grace", func(t *testing.T) {
		var got *keysRotateOptions
		cmd := newCmdKeysRotate(f, func(_ context.Context, o *keysRotateOptions) error { got = o; return nil })
		run(t, cmd, "key_1")
		if got.ID != "key_1" || got.Grace != 24*time.Hour {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("keys rotate grace 0", func(t *testing.T) {
		var got *keysRotateOptions
		cmd := newCmdKeysRotate(f, func(_ context.Context, o *keysRotateOptions) error { got = o; return nil })
		run(t, cmd, "key_1", "--grace", "0")
		if got.Grace != 0 {
			t.Errorf("grace = %v", got.Grace)
		}
	})
	t.Run("keys revoke", func(t *testing.T) {
		var got *keysRevokeOptions
		cmd := newCmdKeysRevoke(f, func(_ context.Context, o *keysRevokeOptions) error { got = o; return nil })
		run(t, cmd, "key_1", "--reason", "leaked", "-y", "-o", "json")
		if got.ID != "key_1" || got.Reason != "leaked" || !got.Yes || got.Format != output.FormatJSON {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("login", func(t *testing.T) {
		var got *loginOptions
		cmd := newCmdLogin(f, func(_ context.Context, o *loginOptions) error { got = o; return nil })
		run(t, cmd, "--totp", "123456")
		if got.TOTP != "123456" {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("context add", func(t *testing.T) {
		var got *contextAddOptions
		cmd := newCmdContextAdd(f, func(_ context.Context, o *contextAddOptions) error { got = o; return nil })
		run(t, cmd, "prod", "--server", "https://h:9443", "--token-stdin", "--fingerprint", "ab", "--use")
		if got.Name != "prod" || got.Server != "https://h:9443" || !got.TokenStdin || got.Fingerprint != "ab" || !got.Use {
			t.Errorf("options = %+v", got)
		}
	})
}
