// Package testscripts holds Mapwright's end-to-end tests: txtar scripts under
// testdata/ that drive both binaries, in-process, against real listeners.
//
// Each script gets its own data directory ($DATA), free ports exported as
// $PUBLIC_PORT, $HTTP_PORT and $ADMIN_PORT, XDG directories inside $WORK and
// NO_COLOR=1. Extra commands: waitfor, fetch, pgdb (see commands_test.go).
//
// Run one script: go test ./testscripts -run TestScripts/NAME
package testscripts

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mapwright/mapwright/internal/cli"
	"github.com/mapwright/mapwright/internal/daemon"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mapwrightd": func() { os.Exit(daemon.Main()) },
		"mwctl":      func() { os.Exit(cli.Main()) },
	})
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, params(t, "testdata"))
}

func params(t *testing.T, dir string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds:                commands(t),
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "postgres":
				return os.Getenv("MAPWRIGHT_TEST_POSTGRES") != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("DATA", filepath.Join(work, "data"))
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "home", ".config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(work, "home", ".local", "share"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("TERM", "dumb")
			for _, name := range []string{"PUBLIC_PORT", "HTTP_PORT", "ADMIN_PORT"} {
				port, err := freePort()
				if err != nil {
					return err
				}
				env.Setenv(name, port)
			}
			return nil
		},
	}
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the daemon binds it; on loopback in a test that is rare
// enough, and the daemon's bind error would say so plainly.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}
