package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Cluster is a PostgreSQL server of one test's own, on a temporary data
// directory and a unix socket, for tests that stop and start the database
// under a running daemon. It needs PostgreSQL's server programs (initdb,
// pg_ctl): without them the test is skipped, or fails under CI=true, like
// [AdminURL]. As root, the server runs as the "postgres" system user.
type Cluster struct {
	// URL is the admin URL of the cluster's "postgres" database.
	URL   string
	dir   string
	pgctl string
	owner *user.User // nil: the current user
}

// NewCluster initialises and starts a cluster, stopped and removed when
// the test ends.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	initdb, pgctl := serverProgram("initdb"), serverProgram("pg_ctl")
	if initdb == "" || pgctl == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL's server programs (initdb, pg_ctl) are required in CI")
		}
		t.Skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
	}
	c := &Cluster{pgctl: pgctl}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("PostgreSQL refuses to run as root and there is no postgres user: %v", err)
		}
		c.owner = u
	}
	dir, err := os.MkdirTemp("", "mwpgtest")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		_ = c.run("-D", c.data(), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	// The server's owner must reach the socket directory through the
	// temporary one; its data directory must be its alone.
	for d, mode := range map[string]os.FileMode{dir: 0o755, c.sock(): 0o755, c.data(): 0o700} {
		if err := os.MkdirAll(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		if c.owner != nil {
			uid, _ := strconv.Atoi(c.owner.Uid)
			gid, _ := strconv.Atoi(c.owner.Gid)
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if out, err := c.command(initdb, "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.URL = fmt.Sprintf("postgres://postgres@/postgres?host=%s&sslmode=disable", c.sock())
	c.Start(t)
	return c
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.sock())
	if err := c.run("-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		t.Fatalf("start PostgreSQL: %v\n%s", err, log)
	}
}

// Stop stops the server in fast mode: sessions are disconnected at once,
// as in an outage.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.run("-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) sock() string { return filepath.Join(c.dir, "sock") }

func (c *Cluster) run(args ...string) error {
	out, err := c.command(c.pgctl, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// command runs name as the cluster's owner.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	if c.owner == nil {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.owner.Username, "--", name}, args...)...)
}

// serverProgram finds one of PostgreSQL's server programs on PATH or in
// the versioned directories Debian installs them in (newest first); "" when
// there is none.
func serverProgram(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql", "*", "bin", name))
	if len(found) == 0 {
		return ""
	}
	sort.Slice(found, func(i, j int) bool { return versionOf(found[i]) > versionOf(found[j]) })
	return found[0]
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}
