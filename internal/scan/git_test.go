package scan

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// needGit skips the test when git is missing, except under CI=true.
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git is required under CI: %v", err)
		}
		t.Skipf("git not installed: %v", err)
	}
}

// repo is a scratch git repository.
type repo struct {
	t   *testing.T
	dir string
	// clock advances one hour per commit so author dates are distinct.
	clock time.Time
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	needGit(t)
	r := &repo{t: t, dir: t.TempDir(), clock: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	d := r.clock.Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE="+d, "GIT_COMMITTER_DATE="+d, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	write(r.t, filepath.Join(r.dir, name), []byte(content))
}

func (r *repo) commit(msg string) string {
	r.t.Helper()
	r.clock = r.clock.Add(time.Hour)
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func TestScanGitHistory(t *testing.T) {
	r := newRepo(t)
	deleted := mustKey(t, apikey.Secret)
	branchKey := mustKey(t, apikey.Public)
	kept := mustKey(t, apikey.Public)
	zipped := mustKey(t, apikey.Secret)

	r.write("README.md", "# app\n")
	r.write("app/config.js", "export const key = null;\n")
	c1 := r.commit("start")
	r.write("secrets.env", "# oops\nADMIN="+deleted+"\n")
	c2 := r.commit("add secrets")
	date2 := r.clock
	r.git("rm", "-q", "secrets.env")
	r.commit("remove secrets")
	// The same content again under another name: one blob, scanned once.
	r.write("copy/secrets.env", "# oops\nADMIN="+deleted+"\n")
	r.commit("copy back")
	r.git("rm", "-q", "-r", "copy")
	r.commit("remove copy")

	r.git("checkout", "-q", "-b", "feature")
	r.write("app/config.js", "export const key = \""+branchKey+"\";\n")
	c6 := r.commit("feature key")
	r.git("checkout", "-q", "main")
	r.write("docs/key.txt", "key: "+kept+" // mwctl:allow\n")
	r.write("dist/site.zip", string(zipOf(t, zip.Deflate, [2]string{"env.js", "K='" + zipped + "'"})))
	c7 := r.commit("docs")
	_ = c1

	res, err := Scan(context.Background(), Options{Paths: []string{r.dir}, Git: true, MaxArchiveDepth: 2, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		commit, path string
		line, col    int64
		sup          Suppression
	}{
		deleted:   {c2, "secrets.env", 2, 7, NotSuppressed},
		branchKey: {c6, "app/config.js", 1, 21, NotSuppressed},
		kept:      {c7, "docs/key.txt", 1, 6, SuppressedInline},
		zipped:    {c7, "dist/site.zip!env.js", 1, 4, NotSuppressed},
	}
	if len(res.Keys) != len(want) {
		t.Fatalf("found %d keys, want %d: %+v", len(res.Keys), len(want), res.Keys)
	}
	for tok, w := range want {
		var k *Key
		for _, kk := range res.Keys {
			if kk.Hash == apikey.HashHex(tok) {
				k = kk
			}
		}
		if k == nil {
			t.Errorf("key at %s not found", w.path)
			continue
		}
		if len(k.Locations) != 1 {
			t.Errorf("key at %s: %d locations, want 1 (a blob is scanned once): %v", w.path, len(k.Locations), k.Locations)
		}
		l := k.Locations[0]
		if l.Commit != w.commit || l.Path != w.path || l.Line != w.line || l.Column != w.col || l.Suppressed != w.sup {
			t.Errorf("key at %s: got %s %s %v, want commit %s line %d col %d %v", w.path, l.Commit, l, l.Suppressed, w.commit, w.line, w.col, w.sup)
		}
		if l.AuthorDate == nil {
			t.Errorf("key at %s: no author date", w.path)
		}
	}
	for _, k := range res.Keys {
		if k.Hash == apikey.HashHex(deleted) && !k.Locations[0].AuthorDate.Equal(date2) {
			t.Errorf("author date %v, want %v", k.Locations[0].AuthorDate, date2)
		}
	}
	assertNoTokens(t, res, nil, []string{deleted, branchKey, kept, zipped})
}

func TestScanGitStaged(t *testing.T) {
	r := newRepo(t)
	old := mustKey(t, apikey.Secret)
	staged := mustKey(t, apikey.Public)
	unstaged := mustKey(t, apikey.Public)
	// Staged before the first commit: the repository has no HEAD yet.
	r.write("a.txt", "x "+old+"\n")
	r.git("add", "a.txt")
	res, err := Scan(context.Background(), Options{Paths: []string{r.dir}, Staged: true})
	if err != nil {
		t.Fatalf("staged scan without HEAD: %v", err)
	}
	if !hasToken(res, old) {
		t.Error("key staged for the first commit not found")
	}
	r.commit("one")

	r.write("b.txt", "\n\n  "+staged+"\n")
	r.git("add", "b.txt")
	r.write("b.txt", "changed after staging "+unstaged+"\n")
	r.write("c.txt", unstaged)
	res, err = Scan(context.Background(), Options{Paths: []string{r.dir}, Staged: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || res.Keys[0].Hash != apikey.HashHex(staged) {
		t.Fatalf("staged scan found %d keys: %+v", len(res.Keys), res.Keys)
	}
	l := res.Keys[0].Locations[0]
	if !l.Staged || l.Path != "b.txt" || l.Line != 3 || l.Column != 3 || l.Commit != "" {
		t.Errorf("location %+v", l)
	}
}

func TestScanGitErrors(t *testing.T) {
	needGit(t)
	_, err := Scan(context.Background(), Options{Paths: []string{t.TempDir()}, Git: true})
	if !errors.Is(err, ErrNotRepository) {
		t.Errorf("not a repository: err = %v", err)
	}
	_, err = Scan(context.Background(), Options{Paths: []string{"."}, Git: true, GitPath: filepath.Join(t.TempDir(), "no-git")})
	if !errors.Is(err, ErrGit) {
		t.Errorf("git missing: err = %v", err)
	}
	_, err = Scan(context.Background(), Options{Paths: []string{"a", "b"}, Git: true})
	if !errors.Is(err, ErrOptions) {
		t.Errorf("two repositories: err = %v", err)
	}
}

func TestScanGitEmptyRepository(t *testing.T) {
	r := newRepo(t)
	res, err := Scan(context.Background(), Options{Paths: []string{r.dir}, Git: true})
	if err != nil {
		t.Fatalf("empty repository: %v", err)
	}
	if len(res.Keys) != 0 || res.Stats.Files != 0 {
		t.Errorf("empty repository: %+v", res)
	}
}
