package client_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/client"
)

func TestCreateBackup(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     string
		wantStatus  int
	}{
		{"stream", http.StatusOK, client.BackupMediaType, "mapwright-backup\nrecords", "", 0},
		{"stream with parameters", http.StatusOK, client.BackupMediaType + "; charset=binary", "x", "", 0},
		{"an HTML page instead", http.StatusOK, "text/html", "<html>", "not a backup stream", 0},
		{"refused for scope", http.StatusForbidden, "application/problem+json", `{"title":"Forbidden","detail":"needs scope backup:create"}`, "needs scope backup:create", http.StatusForbidden},
		{"one already running", http.StatusConflict, "application/problem+json", `{"title":"backup running"}`, "backup running", http.StatusConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recordingServer(t, tc.status, tc.contentType, tc.body)
			c := newClient(t, srv, client.Options{Token: testToken})
			rc, err := c.CreateBackup(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tc.wantErr)
				}
				if tc.wantStatus == http.StatusConflict && !client.IsConflict(err) {
					t.Errorf("a 409 is not IsConflict: %v", err)
				}
				if tc.wantStatus == http.StatusForbidden && !client.IsForbidden(err) {
					t.Errorf("a 403 is not IsForbidden: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil || string(b) != tc.body {
				t.Errorf("stream %q, %v", b, err)
			}
			r := (*got)[0]
			if r.method != http.MethodPost || r.path != "/admin/v1/backups" || r.auth != "Bearer "+testToken {
				t.Errorf("request %s %s auth %q", r.method, r.path, r.auth)
			}
		})
	}
}
