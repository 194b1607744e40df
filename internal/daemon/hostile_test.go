package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/server"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// The hostile-input tests of the listener run the public handler as serve
// wires it (real key service on SQLite, a catalog, the config's rate
// limits) behind http.Servers built by NewServer from the config's
// timeouts, on 127.0.0.1:0, and talk to it over raw TCP (or TLS)
// connections so that they can send what no well-behaved client would.

// worldTile is the one tile of the "world" tileset.
var worldTile = []byte("\x1a\x0b\x0a\x05world\x78\x02 a vector tile")

const tilePath = "/v1/tiles/world/0/0/0.mvt"

// hostileDaemon is a running public listener.
type hostileDaemon struct {
	addr      string
	clientTLS *tls.Config     // set when the listener serves TLS
	good      string          // the victim's key: used by nobody during an attack
	other     string          // the attacker's own valid key
	reqLog    *testenv.Buffer // the public handler's request log
	daemonLog *testenv.Buffer // the daemon's log, including the http.Server error log
	conns     *connTracker
	bigSize   int // bytes of the "big" tileset's one tile, when made

	mu      sync.Mutex
	clients []string // local addresses of every connection the test opened
}

type hostileOptions struct {
	timeouts func(*config.ServerTimeouts)
	tls      bool
	bigTile  int // size of a PNG tile in tileset "big"; 0 for none
	// authFailRPS replaces the default refill rate of the failed
	// authentication bucket.
	authFailRPS float64
}

func startHostileDaemon(t *testing.T, o hostileOptions) *hostileDaemon {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Listen.Addr = "127.0.0.1:0"
	cfg.Server.ShutdownTimeout = 5 * time.Second
	if o.authFailRPS > 0 {
		cfg.RateLimit.AuthFailRPS = o.authFailRPS
	}
	if o.timeouts != nil {
		o.timeouts(&cfg.Server)
	}
	d := &hostileDaemon{reqLog: &testenv.Buffer{}, daemonLog: &testenv.Buffer{}, conns: newConnTracker(), bigSize: o.bigTile}
	log := slog.New(slog.NewTextHandler(d.daemonLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	a, err := openApp(ctx, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	for _, k := range []*string{&d.good, &d.other} {
		iss, err := a.keys.Issue(ctx, keys.IssueRequest{Kind: apikey.Public, Name: "client"}, keys.Actor{Name: "unix:1000(test)"})
		if err != nil {
			t.Fatal(err)
		}
		*k = iss.Token
	}

	tilesDir := filepath.Join(dir, "tiles")
	if err := os.Mkdir(tilesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestArchive(t, filepath.Join(tilesDir, "world.pmtiles"), pmtiles.TileTypeMVT, worldTile)
	if o.bigTile > 0 {
		big := make([]byte, o.bigTile)
		_, _ = rand.Read(big)
		writeTestArchive(t, filepath.Join(tilesDir, "big.pmtiles"), pmtiles.TileTypePNG, big)
	}
	catalog := tiles.Open(tilesDir, nil)
	t.Cleanup(func() { _ = catalog.Close() })

	public := server.New(server.Options{
		Tilesets:      server.FromCatalog(catalog),
		Keys:          a.keys,
		Logger:        slog.New(slog.NewJSONHandler(d.reqLog, nil)),
		DefaultRate:   cfg.RateLimit.RPS,
		DefaultBurst:  cfg.RateLimit.Burst,
		AuthFailRPS:   cfg.RateLimit.AuthFailRPS,
		AuthFailBurst: cfg.RateLimit.AuthFailBurst,
		HSTS:          cfg.Listen.HSTS,
	})
	srv := NewServer(log, cfg.Server)
	ln, err := net.Listen("tcp", cfg.Listen.Addr)
	if err != nil {
		t.Fatal(err)
	}
	d.addr = ln.Addr().String()
	var serverTLS *tls.Config
	if o.tls {
		cert, info, err := serverCert(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		serverTLS = certs.ServerTLSConfig(cert)
		pem, err := os.ReadFile(info.CAPath)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("no CA certificate")
		}
		d.clientTLS = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	}
	hs := srv.Add("public", smallSendBuffers{ln}, public, serverTLS)
	hs.ConnContext = server.ConnContext
	hs.ConnState = d.conns.track

	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			// A handler still stuck on a hostile connection would make the
			// drain time out and Run fail.
			if err != nil {
				t.Errorf("the listener did not drain cleanly: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the listener did not stop")
		}
	})
	return d
}

func writeTestArchive(t *testing.T, path string, tt pmtiles.TileType, tile []byte) {
	t.Helper()
	var buf bytes.Buffer
	meta := map[string]any{"name": filepath.Base(path)}
	if tt == pmtiles.TileTypeMVT {
		meta["vector_layers"] = []any{map[string]any{"id": "world", "fields": map[string]any{}}}
	}
	if err := pmtiles.Write(&buf, []pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: tile}},
		pmtiles.WriterOptions{TileType: tt, TileCompression: pmtiles.CompressionNone, Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// smallSendBuffers shrinks the kernel send buffer of accepted connections,
// so that a client that stops reading blocks the server's writes after a
// few kilobytes on any machine, not after whatever the loopback autotunes
// to.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// connTracker follows the server side of every connection through the
// http.Server's ConnState hook.
type connTracker struct {
	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

func newConnTracker() *connTracker { return &connTracker{state: map[net.Conn]http.ConnState{}} }

func (c *connTracker) track(conn net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == http.StateClosed || s == http.StateHijacked {
		delete(c.state, conn)
		return
	}
	c.state[conn] = s
}

// open counts the server's connections not yet closed whose peer is
// client ("" for all).
func (c *connTracker) open(client string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for conn := range c.state {
		if client == "" || conn.RemoteAddr().String() == client {
			n++
		}
	}
	return n
}

// waitClosed waits until the server has closed its side of every
// connection from client ("" for all).
func (c *connTracker) waitClosed(t *testing.T, client string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.open(client) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open on the server", c.open(client))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// dialTCP opens a TCP connection, from the local address from when set
// ("127.0.1.1" is another /24 than "127.0.0.1" and still loopback), and
// remembers its address for the log checks.
func (d *hostileDaemon) dialTCP(t *testing.T, from string) net.Conn {
	t.Helper()
	dialer := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := dialer.Dial("tcp", d.addr)
	if err != nil {
		if from != "" {
			t.Skipf("cannot connect from %s: %v", from, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	d.mu.Lock()
	d.clients = append(d.clients, c.LocalAddr().String())
	d.mu.Unlock()
	return c
}

// dial opens a raw connection: plain TCP, or TLS after a handshake.
func (d *hostileDaemon) dial(t *testing.T, from string) net.Conn {
	t.Helper()
	c := d.dialTCP(t, from)
	if d.clientTLS == nil {
		return c
	}
	cfg := d.clientTLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(c, cfg)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc
}

// rawResponse is one response read off a raw connection.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	close  bool // the response said Connection: close
}

// sentinel is appended to every raw exchange: a request the server answers
// only if it kept the connection open after what came before, and after
// which it closes. So an exchange never waits on a timeout to learn
// whether the connection survived.
const sentinel = "GET /livez HTTP/1.1\r\nHost: tiles.test\r\nConnection: close\r\n\r\n"

// exchange sends raw and then the sentinel on a fresh connection and
// returns the responses read until the server closed it.
func (d *hostileDaemon) exchange(t *testing.T, raw string) []rawResponse {
	t.Helper()
	c := d.dial(t, "")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// Written concurrently: the server may answer and hang up before it
	// has read all of a large request.
	go func() { _, _ = io.WriteString(c, raw+sentinel) }()
	resps, err := readResponses(c)
	if isTimeout(err) {
		t.Fatalf("the server neither answered nor closed the connection; read %d responses", len(resps))
	}
	return resps
}

// readResponses reads responses until the connection ends, and returns the
// error that ended it (nil for a clean close or reset).
func readResponses(c net.Conn) ([]rawResponse, error) {
	br := bufio.NewReader(c)
	var out []rawResponse
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if isClosed(err) {
				return out, nil
			}
			return out, err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		out = append(out, rawResponse{status: resp.StatusCode, header: resp.Header, body: body, close: resp.Close})
		if err != nil {
			if isClosed(err) {
				return out, nil
			}
			return out, err
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func statuses(rs []rawResponse) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.status
	}
	return out
}

// get fetches path with a key over a fresh connection and returns the status.
func (d *hostileDaemon) get(t *testing.T, path, key, from string) (int, http.Header) {
	t.Helper()
	c := d.dial(t, from)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: tiles.test\r\nConnection: close\r\n"
	if key != "" {
		req += "Authorization: Bearer " + key + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resps, err := readResponses(c)
	if err != nil || len(resps) != 1 {
		t.Fatalf("GET %s: %d responses, %v", path, len(resps), err)
	}
	return resps[0].status, resps[0].header
}

// assertServes checks that the victim's key still gets its tile.
func (d *hostileDaemon) assertServes(t *testing.T) {
	t.Helper()
	if status, _ := d.get(t, tilePath, d.good, ""); status != http.StatusOK {
		t.Fatalf("valid key after the attack: status %d", status)
	}
}

// assertLogsClean checks both logs for the keys and for the full address
// of any client connection (every client here is on 127.0.0.1; the logs
// may name its network, 127.0.0.0/24, and the daemon's own listening
// address).
func (d *hostileDaemon) assertLogsClean(t *testing.T, extra ...string) {
	t.Helper()
	d.mu.Lock()
	clients := append([]string(nil), d.clients...)
	d.mu.Unlock()
	reqLog := d.reqLog.String()
	if strings.Contains(reqLog, "127.0.0.1") || strings.Contains(reqLog, "127.0.1.1") {
		t.Errorf("the request log holds a full client address:\n%s", reqLog)
	}
	for name, logs := range map[string]string{"request log": reqLog, "daemon log": d.daemonLog.String()} {
		for _, tok := range append([]string{d.good, d.other}, extra...) {
			if len(tok) > apikey.StartLen+8 && strings.Contains(logs, tok[apikey.StartLen:]) {
				t.Errorf("the %s holds a key beyond its display start", name)
			}
		}
		for _, c := range clients {
			if strings.Contains(logs, c) {
				t.Errorf("the %s holds the full client address %s:\n%s", name, c, logs)
			}
		}
	}
}

// TestHostileSmuggling sends the request-smuggling shapes over raw
// connections. What Go's parser refuses is a 400 (501 for an unknown
// transfer coding) and a closed connection; what reaches the handler with a
// body is refused with 400 and the connection closed too, so bytes after it
// are never read as a request. Nothing is ever served under the victim's
// key, which only appears inside the attack.
func TestHostileSmuggling(t *testing.T) {
	d := startHostileDaemon(t, hostileOptions{})
	const host = "Host: tiles.test\r\n"
	attacker := "Authorization: Bearer " + d.other + "\r\n"
	// victim is a complete request with the victim's key, as a front proxy
	// would append the next client's request on a shared connection.
	victim := "GET " + tilePath + " HTTP/1.1\r\n" + host + "Authorization: Bearer " + d.good + "\r\n\r\n"
	// prefix is a smuggled request line whose headers swallow the victim's
	// request line, so the victim's Authorization would apply to it.
	prefix := "GET /v1/tiles/world/0/0/0.mvt?smuggled=1 HTTP/1.1\r\nX-Swallow: "
	get := "GET " + tilePath + " HTTP/1.1\r\n" + host
	tests := []struct {
		name string
		raw  string
		want []int
	}{
		{"Content-Length and Transfer-Encoding",
			get + attacker + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + prefix + victim, []int{400}},
		{"Transfer-Encoding before Content-Length",
			get + attacker + "Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + prefix + victim, []int{400}},
		{"Content-Length and Transfer-Encoding, zero length",
			get + attacker + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + prefix + victim, []int{400}},
		{"two different Content-Lengths",
			get + attacker + "Content-Length: 0\r\nContent-Length: " + fmt.Sprint(len(prefix+victim)) + "\r\n\r\n" + prefix + victim, []int{400}},
		{"Content-Length list", get + attacker + "Content-Length: 0, 5\r\n\r\nhello" + victim, []int{400}},
		{"the same Content-Length twice, with a body", get + attacker + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + victim, []int{400}},
		{"the same Content-Length twice, zero", get + attacker + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", []int{200, 200}},
		{"signed Content-Length", get + attacker + "Content-Length: +5\r\n\r\nhello", []int{400}},
		{"negative Content-Length", get + attacker + "Content-Length: -1\r\n\r\n", []int{400}},
		{"Content-Length beyond 64 bits", get + attacker + "Content-Length: 99999999999999999999\r\n\r\n", []int{400}},
		{"Transfer-Encoding gzip", get + attacker + "Transfer-Encoding: gzip\r\n\r\n" + victim, []int{501}},
		{"Transfer-Encoding gzip, chunked", get + attacker + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + victim, []int{501}},
		{"Transfer-Encoding chunked, chunked", get + attacker + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + victim, []int{501}},
		{"two Transfer-Encoding fields", get + attacker + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + victim, []int{501}},
		{"Transfer-Encoding identity", get + attacker + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello" + victim, []int{501}},
		{"Transfer-Encoding xchunked", get + attacker + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + victim, []int{501}},
		{"Transfer-Encoding in capitals", get + attacker + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n" + prefix + victim, []int{400}},
		{"Transfer-Encoding with a space before the colon", get + attacker + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + victim, []int{400}},
		{"Transfer-Encoding folded onto the next line", get + attacker + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + prefix + victim, []int{400}},
		{"Transfer-Encoding on HTTP/1.0 with Content-Length",
			"GET " + tilePath + " HTTP/1.0\r\n" + host + attacker + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + victim, []int{400}},
		{"obs-fold cannot add a header: the victim's key stays inside X-Note",
			get + "X-Note: a\r\n Authorization: Bearer " + d.good + "\r\n\r\n", []int{401, 200}},
		{"obs-fold in a harmless header is read as a space", get + attacker + "X-Note: a\r\n\tb\r\n\r\n", []int{200, 200}},
		{"header line starting with a space", "GET " + tilePath + " HTTP/1.1\r\n Host: tiles.test\r\n" + attacker + "\r\n", []int{400}},
		{"bare LF line ends are accepted", "GET " + tilePath + " HTTP/1.1\nHost: tiles.test\nAuthorization: Bearer " + d.other + "\n\n", []int{200, 200}},
		{"bare CR", "GET " + tilePath + " HTTP/1.1\rHost: tiles.test\r\n" + attacker + "\r\n", []int{400}},
		{"space in the target", "GET /v1/tiles/wor ld/0/0/0.mvt HTTP/1.1\r\n" + host + attacker + "\r\n", []int{400}},
		{"second request line in the target", "GET " + tilePath + " HTTP/1.1 " + tilePath + " HTTP/1.1\r\n" + host + attacker + "\r\n", []int{400}},
		{"tab in the target", "GET /v1/tiles/world\t/0/0/0.mvt HTTP/1.1\r\n" + host + attacker + "\r\n", []int{400}},
		{"NUL in the target", "GET /v1/tiles/world\x00/0/0/0.mvt HTTP/1.1\r\n" + host + attacker + "\r\n", []int{400}},
		{"NUL in a header", get + attacker + "X-Note: a\x00b\r\n\r\n", []int{400}},
		{"raw backslashes reach the path check", "GET /v1/tiles/..\\..\\data/0/0/0.mvt HTTP/1.1\r\n" + host + attacker + "\r\n", []int{400, 200}},
		{"two Host fields", get + "Host: other.test\r\n" + attacker + "\r\n", []int{400}},
		{"no Host on HTTP/1.1", "GET " + tilePath + " HTTP/1.1\r\n" + attacker + "\r\n", []int{400}},
		{"a later HTTP/1 minor version is read as HTTP/1.1", "GET " + tilePath + " HTTP/1.7\r\n" + host + attacker + "\r\n", []int{200, 200}},
		{"HTTP/2.0 request line on HTTP/1", "GET " + tilePath + " HTTP/2.0\r\n" + host + attacker + "\r\n", []int{505}},
		{"malformed protocol version", "GET " + tilePath + " HTTP/1.1x\r\n" + host + attacker + "\r\n", []int{400}},
		{"HTTP/0.9 request line", "GET " + tilePath + "\r\n\r\n", []int{400}},
		{"GET with a body holding the victim's request, then a pipelined request",
			get + attacker + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(victim)) + victim + get + "\r\n", []int{400}},
		{"GET with Expect: 100-continue and a body",
			get + attacker + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + victim, []int{400}},
		{"pipelined requests without bodies are served in order",
			get + attacker + "\r\n" + get + attacker + "\r\n", []int{200, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resps := d.exchange(t, tt.raw)
			got := statuses(resps)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("statuses %v, want %v", got, tt.want)
			}
			for _, r := range resps {
				if r.status == http.StatusOK && bytes.Equal(r.body, worldTile) && r.header.Get("Ratelimit") == "" {
					t.Errorf("a tile was served without a key's rate limit")
				}
			}
		})
	}
	// The victim's key appeared only inside attacks: no request was ever
	// authenticated by it.
	if redacted := apikey.Redact(d.good); strings.Contains(d.reqLog.String(), redacted) {
		t.Errorf("a smuggled request was served under the victim's key:\n%s", d.reqLog.String())
	}
	d.conns.waitClosed(t, "")
	d.assertServes(t)
	d.assertLogsClean(t)
}

// TestHostileHugeHeaders checks the header limits with the default
// MaxHeaderBytes: anything beyond it is a 431 and a closed connection,
// whether one huge field, a huge target, a 1 MB key or thousands of small
// fields; oversized keys that fit are a 401, and many small fields that fit
// are served.
func TestHostileHugeHeaders(t *testing.T) {
	d := startHostileDaemon(t, hostileOptions{})
	limit := config.Defaults().Server.MaxHeaderBytes
	const host = "Host: tiles.test\r\n"
	get := "GET " + tilePath + " HTTP/1.1\r\n" + host
	bearer := "Authorization: Bearer " + d.other + "\r\n"
	oneMB := "mpw_pk_" + strings.Repeat("A", 1<<20)
	tests := []struct {
		name string
		raw  string
		want []int
	}{
		{"one field twice the limit", get + bearer + "X-Big: " + strings.Repeat("b", 2*limit) + "\r\n\r\n", []int{431}},
		{"a target twice the limit", "GET " + tilePath + "?pad=" + strings.Repeat("p", 2*limit) + " HTTP/1.1\r\n" + host + bearer + "\r\n", []int{431}},
		{"a key query of 1 MB", "GET " + tilePath + "?key=" + oneMB + " HTTP/1.1\r\n" + host + "\r\n", []int{431}},
		{"an Authorization of 1 MB", get + "Authorization: Bearer " + oneMB + "\r\n\r\n", []int{431}},
		{"thousands of small fields", get + bearer + strings.Repeat("X-A: b\r\n", 5000) + "\r\n", []int{431}},
		{"a thousand small fields under the limit", get + bearer + strings.Repeat("X-A: b\r\n", 1000) + "\r\n", []int{200, 200}},
		{"a malformed key query under the limit", "GET " + tilePath + "?key=" + oneMB[:limit/2] + " HTTP/1.1\r\n" + host + "\r\n", []int{401, 200}},
		{"a malformed Authorization under the limit", get + "Authorization: Bearer " + oneMB[:limit/2] + "\r\n\r\n", []int{401, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statuses(d.exchange(t, tt.raw)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("statuses %v, want %v", got, tt.want)
			}
		})
	}
	d.conns.waitClosed(t, "")
	d.assertServes(t)
	d.assertLogsClean(t, oneMB[:limit/2])
}

// trickle writes prefix, then unit every interval, until a write fails or
// stop closes.
func trickle(c net.Conn, prefix, unit string, interval time.Duration, stop <-chan struct{}) {
	if _, err := io.WriteString(c, prefix); err != nil {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := io.WriteString(c, unit); err != nil {
				return
			}
		}
	}
}

// readUntilClosed reads what the server sends until it closes the
// connection; the read deadline only keeps a broken server from hanging
// the test.
func readUntilClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if isTimeout(err) {
		t.Fatalf("the server kept a slow connection open (read %d bytes)", buf.Len())
	}
	return buf.Bytes()
}

// TestHostileSlowHeaders runs slowloris against a listener with a short
// ReadHeaderTimeout and IdleTimeout: clients trickling header bytes, one
// that stalls mid request line, one that never sends and one that idles
// after a request are all cut off without an answer, and meanwhile the
// server keeps serving others.
func TestHostileSlowHeaders(t *testing.T) {
	d := startHostileDaemon(t, hostileOptions{timeouts: func(s *config.ServerTimeouts) {
		s.ReadHeaderTimeout = 300 * time.Millisecond
		s.IdleTimeout = 300 * time.Millisecond
	}})
	stop := make(chan struct{})
	defer close(stop)
	const slow = 16
	conns := make([]net.Conn, slow)
	for i := range conns {
		conns[i] = d.dial(t, "")
		go trickle(conns[i], "GET "+tilePath+" HTTP/1.1\r\nHost: tiles.test\r\nX-Slow: ", "a", 10*time.Millisecond, stop)
	}
	// While every slow client holds its connection, others are served.
	for range 5 {
		d.assertServes(t)
	}
	for i, c := range conns {
		if got := readUntilClosed(t, c); len(got) != 0 {
			t.Errorf("slow client %d got an answer: %.80q", i, got)
		}
	}

	stalled := d.dial(t, "")
	if _, err := io.WriteString(stalled, "GET "+tilePath+" HT"); err != nil {
		t.Fatal(err)
	}
	silent := d.dial(t, "")
	// The HTTP server answers a request line cut short by the timeout
	// with a 400 before it closes.
	if got := readUntilClosed(t, stalled); len(got) != 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) {
		t.Errorf("stalled request line got %.80q, want nothing or a 400", got)
	}
	if got := readUntilClosed(t, silent); len(got) != 0 {
		t.Errorf("silent connection got an answer: %.80q", got)
	}

	idle := d.dial(t, "")
	if _, err := io.WriteString(idle, "GET "+tilePath+" HTTP/1.1\r\nHost: tiles.test\r\nAuthorization: Bearer "+d.good+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	resps, err := readResponses(idle)
	if isTimeout(err) || len(resps) != 1 || resps[0].status != http.StatusOK {
		t.Fatalf("idle keep-alive client: %v, %v", statuses(resps), err)
	}
	d.conns.waitClosed(t, "")
	d.assertServes(t)
	d.assertLogsClean(t)
}

// TestHostileSlowBody sends bodies slowly to a listener with a short
// ReadTimeout: the request is refused at once (no route takes a body), and
// the connection is closed once the server has waited ReadTimeout for the
// rest of a body it only drains, never for the client's pace.
func TestHostileSlowBody(t *testing.T) {
	d := startHostileDaemon(t, hostileOptions{timeouts: func(s *config.ServerTimeouts) {
		s.ReadTimeout = 400 * time.Millisecond
	}})
	stop := make(chan struct{})
	defer close(stop)
	head := "GET " + tilePath + " HTTP/1.1\r\nHost: tiles.test\r\nAuthorization: Bearer " + d.other + "\r\n"
	tests := []struct {
		name   string
		prefix string
		unit   string
	}{
		{"declared length, trickled", head + "Content-Length: 100000\r\n\r\n", "a"},
		{"chunked, trickled", head + "Transfer-Encoding: chunked\r\n\r\n", "1\r\na\r\n"},
		{"declared length beyond what the server drains", head + "Content-Length: 100000000\r\n\r\n", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := d.dial(t, "")
			go trickle(c, tt.prefix, tt.unit, 10*time.Millisecond, stop)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resps, err := readResponses(c)
			if isTimeout(err) {
				t.Fatalf("the server kept the slow body's connection open; responses %v", statuses(resps))
			}
			if got := statuses(resps); fmt.Sprint(got) != "[400]" {
				t.Fatalf("statuses %v, want [400]", got)
			}
			if !resps[0].close {
				t.Errorf("the 400 did not say Connection: close")
			}
			d.conns.waitClosed(t, c.LocalAddr().String())
			d.assertServes(t)
		})
	}
	d.conns.waitClosed(t, "")
	d.assertLogsClean(t)
}

// TestHostileSlowReader asks for a large tile and never reads it: with a
// short WriteTimeout the server gives up on the write and closes the
// connection, the client gets a truncated body, and meanwhile others are
// served.
func TestHostileSlowReader(t *testing.T) {
	d := startHostileDaemon(t, hostileOptions{bigTile: 4 << 20, timeouts: func(s *config.ServerTimeouts) {
		s.WriteTimeout = time.Second
	}})
	c := d.dial(t, "")
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(8 << 10)
	}
	if _, err := io.WriteString(c, "GET /v1/tiles/big/0/0/0.png HTTP/1.1\r\nHost: tiles.test\r\nAuthorization: Bearer "+d.other+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// While the server is stuck writing to the slow reader, others are
	// served.
	for range 3 {
		d.assertServes(t)
	}
	d.conns.waitClosed(t, c.LocalAddr().String())
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resps, err := readResponses(c)
	if isTimeout(err) {
		t.Fatal("the slow reader's connection stayed open")
	}
	if len(resps) != 1 || resps[0].status != http.StatusOK {
		t.Fatalf("statuses %v, want one truncated 200", statuses(resps))
	}
	if got := len(resps[0].body); got >= d.bigSize {
		t.Errorf("the slow reader got all %d bytes; the write was not cut", got)
	}
	d.conns.waitClosed(t, "")
	d.assertServes(t)
	d.assertLogsClean(t)
}

// TestHostileTLSListener repeats the slow and malformed cases on a TLS
// listener: a connection that never starts the handshake is cut by the
// header timeout, plain HTTP and garbage get a 400 or a close, smuggling
// shapes inside TLS are refused like on plain HTTP, and the daemon's log
// (which carries the HTTP server's own error log) never names a client's
// full address.
func TestHostileTLSListener(t *testing.T) {
	d := startHostileDaemon(t, hostileOptions{tls: true, timeouts: func(s *config.ServerTimeouts) {
		s.ReadHeaderTimeout = 300 * time.Millisecond
	}})
	rawDial := func() net.Conn { return d.dialTCP(t, "") }

	silent := rawDial()
	garbage := rawDial()
	if _, err := garbage.Write([]byte("\x16\x03\x01\x00\x05hello, not a handshake")); err != nil {
		t.Fatal(err)
	}
	plain := rawDial()
	if _, err := io.WriteString(plain, "GET "+tilePath+" HTTP/1.1\r\nHost: tiles.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	d.assertServes(t)
	if got := readUntilClosed(t, silent); len(got) != 0 {
		t.Errorf("a connection that never started TLS got %q", got)
	}
	readUntilClosed(t, garbage)
	if got := readUntilClosed(t, plain); !bytes.HasPrefix(got, []byte("HTTP/1.0 400 ")) {
		t.Errorf("plain HTTP on the TLS listener got %.80q, want a 400", got)
	}

	smuggled := "GET " + tilePath + " HTTP/1.1\r\nHost: tiles.test\r\nAuthorization: Bearer " + d.other +
		"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET " + tilePath + " HTTP/1.1\r\nHost: tiles.test\r\nAuthorization: Bearer " + d.good + "\r\n\r\n"
	if got := statuses(d.exchange(t, smuggled)); fmt.Sprint(got) != "[400]" {
		t.Errorf("smuggling inside TLS: statuses %v, want [400]", got)
	}
	if got := statuses(d.exchange(t, "GET "+tilePath+" HTTP/1.1\r\nHost: tiles.test\r\nX-Big: "+strings.Repeat("b", 64<<10)+"\r\n\r\n")); fmt.Sprint(got) != "[431]" {
		t.Errorf("huge header inside TLS: statuses %v, want [431]", got)
	}
	d.conns.waitClosed(t, "")
	d.assertServes(t)
	if !strings.Contains(d.daemonLog.String(), "TLS handshake error") {
		t.Fatalf("failed handshakes were not logged:\n%s", d.daemonLog.String())
	}
	d.assertLogsClean(t)
}

// TestHostileFloodOverTCP floods the listener with malformed keys from
// 127.0.0.1: after the default failure burst its /24 gets 429 with
// Retry-After, while a valid key from another loopback /24 (127.0.1.1) is
// served.
func TestHostileFloodOverTCP(t *testing.T) {
	// A slow refill, so that no token comes back while the test runs.
	d := startHostileDaemon(t, hostileOptions{authFailRPS: 0.001})
	burst := config.Defaults().RateLimit.AuthFailBurst
	c := d.dial(t, "")
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var raw strings.Builder
	for i := range 3 * burst {
		fmt.Fprintf(&raw, "GET %s?key=mpw_pk_%d HTTP/1.1\r\nHost: tiles.test\r\n\r\n", tilePath, i)
	}
	raw.WriteString(sentinel)
	go func() { _, _ = io.WriteString(c, raw.String()) }()
	resps, err := readResponses(c)
	if err != nil || len(resps) != 3*burst+1 {
		t.Fatalf("%d responses, %v", len(resps), err)
	}
	for i, r := range resps[:3*burst] {
		want := http.StatusUnauthorized
		if i >= burst {
			want = http.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("flood request %d: status %d, want %d", i, r.status, want)
		}
		if want == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
			t.Errorf("429 %d without Retry-After", i)
		}
	}
	if status, h := d.get(t, tilePath, d.good, ""); status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("valid key from the flooding /24: status %d, Retry-After %q; want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	if status, _ := d.get(t, tilePath, d.good, "127.0.1.1"); status != http.StatusOK {
		t.Errorf("valid key from another /24: status %d, want 200", status)
	}
	d.conns.waitClosed(t, "")
	d.assertLogsClean(t)
}

// TestServerTimeoutDefaults checks that every limit of the daemon's
// http.Servers is set by default: a zero would mean no limit at all.
func TestServerTimeoutDefaults(t *testing.T) {
	def := config.Defaults().Server
	fields := map[string]int64{
		"ReadHeaderTimeout": int64(def.ReadHeaderTimeout),
		"ReadTimeout":       int64(def.ReadTimeout),
		"WriteTimeout":      int64(def.WriteTimeout),
		"IdleTimeout":       int64(def.IdleTimeout),
		"MaxHeaderBytes":    int64(def.MaxHeaderBytes),
		"ShutdownTimeout":   int64(def.ShutdownTimeout),
	}
	for name, v := range fields {
		if v <= 0 {
			t.Errorf("default %s is %d: unlimited", name, v)
		}
	}
	if def.ReadHeaderTimeout > def.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %v exceeds ReadTimeout %v", def.ReadHeaderTimeout, def.ReadTimeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := NewServer(slog.New(slog.DiscardHandler), def)
	for _, tlsConf := range []*tls.Config{nil, {MinVersion: tls.VersionTLS12}} {
		hs := srv.Add("public", ln, http.NotFoundHandler(), tlsConf)
		if hs.ReadHeaderTimeout != def.ReadHeaderTimeout || hs.ReadTimeout != def.ReadTimeout ||
			hs.WriteTimeout != def.WriteTimeout || hs.IdleTimeout != def.IdleTimeout || hs.MaxHeaderBytes != def.MaxHeaderBytes {
			t.Errorf("TLS %v: http.Server limits %v %v %v %v %d differ from the config", tlsConf != nil,
				hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
		}
		if hs.ErrorLog == nil {
			t.Errorf("TLS %v: no error log", tlsConf != nil)
		}
	}
}

func TestScrubAddrs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http: TLS handshake error from 203.0.113.7:5123: EOF", "http: TLS handshake error from 203.0.113.0/24: EOF"},
		{"read tcp 192.0.2.1:8443->198.51.100.77:40000: i/o timeout", "read tcp 192.0.2.0/24->198.51.100.0/24: i/o timeout"},
		{"http: TLS handshake error from [2001:db8:abcd:12::7]:443: EOF", "http: TLS handshake error from 2001:db8:abcd::/48: EOF"},
		{"from [::ffff:203.0.113.9]:1", "from 203.0.113.0/24"},
		{"from [fe80::1%eth0]:22", "from fe80::/48"},
		{"bare 203.0.113.7 too", "bare 203.0.113.0/24 too"},
		{"already a network: 203.0.113.0/24", "already a network: 203.0.113.0/24"},
		{"version 1.2.3.4.5 stays", "version 1.2.3.4.5 stays"},
		{"not an address: 999.1.2.3:4 or [not:an:addr] or go1.26.8.1", "not an address: 999.1.2.3:4 or [not:an:addr] or go1.26.8.1"},
		{"nothing to do", "nothing to do"},
	}
	for _, tt := range tests {
		if got := scrubAddrs(tt.in); got != tt.want {
			t.Errorf("scrubAddrs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzScrubAddrs(f *testing.F) {
	for _, s := range []string{
		"http: TLS handshake error from 203.0.113.7:5123: EOF", "[2001:db8::1]:443", "[::ffff:1.2.3.4]", "1.2.3.4.5.6",
		"[", "]:1", "%", "[::1%]:1", "255.255.255.255:65536",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		out := scrubAddrs(msg)
		if again := scrubAddrs(out); again != out {
			t.Fatalf("scrubAddrs not idempotent: %q -> %q -> %q", msg, out, again)
		}
		// A client address standing on its own never survives, whatever
		// surrounds it.
		const host = " 203.0.113.7:5123 "
		if got := scrubAddrs(msg + host + msg); strings.Contains(got, host) {
			t.Fatalf("left the address in %q", got)
		}
	})
}
