package backup

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// ageMagic opens every age file.
const ageMagic = "age-encryption.org/v1\n"

// unencryptedMagic opens a backup file written without encryption, before
// the stream, so that it is recognisable as such at a glance.
const unencryptedMagic = "mapwright-backup-unencrypted\n"

// maxAgeHeader bounds the age header read when inspecting a file: a
// header with a few dozen recipients is a few kilobytes.
const maxAgeHeader = 64 << 10

// Encryption says how a backup file is protected. Exactly one of
// Recipients, Passphrase and None must be set.
type Encryption struct {
	// Recipients are age public keys (X25519, "age1..."): anyone holding
	// one of the matching identities can read the backup.
	Recipients []age.Recipient
	// Passphrase encrypts with a key derived by scrypt.
	Passphrase string
	// ScryptWorkFactor is the scrypt cost as log2(N); 0 means age's
	// default (18, about a second). Tests lower it.
	ScryptWorkFactor int
	// None writes the backup unencrypted, marked as such. The audit key
	// inside is then readable by anyone who can read the file.
	None bool
	// Compress gzips the stream before it is encrypted (JSON Lines shrink
	// about fivefold). Readers recognise either.
	Compress bool
}

// Check reports contradictory or missing settings as ErrEncryption.
func (e Encryption) Check() error {
	n := 0
	if len(e.Recipients) > 0 {
		n++
	}
	if e.Passphrase != "" {
		n++
	}
	if e.None {
		n++
	}
	switch {
	case n == 0:
		return fmt.Errorf("%w: give recipients or a passphrase (or, knowingly, no encryption)", ErrEncryption)
	case n > 1:
		return fmt.Errorf("%w: recipients, a passphrase and no encryption exclude each other", ErrEncryption)
	}
	return nil
}

// Wrap returns a writer that encrypts what it is given into w; Close
// finishes the encryption (it does not close w).
func (e Encryption) Wrap(w io.Writer) (io.WriteCloser, error) {
	if err := e.Check(); err != nil {
		return nil, err
	}
	var outer io.WriteCloser
	switch {
	case e.None:
		if _, err := io.WriteString(w, unencryptedMagic); err != nil {
			return nil, err
		}
		outer = nopCloser{w}
	case e.Passphrase != "":
		r, err := age.NewScryptRecipient(e.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
		}
		if e.ScryptWorkFactor > 0 {
			r.SetWorkFactor(e.ScryptWorkFactor)
		}
		if outer, err = age.Encrypt(w, r); err != nil {
			return nil, err
		}
	default:
		var err error
		if outer, err = age.Encrypt(w, e.Recipients...); err != nil {
			return nil, err
		}
	}
	if !e.Compress {
		return outer, nil
	}
	// The fastest level: it already shrinks JSON Lines about fivefold, at
	// a speed that keeps up with the snapshot.
	gz, err := gzip.NewWriterLevel(outer, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	return &stackedWriter{Writer: gz, closers: []io.Closer{gz, outer}}, nil
}

// stackedWriter closes the writers it stacks, innermost first.
type stackedWriter struct {
	io.Writer
	closers []io.Closer
}

func (s *stackedWriter) Close() error {
	for _, c := range s.closers {
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Keys open encrypted backups: identities (age X25519 identities,
// "AGE-SECRET-KEY-1...") and, or, a passphrase.
type Keys struct {
	// Identities are tried in turn.
	Identities []age.Identity
	// Passphrase opens a passphrase-encrypted backup.
	Passphrase string
}

func (k Keys) identities() ([]age.Identity, error) {
	ids := append([]age.Identity(nil), k.Identities...)
	if k.Passphrase != "" {
		id, err := age.NewScryptIdentity(k.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Protection describes how a backup file is protected, as read from its
// unencrypted start.
type Protection struct {
	// Encrypted is true for an age file.
	Encrypted bool
	// Stanzas are the types of the age header's recipient stanzas:
	// "X25519" once per recipient, "scrypt" for a passphrase.
	Stanzas []string
	// Compressed is true when the stream inside is gzipped; Open finds
	// it out, Inspect cannot when the file is encrypted.
	Compressed bool
}

// String describes the protection in a few words.
func (p Protection) String() string {
	if !p.Encrypted {
		return "none"
	}
	counts := map[string]int{}
	var order []string
	for _, s := range p.Stanzas {
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, 0, len(order))
	for _, s := range order {
		switch {
		case s == "scrypt":
			parts = append(parts, "passphrase")
		case counts[s] == 1:
			parts = append(parts, "1 "+s+" recipient")
		default:
			parts = append(parts, fmt.Sprintf("%d %s recipients", counts[s], s))
		}
	}
	return "age (" + strings.Join(parts, ", ") + ")"
}

// Inspect reads the start of a backup file and says how it is protected,
// without any key. It fails with ErrNotBackup for anything else.
func Inspect(r io.Reader) (Protection, error) {
	br := bufio.NewReaderSize(r, 4096)
	kind, err := sniff(br)
	if err != nil {
		return Protection{}, err
	}
	if kind != kindAge {
		return Protection{}, nil
	}
	stanzas, _, err := ParseAgeHeader(br)
	if err != nil {
		return Protection{}, err
	}
	return Protection{Encrypted: true, Stanzas: stanzas}, nil
}

type fileKind int

const (
	kindAge fileKind = iota
	kindUnencrypted
	kindStream
)

// sniff tells an age file from an unencrypted backup file and from a bare
// backup stream, consuming nothing.
func sniff(br *bufio.Reader) (fileKind, error) {
	for _, c := range []struct {
		magic string
		kind  fileKind
	}{{ageMagic, kindAge}, {unencryptedMagic, kindUnencrypted}, {streamMagic, kindStream}} {
		b, err := br.Peek(len(c.magic))
		if string(b) == c.magic {
			return c.kind, nil
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return 0, fmt.Errorf("read backup: %w", err)
		}
	}
	if b, _ := br.Peek(1); len(b) == 0 {
		return 0, fmt.Errorf("%w: the file is empty", ErrTruncated)
	}
	return 0, fmt.Errorf("%w: it starts neither as an age file nor as a backup", ErrNotBackup)
}

// ParseAgeHeader reads an age header (version line, recipient stanzas,
// MAC line) from br and returns the stanza types and the header's bytes.
// It checks the structure only; the MAC is age's to verify. A header cut
// short is ErrTruncated; a malformed one ErrCorrupt.
func ParseAgeHeader(br *bufio.Reader) (stanzas []string, raw []byte, err error) {
	var buf bytes.Buffer
	readLine := func() (string, error) {
		line, err := br.ReadSlice('\n')
		buf.Write(line)
		if buf.Len() > maxAgeHeader {
			return "", fmt.Errorf("%w: the age header is longer than %d bytes", ErrCorrupt, maxAgeHeader)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", fmt.Errorf("%w: an age header line is too long", ErrCorrupt)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("%w: the file ends inside its age header", ErrTruncated)
			}
			return "", fmt.Errorf("read age header: %w", err)
		}
		return string(line[:len(line)-1]), nil
	}
	first, err := readLine()
	if err != nil {
		return nil, nil, err
	}
	if first+"\n" != ageMagic {
		return nil, nil, fmt.Errorf("%w: not an age v1 file", ErrNotBackup)
	}
	inBody := false
	for {
		line, err := readLine()
		if err != nil {
			return nil, nil, err
		}
		switch {
		case strings.HasPrefix(line, "-> "):
			args := strings.Fields(line[3:])
			if len(args) == 0 {
				return nil, nil, fmt.Errorf("%w: an age stanza without a type", ErrCorrupt)
			}
			stanzas = append(stanzas, sanitize(args[0]))
			inBody = true
		case strings.HasPrefix(line, "--- "):
			if len(stanzas) == 0 {
				return nil, nil, fmt.Errorf("%w: an age header without recipients", ErrCorrupt)
			}
			return stanzas, buf.Bytes(), nil
		case inBody && len(line) <= 64:
			// A stanza body line: base64, 64 characters except the last.
			if len(line) < 64 {
				inBody = false
			}
		default:
			return nil, nil, fmt.Errorf("%w: unexpected line in the age header", ErrCorrupt)
		}
	}
}

// Open returns the plaintext backup stream of a backup file read from r:
// it decrypts an age file with keys, skips the marker of an unencrypted
// file, and passes a bare stream through. It reports the file's protection.
// Errors: ErrNotBackup, ErrEncrypted (no key given), ErrWrongKey, and,
// while reading the returned stream, ErrTruncated or ErrCorrupt when the
// encrypted payload is cut short or fails authentication.
func Open(r io.Reader, keys Keys) (io.Reader, Protection, error) {
	src := &sourceReader{r: r}
	br := bufio.NewReaderSize(src, 64<<10)
	kind, err := sniff(br)
	if err != nil {
		return nil, Protection{}, err
	}
	switch kind {
	case kindUnencrypted:
		if _, err := br.Discard(len(unencryptedMagic)); err != nil {
			return nil, Protection{}, fmt.Errorf("read backup: %w", err)
		}
		return decompress(br, Protection{})
	case kindStream:
		return br, Protection{}, nil
	}
	stanzas, raw, err := ParseAgeHeader(br)
	if err != nil {
		return nil, Protection{}, err
	}
	prot := Protection{Encrypted: true, Stanzas: stanzas}
	ids, err := keys.identities()
	if err != nil {
		return nil, prot, err
	}
	if len(ids) == 0 {
		return nil, prot, fmt.Errorf("%w with %s: give an identity file or a passphrase", ErrEncrypted, prot)
	}
	payload := &eofTracker{r: br}
	plain, err := age.Decrypt(io.MultiReader(bytes.NewReader(raw), payload), ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		switch {
		case errors.As(err, &noMatch):
			return nil, prot, fmt.Errorf("%w: the backup is encrypted with %s", ErrWrongKey, prot)
		case src.err != nil:
			return nil, prot, fmt.Errorf("read backup: %w", src.err)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return nil, prot, fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return nil, prot, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return decompress(&decryptReader{r: plain, src: src, payload: payload}, prot)
}

// gzipMagic opens a gzip stream.
const gzipMagic = "\x1f\x8b"

// decompress passes a plaintext stream on, gunzipping it first when it is
// compressed.
func decompress(r io.Reader, prot Protection) (io.Reader, Protection, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(len(gzipMagic))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, prot, fmt.Errorf("%w: no data after the header", ErrTruncated)
		}
		return nil, prot, err
	}
	if string(magic) != gzipMagic {
		return br, prot, nil
	}
	prot.Compressed = true
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, prot, gzipErr(err)
	}
	// One member only: anything after it is not part of the backup.
	zr.Multistream(false)
	return &gunzipReader{zr: zr, br: br}, prot, nil
}

// gunzipReader names gzip's errors and refuses data after the
// compressed stream.
type gunzipReader struct {
	zr *gzip.Reader
	br *bufio.Reader
}

func (g *gunzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err == io.EOF {
		if _, perr := g.br.Peek(1); perr == nil {
			return n, fmt.Errorf("%w: data after the compressed stream", ErrCorrupt)
		}
		return n, io.EOF
	}
	if err != nil {
		return n, gzipErr(err)
	}
	return n, nil
}

func gzipErr(err error) error {
	switch {
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrTruncated):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the compressed stream ends early", ErrTruncated)
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("%w: decompression failed: %v", ErrCorrupt, err)
	}
	return err
}

// sourceReader remembers the error of the underlying file, so that a
// failing disk is not mistaken for a damaged backup.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// eofTracker notes when the encrypted payload has been read to its end.
type eofTracker struct {
	r      io.Reader
	sawEOF bool
}

func (e *eofTracker) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		e.sawEOF = true
	}
	return n, err
}

// decryptReader names the errors of age's payload reader.
type decryptReader struct {
	r       io.Reader
	src     *sourceReader
	payload *eofTracker
}

func (d *decryptReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	switch {
	case err == nil, err == io.EOF:
		return n, err
	case d.src.err != nil:
		return n, fmt.Errorf("read backup: %w", d.src.err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, fmt.Errorf("%w: the encrypted data ends early", ErrTruncated)
	case d.payload.sawEOF:
		// The chunk that failed is the file's last, short one: a file cut
		// inside a chunk and one whose end was altered look alike.
		return n, fmt.Errorf("%w or %w: its last encrypted chunk fails authentication: the file was cut short or its end was changed",
			ErrTruncated, ErrCorrupt)
	}
	return n, fmt.Errorf("%w: decryption failed (%v): the file was changed or damaged", ErrCorrupt, err)
}

// ParseRecipients parses age public keys ("age1...").
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	out := make([]age.Recipient, 0, len(keys))
	for _, k := range keys {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("%w: recipient %q: %v", ErrEncryption, sanitize(k), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadRecipientsFile reads age public keys from a file, one per line;
// empty lines and lines starting with # are ignored.
func ReadRecipientsFile(path string) ([]age.Recipient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read recipients: %w", err)
	}
	defer f.Close()
	rs, err := age.ParseRecipients(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: recipients file %s: %v", ErrEncryption, path, err)
	}
	return rs, nil
}

// ReadIdentityFile reads age identities ("AGE-SECRET-KEY-1...") from a
// file, one per line; empty lines and lines starting with # are ignored.
func ReadIdentityFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(io.LimitReader(f, 1<<20))
	if err != nil {
		// age's message may quote the file's content, which is a secret.
		return nil, fmt.Errorf("%w: identity file %s holds no valid age identity", ErrEncryption, path)
	}
	return ids, nil
}
