package daemon

import (
	"context"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/server"
)

// auditRecorders feeds the public handler's refusals into the audit
// aggregator: counted on the request path, written once a minute.
type auditRecorders struct{ agg *audit.Aggregator }

func (r auditRecorders) RecordAuthFailure(_ context.Context, f server.AuthFailure) {
	r.agg.Record(audit.Failure{
		Action: audit.ActionAuthFailure, Reason: f.Reason, KeyID: f.KeyID,
		KeyStart: f.KeyStart, ClientIP: f.ClientIP, Time: f.Time,
	})
}

func (r auditRecorders) RecordKeyMisuse(_ context.Context, ev server.MisuseEvent) {
	r.agg.Record(audit.Failure{
		Action: audit.ActionKeyMisuse, Reason: server.ReasonSecretKey,
		KeyStart: ev.KeyStart, ClientIP: ev.ClientIP, Time: ev.Time,
	})
}
