package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// blobJob is a blob to scan with the place it was first seen.
type blobJob struct {
	oid string
	src source
}

// gitCmd returns a git command run in repo with settings that keep its
// output machine-readable whatever the user's configuration says.
func gitCmd(ctx context.Context, opts Options, repo string, args ...string) *exec.Cmd {
	base := []string{"-C", repo, "-c", "core.quotePath=false", "-c", "color.ui=never",
		"-c", "log.showRoot=true", "-c", "log.showSignature=false", "-c", "diff.renames=false"}
	cmd := exec.CommandContext(ctx, opts.GitPath, append(base, args...)...)
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	return cmd
}

// checkRepo fails unless repo is inside a git repository.
func checkRepo(ctx context.Context, opts Options, repo string) error {
	if _, err := exec.LookPath(opts.GitPath); err != nil {
		return fmt.Errorf("%w: the git program was not found: %v", ErrGit, err)
	}
	var stderr bytes.Buffer
	cmd := gitCmd(ctx, opts, repo, "rev-parse", "--git-dir")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimPrefix(strings.TrimSpace(stderr.String()), "fatal: ")
		return fmt.Errorf("%q: %w (%s)", repo, ErrNotRepository, msg)
	}
	return nil
}

// scanHistory scans every blob reachable from every ref, each once, with
// the oldest commit that introduced it.
func scanHistory(ctx context.Context, opts Options, c *collector) error {
	repo := opts.Paths[0]
	if err := checkRepo(ctx, opts, repo); err != nil {
		return err
	}
	// Every blob of every commit's tree shows up in the diff of some
	// commit against its first parent (or in a root commit's diff), so
	// these diffs, oldest commit first, name every reachable blob with
	// the commit that introduced it.
	return runBlobs(ctx, opts, c, repo, func(ctx context.Context, out chan<- blobJob) error {
		return listTokens(ctx, opts, repo, out, source{}, "log", "--all", "--date-order", "--reverse", "--no-renames",
			"--raw", "--no-abbrev", "-z", "--diff-merges=first-parent", "--no-ext-diff",
			"--format=commit %H %aI")
	})
}

// scanStaged scans the blobs of the index that differ from HEAD: what the
// next commit would add.
func scanStaged(ctx context.Context, opts Options, c *collector) error {
	repo := opts.Paths[0]
	if err := checkRepo(ctx, opts, repo); err != nil {
		return err
	}
	return runBlobs(ctx, opts, c, repo, func(ctx context.Context, out chan<- blobJob) error {
		return listTokens(ctx, opts, repo, out, source{staged: true}, "diff", "--cached", "--raw", "-z", "--no-renames",
			"--no-abbrev", "--diff-filter=d", "--no-ext-diff", "--ignore-submodules")
	})
}

// runBlobs runs list, which sends blobs, and scans them with opts.Workers
// workers, each reading through its own git cat-file process.
func runBlobs(ctx context.Context, opts Options, c *collector, repo string, list func(context.Context, chan<- blobJob) error) error {
	jobs := make(chan blobJob, 1024)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		return list(gctx, jobs)
	})
	for range opts.Workers {
		w := newWorker(opts, c)
		g.Go(func() error { return w.catBlobs(gctx, repo, jobs) })
	}
	return g.Wait()
}

// listTokens runs a git command whose output is raw diff records with -z
// (and, for log, "commit HASH DATE" headers), and sends each blob not seen
// before.
func listTokens(ctx context.Context, opts Options, repo string, out chan<- blobJob, tmpl source, args ...string) error {
	cmd := gitCmd(ctx, opts, repo, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 8 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: start git %s: %v", ErrGit, args[0], err)
	}
	perr := parseRaw(ctx, bufio.NewReaderSize(stdout, 256<<10), tmpl, out)
	if perr != nil {
		// Stop git before waiting, or it may block on a full pipe.
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case perr != nil:
		return perr
	case werr != nil:
		return fmt.Errorf("%w: git %s: %v: %s", ErrGit, args[0], werr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// parseRaw reads NUL-separated raw diff output:
//
//	commit HASH DATE \0 \n:OLDMODE NEWMODE OLDOID NEWOID STATUS \0 PATH \0 ...
//
// and sends each added or modified blob the first time its oid appears, with
// tmpl's fields and the commit of the last header.
func parseRaw(ctx context.Context, r *bufio.Reader, tmpl source, out chan<- blobJob) error {
	seen := map[[32]byte]struct{}{}
	cur := tmpl
	var seq int64
	var pending string // oid awaiting its path; "" when the next token is not a path
	wantPath := false
	for {
		tok, err := readToken(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: read git output: %v", ErrGit, err)
		}
		if wantPath {
			wantPath = false
			if pending == "" {
				continue
			}
			j := blobJob{oid: pending, src: cur}
			j.src.path = string(tok)
			select {
			case out <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		tok = bytes.TrimLeft(tok, "\n")
		switch {
		case len(tok) == 0:
		case bytes.HasPrefix(tok, []byte("commit ")):
			f := strings.Fields(string(tok[len("commit "):]))
			if len(f) != 2 {
				return fmt.Errorf("%w: unexpected commit header %q", ErrGit, tok)
			}
			seq++
			cur = tmpl
			cur.commit, cur.seq = f[0], seq
			if t, err := time.Parse(time.RFC3339, f[1]); err == nil {
				t = t.UTC()
				cur.date = &t
			}
		case tok[0] == ':':
			// ":100644 100644 OLD NEW M": only the new side matters.
			f := strings.Fields(string(tok[1:]))
			if len(f) != 5 {
				return fmt.Errorf("%w: unexpected raw diff record %q", ErrGit, tok)
			}
			wantPath = true
			pending = ""
			mode, oid, status := f[1], f[3], f[4]
			if status == "D" || !isBlobMode(mode) {
				continue
			}
			key, ok := oidKey(oid)
			if !ok {
				return fmt.Errorf("%w: bad object id in %q", ErrGit, tok)
			}
			if key == ([32]byte{}) {
				// An intent-to-add entry: no content yet.
				continue
			}
			if _, dup := seen[key]; dup {
				continue
			}
			seen[key] = struct{}{}
			pending = oid
		default:
			return fmt.Errorf("%w: unexpected git output %q", ErrGit, truncate(tok, 80))
		}
	}
}

// isBlobMode reports whether a tree entry mode holds a blob: a regular or
// executable file, or a symbolic link (whose target text is scanned too).
// Submodules (160000) are commits of other repositories.
func isBlobMode(mode string) bool {
	return mode == "100644" || mode == "100755" || mode == "120000" || mode == "100664"
}

// oidKey decodes a SHA-1 or SHA-256 object id into a map key.
func oidKey(oid string) ([32]byte, bool) {
	var k [32]byte
	if len(oid) != 40 && len(oid) != 64 {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(oid)); err != nil {
		return k, false
	}
	return k, true
}

// readToken returns the bytes up to the next NUL, without it. The slice is
// valid until the next call.
func readToken(r *bufio.Reader) ([]byte, error) {
	tok, err := r.ReadSlice(0)
	if err == nil {
		return tok[:len(tok)-1], nil
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte{}, tok...)
		for errors.Is(err, bufio.ErrBufferFull) {
			tok, err = r.ReadSlice(0)
			long = append(long, tok...)
		}
		if err == nil {
			return long[:len(long)-1], nil
		}
		tok = long
	}
	if err == io.EOF && len(tok) > 0 {
		return tok, nil
	}
	return nil, err
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// catBlobs reads the blobs of jobs through one git cat-file --batch process
// and scans them. A writer goroutine keeps requests ahead of the reader, so
// git never waits for a round trip; inflight bounds how far ahead.
func (w *worker) catBlobs(ctx context.Context, repo string, jobs <-chan blobJob) error {
	cmd := gitCmd(ctx, w.opts, repo, "cat-file", "--batch")
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 8 << 10}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("git cat-file: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git cat-file: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: start git cat-file: %v", ErrGit, err)
	}
	inflight := make(chan blobJob, 64)
	werr := make(chan error, 1)
	go func() {
		defer close(inflight)
		defer stdin.Close()
		werr <- feedBatch(ctx, bufio.NewWriter(stdin), jobs, inflight)
	}()
	rerr := w.readBatch(ctx, bufio.NewReaderSize(stdout, 256<<10), inflight)
	if rerr != nil {
		// The writer then fails on the dead pipe, or stops when the
		// group's context is cancelled by the returned error.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case rerr != nil:
		return rerr
	case waitErr != nil:
		return fmt.Errorf("%w: git cat-file: %v: %s", ErrGit, waitErr, strings.TrimSpace(stderr.String()))
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("%w: write to git cat-file: %v", ErrGit, err)
	}
	return nil
}

// feedBatch writes the oid of each job to git and queues the job for the
// reader. It flushes before every wait, on the job queue or on the reader,
// so that git never waits for an oid held in the buffer while the reader
// waits for git.
func feedBatch(ctx context.Context, bw *bufio.Writer, jobs <-chan blobJob, inflight chan<- blobJob) error {
	for {
		var j blobJob
		var ok bool
		select {
		case j, ok = <-jobs:
		default:
			if err := bw.Flush(); err != nil {
				return err
			}
			select {
			case j, ok = <-jobs:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return bw.Flush()
		}
		if _, err := bw.WriteString(j.oid + "\n"); err != nil {
			return err
		}
		select {
		case inflight <- j:
		default:
			if err := bw.Flush(); err != nil {
				return err
			}
			select {
			case inflight <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// readBatch reads one cat-file answer per job: "OID TYPE SIZE\n" CONTENT
// "\n", or "OID missing\n".
func (w *worker) readBatch(ctx context.Context, br *bufio.Reader, inflight <-chan blobJob) error {
	for j := range inflight {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%w: read git cat-file answer: %v", ErrGit, err)
		}
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == "missing" {
			w.c.warn("%s: blob %s of commit %s is missing from the repository", j.src.path, j.oid, shortCommit(j.src.commit))
			continue
		}
		if len(f) != 3 {
			return fmt.Errorf("%w: unexpected git cat-file answer %q", ErrGit, strings.TrimSpace(line))
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: bad size in git cat-file answer %q", ErrGit, strings.TrimSpace(line))
		}
		content := io.LimitReader(br, size)
		if f[1] == "blob" {
			src := j.src
			if err := w.scanBlob(ctx, content, size, &src); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%w: read blob %s: %v", ErrGit, j.oid, err)
			}
		}
		// Whatever the scan left unread (an archive cut short), then the
		// newline that ends the answer.
		if _, err := io.Copy(io.Discard, content); err != nil {
			return fmt.Errorf("%w: read git cat-file answer: %v", ErrGit, err)
		}
		if b, err := br.ReadByte(); err != nil || b != '\n' {
			return fmt.Errorf("%w: git cat-file answer not ended by a newline", ErrGit)
		}
	}
	return nil
}

// scanBlob scans one blob: an archive within the depth limit is opened with
// a budget of its own; anything else is scanned as bytes. Only a failure to
// read the blob itself is an error.
func (w *worker) scanBlob(ctx context.Context, r io.Reader, size int64, src *source) error {
	if w.opts.MaxArchiveDepth > 0 && archiveKindOf(src.path) != notArchive {
		return w.archiveMember(ctx, r, nil, size, src, 0, newBudget(w.opts, size))
	}
	return w.scanStream(ctx, r, src)
}

// limitedBuffer keeps the first max bytes written to it: enough of git's
// standard error for a message.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
