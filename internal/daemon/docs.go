package daemon

import (
	"io"

	"github.com/mapwright/mapwright/internal/cli/docgen"
)

// DocRoot returns mapwrightd's command tree for its generated completions
// and man pages (section 8). The tree is never run.
func DocRoot() docgen.Root {
	return docgen.Root{Command: NewRootCmd(Streams{In: nil, Out: io.Discard, Err: io.Discard}), Section: "8"}
}
