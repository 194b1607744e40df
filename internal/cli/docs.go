package cli

import (
	"github.com/mapwright/mapwright/internal/cli/docgen"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

// DocRoots returns the command trees whose completions and man pages are
// generated and committed: mwctl, man section 1. The trees are built on
// ios and never run.
func DocRoots(ios *iostreams.IOStreams) []docgen.Root {
	return []docgen.Root{{Command: NewRootCmd(NewFactory(ios)), Section: "1"}}
}
