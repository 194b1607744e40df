package backup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
)

// checkServes checks that st, with the audit key of in, accepts the live
// and rotated keys of toks and refuses the revoked one, as a restored
// server would.
func checkServes(t *testing.T, st store.Store, key []byte, toks tokens) {
	t.Helper()
	svc := keys.New(st, audit.New(key, fixedNow), keys.Options{Now: fixedNow, CacheSize: -1})
	for name, tok := range map[string]string{"live": toks.live, "rotated new": toks.rotatedNew, "rotated old (in grace)": toks.rotatedOld} {
		if _, err := svc.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s key refused after restore: %v", name, err)
		}
	}
	if _, err := svc.Verify(t.Context(), toks.revoked); !errors.Is(err, keys.ErrRevoked) {
		t.Errorf("revoked key after restore: %v, want ErrRevoked", err)
	}
}

func TestRoundTripSQLite(t *testing.T) {
	src := newSQLite(t)
	toks := src.populate(t)
	want := dumpTables(t, src.st)
	plain, m := src.snapshot(t)

	if m.FormatVersion != FormatVersion || m.Backend != store.BackendSQLite || m.MapwrightVersion != "test" || !m.Created.Equal(testNow) {
		t.Errorf("manifest header = %+v", m.header())
	}
	var names []string
	for _, p := range m.Parts {
		names = append(names, p.Name)
	}
	wantNames := []string{"audit.key", "session.key", "tables/keys.jsonl", "tables/admin_sessions.jsonl",
		"tables/key_totp.jsonl", "tables/audit_events.jsonl", "tables/audit_head.jsonl"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("parts %v, want %v", names, wantNames)
	}
	if p, _ := m.Part("tables/keys.jsonl"); p.Rows != 5 {
		t.Errorf("keys part has %d rows, want 5", p.Rows)
	}

	id := newIdentity(t)
	file := encrypt(t, plain, Encryption{Recipients: []age.Recipient{id.Recipient()}})
	dst := newSQLite(t)
	rep, err := restoreFile(t.Context(), file, Keys{Identities: []age.Identity{id}}, dst.st, RestoreOptions{})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	diffDumps(t, dumpTables(t, dst.st), want)
	if !rep.Audit.OK || rep.Audit.From != 1 || rep.Audit.Events == 0 {
		t.Errorf("audit report %+v", rep.Audit)
	}
	if !slices.Equal(rep.Files, []string{"audit.key", "session.key"}) {
		t.Errorf("files %v", rep.Files)
	}
	checkServes(t, dst.st, src.auditKey, toks)
}

func TestRoundTripAcrossBackends(t *testing.T) {
	src := newSQLite(t)
	toks := src.populate(t)
	want := dumpTables(t, src.st)
	plain1, m1 := src.snapshot(t)

	pg := newPostgres(t)
	if _, err := Restore(t.Context(), bytes.NewReader(plain1), pg.st, RestoreOptions{}); err != nil {
		t.Fatalf("restore SQLite backup into PostgreSQL: %v", err)
	}
	diffDumps(t, dumpTables(t, pg.st), want)
	checkServes(t, pg.st, src.auditKey, toks)

	// The PostgreSQL copy backs up to the very same table parts.
	pg.dir = src.dir
	plain2, m2 := pg.snapshot(t)
	if m2.Backend != store.BackendPostgres {
		t.Errorf("backend %q, want postgres", m2.Backend)
	}
	for _, p1 := range m1.Parts {
		p2, ok := m2.Part(p1.Name)
		if !ok || p2.SHA256 != p1.SHA256 || p2.Rows != p1.Rows {
			t.Errorf("part %s: SQLite %+v, PostgreSQL %+v", p1.Name, p1, p2)
		}
	}

	back := newSQLite(t)
	if _, err := Restore(t.Context(), bytes.NewReader(plain2), back.st, RestoreOptions{}); err != nil {
		t.Fatalf("restore PostgreSQL backup into SQLite: %v", err)
	}
	diffDumps(t, dumpTables(t, back.st), want)
	checkServes(t, back.st, src.auditKey, toks)
}

func TestRestoreNonEmptyTarget(t *testing.T) {
	src := newSQLite(t)
	src.populate(t)
	want := dumpTables(t, src.st)
	plain, _ := src.snapshot(t)

	dst := newSQLite(t)
	dst.populate(t)
	before := dumpTables(t, dst.st)
	_, err := Restore(t.Context(), bytes.NewReader(plain), dst.st, RestoreOptions{})
	if !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("restore into a populated store: %v, want ErrNotEmpty", err)
	}
	diffDumps(t, dumpTables(t, dst.st), before)

	if _, err := Restore(t.Context(), bytes.NewReader(plain), dst.st, RestoreOptions{Force: true}); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	diffDumps(t, dumpTables(t, dst.st), want)
}

func TestRestoreRecordsItself(t *testing.T) {
	src := newSQLite(t)
	src.populate(t)
	plain, m := src.snapshot(t)
	dst := newSQLite(t)
	rep, err := Restore(t.Context(), bytes.NewReader(plain), dst.st, RestoreOptions{
		Actor: "unix:1000(alice)", Source: "mapwright-20300601T120000Z.mwbak", Now: fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := rep.Event
	if ev == nil || ev.Action != audit.ActionBackupRestore || ev.Actor != "unix:1000(alice)" || ev.Seq != rep.Audit.To+1 ||
		ev.Target != "mapwright-20300601T120000Z.mwbak" || ev.Details["source_backend"] != "sqlite" ||
		ev.Details["rows"] != strconv.FormatInt(m.Rows(), 10) {
		t.Fatalf("restore event = %+v (audit %+v)", ev, rep.Audit)
	}
	// The event is chained with the backup's audit key: the restored log
	// verifies with it to the end.
	res, err := audit.Verify(t.Context(), dst.st, src.auditKey, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Head.Seq != ev.Seq {
		t.Errorf("verify after restore: %+v, %v", res, err)
	}
}

// record builds one raw stream record.
func record(kind byte, payload []byte) []byte {
	b := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// flip returns a copy of b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// ageHeaderLen is the length of the age header of an encrypted file.
func ageHeaderLen(t *testing.T, file []byte) int {
	t.Helper()
	_, raw, err := ParseAgeHeader(bufioReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return len(raw)
}

func TestFaultsLeaveTargetUntouched(t *testing.T) {
	src := newSQLite(t)
	src.populate(t)
	// Several encrypted chunks of 64 KiB make the mid-file cases
	// meaningful.
	src.addEvents(t, 1000)
	plain, _ := src.snapshot(t)
	if len(plain) < 3*64<<10 {
		t.Fatalf("plaintext is only %d bytes", len(plain))
	}
	const pass = "correct horse battery staple"
	withPass := encrypt(t, plain, passphrase(pass))
	id := newIdentity(t)
	withID := encrypt(t, plain, Encryption{Recipients: []age.Recipient{id.Recipient()}})
	hl := ageHeaderLen(t, withPass)
	unencrypted := encrypt(t, plain, Encryption{None: true})
	gzipped := encrypt(t, plain, Encryption{None: true, Compress: true})
	gzPass := encrypt(t, plain, Encryption{Passphrase: pass, ScryptWorkFactor: 10, Compress: true})

	newer := append([]byte(streamMagic), record(recHeader, []byte(`{"format":"mapwright-backup","format_version":2,"backend":"sqlite","future":true}`))...)
	var futureSchema bytes.Buffer
	w, err := NewWriter(&futureSchema, Manifest{Backend: "sqlite", SchemaVersion: 99, Created: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}

	tampered := newSQLite(t)
	tampered.populate(t)
	if _, err := tampered.st.(*sqlite.Store).DB().ExecContext(t.Context(), "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	tamperedPlain, _ := tampered.snapshot(t)

	pk := Keys{Passphrase: pass}
	cases := []struct {
		name string
		file []byte
		keys Keys
		want []error
	}{
		{"wrong passphrase", withPass, Keys{Passphrase: "incorrect horse"}, []error{ErrWrongKey}},
		{"no passphrase given", withPass, Keys{}, []error{ErrEncrypted}},
		{"identity of someone else", withID, Keys{Identities: []age.Identity{newIdentity(t)}}, []error{ErrWrongKey}},
		{"passphrase for an identity file", withID, pk, []error{ErrWrongKey}},
		{"truncated in the age header", withPass[:hl/2], pk, []error{ErrTruncated}},
		{"truncated at the nonce", withPass[:hl+5], pk, []error{ErrTruncated}},
		{"truncated at a chunk boundary", withPass[:hl+16+64<<10+16], pk, []error{ErrTruncated}},
		{"truncated inside the first chunk", withPass[:hl+16+1000], pk, []error{ErrTruncated}},
		{"truncated by one byte", withPass[:len(withPass)-1], pk, []error{ErrTruncated}},
		{"empty file", nil, pk, []error{ErrTruncated}},
		{"flipped byte in the header MAC", flip(withPass, hl-3), pk, []error{ErrCorrupt}},
		{"flipped byte in the nonce", flip(withPass, hl+3), pk, []error{ErrCorrupt}},
		{"flipped byte in the first chunk", flip(withPass, hl+16+100), pk, []error{ErrCorrupt}},
		{"flipped byte in the last chunk", flip(withPass, len(withPass)-10), pk, []error{ErrCorrupt}},
		{"appended byte", append(bytes.Clone(withPass), 0), pk, []error{ErrCorrupt}},
		{"unencrypted, truncated", unencrypted[:len(unencrypted)/2], Keys{}, []error{ErrTruncated}},
		{"unencrypted, flipped byte in a part", flip(unencrypted, len(unencrypted)/2), Keys{}, []error{ErrCorrupt}},
		{"compressed, truncated", gzipped[:len(gzipped)/2], Keys{}, []error{ErrTruncated}},
		{"compressed, flipped byte", flip(gzipped, len(gzipped)/2), Keys{}, []error{ErrCorrupt}},
		{"compressed, flipped byte in the CRC", flip(gzipped, len(gzipped)-6), Keys{}, []error{ErrCorrupt}},
		{"compressed, data after it", append(bytes.Clone(gzipped), 1, 2, 3), Keys{}, []error{ErrCorrupt}},
		{"compressed and encrypted, truncated", gzPass[:len(gzPass)*3/4], pk, []error{ErrTruncated}},
		{"compressed and encrypted, wrong passphrase", gzPass, Keys{Passphrase: "x"}, []error{ErrWrongKey}},
		{"newer format version", encrypt(t, newer, passphrase(pass)), pk, []error{ErrFormatTooNew}},
		{"newer schema version", encrypt(t, futureSchema.Bytes(), passphrase(pass)), pk, []error{store.ErrSchemaTooNew}},
		{"not a backup", []byte("PK\x03\x04 this is a zip file, not a backup"), pk, []error{ErrNotBackup}},
		{"audit chain edited before the backup", encrypt(t, tamperedPlain, passphrase(pass)), pk, []error{ErrAuditChain}},
	}
	for _, tc := range cases {
		for _, force := range []bool{false, true} {
			name := tc.name
			if force {
				name += ", forced into a populated store"
			}
			t.Run(name, func(t *testing.T) {
				dst := newSQLite(t)
				if force {
					dst.populate(t)
				}
				before := dumpTables(t, dst.st)
				_, err := restoreFile(t.Context(), tc.file, tc.keys, dst.st, RestoreOptions{Force: force, Actor: "unix:0(root)"})
				if err == nil {
					t.Fatal("restore succeeded")
				}
				t.Log(err)
				for _, want := range tc.want {
					if !errors.Is(err, want) {
						t.Errorf("error %q does not match %v", err, want)
					}
				}
				if strings.Contains(err.Error(), pass) {
					t.Errorf("the error shows the passphrase: %v", err)
				}
				diffDumps(t, dumpTables(t, dst.st), before)
			})
		}
	}
}

func TestVerify(t *testing.T) {
	src := newSQLite(t)
	src.populate(t)
	plain, m := src.snapshot(t)
	rep, err := Verify(t.Context(), bytes.NewReader(plain), VerifyOptions{ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Manifest == nil || rep.Manifest.Rows() != m.Rows() || !rep.Audit.OK || rep.Event != nil {
		t.Errorf("report %+v", rep)
	}
	var rows int64
	for _, tr := range rep.Tables {
		rows += tr.Rows
	}
	if rows != m.Rows() {
		t.Errorf("tables report %d rows, manifest %d", rows, m.Rows())
	}

	scratch := t.TempDir()
	_, err = Verify(t.Context(), bytes.NewReader(flip(plain, len(plain)/2)), VerifyOptions{ScratchDir: scratch})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify of a flipped byte: %v, want ErrCorrupt", err)
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("Verify left %d entries in its scratch directory", len(left))
	}
}

func TestReadKeyFiles(t *testing.T) {
	in := newSQLite(t)
	files, err := ReadKeyFiles(in.dir)
	if err != nil || len(files) != 2 || files[0].Name != AuditKeyFile || files[1].Name != SessionKeyFile {
		t.Fatalf("ReadKeyFiles = %v, %v", files, err)
	}
	if err := os.Remove(filepath.Join(in.dir, SessionKeyFile)); err != nil {
		t.Fatal(err)
	}
	if files, err := ReadKeyFiles(in.dir); err != nil || len(files) != 1 {
		t.Errorf("without a session key: %v, %v", files, err)
	}
	if err := os.WriteFile(filepath.Join(in.dir, AuditKeyFile), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFiles(in.dir); err == nil {
		t.Error("an invalid audit key was read")
	}
	if err := os.Remove(filepath.Join(in.dir, AuditKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFiles(in.dir); err == nil {
		t.Error("a missing audit key was not an error")
	}
}
