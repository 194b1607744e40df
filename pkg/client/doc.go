// Package client is the Go client of Mapwright's admin API, used by mwctl
// and its dashboard, and usable by anyone automating a Mapwright server.
//
// The admin API listens on a unix socket in the daemon's data directory
// (access to the socket is admin access) and, when enabled, on a TLS TCP
// listener that requires a secret key (Authorization: Bearer mpw_sk_...) or
// a session cookie.
//
// Routes (all JSON; errors are RFC 9457 problem details):
//
//	GET    /admin/v1/status                  Status
//	GET    /admin/v1/keys                    KeyList      (keys:read)
//	POST   /admin/v1/keys                    CreatedKey   (keys:write)
//	GET    /admin/v1/keys/{id}               Key          (keys:read)
//	POST   /admin/v1/keys/{id}/rotate        RotatedKey   (keys:rotate)
//	POST   /admin/v1/keys/{id}/revoke        RevokeResult (keys:write)
//	POST   /admin/v1/keys/{id}/totp          TOTPEnrollment (keys:write)
//	POST   /admin/v1/keys/lookup             LookupResponse (keys:read)
//	GET    /admin/v1/audit                   AuditPage    (audit:read)
//	GET    /admin/v1/audit/stream            text/event-stream of AuditEvent (audit:read)
//	POST   /admin/v1/audit/verify            AuditVerifyResult (audit:read)
//	GET    /admin/v1/audit/checkpoint        Checkpoint   (audit:read)
//	GET    /admin/v1/audit/export            JSON Lines or CSV stream (audit:read)
//	POST   /admin/v1/audit/prune             AuditPruneResult (admin)
//	POST   /admin/v1/sessions                Session + Set-Cookie
//	DELETE /admin/v1/sessions                204
//	GET    /admin/v1/tilesets                TilesetList  (tilesets:admin)
//	POST   /admin/v1/tilesets/reload         TilesetList  (tilesets:admin)
//	GET    /metrics                          Prometheus text (metrics:read)
//	GET    /readyz, /livez                   200 or 503
package client
