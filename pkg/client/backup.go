package client

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// BackupMediaType is the Content-Type of the backup stream the admin API
// sends.
const BackupMediaType = "application/vnd.mapwright.backup"

// CreateBackup asks the server for a backup of its database (POST
// /admin/v1/backups, scope backup:create) and returns the stream as it
// arrives: a consistent snapshot of every table plus the server's key
// files, NOT encrypted. The caller must close it, and should encrypt it
// before it touches a disk (mwctl backup create does, locally, so that a
// passphrase never reaches the server). The stream's own records say
// whether it arrived complete; a reader of the backup format checks them.
func (c *Client) CreateBackup(ctx context.Context) (io.ReadCloser, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/admin/v1/backups"})
	if err != nil {
		return nil, fmt.Errorf("create backup: %w", err)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != BackupMediaType {
		resp.Body.Close()
		return nil, fmt.Errorf("create backup: the server answered with %q, not a backup stream", clean(resp.Header.Get("Content-Type")))
	}
	return resp.Body, nil
}
