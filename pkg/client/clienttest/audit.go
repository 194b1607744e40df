package clienttest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
)

// The fake's audit log is a chain like the server's, with SHA-256 in place
// of the server's HMAC: hash = SHA-256(prev_hash || JSON of the event
// without its hashes). Verify recomputes it, so Tamper makes it fail.

// checkpointSeed is the seed of the fake's checkpoint key: fixed, so that
// tests can pin its public key (CheckpointPublicKey).
var checkpointSeed = []byte("mapwright fake checkpoint key 32")

// CheckpointPublicKey is the base64 public key the fake signs checkpoints
// with.
func CheckpointPublicKey() string {
	return base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(checkpointSeed).Public().(ed25519.PublicKey))
}

// AppendAudit adds an event to the fake's audit log and returns it as
// stored: Seq, PrevHash and Hash are set, Time defaults to the fake's
// clock, Outcome to success. Open streams receive it.
func (f *Fake) AppendAudit(ev client.AuditEvent) client.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.appendAudit(ev)
}

// appendAudit is AppendAudit with f.mu held.
func (f *Fake) appendAudit(ev client.AuditEvent) client.AuditEvent {
	ev.Seq = f.auditHead + 1
	if ev.Time.IsZero() {
		ev.Time = f.now().UTC()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	if ev.Outcome == "" {
		ev.Outcome = "success"
	}
	if ev.Details == nil {
		ev.Details = map[string]string{}
	}
	ev.PrevHash = strings.Repeat("0", 64)
	if len(f.audit) > 0 {
		ev.PrevHash = f.audit[len(f.audit)-1].Hash
	} else if f.auditCut != "" {
		ev.PrevHash = f.auditCut
	}
	ev.Hash = fakeHash(ev)
	f.audit = append(f.audit, ev)
	f.auditHead = ev.Seq
	if f.auditWake != nil {
		close(f.auditWake)
	}
	f.auditWake = make(chan struct{})
	return ev
}

// Tamper edits the stored audit event seq in place (the hashes stay), as
// someone writing to the database would; Verify then fails there.
func (f *Fake) Tamper(seq int64, edit func(*client.AuditEvent)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.audit {
		if f.audit[i].Seq == seq {
			edit(&f.audit[i])
		}
	}
}

// TruncateAudit deletes the events after seq and moves the head back, as
// someone hiding recent events would: only a saved checkpoint notices.
func (f *Fake) TruncateAudit(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.audit) > 0 && f.audit[len(f.audit)-1].Seq > seq {
		f.audit = f.audit[:len(f.audit)-1]
	}
	f.auditHead = seq
}

// AuditEvents returns the stored audit events, oldest first.
func (f *Fake) AuditEvents() []client.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.AuditEvent(nil), f.audit...)
}

func fakeHash(ev client.AuditEvent) string {
	prev, _ := hex.DecodeString(ev.PrevHash)
	ev.Hash, ev.PrevHash = "", ""
	b, _ := json.Marshal(ev)
	h := sha256.New()
	h.Write(prev)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// auditMatch applies the filter parameters of the audit routes.
func auditMatch(ev client.AuditEvent, q map[string]string, since, until time.Time) bool {
	switch {
	case q["actor"] != "" && ev.Actor != q["actor"],
		q["action"] != "" && !strings.HasPrefix(ev.Action, q["action"]),
		q["target"] != "" && ev.Target != q["target"],
		q["outcome"] != "" && ev.Outcome != q["outcome"],
		!since.IsZero() && ev.Time.Before(since),
		!until.IsZero() && !ev.Time.Before(until):
		return false
	}
	return true
}

// auditFilter reads the filter parameters of r, answering 400 for a bad
// one.
func auditFilter(w http.ResponseWriter, r *http.Request) (q map[string]string, since, until time.Time, ok bool) {
	v := r.URL.Query()
	q = map[string]string{}
	for _, name := range []string{"actor", "action", "target", "outcome"} {
		q[name] = v.Get(name)
	}
	if o := q["outcome"]; o != "" && o != "success" && o != "failure" {
		problem(w, http.StatusBadRequest, fmt.Sprintf("outcome %q: want success or failure", o))
		return nil, since, until, false
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				problem(w, http.StatusBadRequest, fmt.Sprintf("%s %q: want RFC 3339", p.name, s))
				return nil, since, until, false
			}
			*p.dst = t
		}
	}
	return q, since, until, true
}

func (f *Fake) listAudit(w http.ResponseWriter, r *http.Request, _ []byte) {
	q, since, until, ok := auditFilter(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
	desc := v.Get("order") == "desc"
	if o := v.Get("order"); o != "" && o != "asc" && o != "desc" {
		problem(w, http.StatusBadRequest, fmt.Sprintf("order %q: want asc or desc", o))
		return
	}
	limit := 100
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			problem(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to 1000", s))
			return
		}
		limit = n
	}
	var after int64
	if c := v.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			problem(w, http.StatusBadRequest, "bad cursor")
			return
		}
		after = n
	}
	out := client.AuditPage{Events: []client.AuditEvent{}}
	n := len(f.audit)
	for i := range n {
		ev := f.audit[i]
		if desc {
			ev = f.audit[n-1-i]
		}
		if after > 0 && ((desc && ev.Seq >= after) || (!desc && ev.Seq <= after)) {
			continue
		}
		if !auditMatch(ev, q, since, until) {
			continue
		}
		if len(out.Events) == limit {
			out.Next = strconv.FormatInt(out.Events[limit-1].Seq, 10)
			break
		}
		out.Events = append(out.Events, ev)
	}
	writeJSON(w, http.StatusOK, out)
}

// streamAudit serves the audit stream. It runs without f.mu held between
// events, so that appends reach it.
func (f *Fake) streamAudit(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	q, _, _, ok := auditFilter(w, r)
	if !ok {
		f.mu.Unlock()
		return
	}
	pos := f.auditHead
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			f.mu.Unlock()
			problem(w, http.StatusBadRequest, "bad Last-Event-ID")
			return
		}
		pos = n
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", client.EventStreamMediaType)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "retry: 100\nid: %d\n\n", pos)
	for {
		f.mu.Lock()
		var todo []client.AuditEvent
		for _, ev := range f.audit {
			if ev.Seq > pos && auditMatch(ev, q, time.Time{}, time.Time{}) {
				todo = append(todo, ev)
			}
		}
		if f.auditWake == nil {
			f.auditWake = make(chan struct{})
		}
		if f.streamEnds == nil {
			f.streamEnds = make(chan struct{})
		}
		wake, ends := f.auditWake, f.streamEnds
		f.mu.Unlock()
		for _, ev := range todo {
			b, _ := json.Marshal(ev)
			fmt.Fprintf(bw, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, client.AuditEventType, b)
			pos = ev.Seq
		}
		if bw.Flush() != nil {
			return
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-ends:
			return
		case <-wake:
			// Events appended just after EndStreams wake the stream too:
			// the end wins, as on a server that went away, whichever of
			// the two select picked.
			select {
			case <-ends:
				return
			default:
			}
		}
	}
}

// EndStreams closes every open audit stream once, as a restarting server
// would; clients that follow reconnect with Last-Event-ID.
func (f *Fake) EndStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streamEnds != nil {
		close(f.streamEnds)
	}
	f.streamEnds = make(chan struct{})
}

func (f *Fake) verifyAudit(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req client.AuditVerifyRequest
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			problem(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	res := client.AuditVerifyResult{OK: true, Anchor: "genesis", Start: 1}
	if f.auditCut != "" && len(f.audit) > 0 {
		res.Anchor, res.Start = "prune", f.audit[0].Seq
	}
	fail := func(seq int64, reason string) {
		res.OK, res.FirstBad, res.Reason = false, seq, reason
	}
	prev := strings.Repeat("0", 64)
	if res.Anchor == "prune" {
		prev = f.auditCut
	}
	sawExpect := false
	for _, ev := range f.audit {
		switch {
		case ev.PrevHash != prev:
			fail(ev.Seq, fmt.Sprintf("event %d does not chain to its predecessor", ev.Seq))
		case fakeHash(ev) != ev.Hash:
			fail(ev.Seq, fmt.Sprintf("event %d does not match its hash: edited, or written without the audit key", ev.Seq))
		case req.ExpectHead != nil && req.ExpectHead.Seq == ev.Seq && req.ExpectHead.Hash != ev.Hash:
			fail(ev.Seq, fmt.Sprintf("remembered head %d has a different hash now: the log was rewritten", ev.Seq))
		}
		if !res.OK {
			break
		}
		if req.ExpectHead != nil && req.ExpectHead.Seq == ev.Seq {
			sawExpect = true
		}
		prev = ev.Hash
		res.Checked++
		res.Head = client.AuditHead{Seq: ev.Seq, Hash: ev.Hash}
	}
	if res.OK && req.ExpectHead != nil && req.ExpectHead.Seq > 0 && !sawExpect {
		if req.ExpectHead.Seq < res.Start {
			res.Note = fmt.Sprintf("remembered head %d was pruned and can no longer be checked", req.ExpectHead.Seq)
		} else {
			fail(req.ExpectHead.Seq, fmt.Sprintf("remembered head %d is not in the log, which ends at %d: the log was truncated", req.ExpectHead.Seq, res.Head.Seq))
		}
	}
	writeJSON(w, http.StatusOK, res)
}

func (f *Fake) auditCheckpoint(w http.ResponseWriter, _ *http.Request, _ []byte) {
	priv := ed25519.NewKeyFromSeed(checkpointSeed)
	pub := priv.Public().(ed25519.PublicKey)
	cp := client.Checkpoint{
		Origin: "mapwright audit log", Size: f.auditHead, Time: f.now().UTC().Truncate(time.Second),
		KeyID: client.CheckpointKeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub),
	}
	if n := len(f.audit); n > 0 {
		cp.Hash = f.audit[n-1].Hash
	}
	cp.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, cp.SignedText()))
	writeJSON(w, http.StatusOK, cp)
}

func (f *Fake) exportAudit(w http.ResponseWriter, r *http.Request, _ []byte) {
	q, since, until, ok := auditFilter(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = client.AuditFormatJSONL
	}
	if format != client.AuditFormatJSONL && format != client.AuditFormatCSV {
		problem(w, http.StatusBadRequest, fmt.Sprintf("format %q: want jsonl or csv", format))
		return
	}
	f.appendAudit(client.AuditEvent{Actor: "unix:1000(test)", Action: "audit.export", Details: map[string]string{"format": format}})
	if format == client.AuditFormatCSV {
		w.Header().Set("Content-Type", client.AuditCSVMediaType+"; charset=utf-8")
		cw := csv.NewWriter(w)
		_ = cw.Write(client.AuditCSVHeader)
		for _, ev := range f.audit {
			if auditMatch(ev, q, since, until) {
				_ = cw.Write(ev.CSVRecord())
			}
		}
		cw.Flush()
		return
	}
	w.Header().Set("Content-Type", client.AuditJSONLMediaType)
	enc := json.NewEncoder(w)
	for _, ev := range f.audit {
		if auditMatch(ev, q, since, until) {
			_ = enc.Encode(ev)
		}
	}
}

func (f *Fake) pruneAudit(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req client.AuditPruneRequest
	if err := json.Unmarshal(body, &req); err != nil {
		problem(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	d, err := time.ParseDuration(req.OlderThan)
	if err != nil || d <= 0 {
		problem(w, http.StatusBadRequest, fmt.Sprintf("older_than %q: want a positive duration", req.OlderThan))
		return
	}
	before := f.now().Add(-d)
	n := 0
	for n < len(f.audit) && f.audit[n].Time.Before(before) {
		n++
	}
	if n == 0 {
		writeJSON(w, http.StatusOK, client.AuditPruneResult{})
		return
	}
	cut := f.audit[n-1]
	ev := f.appendAudit(client.AuditEvent{
		Actor: "unix:1000(test)", Action: "audit.prune",
		Details: map[string]string{"cut_seq": strconv.FormatInt(cut.Seq, 10), "cut_hash": cut.Hash, "deleted": strconv.Itoa(n)},
	})
	f.audit = append([]client.AuditEvent(nil), f.audit[n:]...)
	f.auditCut = cut.Hash
	writeJSON(w, http.StatusOK, client.AuditPruneResult{Deleted: int64(n), CutSeq: cut.Seq, CutHash: cut.Hash, Event: ev.Seq})
}
