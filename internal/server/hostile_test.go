package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// The hostile-input tests run the public handler over the real key service
// (SQLite store, audit chain, failure aggregator) and a real catalog, with
// a store wrapper that counts key lookups: the database work an attacker
// can cause.

// countingStore counts the key lookups by hash that reach the database.
type countingStore struct {
	store.Store
	lookups atomic.Int64
}

func (c *countingStore) GetKeyByHash(ctx context.Context, h [32]byte) (store.Key, error) {
	c.lookups.Add(1)
	return c.Store.GetKeyByHash(ctx, h)
}

func (c *countingStore) GetKeysByHashes(ctx context.Context, hs [][32]byte) ([]store.Key, error) {
	c.lookups.Add(int64(len(hs)))
	return c.Store.GetKeysByHashes(ctx, hs)
}

// aggRecorder feeds refusals into the audit aggregator, as the daemon does.
type aggRecorder struct{ agg *audit.Aggregator }

func (r aggRecorder) RecordAuthFailure(_ context.Context, f AuthFailure) {
	r.agg.Record(audit.Failure{Action: audit.ActionAuthFailure, Reason: f.Reason, KeyID: f.KeyID,
		KeyStart: f.KeyStart, ClientIP: f.ClientIP, Time: f.Time})
}

func (r aggRecorder) RecordKeyMisuse(_ context.Context, ev MisuseEvent) {
	r.agg.Record(audit.Failure{Action: audit.ActionKeyMisuse, Reason: ReasonSecretKey,
		KeyStart: ev.KeyStart, ClientIP: ev.ClientIP, Time: ev.Time})
}

// outsideTile is the one tile of an archive kept beside, not inside, the
// tiles directory: no request may ever get it back, except through a
// symbolic link the operator made.
var outsideTile = []byte("\x89PNG\r\n\x1a\n a tile from outside the tiles directory")

// hostileStack is the public handler over real keys, audit and tiles.
type hostileStack struct {
	h          http.Handler
	svc        *keys.Service
	st         *countingStore
	auditKey   []byte
	agg        *audit.Aggregator
	catalog    *tiles.Catalog
	logs       *testenv.Buffer
	clock      atomic.Int64 // Unix nanoseconds, frozen between advances
	good       keys.Issued  // may read every tileset, no origins
	tilesDir   string
	outsideDir string
}

// newHostileStack builds the stack. The tiles directory holds roads (MVT,
// gzip) and sat (PNG); outside it, a sibling directory holds secret.pmtiles
// and secret.txt. prepare, when set, may add files (links) to the tiles
// directory before the catalog scans it. Failed-authentication limits are
// the server defaults (1/s, burst 20).
func newHostileStack(t *testing.T, public []string, prepare func(tilesDir, outsideDir string)) *hostileStack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "mapwright.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cs := &countingStore{Store: st}
	key, err := audit.OpenKey(ctx, dir, st)
	if err != nil {
		t.Fatal(err)
	}
	alog := audit.New(key, nil)
	hs := &hostileStack{
		svc: keys.New(cs, alog, keys.Options{}), st: cs, auditKey: key,
		agg: audit.NewAggregator(alog, cs, nil, 0), logs: &testenv.Buffer{},
		tilesDir: filepath.Join(dir, "tiles"), outsideDir: filepath.Join(dir, "outside"),
	}
	for _, d := range []string{hs.tilesDir, hs.outsideDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	meta := map[string]any{"name": "Roads", "vector_layers": []any{map[string]any{"id": "roads", "fields": map[string]any{}}}}
	writeArchive(t, filepath.Join(hs.tilesDir, "roads.pmtiles"), pmtiles.TileTypeMVT, pmtiles.CompressionGzip, meta,
		[]pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: gz(t, mvtTile)}, {Z: 3, X: 4, Y: 2, Data: gz(t, mvtTile)}})
	writeArchive(t, filepath.Join(hs.tilesDir, "sat.pmtiles"), pmtiles.TileTypePNG, pmtiles.CompressionNone, nil,
		[]pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile}})
	writeArchive(t, filepath.Join(hs.outsideDir, "secret.pmtiles"), pmtiles.TileTypePNG, pmtiles.CompressionNone, nil,
		[]pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: outsideTile}})
	if err := os.WriteFile(filepath.Join(hs.outsideDir, "secret.txt"), outsideTile, 0o644); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(hs.tilesDir, hs.outsideDir)
	}
	hs.catalog = tiles.Open(hs.tilesDir, nil)
	t.Cleanup(func() { _ = hs.catalog.Close() })
	hs.h = New(Options{
		Tilesets:            FromCatalog(hs.catalog),
		Keys:                hs.svc,
		PublicTilesets:      public,
		Logger:              slog.New(slog.NewJSONHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MisuseRecorder:      aggRecorder{hs.agg},
		AuthFailureRecorder: aggRecorder{hs.agg},
		Now:                 func() time.Time { return time.Unix(0, hs.clock.Load()) },
	})
	hs.good = hs.issue(t, keys.IssueRequest{Name: "good"})
	return hs
}

// issue creates a key and moves the frozen clock to now, so the key is
// already valid at the time requests carry.
func (hs *hostileStack) issue(t *testing.T, req keys.IssueRequest) keys.Issued {
	t.Helper()
	if req.Kind == 0 {
		req.Kind = apikey.Public
	}
	iss, err := hs.svc.Issue(context.Background(), req, keys.Actor{Name: "unix:1000(test)"})
	if err != nil {
		t.Fatal(err)
	}
	hs.clock.Store(time.Now().UnixNano())
	return iss
}

func (hs *hostileStack) advance(d time.Duration) { hs.clock.Add(int64(d)) }

// hostileReq is one request: target is the raw request target (escaped
// path and query), remote the client's address.
type hostileReq struct {
	method string
	target string
	bearer string
	remote string
	header map[string]string
}

func (hs *hostileStack) do(t *testing.T, r hostileReq) *httptest.ResponseRecorder {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	hr := httptest.NewRequest(method, "http://tiles.test"+r.target, nil)
	hr.RemoteAddr = r.remote
	if hr.RemoteAddr == "" {
		hr.RemoteAddr = "192.0.2.10:40000"
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, hr)
	if w.Code >= 500 {
		t.Fatalf("%s %.80q: status %d: %s", method, r.target, w.Code, w.Body.String())
	}
	return w
}

// assertServes checks that the stack still does its job: the good key gets
// a tile, from a network nobody attacked from.
func (hs *hostileStack) assertServes(t *testing.T) {
	t.Helper()
	w := hs.do(t, hostileReq{target: "/v1/tiles/roads/3/4/2.mvt", bearer: hs.good.Token, remote: "192.0.2.10:40000"})
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), mvtTile) {
		t.Fatalf("good key after the attack: status %d, %d bytes", w.Code, w.Body.Len())
	}
}

// assertAudit writes the aggregated failures and verifies the whole chain;
// it returns the events for further checks.
func (hs *hostileStack) assertAudit(t *testing.T) []store.AuditEvent {
	t.Helper()
	ctx := context.Background()
	if err := hs.agg.Flush(ctx, true); err != nil {
		t.Fatalf("flush aggregated failures: %v", err)
	}
	res, err := audit.Verify(ctx, hs.st, hs.auditKey, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("audit chain after the attack: %+v, %v", res, err)
	}
	var events []store.AuditEvent
	if err := hs.st.ScanAudit(ctx, 1, res.Head.Seq, func(ev store.AuditEvent) error {
		events = append(events, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return events
}

// assertLogClean checks the request log for secrets and full addresses.
func (hs *hostileStack) assertLogClean(t *testing.T, tokens, addrs []string) {
	t.Helper()
	logs := hs.logs.String()
	if logs == "" {
		t.Fatal("nothing was logged")
	}
	for _, tok := range append(tokens, hs.good.Token) {
		secretPart := tok
		if len(tok) > apikey.StartLen {
			secretPart = tok[apikey.StartLen:]
		}
		if len(secretPart) >= 8 && strings.Contains(logs, secretPart) {
			t.Errorf("the request log holds a key beyond its display start: %.20q…", tok)
		}
	}
	for _, a := range addrs {
		if strings.Contains(logs, `"`+a+`"`) || strings.Contains(logs, a+":") {
			t.Errorf("the request log holds the full client address %s", a)
		}
	}
}

func isProblem(w *httptest.ResponseRecorder) bool {
	return w.Header().Get("Content-Type") == "application/problem+json"
}

// TestHostileTraversal sends traversal in every spelling to each route that
// takes a tileset name: always 400 or 404 (401 without a key, 204 for a
// preflight), never a byte of the archive kept outside the tiles directory.
func TestHostileTraversal(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	names := []struct{ name, seg string }{
		{"dot dot", ".."},
		{"dot", "."},
		{"dot dot slash", "../outside/secret"},
		{"dot dot slash to the archive", "..%2Foutside%2Fsecret"},
		{"encoded dot dot slash", "%2e%2e%2foutside%2fsecret"},
		{"encoded dot dot, upper case", "%2E%2E%2Foutside%2Fsecret"},
		{"encoded dots, plain slash", "%2e%2e/outside/secret"},
		{"double-encoded", "%252e%252e%252foutside%252fsecret"},
		{"double-encoded dots only", "%252e%252e"},
		{"backslashes", `..\outside\secret`},
		{"encoded backslashes", "..%5coutside%5csecret"},
		{"NUL", "roads%00"},
		{"NUL before extension", "roads.pmtiles%00"},
		{"overlong UTF-8 dot and slash", "%c0%ae%c0%ae%c0%afoutside%c0%afsecret"},
		{"overlong UTF-8, three bytes", "%e0%80%ae%e0%80%ae%e0%80%af"},
		{"two-dot leader", "%e2%80%a5"},
		{"fullwidth dots and solidus", "%ef%bc%8e%ef%bc%8e%ef%bc%8f"},
		{"absolute path", "/outside/secret"},
		{"encoded absolute path", "%2Foutside%2Fsecret"},
		{"encoded slash in the name", "roads%2F..%2F..%2Foutside%2Fsecret"},
		{"file name with extension", "roads.pmtiles"},
		{"outside archive by name", "secret"},
		{"outside archive with extension", "secret.pmtiles"},
		{"name too long", strings.Repeat("r", MaxTilesetName+1)},
		{"name of 8 KiB", strings.Repeat("r", 8<<10)},
		{"empty name", ""},
		{"space", "roads%20"},
		{"tilde", "~"},
		{"question mark", "roads%3F"},
	}
	type route struct {
		name    string
		method  string
		target  func(seg string) string
		allowed []int
	}
	routes := []route{
		{"tile", http.MethodGet, func(s string) string { return "/v1/tiles/" + s + "/0/0/0.png" }, []int{400, 404}},
		{"tile HEAD", http.MethodHead, func(s string) string { return "/v1/tiles/" + s + "/0/0/0.png" }, []int{400, 404}},
		{"TileJSON", http.MethodGet, func(s string) string { return "/v1/tiles/" + s + ".json" }, []int{400, 404}},
		{"tile preflight", http.MethodOptions, func(s string) string { return "/v1/tiles/" + s + "/0/0/0.png" }, []int{400, 204}},
		{"TileJSON preflight", http.MethodOptions, func(s string) string { return "/v1/tiles/" + s + ".json" }, []int{400, 204}},
	}
	for _, rt := range routes {
		for _, n := range names {
			t.Run(rt.name+"/"+n.name, func(t *testing.T) {
				target := rt.target(n.seg)
				for _, bearer := range []string{hs.good.Token, ""} {
					allowed := rt.allowed
					if bearer == "" && rt.method != http.MethodOptions {
						// Without a key an unknown but well-formed name is
						// 401, so that existence does not leak.
						allowed = append(allowed, 401)
					}
					r := hostileReq{method: rt.method, target: target, bearer: bearer}
					if rt.method == http.MethodOptions {
						r.header = map[string]string{"Origin": "https://maps.example.com", "Access-Control-Request-Method": "GET"}
					}
					w := hs.do(t, r)
					if !containsInt(allowed, w.Code) {
						t.Fatalf("key %v: status %d, want one of %v: %s", bearer != "", w.Code, allowed, w.Body.String())
					}
					if bytes.Contains(w.Body.Bytes(), outsideTile[8:]) {
						t.Fatalf("served the archive outside the tiles directory")
					}
					if w.Code >= 400 && rt.method == http.MethodGet && !isProblem(w) {
						t.Errorf("status %d without a problem body", w.Code)
					}
				}
			})
		}
	}
	// The list names only the catalog's own tilesets.
	w := hs.do(t, hostileReq{target: "/v1/tilesets", bearer: hs.good.Token})
	var list TilesetList
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Tilesets) != 2 {
		t.Fatalf("tileset list %d %s: %v", w.Code, w.Body.String(), err)
	}
	hs.assertServes(t)
	hs.assertAudit(t)
	hs.assertLogClean(t, nil, nil)
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestHostileSymlinks pins what the catalog does with symbolic links in the
// tiles directory: it follows a link to a tileset file (an operator may keep
// a tileset on another volume and link it in, which is documented), and
// refuses a link to a directory, a dangling link and a link to a file that
// is no tileset. Request names are never joined into a path, so a link is
// reachable only under its own name.
func TestHostileSymlinks(t *testing.T) {
	hs := newHostileStack(t, nil, func(tilesDir, outsideDir string) {
		for link, target := range map[string]string{
			"linked.pmtiles":   filepath.Join(outsideDir, "secret.pmtiles"),
			"relative.pmtiles": filepath.Join("..", "outside", "secret.pmtiles"),
			"dir.pmtiles":      outsideDir,
			"dangling.pmtiles": filepath.Join(outsideDir, "missing.pmtiles"),
			"text.pmtiles":     filepath.Join(outsideDir, "secret.txt"),
			"loop.pmtiles":     filepath.Join(tilesDir, "loop.pmtiles"),
		} {
			if err := os.Symlink(target, filepath.Join(tilesDir, link)); err != nil {
				t.Skipf("symbolic links unavailable: %v", err)
			}
		}
	})
	status := map[string]tiles.Status{}
	for _, e := range hs.catalog.List() {
		status[e.Name] = e.Status
	}
	wantStatus := map[string]tiles.Status{
		"roads": tiles.StatusOK, "sat": tiles.StatusOK, "linked": tiles.StatusOK, "relative": tiles.StatusOK,
		"dir": tiles.StatusFailed, "dangling": tiles.StatusFailed, "text": tiles.StatusFailed, "loop": tiles.StatusFailed,
	}
	for name, want := range wantStatus {
		if status[name] != want {
			t.Errorf("catalog entry %q: status %q, want %q", name, status[name], want)
		}
	}
	tests := []struct {
		name   string
		target string
		want   int
		body   []byte
	}{
		{"link to a tileset file is served under the link's name", "/v1/tiles/linked/0/0/0.png", 200, outsideTile},
		{"relative link too", "/v1/tiles/relative/0/0/0.png", 200, outsideTile},
		{"link to a directory", "/v1/tiles/dir/0/0/0.png", 404, nil},
		{"dangling link", "/v1/tiles/dangling/0/0/0.png", 404, nil},
		{"link to a file that is no tileset", "/v1/tiles/text/0/0/0.png", 404, nil},
		{"link to itself", "/v1/tiles/loop/0/0/0.png", 404, nil},
		{"the link target's own name", "/v1/tiles/secret/0/0/0.png", 404, nil},
		{"TileJSON of a link to a directory", "/v1/tiles/dir.json", 404, nil},
		{"traversal through the link", "/v1/tiles/linked/../secret/0/0/0.png", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := hs.do(t, hostileReq{target: tt.target, bearer: hs.good.Token})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if tt.body != nil && !bytes.Equal(w.Body.Bytes(), tt.body) {
				t.Errorf("body %q, want %q", w.Body.Bytes(), tt.body)
			}
			if tt.body == nil && bytes.Contains(w.Body.Bytes(), outsideTile[8:]) {
				t.Errorf("served the linked file's bytes")
			}
		})
	}
	hs.assertServes(t)
}

// TestHostileTileAddresses sends absurd z/x/y and extensions through the
// whole chain with a valid key: 400 for anything off the grid or not
// spelled the one canonical way, 204 for a valid address past the
// tileset's zooms, never a 500 and never a panic.
func TestHostileTileAddresses(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	huge := strings.Repeat("9", 4096)
	tests := []struct {
		name string
		zxy  string
		want int
	}{
		{"zoom 31", "31/0/0.mvt", 400},
		{"zoom 32", "32/0/0.mvt", 400},
		{"zoom 64", "64/0/0.mvt", 400},
		{"zoom beyond 64 bits", "99999999999999999999/0/0.mvt", 400},
		{"zoom of 4096 digits", huge + "/0/0.mvt", 400},
		{"negative zoom", "-1/0/0.mvt", 400},
		{"negative x", "3/-1/0.mvt", 400},
		{"negative y", "3/0/-1.mvt", 400},
		{"minus zero", "3/-0/0.mvt", 400},
		{"leading zero zoom", "03/4/2.mvt", 400},
		{"leading zero x", "3/04/2.mvt", 400},
		{"leading zeros y", "3/4/0002.mvt", 400},
		{"plus sign", "3/+4/2.mvt", 400},
		{"encoded plus sign", "3/%2B4/2.mvt", 400},
		{"hex x", "3/0x4/2.mvt", 400},
		{"hex zoom", "0x3/4/2.mvt", 400},
		{"exponent", "3/4e0/2.mvt", 400},
		{"fraction", "3/4.0/2.mvt", 400},
		{"space-padded", "3/%204/2.mvt", 400},
		{"x at 2^z", "3/8/2.mvt", 400},
		{"y at 2^z", "3/4/8.mvt", 400},
		{"x beyond 64 bits", "30/99999999999999999999/0.mvt", 400},
		{"y beyond int64 at zoom 30", "30/0/9223372036854775808.mvt", 400},
		{"x at 2^30", "30/1073741824/0.mvt", 400},
		{"Arabic-Indic digit", "1/%D9%A1/0.mvt", 400},
		{"fullwidth digit", "1/%EF%BC%91/0.mvt", 400},
		{"missing extension", "3/4/2", 400},
		{"empty extension", "3/4/2.", 400},
		{"unknown extension", "3/4/2.exe", 400},
		{"huge extension", "3/4/2." + strings.Repeat("m", 8<<10), 400},
		{"double extension", "3/4/2.mvt.mvt", 400},
		{"extension with NUL", "3/4/2.mvt%00", 400},
		{"upper-case extension", "3/4/2.MVT", 400},
		{"missing y", "3/4.mvt", 400},
		{"extra segment", "3/4/2/1.mvt", 400},
		{"empty segments", "3//2.mvt", 400},
		{"valid corner of zoom 30, past the tileset's zooms", "30/1073741823/1073741823.mvt", 204},
		{"valid but absent", "3/0/0.mvt", 204},
		{"extension of another format", "3/4/2.png", 404},
		{"valid", "3/4/2.mvt", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := hs.do(t, hostileReq{target: "/v1/tiles/roads/" + tt.zxy, bearer: hs.good.Token})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %.200s", w.Code, tt.want, w.Body.String())
			}
			if w.Code >= 400 && !isProblem(w) {
				t.Errorf("status %d without a problem body", w.Code)
			}
		})
	}
	// The same addresses without a key are refused by the parser first.
	if w := hs.do(t, hostileReq{target: "/v1/tiles/roads/99999999999999999999/0/0.mvt"}); w.Code != 400 {
		t.Errorf("absurd zoom without a key: status %d, want 400", w.Code)
	}
	hs.assertServes(t)
	hs.assertAudit(t)
}

// malformedTokens are tokens apikey.Parse refuses: each must be answered
// without a database lookup.
func malformedTokens(t *testing.T) []string {
	// flip changes a token's last checksum character.
	flip := func(tok string) string {
		last := "A"
		if strings.HasSuffix(tok, last) {
			last = "B"
		}
		return tok[:len(tok)-1] + last
	}
	valid := token(t, apikey.Public)
	return []string{
		"garbage",
		"mpw_pk_",
		valid[:len(valid)-1],
		valid + "A",
		flip(valid),
		flip(token(t, apikey.Secret)),
		valid[:10] + "!" + valid[11:],
		valid[:10] + "é" + valid[12:],
		"mpw_xx_" + valid[7:],
		strings.ToUpper(valid[:7]) + valid[7:],
		valid[:7] + strings.Repeat("0", 36),
		strings.Repeat("a", 8<<10),
		"mpw_pk_" + strings.Repeat("mpw_pk_", 100),
		" " + valid + " x",
	}
}

// TestHostileMalformedKeyFlood floods one client network with malformed
// keys by query and by header: none reaches the database, and once the
// network's failure burst is spent it gets 429 with Retry-After, while
// other networks are served.
func TestHostileMalformedKeyFlood(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	hs.assertServes(t) // warm the good key
	base := hs.st.lookups.Load()
	bad := malformedTokens(t)
	var addrs []string
	for i := range 3 * DefaultAuthFailBurst {
		tok := bad[i%len(bad)]
		remote := fmt.Sprintf("198.51.100.%d:%d", 1+i%200, 30000+i)
		addrs = append(addrs, remote[:strings.IndexByte(remote, ':')])
		r := hostileReq{target: "/v1/tiles/roads/0/0/0.mvt", remote: remote}
		if i%2 == 0 {
			r.target += "?key=" + url.QueryEscape(tok)
		} else {
			r.bearer = tok
		}
		w := hs.do(t, r)
		switch {
		case i < DefaultAuthFailBurst:
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("malformed key %d: status %d, want 401: %s", i, w.Code, w.Body.String())
			}
		default:
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("malformed key %d after the burst: status %d, want 429", i, w.Code)
			}
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("429 with Retry-After %q", w.Header().Get("Retry-After"))
			}
		}
		if i%10 == 0 {
			hs.assertServes(t) // another network meanwhile
		}
	}
	if n := hs.st.lookups.Load() - base; n != 0 {
		t.Errorf("malformed keys cost %d database lookups, want 0", n)
	}
	// The flooding network waits like everyone behind it (documented), and
	// is served again once its bucket has a token.
	if w := hs.do(t, hostileReq{target: "/v1/tiles/roads/0/0/0.mvt", bearer: hs.good.Token, remote: "198.51.100.250:1"}); w.Code != http.StatusTooManyRequests {
		t.Errorf("valid key from the blocked network: status %d, want 429", w.Code)
	}
	hs.advance(2 * time.Second)
	if w := hs.do(t, hostileReq{target: "/v1/tiles/roads/0/0/0.mvt", bearer: hs.good.Token, remote: "198.51.100.250:1"}); w.Code != http.StatusOK {
		t.Errorf("valid key from the network after the refill: status %d, want 200", w.Code)
	}
	hs.assertServes(t)
	events := hs.assertAudit(t)
	assertAggregated(t, events, bad)
	hs.assertLogClean(t, bad, addrs)
}

// assertAggregated checks the audit events written for a flood: a handful
// of aggregated auth.failure events, not one per request, each with a
// truncated network and no token.
func assertAggregated(t *testing.T, events []store.AuditEvent, tokens []string) {
	t.Helper()
	failures := 0
	for _, ev := range events {
		if ev.Action != audit.ActionAuthFailure {
			continue
		}
		failures++
		if ev.ClientIP != "" && !strings.HasSuffix(ev.ClientIP, ".0") && !strings.HasSuffix(ev.ClientIP, "::") {
			t.Errorf("audit event %d: client %q is not truncated", ev.Seq, ev.ClientIP)
		}
		b, _ := json.Marshal(ev)
		for _, tok := range tokens {
			if len(tok) > apikey.StartLen+8 && bytes.Contains(b, []byte(tok[apikey.StartLen:])) {
				t.Errorf("audit event %d holds a token", ev.Seq)
			}
		}
	}
	if failures == 0 || failures > 6 {
		t.Errorf("%d auth.failure events, want a few aggregated ones", failures)
	}
}

// TestHostileUnknownKeyFlood floods with checksum-valid tokens that were
// never issued: each costs at most one lookup until the network's failure
// burst is spent, then 429 with Retry-After and no lookup at all; a token
// repeated is answered from the negative cache; another network's valid key
// keeps getting 200 throughout.
func TestHostileUnknownKeyFlood(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	hs.assertServes(t)
	base := hs.st.lookups.Load()
	var sent []string
	for i := range 5 * DefaultAuthFailBurst {
		tok := token(t, apikey.Public)
		sent = append(sent, tok)
		w := hs.do(t, hostileReq{target: "/v1/tiles/roads/0/0/0.mvt?key=" + tok, remote: "198.51.100.7:5000"})
		want := http.StatusUnauthorized
		if i >= DefaultAuthFailBurst {
			want = http.StatusTooManyRequests
		}
		if w.Code != want {
			t.Fatalf("unknown key %d: status %d, want %d", i, w.Code, want)
		}
		if want == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("429 with Retry-After %q", w.Header().Get("Retry-After"))
			}
			if p := problemOf(t, w); p.Type != ProblemTypePrefix+probAuthFailures {
				t.Fatalf("problem %q", p.Type)
			}
		}
		hs.assertServes(t)
	}
	if n := hs.st.lookups.Load() - base; n > DefaultAuthFailBurst {
		t.Errorf("%d unknown keys cost %d lookups, want at most the failure burst %d", len(sent), n, DefaultAuthFailBurst)
	}

	// One unknown token repeated from a fresh network: one lookup, then
	// the negative cache.
	base = hs.st.lookups.Load()
	repeated := token(t, apikey.Public)
	sent = append(sent, repeated)
	for i := range DefaultAuthFailBurst {
		if w := hs.do(t, hostileReq{target: "/v1/tiles/roads.json", bearer: repeated, remote: "203.0.113.9:5000"}); w.Code != http.StatusUnauthorized {
			t.Fatalf("repeated unknown key %d: status %d", i, w.Code)
		}
	}
	if n := hs.st.lookups.Load() - base; n != 1 {
		t.Errorf("a repeated unknown key cost %d lookups, want 1", n)
	}
	if w := hs.do(t, hostileReq{target: "/v1/tiles/roads.json", bearer: repeated, remote: "203.0.113.9:5000"}); w.Code != http.StatusTooManyRequests {
		t.Errorf("repeated unknown key after the burst: status %d, want 429", w.Code)
	}
	hs.assertServes(t)
	events := hs.assertAudit(t)
	assertAggregated(t, events, sent)
	hs.assertLogClean(t, sent, []string{"198.51.100.7", "203.0.113.9"})
}

// TestHostileFloodFromOneNetwork spreads unknown keys over many source
// addresses of one IPv4 /24 and one IPv6 /48: each network is limited as
// one client, and its neighbours are not.
func TestHostileFloodFromOneNetwork(t *testing.T) {
	tests := []struct {
		name      string
		addr      func(i int) string
		sameNet   string
		neighbour string
	}{
		{"IPv4 /24", func(i int) string { return fmt.Sprintf("203.0.113.%d:%d", 1+i%254, 1024+i) },
			"203.0.113.255:1", "203.0.114.1:1"},
		{"IPv6 /48", func(i int) string { return fmt.Sprintf("[2001:db8:7:%x::%x]:%d", i, i*7+1, 1024+i) },
			"[2001:db8:7:ffff:ffff::1]:1", "[2001:db8:8::1]:1"},
		{"IPv4-mapped IPv6 counts as its IPv4 network", func(i int) string {
			if i%2 == 0 {
				return fmt.Sprintf("[::ffff:198.51.100.%d]:%d", 1+i%254, 1024+i)
			}
			return fmt.Sprintf("198.51.100.%d:%d", 1+i%254, 1024+i)
		}, "198.51.100.200:1", "198.51.101.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHostileStack(t, nil, nil)
			hs.assertServes(t)
			base := hs.st.lookups.Load()
			var sent, addrs []string
			for i := range 4 * DefaultAuthFailBurst {
				tok := token(t, apikey.Public)
				sent = append(sent, tok)
				remote := tt.addr(i)
				addrs = append(addrs, remote[:strings.LastIndexByte(remote, ':')])
				w := hs.do(t, hostileReq{target: "/v1/tiles/sat/0/0/0.png", bearer: tok, remote: remote})
				want := http.StatusUnauthorized
				if i >= DefaultAuthFailBurst {
					want = http.StatusTooManyRequests
				}
				if w.Code != want {
					t.Fatalf("request %d from %s: status %d, want %d", i, remote, w.Code, want)
				}
			}
			if n := hs.st.lookups.Load() - base; n > DefaultAuthFailBurst {
				t.Errorf("%d lookups, want at most %d", n, DefaultAuthFailBurst)
			}
			if w := hs.do(t, hostileReq{target: "/v1/tiles/sat/0/0/0.png", bearer: hs.good.Token, remote: tt.sameNet}); w.Code != http.StatusTooManyRequests {
				t.Errorf("valid key from another address of the network: status %d, want 429", w.Code)
			}
			if w := hs.do(t, hostileReq{target: "/v1/tiles/sat/0/0/0.png", bearer: hs.good.Token, remote: tt.neighbour}); w.Code != http.StatusOK {
				t.Errorf("valid key from the neighbouring network: status %d, want 200", w.Code)
			}
			hs.assertServes(t)
			hs.assertAudit(t)
			hs.assertLogClean(t, sent, addrs)
		})
	}
}

// TestHostileConcurrentFlood floods one network from many goroutines with
// unknown and malformed keys while a valid key is used from elsewhere:
// only 401 and 429 for the flood, every valid request served, and lookups
// bounded by the burst plus the requests already past the check when the
// bucket emptied.
func TestHostileConcurrentFlood(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	hs.assertServes(t)
	base := hs.st.lookups.Load()
	const workers, perWorker = 8, 40
	bad := malformedTokens(t)
	flood := make([][]string, workers)
	for g := range flood {
		for i := range perWorker {
			tok := bad[(g+i)%len(bad)]
			if i%2 == 0 {
				tok = token(t, apikey.Public)
			}
			flood[g] = append(flood[g], tok)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, workers*perWorker+perWorker)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, tok := range flood[g] {
				r := httptest.NewRequest(http.MethodGet, "http://tiles.test/v1/tiles/roads/0/0/0.mvt", nil)
				r.RemoteAddr = fmt.Sprintf("198.51.100.%d:%d", 1+g, 2000+i)
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				hs.h.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized && w.Code != http.StatusTooManyRequests {
					errs <- fmt.Sprintf("flood request: status %d", w.Code)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range perWorker {
			r := httptest.NewRequest(http.MethodGet, "http://tiles.test/v1/tiles/roads/0/0/0.mvt", nil)
			r.RemoteAddr = "192.0.2.44:443"
			r.Header.Set("Authorization", "Bearer "+hs.good.Token)
			w := httptest.NewRecorder()
			hs.h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				errs <- fmt.Sprintf("valid key during the flood: status %d", w.Code)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := hs.st.lookups.Load() - base; n > DefaultAuthFailBurst+workers {
		t.Errorf("%d lookups, want at most %d", n, DefaultAuthFailBurst+workers)
	}
	hs.assertServes(t)
	hs.assertAudit(t)
}

// TestHostileLargeCredentials sends oversized keys that fit under the
// listener's header limit (the limit itself is the daemon's test): each is
// a 401 without a lookup, never a 500.
func TestHostileLargeCredentials(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	hs.assertServes(t)
	base := hs.st.lookups.Load()
	big := "mpw_pk_" + strings.Repeat("A", 12<<10)
	tests := []struct {
		name string
		r    hostileReq
		want int
	}{
		{"12 KiB key by query", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt?key=" + big}, 401},
		{"12 KiB key by header", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt", bearer: big}, 401},
		{"12 KiB percent-encoded key", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt?key=" + strings.Repeat("%41", 4<<10)}, 401},
		{"broken percent-encoding", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt?key=%zz" + big}, 400},
		{"many key parameters, one value", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt?" + strings.Repeat("key=x&", 2000) + "key=x"}, 401},
		{"many key parameters, two values", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt?" + strings.Repeat("key=x&", 2000) + "key=y"}, 400},
		{"12 KiB Authorization of another scheme", hostileReq{target: "/v1/tiles/roads/0/0/0.mvt",
			header: map[string]string{"Authorization": "Basic " + strings.Repeat("Q", 12<<10)}}, 401},
		{"12 KiB key on the list", hostileReq{target: "/v1/tilesets", bearer: big}, 401},
		{"12 KiB key on TileJSON", hostileReq{target: "/v1/tiles/roads.json?key=" + big}, 401},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.remote = fmt.Sprintf("100.64.%d.1:1", i)
			if w := hs.do(t, tt.r); w.Code != tt.want {
				t.Fatalf("status %d, want %d: %.200s", w.Code, tt.want, w.Body.String())
			}
		})
	}
	if n := hs.st.lookups.Load() - base; n != 0 {
		t.Errorf("oversized keys cost %d lookups, want 0", n)
	}
	hs.assertServes(t)
	hs.assertAudit(t)
	hs.assertLogClean(t, []string{big}, nil)
}

// TestHostileRequestBody refuses any request that carries a body with 400
// and Connection: close, whatever route or method it names.
func TestHostileRequestBody(t *testing.T) {
	hs := newHostileStack(t, nil, nil)
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		chunked bool
	}{
		{"GET tile with a body", http.MethodGet, "/v1/tiles/roads/0/0/0.mvt", "GET /v1/tiles/roads/0/0/0.mvt HTTP/1.1\r\n\r\n", false},
		{"GET tile, chunked", http.MethodGet, "/v1/tiles/roads/0/0/0.mvt", "x", true},
		{"chunked and empty", http.MethodGet, "/v1/tiles/roads/0/0/0.mvt", "", true},
		{"GET TileJSON with a body", http.MethodGet, "/v1/tiles/roads.json", "{}", false},
		{"GET list with a body", http.MethodGet, "/v1/tilesets", "x", false},
		{"POST livez", http.MethodPost, "/livez", "x", false},
		{"OPTIONS with a body", http.MethodOptions, "/v1/tiles/roads/0/0/0.mvt", "x", false},
		{"unknown path with a body", http.MethodPut, "/admin/v1/keys", `{"name":"x"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://tiles.test"+tt.target, strings.NewReader(tt.body))
			r.Header.Set("Authorization", "Bearer "+hs.good.Token)
			if tt.chunked {
				r.ContentLength = -1
				r.TransferEncoding = []string{"chunked"}
			}
			w := serve(hs.h, r)
			if w.Code != http.StatusBadRequest || w.Header().Get("Connection") != "close" {
				t.Fatalf("status %d, Connection %q; want 400 and close", w.Code, w.Header().Get("Connection"))
			}
			problemOf(t, w)
		})
	}
	// An explicit empty body is no body.
	r := httptest.NewRequest(http.MethodGet, "http://tiles.test/v1/tiles/roads/0/0/0.mvt", strings.NewReader(""))
	r.Header.Set("Authorization", "Bearer "+hs.good.Token)
	if w := serve(hs.h, r); w.Code != http.StatusOK {
		t.Errorf("GET with Content-Length 0: status %d, want 200", w.Code)
	}
	hs.assertServes(t)
}
