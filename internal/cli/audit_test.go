package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// seedAudit writes a small log into the fake: key events by two people, a
// refused login and an aggregated burst of bad keys.
func seedAudit(e *env) {
	at := func(min int) time.Time { return testNow.Add(time.Duration(min-60) * time.Minute) }
	for _, ev := range []client.AuditEvent{
		{Time: at(0), Actor: "system", Action: "server.start"},
		{Time: at(1), Actor: "unix:1000(alice)", Action: "key.create", Target: "key_0002", Details: map[string]string{"name": "web map"}},
		{Time: at(2), Actor: "unix:1000(alice)", Action: "key.rotate", Target: "key_0002"},
		{Time: at(3), Actor: "anonymous", Action: "admin.login_failure", Outcome: "failure", ClientIP: "192.0.2.0"},
		{Time: at(4), Actor: "anonymous", Action: "auth.failure", Outcome: "failure", ClientIP: "198.51.100.0",
			Details: map[string]string{"count": "250", "reason": "unknown"}},
		{Time: at(5), Actor: "unix:1001(bob)", Action: "key.revoke", Target: "key_0002", Details: map[string]string{"reason": "done"}},
	} {
		e.fake.AppendAudit(ev)
	}
}

func lastQuery(t *testing.T, e *env, path string) url.Values {
	t.Helper()
	reqs := e.fake.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			q, err := url.ParseQuery(reqs[i].RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
	}
	t.Fatalf("no request to %s", path)
	return nil
}

func TestAuditList(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)
	r := e.mustRun("audit", "list")
	golden(t, "audit_list.plain", r.stdout)

	cases := []struct {
		name  string
		args  []string
		query url.Values
		seqs  []int64
	}{
		{"newest first by default", nil, url.Values{"order": {"desc"}}, []int64{6, 5, 4, 3, 2, 1}},
		{"oldest first", []string{"--order", "oldest"}, url.Values{"order": {"asc"}}, []int64{1, 2, 3, 4, 5, 6}},
		{"a key's history", []string{"--key", "key_0002", "--order", "oldest"},
			url.Values{"order": {"asc"}, "target": {"key_0002"}}, []int64{2, 3, 6}},
		{"action prefix", []string{"--action", "key."}, url.Values{"order": {"desc"}, "action": {"key."}}, []int64{6, 3, 2}},
		{"failures by anyone anonymous", []string{"--outcome", "failure", "--actor", "anonymous"},
			url.Values{"order": {"desc"}, "outcome": {"failure"}, "actor": {"anonymous"}}, []int64{5, 4}},
		{"since a duration", []string{"--since", "57m"},
			url.Values{"order": {"desc"}, "since": {testNow.Add(-57 * time.Minute).Format(time.RFC3339)}}, []int64{6, 5, 4}},
		{"window of RFC 3339 times", []string{"--since", "2030-06-01T11:01:00Z", "--until", "2030-06-01T11:03:00Z"},
			url.Values{"order": {"desc"}, "since": {"2030-06-01T11:01:00Z"}, "until": {"2030-06-01T11:03:00Z"}}, []int64{3, 2}},
		{"limit", []string{"--limit", "2"}, url.Values{"order": {"desc"}, "limit": {"2"}}, []int64{6, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.mustRun(append([]string{"audit", "list", "-o", "jsonl"}, tc.args...)...)
			var got []int64
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			for {
				var ev client.AuditEvent
				if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("jsonl line: %v\n%s", err, r.stdout)
				}
				got = append(got, ev.Seq)
			}
			if !reflect.DeepEqual(got, tc.seqs) {
				t.Errorf("events %v, want %v", got, tc.seqs)
			}
			if q := lastQuery(t, e, "/admin/v1/audit"); !reflect.DeepEqual(q, tc.query) {
				t.Errorf("query %v, want %v", q, tc.query)
			}
		})
	}
}

func TestAuditListFormats(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)

	r := e.mustRun("audit", "list", "-o", "csv", "--order", "oldest")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v\n%s", err, r.stdout)
	}
	if len(recs) != 7 || !reflect.DeepEqual(recs[0], client.AuditCSVHeader) {
		t.Fatalf("csv: %q", recs)
	}
	burst, err := client.ParseAuditCSVRecord(recs[5])
	if err != nil {
		t.Fatal(err)
	}
	if burst.Action != "auth.failure" || burst.Details["count"] != "250" || burst.ClientIP != "198.51.100.0" {
		t.Errorf("csv row 5: %+v", burst)
	}

	r = e.mustRun("audit", "list", "-o", "json", "--limit", "4")
	var page client.AuditPage
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 4 || page.Next != "3" {
		t.Errorf("json page: %d events, next %q", len(page.Events), page.Next)
	}

	r = e.mustRun("audit", "list", "--limit", "4")
	if !strings.Contains(r.stderr, "--cursor 3") {
		t.Errorf("no hint of the next page: %q", r.stderr)
	}
	r = e.mustRun("audit", "list", "--limit", "2", "--all", "-o", "csv")
	if recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll(); err != nil || len(recs) != 7 {
		t.Errorf("--all csv: %d records, %v", len(recs), err)
	}
	r = e.mustRun("audit", "list", "--limit", "2", "--all", "-o", "json")
	page = client.AuditPage{}
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Events) != 6 || page.Next != "" {
		t.Errorf("--all json: %d events, next %q, %v", len(page.Events), page.Next, err)
	}

	e.tty = true
	r = e.mustRun("audit", "list", "--action", "nothing.")
	if r.stdout != "" || !strings.Contains(r.stderr, "No events match") {
		t.Errorf("empty list on a terminal: %q %q", r.stdout, r.stderr)
	}
}

func TestAuditCSVOnTerminalIsSafe(t *testing.T) {
	e := newEnv(t)
	e.fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "tileset.reload", Target: "bad \x1b[31mfile"})
	e.tty = true
	r := e.mustRun("audit", "list", "-o", "csv")
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("an escape sequence reached the terminal: %q", r.stdout)
	}
	e.tty = false
	r = e.mustRun("audit", "list", "-o", "csv")
	if !strings.Contains(r.stdout, "\x1b[31m") {
		t.Errorf("in a pipe the CSV must carry the value exactly: %q", r.stdout)
	}
}

func TestAuditListUsageErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--outcome", "maybe"}, "--outcome"},
		{[]string{"--order", "random"}, "--order"},
		{[]string{"--since", "last tuesday"}, "--since"},
		{[]string{"--since", "1h", "--until", "2h"}, "--until is before --since"},
		{[]string{"--limit", "5000"}, "--limit"},
		{[]string{"--key", clienttest.TokenFor("public", 1)}, "looks like a key"},
		{[]string{"-o", "xml"}, "output format"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := e.run(append([]string{"audit", "list"}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.msg)
			}
		})
	}
}

// waitOutput waits until buf holds want.
func waitOutput(t *testing.T, buf *testenv.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%s", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuditTailFollows(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)
	ios, _, _, _ := iostreams.Test()
	out, errOut := &testenv.Buffer{}, &testenv.Buffer{}
	ios.Out, ios.ErrOut = out, errOut
	f := NewFactory(ios)
	f.Now = func() time.Time { return testNow }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, f, []string{"audit", "tail", "-f", "-n", "2"}) }()

	waitOutput(t, out, "key.revoke")
	if strings.Contains(out.String(), "key.rotate") {
		t.Errorf("-n 2 printed more than two past events:\n%s", out)
	}
	// An event made after tail started.
	e.fake.AppendAudit(client.AuditEvent{Actor: "unix:1000(alice)", Action: "key.create", Target: "key_0009"})
	waitOutput(t, out, "key_0009")
	// The server restarts: tail reconnects and resumes after the last event.
	e.fake.EndStreams()
	e.fake.AppendAudit(client.AuditEvent{Actor: "system", Action: "config.reload"})
	waitOutput(t, out, "config.reload")
	cancel()
	if code := <-done; code != exitInterrupted {
		t.Errorf("tail -f ended with %d, want %d", code, exitInterrupted)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "SEQ\tTIME") {
		t.Fatalf("tail printed:\n%s", out)
	}
	for i, want := range []string{"5\t", "6\t", "7\t", "8\t"} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("line %d = %q, want event %s once, in order", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(errOut.String(), "reconnecting") {
		t.Errorf("no word of the reconnection: %q", errOut)
	}
	var lastIDs []string
	for _, r := range e.fake.Requests() {
		if r.Path == "/admin/v1/audit/stream" {
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		}
	}
	if len(lastIDs) < 2 || lastIDs[0] != "6" || lastIDs[len(lastIDs)-1] != "7" {
		t.Errorf("stream connections resumed after %q, want 6 then 7", lastIDs)
	}
}

func TestAuditTailFilterAndTerminal(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)
	r := e.mustRun("audit", "tail", "--outcome", "failure", "-o", "jsonl")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"seq":4`) || !strings.Contains(lines[1], `"seq":5`) {
		t.Errorf("filtered tail: %q", r.stdout)
	}
	e.tty = true
	r = e.mustRun("audit", "tail", "-n", "1")
	if !strings.Contains(r.stdout, "#6") || !strings.Contains(r.stdout, "key.revoke") || strings.Contains(r.stdout, "SEQ") {
		t.Errorf("terminal tail: %q", r.stdout)
	}
}

func TestAuditVerifyAndCheckpoint(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)
	dir := t.TempDir()
	cpFile := filepath.Join(dir, "cp.json")

	r := e.mustRun("audit", "checkpoint", "-o", cpFile)
	if !strings.Contains(r.stderr, "event 6") || !strings.Contains(r.stderr, clienttest.CheckpointPublicKey()) {
		t.Errorf("checkpoint message: %q", r.stderr)
	}
	var cp client.Checkpoint
	b, err := os.ReadFile(cpFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cp); err != nil || cp.Size != 6 || cp.Verify(clienttest.CheckpointPublicKey()) != nil {
		t.Fatalf("saved checkpoint %s: %v", b, err)
	}
	if out := e.mustRun("audit", "checkpoint").stdout; !strings.Contains(out, `"size": 6`) {
		t.Errorf("checkpoint to stdout: %s", out)
	}

	r = e.mustRun("audit", "verify")
	if !strings.Contains(r.stdout, "ok\ttrue\n") || !strings.Contains(r.stdout, "checked\t6") {
		t.Errorf("verify:\n%s", r.stdout)
	}
	pin := clienttest.CheckpointPublicKey()
	r = e.mustRun("audit", "verify", "--checkpoint", cpFile, "--public-key", pin, "-o", "json")
	var rep auditVerifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || rep.Checkpoint == nil || rep.Checkpoint.Size != 6 {
		t.Fatalf("verify against the checkpoint: %s %v", r.stdout, err)
	}
	if h := lastVerifyBody(t, e); h.ExpectHead == nil || h.ExpectHead.Seq != 6 || h.ExpectHead.Hash != cp.Hash {
		t.Errorf("verify sent %+v", h)
	}

	// A forged checkpoint file and another pinned key are refused before
	// asking the server.
	forged := strings.Replace(string(b), `"size": 6`, `"size": 5`, 1)
	if err := os.WriteFile(filepath.Join(dir, "forged.json"), []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run("audit", "verify", "--checkpoint", filepath.Join(dir, "forged.json")); r.code != exitFailure || !strings.Contains(r.stderr, "signature") {
		t.Errorf("forged checkpoint: exit %d %q", r.code, r.stderr)
	}
	other := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if r := e.run("audit", "verify", "--checkpoint", cpFile, "--public-key", other); r.code != exitFailure || !strings.Contains(r.stderr, "pinned") {
		t.Errorf("other pinned key: exit %d %q", r.code, r.stderr)
	}

	// The newest events are deleted and the head moved back: only the
	// checkpoint notices.
	e.fake.TruncateAudit(4)
	e.mustRun("audit", "verify")
	r = e.run("audit", "verify", "--checkpoint", cpFile)
	if r.code != exitFailure || !strings.Contains(r.stderr, "first bad event 6") || !strings.Contains(r.stdout, "ok\tfalse\n") {
		t.Errorf("truncated log against the checkpoint: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// An edited event fails verification, naming it.
	e.fake.Tamper(2, func(ev *client.AuditEvent) { ev.Actor = "unix:0(root)" })
	r = e.run("audit", "verify")
	if r.code != exitFailure || !strings.Contains(r.stderr, "first bad event 2") {
		t.Errorf("tampered log: exit %d %q", r.code, r.stderr)
	}
}

func lastVerifyBody(t *testing.T, e *env) client.AuditVerifyRequest {
	t.Helper()
	reqs := e.fake.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == "/admin/v1/audit/verify" {
			var req client.AuditVerifyRequest
			if err := json.Unmarshal(reqs[i].Body, &req); err != nil {
				t.Fatal(err)
			}
			return req
		}
	}
	t.Fatal("no verify request")
	return client.AuditVerifyRequest{}
}

func TestAuditExport(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.csv")
	e.mustRun("audit", "export", "--format", "csv", "-o", path, "--action", "key.")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("export mode %04o, want 0600", info.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("csv export: %q %v", recs, err)
	}
	if q := lastQuery(t, e, "/admin/v1/audit/export"); q.Get("format") != "csv" || q.Get("action") != "key." {
		t.Errorf("export query %v", q)
	}

	r := e.mustRun("audit", "export")
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	n := 0
	for {
		var ev client.AuditEvent
		if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	// Six events, the first export's event, and this export's.
	if n != 8 {
		t.Errorf("jsonl export of %d events, want 8", n)
	}
	if r := e.run("audit", "export", "--format", "xml"); r.code != exitUsage {
		t.Errorf("--format xml: exit %d", r.code)
	}
}

func TestAuditPrune(t *testing.T) {
	e := newEnv(t)
	seedAudit(e)
	if r := e.run("audit", "prune", "--older-than", "30m"); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("prune without --yes in a pipe: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("audit", "prune", "--yes"); r.code != exitUsage {
		t.Errorf("prune without --older-than: exit %d", r.code)
	}
	r := e.mustRun("audit", "prune", "--older-than", "57m", "--yes", "-o", "json")
	var res client.AuditPruneResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Deleted != 3 || res.CutSeq != 3 || res.Event != 7 {
		t.Fatalf("prune: %s %v", r.stdout, err)
	}
	r = e.mustRun("audit", "verify", "-o", "json")
	if !strings.Contains(r.stdout, `"anchor": "prune"`) || !strings.Contains(r.stdout, `"ok": true`) {
		t.Errorf("verify after prune: %s", r.stdout)
	}
	r = e.mustRun("audit", "prune", "--older-than", "57m", "--yes")
	if !strings.Contains(r.stdout, "nothing was deleted") {
		t.Errorf("second prune: %q", r.stdout)
	}
}

func TestAuditFlagsReachOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios)
	var got *auditListOptions
	cmd := newCmdAuditList(f, func(_ context.Context, o *auditListOptions) error { got = o; return nil })
	runCmd(t, cmd, "--since", "24h", "--until", "2030-01-01", "--actor", "system", "--action", "key.", "--key", "key_1",
		"--outcome", "failure", "--limit", "20", "--order", "oldest", "--all", "-o", "csv")
	if got.Since != "24h" || got.Until != "2030-01-01" || got.Actor != "system" || got.Action != "key." || got.Key != "key_1" ||
		got.Outcome != "failure" || got.Limit != 20 || got.Order != "oldest" || !got.All || got.Format != output.FormatCSV {
		t.Errorf("options %+v", got)
	}
	var tail *auditTailOptions
	runCmd(t, newCmdAuditTail(f, func(_ context.Context, o *auditTailOptions) error { tail = o; return nil }), "-f", "-n", "3", "-o", "jsonl")
	if !tail.Follow || tail.Lines != 3 || tail.Format != output.FormatJSONL {
		t.Errorf("tail options %+v", tail)
	}
}

func runCmd(t *testing.T, cmd *cobra.Command, args ...string) {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
}
