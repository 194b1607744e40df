// Package contexts reads and writes mwctl's contexts file: named admin API
// targets with their credentials, and the current one.
//
// The file is YAML at $MWCTL_CONFIG, else $XDG_CONFIG_HOME/mwctl/config.yaml,
// else ~/.config/mwctl/config.yaml. It may hold a secret key and a session
// cookie, so it is written with mode 0600 in a directory created with mode
// 0700, atomically (a temporary file, fsynced, then renamed), so a crash
// never leaves half a file.
package contexts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// Errors of this package.
var (
	// ErrNotFound means no context has the name asked for.
	ErrNotFound = errors.New("no such context")
	// ErrExists means a context with that name exists already.
	ErrExists = errors.New("context exists")
	// ErrInvalid means the file or a context in it is malformed.
	ErrInvalid = errors.New("invalid contexts file")
	// ErrInsecureMode means the file can be read or written by other
	// users.
	ErrInsecureMode = errors.New("contexts file is open to other users")
)

// header starts every file mwctl writes.
const header = "# mwctl contexts: written by `mwctl context` and `mwctl login`.\n" +
	"# This file may hold secret keys and session cookies: keep it mode 0600.\n"

// File is the content of the contexts file.
type File struct {
	// CurrentContext names the context used when neither --context nor
	// MWCTL_CONTEXT is given. Empty: none.
	CurrentContext string `yaml:"current_context,omitempty"`
	// Contexts are the named targets, in the order they were added.
	Contexts []Context `yaml:"contexts"`
}

// Context is one named admin API target and its credentials.
type Context struct {
	// Name identifies the context: letters, digits, '.', '_' and '-'.
	Name string `yaml:"name"`
	// Server is the admin API address: unix:///path/admin.sock or
	// https://host:port.
	Server string `yaml:"server"`
	// Token is a secret key (mpw_sk_...) stored in the file itself.
	Token string `yaml:"token,omitempty"`
	// TokenFile is a file holding the secret key, read at each use.
	TokenFile string `yaml:"token_file,omitempty"`
	// CACert is a PEM file of the CA that signs the server's certificate.
	CACert string `yaml:"ca_cert,omitempty"`
	// Fingerprint is the pinned SHA-256 of the server's CA or leaf
	// certificate, as hex.
	Fingerprint string `yaml:"fingerprint,omitempty"`
	// Session is the admin session cookie ("name=value") from `mwctl
	// login`.
	Session string `yaml:"session,omitempty"`
	// SessionExpiresAt is when the session ends at the latest.
	SessionExpiresAt *time.Time `yaml:"session_expires_at,omitempty"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidateName reports whether name can name a context.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w: context name %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// DefaultPath returns the path of the contexts file from the environment:
// MWCTL_CONFIG, else XDG_CONFIG_HOME/mwctl/config.yaml, else
// ~/.config/mwctl/config.yaml.
func DefaultPath(lookup func(string) (string, bool)) (string, error) {
	if p, ok := lookup("MWCTL_CONFIG"); ok && p != "" {
		return p, nil
	}
	if d, ok := lookup("XDG_CONFIG_HOME"); ok && filepath.IsAbs(d) {
		return filepath.Join(d, "mwctl", "config.yaml"), nil
	}
	home, ok := lookup("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locate the contexts file: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".config", "mwctl", "config.yaml"), nil
}

// Load reads the contexts file at path. A missing file is an empty File.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read contexts file: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("contexts file %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes a contexts file, refusing unknown fields, duplicate or
// invalid names, and a current context that does not exist.
func Parse(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	seen := map[string]bool{}
	for _, c := range f.Contexts {
		if err := ValidateName(c.Name); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: context %q appears twice", ErrInvalid, c.Name)
		}
		seen[c.Name] = true
		if c.Server == "" {
			return nil, fmt.Errorf("%w: context %q has no server", ErrInvalid, c.Name)
		}
	}
	if f.CurrentContext != "" && !seen[f.CurrentContext] {
		return nil, fmt.Errorf("%w: current context %q is not defined", ErrInvalid, f.CurrentContext)
	}
	return &f, nil
}

// CheckMode returns ErrInsecureMode when the file at path is readable or
// writable by group or others. A missing file is fine.
func CheckMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; it may hold credentials: chmod 600 %s", ErrInsecureMode, path, perm, path)
	}
	return nil
}

// Get returns the context named name.
func (f *File) Get(name string) (*Context, error) {
	for i := range f.Contexts {
		if f.Contexts[i].Name == name {
			return &f.Contexts[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// Add appends c; the name must be new.
func (f *File) Add(c Context) error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if _, err := f.Get(c.Name); err == nil {
		return fmt.Errorf("%w: %q", ErrExists, c.Name)
	}
	f.Contexts = append(f.Contexts, c)
	return nil
}

// Remove deletes the context named name, and unsets it as current.
func (f *File) Remove(name string) error {
	for i := range f.Contexts {
		if f.Contexts[i].Name == name {
			f.Contexts = append(f.Contexts[:i], f.Contexts[i+1:]...)
			if f.CurrentContext == name {
				f.CurrentContext = ""
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrNotFound, name)
}

// Use makes the context named name current.
func (f *File) Use(name string) error {
	if _, err := f.Get(name); err != nil {
		return err
	}
	f.CurrentContext = name
	return nil
}

// Marshal encodes the file with its header comment.
func (f *File) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	out := *f
	if out.Contexts == nil {
		out.Contexts = []Context{}
	}
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode contexts: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode contexts: %w", err)
	}
	return buf.Bytes(), nil
}

// Save writes the file to path atomically with mode 0600, creating its
// directory with mode 0700 when missing.
func (f *File) Save(path string) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.tmp")
	if err != nil {
		return fmt.Errorf("write contexts file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it independent of that
	// detail.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write contexts file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write contexts file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write contexts file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write contexts file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write contexts file: %w", err)
	}
	// The rename is durable only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
