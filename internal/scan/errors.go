package scan

import "errors"

// Errors of package scan, for errors.Is. Problems with single files, blobs
// or archives are not errors: they become Result.Warnings.
var (
	// ErrOptions means Options are contradictory or out of range.
	ErrOptions = errors.New("invalid scan options")
	// ErrNotRepository means a path given for git mode is not inside a git
	// repository.
	ErrNotRepository = errors.New("not a git repository")
	// ErrGit means the git program is missing or failed.
	ErrGit = errors.New("git failed")
	// ErrBaseline means a baseline file is not one WriteBaseline writes.
	ErrBaseline = errors.New("invalid baseline file")
	// ErrLookup means the admin API's lookup answer does not match the
	// request (wrong count or order of hashes).
	ErrLookup = errors.New("unexpected lookup answer")

	// errArchiveLimit stops an archive whose members expand past the
	// limits of Options; it becomes a warning.
	errArchiveLimit = errors.New("archive expands past the size limit")
	// errArchiveRatio stops an archive whose members expand past
	// MaxArchiveRatio times its own size; it becomes a warning.
	errArchiveRatio = errors.New("archive expands past the compression ratio limit")
)
