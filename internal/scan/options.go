package scan

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
)

// Defaults of Options and of mwctl scan.
const (
	// DefaultChunkSize is the read size of each worker: files of any size
	// are scanned in pieces of this many bytes.
	DefaultChunkSize = 1 << 20
	// DefaultMaxArchiveDepth is mwctl scan's --max-archive-depth: an
	// archive and an archive inside it are opened.
	DefaultMaxArchiveDepth = 2
	// DefaultMaxArchiveBytes bounds how many bytes the members of one
	// top-level archive may expand to, beyond the archive's own size.
	DefaultMaxArchiveBytes = 1 << 30
	// DefaultMaxArchiveRatio bounds expanded bytes / archive size, checked
	// once an archive has expanded past ratioFloor bytes.
	DefaultMaxArchiveRatio = 200
	// DefaultMaxLocations bounds the locations kept per key; further
	// occurrences are only counted (Key.OmittedLocations).
	DefaultMaxLocations = 1000
	// AllowMarker on the line of a key suppresses that finding.
	AllowMarker = "mwctl:allow"
	// MarkerWindow bounds the search for AllowMarker: it must lie on the
	// token's line within this many bytes before the token's start or
	// after its end.
	MarkerWindow = 4096
)

// ratioFloor is the expanded size below which the ratio check does not
// apply: small, highly compressible members (logs, zeros) are harmless.
const ratioFloor = 32 << 20

// Options configure Scan. The zero value scans the current directory,
// opens no archives and reads no baseline.
type Options struct {
	// Paths are files and directories to scan, and "-" for Stdin. Empty:
	// ".". Directories are walked entirely, ignored files included, except
	// the insides of directories named .git. In git modes, Paths name the
	// repository (at most one; empty: ".").
	Paths []string
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Git scans every blob reachable from every ref of the repository,
	// instead of the files.
	Git bool
	// Staged scans the blobs staged in the index that differ from HEAD,
	// instead of the files.
	Staged bool
	// FollowSymlinks follows symbolic links met while walking directories.
	// Paths named in Paths are always followed.
	FollowSymlinks bool
	// MaxArchiveDepth is how deep archives are opened: 0 opens none, 1
	// opens archives but not archives inside them, and so on. An archive
	// past the depth is scanned as bytes.
	MaxArchiveDepth int
	// MaxArchiveBytes bounds the expansion of one top-level archive (0:
	// DefaultMaxArchiveBytes). Past it the archive's rest is skipped with
	// a warning.
	MaxArchiveBytes int64
	// MaxArchiveRatio bounds expanded size / archive size (0:
	// DefaultMaxArchiveRatio).
	MaxArchiveRatio int64
	// IncludeInvalid reports look-alikes (bad checksum) as keys with
	// status invalid; otherwise they are only counted.
	IncludeInvalid bool
	// Baseline holds fingerprints whose findings are suppressed.
	Baseline *Baseline
	// ChunkSize is the read size (0: DefaultChunkSize).
	ChunkSize int
	// Workers is the number of files scanned at once (0: GOMAXPROCS).
	Workers int
	// MaxLocations bounds the locations kept per key (0:
	// DefaultMaxLocations).
	MaxLocations int
	// GitPath is the git program (empty: "git" from PATH).
	GitPath string
	// Logger receives debug records (nil: none). Tokens never reach it.
	Logger *slog.Logger
}

// withDefaults fills in the zero values and checks the ranges.
func (o Options) withDefaults() (Options, error) {
	if o.Git && o.Staged {
		return o, fmt.Errorf("git history and staged modes: %w: choose one", ErrOptions)
	}
	if (o.Git || o.Staged) && len(o.Paths) > 1 {
		return o, fmt.Errorf("git modes scan one repository, got %d paths: %w", len(o.Paths), ErrOptions)
	}
	if len(o.Paths) == 0 {
		o.Paths = []string{"."}
	}
	if o.MaxArchiveDepth < 0 {
		return o, fmt.Errorf("archive depth %d: %w", o.MaxArchiveDepth, ErrOptions)
	}
	if o.ChunkSize < 0 || o.Workers < 0 || o.MaxLocations < 0 || o.MaxArchiveBytes < 0 || o.MaxArchiveRatio < 0 {
		return o, fmt.Errorf("negative size or count: %w", ErrOptions)
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxLocations == 0 {
		o.MaxLocations = DefaultMaxLocations
	}
	if o.MaxArchiveBytes == 0 {
		o.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if o.MaxArchiveRatio == 0 {
		o.MaxArchiveRatio = DefaultMaxArchiveRatio
	}
	if o.GitPath == "" {
		o.GitPath = "git"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
