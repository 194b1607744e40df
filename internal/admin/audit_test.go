package admin

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/pkg/client"
)

// appendEvents writes events through the env's audit log, one minute
// apart, and returns their sequences.
func (e *env) appendEvents(t *testing.T, evs ...audit.Event) []int64 {
	t.Helper()
	var out []int64
	for _, ev := range evs {
		e.clock.Advance(time.Minute)
		rec, err := e.opts.Audit.AppendStandalone(t.Context(), e.st, ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Seq)
	}
	return out
}

func (e *env) auditPage(t *testing.T, query string) client.AuditPage {
	t.Helper()
	return decode[client.AuditPage](t, e.tcp(t, http.MethodGet, "/admin/v1/audit?"+query, nil, bearer(e.root.Token)), http.StatusOK)
}

func pageSeqs(p client.AuditPage) []int64 {
	out := []int64{}
	for _, ev := range p.Events {
		out = append(out, ev.Seq)
	}
	return out
}

func TestAuditList(t *testing.T) {
	e := newEnv(t) // event 1: the root key's key.create
	start := e.clock.Now()
	e.appendEvents(t,
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyCreate, Target: "key_A"},                                     // 2
		audit.Event{Actor: "anonymous", Action: audit.ActionAuthFailure, Outcome: audit.OutcomeFailure, ClientIP: "192.0.2.7:555"}, // 3
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyRevoke, Target: "key_A"},                                     // 4
		audit.Event{Actor: "unix:1001(bob)", Action: audit.ActionKeyLeakRevoked, Target: "key_B"},                                  // 5
		audit.Event{Actor: "unix:1001(bob)", Action: audit.ActionAdminLoginFail, Outcome: audit.OutcomeFailure},                    // 6
	)
	ts := func(min int) string {
		return url.QueryEscape(start.Add(time.Duration(min) * time.Minute).Format(time.RFC3339))
	}
	cases := []struct {
		name, query string
		want        []int64
	}{
		{"all", "", []int64{1, 2, 3, 4, 5, 6}},
		{"newest first", "order=desc", []int64{6, 5, 4, 3, 2, 1}},
		{"action prefix", "action=key.", []int64{1, 2, 4, 5}},
		{"exact action", "action=key.revoke", []int64{4}},
		{"actor", "actor=unix%3A1001%28bob%29", []int64{5, 6}},
		{"target", "target=key_A", []int64{2, 4}},
		{"outcome", "outcome=failure", []int64{3, 6}},
		{"since", "since=" + ts(3), []int64{4, 5, 6}},
		{"until", "until=" + ts(3), []int64{1, 2, 3}},
		{"window and filter", "since=" + ts(2) + "&until=" + ts(6) + "&outcome=success", []int64{4, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pageSeqs(e.auditPage(t, tc.query)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("wire form", func(t *testing.T) {
		p := e.auditPage(t, "outcome=failure&limit=1")
		ev := p.Events[0]
		if ev.Seq != 3 || ev.ClientIP != "192.0.2.0" || len(ev.Hash) != 64 || len(ev.PrevHash) != 64 || ev.Details == nil || p.Next != "3" {
			t.Errorf("event %+v next %q", ev, p.Next)
		}
		var raw map[string]any
		w := e.tcp(t, http.MethodGet, "/admin/v1/audit?limit=1", nil, bearer(e.root.Token))
		if err := json.Unmarshal([]byte(strings.TrimSpace(w.Body.String())), &raw); err != nil {
			t.Fatal(err)
		}
		first := raw["events"].([]any)[0].(map[string]any)
		for _, field := range []string{"seq", "time", "actor", "action", "target", "outcome", "details", "client_ip", "hash", "prev_hash"} {
			if _, ok := first[field]; !ok {
				t.Errorf("event lacks the field %q: %v", field, first)
			}
		}
	})

	t.Run("cursor pages", func(t *testing.T) {
		for _, order := range []string{"asc", "desc"} {
			var got []int64
			q := url.Values{"limit": {"4"}, "order": {order}}
			for range 5 {
				p := e.auditPage(t, q.Encode())
				got = append(got, pageSeqs(p)...)
				if p.Next == "" {
					break
				}
				q.Set("cursor", p.Next)
			}
			want := []int64{1, 2, 3, 4, 5, 6}
			if order == "desc" {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s pages gave %v", order, got)
			}
		}
	})
}

func TestAuditListBadParameters(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, query, detail string }{
		{"unknown", "kind=public", `unknown query parameter "kind"`},
		{"repeated", "actor=a&actor=b", `"actor" given 2 times`},
		{"since", "since=yesterday", `since "yesterday"`},
		{"window", "since=2025-06-02T00:00:00Z&until=2025-06-01T00:00:00Z", "until is before since"},
		{"outcome", "outcome=maybe", `outcome "maybe"`},
		{"order", "order=up", `order "up"`},
		{"cursor", "cursor=abc", `cursor "abc"`},
		{"zero cursor", "cursor=0", `cursor "0"`},
		{"limit", "limit=5000", `limit "5000"`},
		{"long actor", "actor=" + strings.Repeat("a", 300), "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := problem(t, e.tcp(t, http.MethodGet, "/admin/v1/audit?"+tc.query, nil, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tc.detail)
			}
		})
	}
}

func TestAuditRoutesNeedTheirScopes(t *testing.T) {
	e := newEnv(t)
	reader := e.issue(t, client.CreateKeyRequest{Name: "auditor", Kind: "secret", Scopes: []string{keys.ScopeAuditRead}})
	keysOnly := e.issue(t, client.CreateKeyRequest{Name: "ops", Kind: "secret", Scopes: []string{keys.ScopeKeysRead}})
	cases := []struct {
		method, path string
		body         any
		token        string
		status       int
	}{
		{http.MethodGet, "/admin/v1/audit", nil, reader.Token, http.StatusOK},
		{http.MethodGet, "/admin/v1/audit", nil, keysOnly.Token, http.StatusForbidden},
		{http.MethodPost, "/admin/v1/audit/verify", nil, reader.Token, http.StatusOK},
		{http.MethodPost, "/admin/v1/audit/verify", nil, keysOnly.Token, http.StatusForbidden},
		{http.MethodGet, "/admin/v1/audit/export", nil, keysOnly.Token, http.StatusForbidden},
		{http.MethodGet, "/admin/v1/audit/stream", nil, keysOnly.Token, http.StatusForbidden},
		{http.MethodGet, "/admin/v1/audit/checkpoint", nil, keysOnly.Token, http.StatusForbidden},
		{http.MethodPost, "/admin/v1/audit/prune", client.AuditPruneRequest{OlderThan: "1h"}, reader.Token, http.StatusForbidden},
		{http.MethodPost, "/admin/v1/audit/prune", client.AuditPruneRequest{OlderThan: "1h"}, e.root.Token, http.StatusOK},
	}
	for _, tc := range cases {
		w := e.tcp(t, tc.method, tc.path, tc.body, bearer(tc.token))
		if w.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, w.Code, tc.status, w.Body.String())
		}
	}
}

func TestAuditVerifyRoute(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t,
		audit.Event{Actor: "system", Action: audit.ActionServerStart},
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyRevoke, Target: "key_A"},
		audit.Event{Actor: "system", Action: audit.ActionServerStop},
	)
	verify := func(req any) client.AuditVerifyResult {
		t.Helper()
		return decode[client.AuditVerifyResult](t, e.tcp(t, http.MethodPost, "/admin/v1/audit/verify", req, bearer(e.root.Token)), http.StatusOK)
	}
	ok := verify(nil)
	if !ok.OK || ok.Checked != 4 || ok.Start != 1 || ok.Anchor != audit.AnchorGenesis || ok.Head.Seq != 4 || len(ok.Head.Hash) != 64 {
		t.Fatalf("clean log: %+v", ok)
	}
	if r := verify(client.AuditVerifyRequest{ExpectHead: &ok.Head}); !r.OK {
		t.Fatalf("against its own head: %+v", r)
	}
	if r := verify(client.AuditVerifyRequest{From: 2, To: 3}); !r.OK || r.Checked != 2 || r.Anchor != audit.AnchorStored {
		t.Fatalf("range: %+v", r)
	}

	// Someone with write access to the database edits a row.
	raw := e.st.(*sqlite.Store).DB()
	if _, err := raw.ExecContext(t.Context(), "UPDATE audit_events SET actor = 'unix:0(root)' WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	bad := verify(client.AuditVerifyRequest{})
	if bad.OK || bad.FirstBad != 3 || bad.Checked != 2 || !strings.Contains(bad.Reason, "event 3") {
		t.Fatalf("after tampering: %+v", bad)
	}

	refusals := []struct {
		name string
		body any
	}{
		{"negative from", client.AuditVerifyRequest{From: -1}},
		{"to before from", client.AuditVerifyRequest{From: 3, To: 2}},
		{"short hash", client.AuditVerifyRequest{ExpectHead: &client.AuditHead{Seq: 2, Hash: "abcd"}}},
		{"upper-case hash", client.AuditVerifyRequest{ExpectHead: &client.AuditHead{Seq: 2, Hash: strings.ToUpper(ok.Head.Hash)}}},
		{"hash without seq", client.AuditVerifyRequest{ExpectHead: &client.AuditHead{Hash: ok.Head.Hash}}},
		{"unknown field", map[string]any{"form": 1}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			problem(t, e.tcp(t, http.MethodPost, "/admin/v1/audit/verify", tc.body, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
		})
	}
}

func TestAuditCheckpointRoute(t *testing.T) {
	e := newEnv(t)
	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/audit/checkpoint", nil, bearer(e.root.Token)), http.StatusServiceUnavailable, probUnavailable)

	signer, err := audit.LoadOrCreateSigner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	opts.Checkpoints = signer
	e.admin = New(opts)
	cp := decode[client.Checkpoint](t, e.tcp(t, http.MethodGet, "/admin/v1/audit/checkpoint", nil, bearer(e.root.Token)), http.StatusOK)
	pinned := base64.StdEncoding.EncodeToString(signer.PublicKey())
	if err := cp.Verify(pinned); err != nil {
		t.Fatalf("checkpoint does not verify with the pinned key: %v", err)
	}
	head, err := e.st.AuditHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != head.Seq || cp.Hash != fmt.Sprintf("%x", head.Hash) || !cp.Time.Equal(e.clock.Now().Truncate(time.Second)) || cp.KeyID != signer.KeyID() {
		t.Errorf("checkpoint %+v does not name the head %d", cp, head.Seq)
	}
	sig, _ := base64.StdEncoding.DecodeString(cp.Signature)
	if !ed25519.Verify(signer.PublicKey(), cp.SignedText(), sig) {
		t.Error("the signature does not cover the documented text")
	}
}

// flushCounter is a response writer that counts flushes, to see an
// export leave in pieces rather than at the end.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func TestAuditExport(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t,
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyCreate, Target: "key_A",
			Details: map[string]string{"name": "web, \"main\"\nline two"}},
		audit.Event{Actor: "anonymous", Action: audit.ActionAuthFailure, Outcome: audit.OutcomeFailure,
			Details: map[string]string{"count": "100000", "reason": "unknown"}},
	)

	w := e.tcp(t, http.MethodGet, "/admin/v1/audit/export?format=jsonl", nil, bearer(e.root.Token))
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), client.AuditJSONLMediaType) {
		t.Fatalf("jsonl export: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	dec := json.NewDecoder(w.Body)
	var evs []client.AuditEvent
	for {
		var ev client.AuditEvent
		if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 4 || evs[1].Details["name"] != "web, \"main\"\nline two" {
		t.Fatalf("jsonl export: %+v", evs)
	}
	last := evs[3]
	if last.Action != audit.ActionAuditExport || last.Actor != "key:"+e.root.Key.ID || last.Details["format"] != "jsonl" ||
		w.Header().Get("X-Mapwright-Audit-Through") != strconv.FormatInt(last.Seq, 10) {
		t.Errorf("the export does not end with its own audit.export event: %+v", last)
	}

	w = e.tcp(t, http.MethodGet, "/admin/v1/audit/export?format=csv&outcome=failure", nil, bearer(e.root.Token))
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !slices.Equal(recs[0], client.AuditCSVHeader) {
		t.Fatalf("csv export: %q", recs)
	}
	row, err := client.ParseAuditCSVRecord(recs[1])
	if err != nil {
		t.Fatal(err)
	}
	if row.Seq != 3 || row.Details["count"] != "100000" || row.Hash != evs[2].Hash || !row.Time.Equal(evs[2].Time) {
		t.Errorf("csv row %+v, want event 3 as in jsonl %+v", row, evs[2])
	}
	if ev := e.events(t, audit.ActionAuditExport); len(ev) != 2 || ev[1].Details["outcome"] != "failure" || ev[1].Details["format"] != "csv" {
		t.Errorf("export events %+v", ev)
	}

	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/audit/export?format=xml", nil, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/audit/export?cursor=3", nil, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
}

func TestAuditExportStreamsInBatches(t *testing.T) {
	e := newEnv(t)
	const n = 3*auditBatch + 17
	err := e.st.Update(t.Context(), func(tx store.Tx) error {
		for i := range n {
			if _, err := e.opts.Audit.Append(t.Context(), tx, audit.Event{Actor: "system", Action: audit.ActionConfigReload, Target: strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/admin/v1/audit/export?format=csv", nil)
	r.Host, r.RemoteAddr = testHost, insideAddr
	r.Header.Set("Authorization", "Bearer "+e.root.Token)
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	e.admin.TCPHandler().ServeHTTP(w, r)
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The header, the root key's creation, n events and the export.
	if len(recs) != n+3 {
		t.Fatalf("%d rows, want %d", len(recs), n+3)
	}
	if w.flushes < 4 {
		t.Errorf("the export was flushed %d times: it must leave batch by batch, not at the end", w.flushes)
	}
}

// streamServer serves e's admin API over real TLS with a short write
// timeout, and returns a client of it holding the root key.
func streamServer(t *testing.T, e *env, tweak func(*Options)) (*client.Client, *Admin, string, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mat, err := certs.EnsureLocalCA(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	opts.AllowedHosts = []string{ln.Addr().String()}
	opts.AuditPoll = 5 * time.Millisecond
	if tweak != nil {
		tweak(&opts)
	}
	a := New(opts)
	conf, err := TLSConfig(mat.ServerCert, "")
	if err != nil {
		t.Fatal(err)
	}
	// Timeouts far shorter than the test: the stream must outlive them.
	srv := &http.Server{Handler: a.TCPHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}
	srv.RegisterOnShutdown(a.CloseStreams)
	go srv.Serve(tls.NewListener(ln, conf))
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(client.Options{Server: "https://" + ln.Addr().String(), Token: e.root.Token, CACertFile: mat.CAPath})
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(mat.CAPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	t.Cleanup(hc.CloseIdleConnections)
	return c, a, "https://" + ln.Addr().String(), hc
}

func TestAuditStream(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t,
		audit.Event{Actor: "system", Action: audit.ActionServerStart},
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyRevoke, Target: "key_A"},
	)
	c, _, _, _ := streamServer(t, e, nil)
	cases := []struct {
		name    string
		last    int64
		wantOld []int64
	}{
		{"from the start", 0, []int64{1, 2, 3}},
		// The first case appended event 4.
		{"resumes after Last-Event-ID", 2, []int64{3, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			got := make(chan client.AuditEvent, 100)
			done := make(chan error, 1)
			go func() {
				done <- c.AuditStream(ctx, tc.last, func(ev client.AuditEvent) error { got <- ev; return nil })
			}()
			var seqs []int64
			for range tc.wantOld {
				select {
				case ev := <-got:
					seqs = append(seqs, ev.Seq)
				case err := <-done:
					t.Fatalf("stream ended: %v", err)
				}
			}
			if !slices.Equal(seqs, tc.wantOld) {
				t.Fatalf("replayed %v, want %v", seqs, tc.wantOld)
			}
			// Past the server's write timeout, a new event still arrives.
			time.Sleep(400 * time.Millisecond)
			head, err := e.st.AuditHead(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			e.appendEvents(t, audit.Event{Actor: "system", Action: audit.ActionConfigReload})
			select {
			case ev := <-got:
				if ev.Seq != head.Seq+1 || ev.Action != audit.ActionConfigReload {
					t.Errorf("live event %+v, want %d config.reload", ev, head.Seq+1)
				}
			case err := <-done:
				t.Fatalf("stream ended: %v", err)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("AuditStream after cancel = %v", err)
			}
		})
	}
}

// sseBlock reads one event block (up to a blank line) of a raw stream.
func sseBlock(t *testing.T, sc *bufio.Scanner) map[string]string {
	t.Helper()
	out := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(out) > 0 {
				return out
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			out[":"] = line
			continue
		}
		k, v, _ := strings.Cut(line, ": ")
		out[k] = v
	}
	t.Fatalf("the stream ended: %v", sc.Err())
	return nil
}

func TestAuditStreamNewOnlyFilteredAndShutdown(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t, audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyRevoke, Outcome: audit.OutcomeFailure, Target: "key_A"})
	_, a, base, hc := streamServer(t, e, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/v1/audit/stream?action=key.&outcome=failure", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.root.Token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != client.EventStreamMediaType {
		t.Fatalf("stream answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	// Without Last-Event-ID the stream starts at the head, and says so.
	if first := sseBlock(t, sc); first["id"] != "2" || first["retry"] == "" || first["data"] != "" {
		t.Fatalf("opening block %v, want id 2 (the head) and no data", first)
	}
	e.appendEvents(t,
		audit.Event{Actor: "system", Action: audit.ActionServerStop, Outcome: audit.OutcomeFailure},
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyRevoke, Target: "key_B"},
		audit.Event{Actor: "unix:1000(alice)", Action: audit.ActionKeyRotate, Outcome: audit.OutcomeFailure, Target: "key_C"},
	)
	ev := sseBlock(t, sc)
	var got client.AuditEvent
	if err := json.Unmarshal([]byte(ev["data"]), &got); err != nil {
		t.Fatal(err)
	}
	if ev["id"] != "5" || ev["event"] != "audit" || got.Seq != 5 || got.Target != "key_C" {
		t.Fatalf("filtered stream sent %v", ev)
	}
	a.CloseStreams()
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data:") {
			t.Errorf("data after CloseStreams: %s", sc.Text())
		}
	}

	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/audit/stream?bogus=1", nil, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/audit/stream", nil, bearer(e.root.Token), header("Last-Event-ID", "x")), http.StatusBadRequest, probBadRequest)
}

func TestAuditStreamEndsOnShutdown(t *testing.T) {
	e := newEnv(t)
	c, a, _, _ := streamServer(t, e, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got := make(chan client.AuditEvent, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.AuditStream(ctx, 0, func(ev client.AuditEvent) error { got <- ev; return nil })
	}()
	if ev := <-got; ev.Seq != 1 {
		t.Fatalf("first event %d", ev.Seq)
	}
	a.CloseStreams()
	if err := <-done; !errors.Is(err, client.ErrStreamEnded) {
		t.Fatalf("after CloseStreams: %v, want ErrStreamEnded", err)
	}
}

func TestAuditPruneRoute(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t,
		audit.Event{Actor: "system", Action: audit.ActionServerStart},
		audit.Event{Actor: "system", Action: audit.ActionServerStop},
	)
	e.clock.Advance(48 * time.Hour)
	e.appendEvents(t, audit.Event{Actor: "system", Action: audit.ActionServerStart})

	res := decode[client.AuditPruneResult](t, e.unix(t, http.MethodPost, "/admin/v1/audit/prune", client.AuditPruneRequest{OlderThan: "24h"}), http.StatusOK)
	if res.Deleted != 3 || res.CutSeq != 3 || len(res.CutHash) != 64 || res.Event != 5 {
		t.Fatalf("prune: %+v", res)
	}
	evs := e.events(t, audit.ActionAuditPrune)
	if len(evs) != 1 || evs[0].Actor != testActor || evs[0].Details["older_than"] != "24h0m0s" || evs[0].Details["cut_seq"] != "3" {
		t.Fatalf("prune event %+v", evs)
	}
	v := decode[client.AuditVerifyResult](t, e.unix(t, http.MethodPost, "/admin/v1/audit/verify", nil), http.StatusOK)
	if !v.OK || v.Anchor != audit.AnchorPrune || v.Start != 4 || v.Checked != 2 {
		t.Fatalf("verify after prune: %+v", v)
	}
	again := decode[client.AuditPruneResult](t, e.unix(t, http.MethodPost, "/admin/v1/audit/prune", client.AuditPruneRequest{OlderThan: "24h"}), http.StatusOK)
	if again.Deleted != 0 || again.Event != 0 {
		t.Errorf("second prune: %+v", again)
	}
	for _, body := range []any{client.AuditPruneRequest{OlderThan: "-1h"}, client.AuditPruneRequest{OlderThan: "soon"}, nil} {
		problem(t, e.unix(t, http.MethodPost, "/admin/v1/audit/prune", body), http.StatusBadRequest, probBadRequest)
	}

	// A log that does not verify is not pruned: that would erase the
	// evidence.
	e.clock.Advance(48 * time.Hour)
	raw := e.st.(*sqlite.Store).DB()
	if _, err := raw.ExecContext(t.Context(), "UPDATE audit_events SET actor = 'x' WHERE seq = 4"); err != nil {
		t.Fatal(err)
	}
	p := problem(t, e.unix(t, http.MethodPost, "/admin/v1/audit/prune", client.AuditPruneRequest{OlderThan: "24h"}), http.StatusConflict, probConflict)
	if !strings.Contains(p.Detail, "nothing was deleted") {
		t.Errorf("detail %q", p.Detail)
	}
}

func TestRevokeLeaked(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, client.CreateKeyRequest{Name: "web"})
	path := "/admin/v1/keys/" + k.Key.ID + "/revoke"
	res := decode[client.RevokeResult](t, e.tcp(t, http.MethodPost, path,
		client.RevokeKeyRequest{Leaked: true, Location: "site/app.js:3:9"}, bearer(e.root.Token)), http.StatusOK)
	if res.Key.State != "revoked" || res.Key.RevokeReason != "leaked: site/app.js:3:9" {
		t.Fatalf("revoke leaked: %+v", res)
	}
	evs := e.events(t, audit.ActionKeyLeakRevoked)
	if len(evs) != 1 || evs[0].Target != k.Key.ID || evs[0].Details["location"] != "site/app.js:3:9" || evs[0].Actor != "key:"+e.root.Key.ID {
		t.Fatalf("leak event %+v", evs)
	}
	if n := len(e.events(t, audit.ActionKeyRevoke)); n != 0 {
		t.Errorf("%d key.revoke events for a leak revocation", n)
	}

	other := e.issue(t, client.CreateKeyRequest{Name: "other"})
	opath := "/admin/v1/keys/" + other.Key.ID + "/revoke"
	problem(t, e.tcp(t, http.MethodPost, opath, client.RevokeKeyRequest{Leaked: true}, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
	problem(t, e.tcp(t, http.MethodPost, opath, client.RevokeKeyRequest{Location: "a.js:1:1"}, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)

	// A location never carries a key into the audit log, and a long one is
	// shortened to fit the reason.
	loc := "dump/" + other.Token + "/" + strings.Repeat("d", 600) + ".txt:1:1"
	res = decode[client.RevokeResult](t, e.tcp(t, http.MethodPost, opath, client.RevokeKeyRequest{Leaked: true, Location: loc}, bearer(e.root.Token)), http.StatusOK)
	got := e.events(t, audit.ActionKeyLeakRevoked)[1].Details["location"]
	if strings.Contains(got, other.Token) || !strings.HasPrefix(got, "dump/mpw_pk_") || !strings.HasSuffix(got, "…") ||
		len([]rune(res.Key.RevokeReason)) > keys.MaxReasonLen {
		t.Errorf("stored location %q, reason of %d characters", got, len([]rune(res.Key.RevokeReason)))
	}
}
