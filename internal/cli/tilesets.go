package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// newCmdTilesets is the `mwctl tilesets` group.
func newCmdTilesets(f *Factory) *cobra.Command {
	cmd := newGroup("tilesets", "List and reload the server's tilesets",
		`List the tilesets the server serves, with their status, and make it rescan
its tileset directory.`)
	cmd.AddCommand(newCmdTilesetsList(f, nil), newCmdTilesetsReload(f, nil))
	return cmd
}

// tilesetTable is the table of `tilesets list` and `tilesets reload`.
func tilesetTable(ts []client.Tileset) *output.Table {
	t := output.NewTable("NAME", "FORMAT", "ZOOM", "PUBLIC", "STATUS", "PATH", "ERROR")
	t.Color(4, stateColor)
	for _, ts := range ts {
		t.AddRow(ts.Name, ts.Format, strconv.Itoa(ts.MinZoom)+"-"+strconv.Itoa(ts.MaxZoom),
			yesNo(ts.Public), ts.Status, ts.Path, ts.Error)
	}
	return t
}

// printTilesets prints a tileset list in the chosen format.
func printTilesets(p *output.Printer, list client.TilesetList) error {
	return p.Print(list, list.Tilesets, func() output.Human { return tilesetTable(list.Tilesets) })
}

// failedTilesets is the error of a reload that left tilesets unloaded.
func failedTilesets(list client.TilesetList) error {
	if list.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d tilesets failed to load: %w", list.Failed, list.Loaded+list.Failed, errPartial)
}
