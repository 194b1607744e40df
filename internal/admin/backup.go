package admin

import "net/http"

// createBackup streams a backup of the database; the client encrypts it,
// so no passphrase ever reaches the server.
func (a *Admin) createBackup(w http.ResponseWriter, r *http.Request, p *principal) {
	if a.opts.Backups == nil {
		writeProblem(w, http.StatusServiceUnavailable, probUnavailable, "backups are not enabled on this server")
		return
	}
	a.opts.Backups.Serve(w, r, p.Actor)
}
