package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mapwright/mapwright/internal/cli"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
)

// runAsEnv makes the test binary act as mwctl, so that shell scripts under
// test can run the real command without a separate build.
const runAsEnv = "MAPWRIGHT_DEPLOY_TEST_RUN_AS"

func TestMain(m *testing.M) {
	if os.Getenv(runAsEnv) == "mwctl" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}

// repoFile returns the path of a file of the repository, given
// slash-separated from its root.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(testenv.ModuleRoot(t), filepath.FromSlash(rel))
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// needTool returns the path of an external program the test needs. When it
// is missing the test is skipped, except under CI=true, where it fails: CI
// must not pass by skipping.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (Debian package %s)", name, pkg)
		}
		t.Skipf("%s not installed (Debian package %s): skipped", name, pkg)
	}
	return path
}

// mwctlShim writes an executable named mwctl into a new directory that runs
// this test binary as mwctl, and returns the directory.
func mwctlShim(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := "#!/bin/sh\n" + runAsEnv + "=mwctl exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "mwctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
