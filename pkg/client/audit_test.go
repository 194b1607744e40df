package client_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

var auditNow = time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)

// auditFake starts the fake admin API over HTTPS with an audit:read key and
// returns a client of it.
func auditFake(t *testing.T) (*clienttest.Fake, *client.Client) {
	t.Helper()
	fake := clienttest.New(clienttest.Options{Now: func() time.Time { return auditNow }})
	admin := fake.AddAdminKey("operator", "admin")
	srv := fake.Start(t)
	c, err := client.New(client.Options{Server: srv.URL, Token: admin.Token, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func TestAuditListQuery(t *testing.T) {
	cases := []struct {
		name string
		q    client.AuditQuery
		want url.Values
	}{
		{"empty", client.AuditQuery{}, url.Values{}},
		{"every field", client.AuditQuery{
			Since: time.Date(2031, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), Until: time.Date(2031, 1, 2, 0, 0, 0, 5000, time.UTC),
			Actor: "unix:1000(alice)", Action: "key.", Target: "key_1", Outcome: "failure", Order: "desc", Cursor: "42", Limit: 7,
		}, url.Values{
			"since": {"2030-12-31T23:00:00Z"}, "until": {"2031-01-02T00:00:00.000005Z"}, "actor": {"unix:1000(alice)"},
			"action": {"key."}, "target": {"key_1"}, "outcome": {"failure"}, "order": {"desc"}, "cursor": {"42"}, "limit": {"7"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recordingServer(t, http.StatusOK, "application/json", `{"events":[{"seq":1,"action":"key.create"}]}`)
			c := newClient(t, srv, client.Options{Token: testToken})
			page, err := c.AuditList(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) != 1 || page.Events[0].Details == nil {
				t.Errorf("page %+v: details must never be nil", page)
			}
			r := (*got)[0]
			q, _ := url.ParseQuery(r.query)
			if r.method != http.MethodGet || r.path != "/admin/v1/audit" || !reflect.DeepEqual(q, tc.want) {
				t.Errorf("sent %s %s?%s, want query %v", r.method, r.path, r.query, tc.want)
			}
		})
	}
}

func TestAuditListPagesThroughTheFake(t *testing.T) {
	fake, c := auditFake(t)
	for i := range 7 {
		fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "key.create", Target: "key_" + string(rune('a'+i))})
	}
	fake.AppendAudit(client.AuditEvent{Actor: "anonymous", Action: "auth.failure", Outcome: "failure"})
	var seqs []int64
	q := client.AuditQuery{Action: "key.", Order: "desc", Limit: 3}
	for range 10 {
		page, err := c.AuditList(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			seqs = append(seqs, ev.Seq)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if want := []int64{7, 6, 5, 4, 3, 2, 1}; !reflect.DeepEqual(seqs, want) {
		t.Errorf("pages gave %v, want %v", seqs, want)
	}
}

func TestAuditStreamDeliversInOrderOnce(t *testing.T) {
	cases := []struct {
		name  string
		after int64
		want  []int64
	}{
		{"from the start", 0, []int64{1, 2, 3, 4, 5}},
		{"resume after 2", 2, []int64{3, 4, 5}},
		{"only new events", -1, []int64{4, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, c := auditFake(t)
			for range 3 {
				fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "server.start"})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var got []int64
			opened := make(chan struct{})
			var once sync.Once
			done := make(chan error, 1)
			go func() {
				done <- c.AuditStream(ctx, tc.after, func(ev client.AuditEvent) error {
					got = append(got, ev.Seq)
					if ev.Seq == 5 {
						return io.EOF
					}
					if ev.Seq == 3 || tc.after == -1 {
						once.Do(func() { close(opened) })
					}
					return nil
				})
			}()
			if tc.after == -1 {
				// Nothing old arrives: wait for the stream to be open
				// before appending, by polling the fake's request log.
				waitForStream(t, fake)
				once.Do(func() { close(opened) })
			}
			<-opened
			fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "config.reload"})
			fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "server.stop"})
			if err := <-done; !errors.Is(err, io.EOF) {
				t.Fatalf("AuditStream returned %v, want the callback's error", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// waitForStream waits until the fake has received a stream request.
func waitForStream(t *testing.T, fake *clienttest.Fake) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range fake.Requests() {
			if r.Path == "/admin/v1/audit/stream" {
				// The handler has the request; give it the moment it needs
				// to read the head before anything is appended.
				time.Sleep(50 * time.Millisecond)
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the stream never reached the fake")
}

func TestFollowAuditReconnectsWithoutLossOrRepeat(t *testing.T) {
	fake, c := auditFake(t)
	fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "server.start"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []int64
	var retries int
	first := make(chan struct{})
	err := c.FollowAudit(ctx, 0, func(ev client.AuditEvent) error {
		got = append(got, ev.Seq)
		switch ev.Seq {
		case 1:
			close(first)
			// The server goes away between events; two more are written
			// meanwhile.
			go func() {
				fake.EndStreams()
				fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "server.stop"})
				fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "server.start"})
			}()
		case 3:
			return errors.New("enough")
		}
		return nil
	}, func(err error, wait time.Duration) {
		retries++
		if !errors.Is(err, client.ErrStreamEnded) || wait <= 0 {
			t.Errorf("retry after %v (%v)", err, wait)
		}
	})
	if err == nil || err.Error() != "enough" {
		t.Fatalf("FollowAudit = %v, want the callback's error", err)
	}
	if !reflect.DeepEqual(got, []int64{1, 2, 3}) {
		t.Errorf("events %v, want [1 2 3] each once", got)
	}
	if retries == 0 {
		t.Error("FollowAudit did not reconnect")
	}
	var lastIDs []string
	for _, r := range fake.Requests() {
		if r.Path == "/admin/v1/audit/stream" {
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		}
	}
	if len(lastIDs) < 2 || lastIDs[0] != "0" || lastIDs[len(lastIDs)-1] != "1" {
		t.Errorf("Last-Event-ID of the connections: %q, want 0 then 1", lastIDs)
	}
}

func TestFollowAuditStopsOnRefusal(t *testing.T) {
	srv, _ := recordingServer(t, http.StatusForbidden, "application/problem+json", `{"title":"Insufficient scope","status":403}`)
	c := newClient(t, srv, client.Options{Token: testToken})
	err := c.FollowAudit(context.Background(), 0, func(client.AuditEvent) error { return nil }, func(error, time.Duration) {
		t.Error("retried a 403")
	})
	if !client.IsForbidden(err) {
		t.Fatalf("FollowAudit = %v, want the 403", err)
	}
}

func TestAuditVerifyAndCheckpoint(t *testing.T) {
	fake, c := auditFake(t)
	for range 4 {
		fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "server.start"})
	}
	cp, err := c.AuditCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 4 || cp.Verify(clienttest.CheckpointPublicKey()) != nil {
		t.Fatalf("checkpoint %+v", cp)
	}
	res, err := c.AuditVerify(context.Background(), client.AuditVerifyRequest{ExpectHead: &client.AuditHead{Seq: cp.Size, Hash: cp.Hash}})
	if err != nil || !res.OK || res.Checked != 4 {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	fake.TruncateAudit(2)
	res, err = c.AuditVerify(context.Background(), client.AuditVerifyRequest{ExpectHead: &client.AuditHead{Seq: cp.Size, Hash: cp.Hash}})
	if err != nil || res.OK || res.FirstBad != 4 {
		t.Fatalf("verify after truncation: %+v, %v", res, err)
	}
}

func TestCheckpointVerify(t *testing.T) {
	_, c := auditFake(t)
	cp, err := c.AuditCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	otherKey := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	cases := []struct {
		name   string
		edit   func(*client.Checkpoint)
		pinned string
		ok     bool
	}{
		{"intact", func(*client.Checkpoint) {}, "", true},
		{"intact and pinned", func(*client.Checkpoint) {}, clienttest.CheckpointPublicKey(), true},
		{"pinned to another key", func(*client.Checkpoint) {}, otherKey, false},
		{"size changed", func(c *client.Checkpoint) { c.Size = 3; c.Hash = strings.Repeat("a", 64) }, "", false},
		{"time changed", func(c *client.Checkpoint) { c.Time = c.Time.Add(time.Hour) }, "", false},
		{"key ID changed", func(c *client.Checkpoint) { c.KeyID = "00" }, "", false},
		{"size without hash", func(c *client.Checkpoint) { c.Size = 1 }, "", false},
		{"upper-case hash", func(c *client.Checkpoint) { c.Size = 1; c.Hash = strings.Repeat("A", 64) }, "", false},
		{"origin over two lines", func(c *client.Checkpoint) { c.Origin = "a\nb" }, "", false},
		{"garbage signature", func(c *client.Checkpoint) { c.Signature = "!!" }, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := cp
			tc.edit(&cc)
			err := cc.Verify(tc.pinned)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, client.ErrCheckpoint)) {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestAuditExportFormatsParse(t *testing.T) {
	fake, c := auditFake(t)
	fake.AppendAudit(client.AuditEvent{Actor: "unix:1000(alice)", Action: "key.create", Target: "key_1",
		Details: map[string]string{"name": "web, \"main\"\nmap"}, ClientIP: "192.0.2.0"})
	fake.AppendAudit(client.AuditEvent{Actor: "anonymous", Action: "auth.failure", Outcome: "failure",
		Details: map[string]string{"count": "100000", "reason": "unknown"}})

	rc, err := c.AuditExport(context.Background(), client.AuditFormatJSONL, client.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(rc)
	var lines []client.AuditEvent
	for {
		var ev client.AuditEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ev)
	}
	rc.Close()
	if len(lines) != 3 || lines[0].Details["name"] != "web, \"main\"\nmap" || lines[2].Action != "audit.export" {
		t.Fatalf("jsonl export: %+v", lines)
	}

	rc, err = c.AuditExport(context.Background(), client.AuditFormatCSV, client.AuditQuery{Outcome: "failure"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(rc).ReadAll()
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !reflect.DeepEqual(recs[0], client.AuditCSVHeader) {
		t.Fatalf("csv export: %q", recs)
	}
	ev, err := client.ParseAuditCSVRecord(recs[1])
	if err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 2 || ev.Details["count"] != "100000" || ev.Outcome != "failure" || ev.Hash != lines[1].Hash {
		t.Errorf("csv row %+v", ev)
	}
	if _, err := c.AuditExport(context.Background(), "xml", client.AuditQuery{}); err == nil {
		t.Error("export as xml did not fail")
	}
}

func TestParseAuditCSVRecordRejects(t *testing.T) {
	good := client.AuditEvent{Seq: 3, Time: auditNow, Actor: "a", Action: "b.c", Details: map[string]string{}}.CSVRecord()
	if _, err := client.ParseAuditCSVRecord(good); err != nil {
		t.Fatalf("good row: %v", err)
	}
	cases := []struct {
		name string
		edit func([]string) []string
	}{
		{"short", func(r []string) []string { return r[:5] }},
		{"seq", func(r []string) []string { r[0] = "x"; return r }},
		{"time", func(r []string) []string { r[1] = "yesterday"; return r }},
		{"details", func(r []string) []string { r[6] = "[1]"; return r }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := tc.edit(append([]string(nil), good...))
			if _, err := client.ParseAuditCSVRecord(row); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestRevokeLeakedKey(t *testing.T) {
	srv, got := recordingServer(t, http.StatusOK, "application/json", `{"key":{"id":"key_1","state":"revoked"}}`)
	c := newClient(t, srv, client.Options{Token: testToken})
	res, err := c.RevokeLeakedKey(context.Background(), "key_1", "web/app.js:3:9")
	if err != nil || res.Key.State != "revoked" {
		t.Fatalf("RevokeLeakedKey = %+v, %v", res, err)
	}
	r := (*got)[0]
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if r.path != "/admin/v1/keys/key_1/revoke" || body["leaked"] != true || body["location"] != "web/app.js:3:9" {
		t.Errorf("sent %s %s", r.path, r.body)
	}
	if _, err := c.RevokeLeakedKey(context.Background(), "key_1", " "); err == nil || len(*got) != 1 {
		t.Error("an empty location was sent")
	}
}
