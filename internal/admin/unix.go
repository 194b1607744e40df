package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode"
)

// SocketMode is the permission of the admin socket: its owner and group
// may connect, and connecting is admin access.
const SocketMode fs.FileMode = 0o660

// probeTimeout bounds the check for a live server on an existing socket.
const probeTimeout = time.Second

// maxSocketPath is the longest socket path every supported system accepts
// (the BSDs allow 104 bytes, Linux 108).
const maxSocketPath = 103

// ListenUnix listens on the unix socket path with mode [SocketMode].
//
// An existing socket on which a server answers is left alone and is an error
// wrapping [ErrSocketInUse]; one on which nothing answers is a leftover of a
// crashed daemon and is replaced. A path that exists but is not a socket is
// never removed ([ErrNotSocket]).
//
// The socket is created in a private directory beside path, given its mode,
// then renamed into place, so it is never reachable with looser permissions,
// whatever the process umask. Closing the listener removes the socket file,
// unless another server has replaced it meanwhile.
func ListenUnix(path string) (net.Listener, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := checkStale(path); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".s")
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) > maxSocketPath {
		// The detour does not fit in a socket address; bind in place and
		// tighten the mode at once. Until then the process umask (0022 for
		// a service) keeps others from connecting.
		tmp = path
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	// The file will live under another name; this listener must not
	// remove whatever sits at the temporary one.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, SocketMode); err != nil {
		return fail(err)
	}
	if tmp != path {
		if err := os.Rename(tmp, path); err != nil {
			return fail(err)
		}
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &unixListener{UnixListener: ln, path: path, info: info}, nil
}

// checkStale removes a socket no server answers on, and refuses a live one
// or a file that is not a socket.
func checkStale(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", path, err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket %s: %w; move it away", path, ErrNotSocket)
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("admin socket %s: %w (is another mapwrightd using this data directory?)", path, ErrSocketInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin socket %s: cannot tell whether a server uses it: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin socket %s: remove stale socket: %w", path, err)
	}
	return nil
}

// unixListener removes its socket file on Close.
type unixListener struct {
	*net.UnixListener
	path string
	info fs.FileInfo
	once sync.Once
}

// Addr returns the socket's final path, not the temporary one it was
// bound at.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close stops listening and removes the socket file.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		// Only our own socket: a daemon started meanwhile may own the
		// path now.
		if cur, serr := os.Lstat(l.path); serr == nil && os.SameFile(cur, l.info) {
			_ = os.Remove(l.path)
		}
	})
	return err
}

// peer is the process at the other end of a unix socket connection.
type peer struct {
	UID   uint32
	Actor string
}

type peerKey struct{}

type peerResult struct {
	peer peer
	err  error
}

// ConnContext is the http.Server ConnContext hook of the unix socket
// listener: it reads the connecting process's credentials from the kernel
// (SO_PEERCRED on Linux, LOCAL_PEERCRED on the BSDs) and records the audit
// actor "unix:UID(username)", or "unix:UID" when the uid has no user name.
// Connections that are not unix sockets are left as they are.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	uid, err := peerUID(uc)
	if err != nil {
		return context.WithValue(ctx, peerKey{}, peerResult{err: fmt.Errorf("%w: %w", ErrPeerCredentials, err)})
	}
	return context.WithValue(ctx, peerKey{}, peerResult{peer: peer{UID: uid, Actor: unixActor(uid)}})
}

// peerFrom returns the peer ConnContext recorded.
func peerFrom(ctx context.Context) (peer, error) {
	v, ok := ctx.Value(peerKey{}).(peerResult)
	if !ok {
		return peer{}, fmt.Errorf("%w: the admin socket server does not identify its peers (ConnContext is not set)", ErrPeerCredentials)
	}
	return v.peer, v.err
}

// unixActor names uid for the audit log.
func unixActor(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	u, err := user.LookupId(id)
	if err != nil || !plainName(u.Username) {
		return "unix:" + id
	}
	return "unix:" + id + "(" + u.Username + ")"
}

// plainName accepts user names that cannot confuse a reader of the audit
// log: printable, without parentheses or spaces, of reasonable length.
func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '(' || r == ')' {
			return false
		}
	}
	return true
}
