package server

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// route identifies a route pattern: the metrics label and the request log
// show the pattern, never the raw path.
type route uint8

const (
	routeUnmatched route = iota
	routeLivez
	routeTilesets
	routeTileJSON
	routeTile
	numRoutes
)

var routePatterns = [numRoutes]string{
	routeUnmatched: "unmatched",
	routeLivez:     "/livez",
	routeTilesets:  "/v1/tilesets",
	routeTileJSON:  "/v1/tiles/{tileset}.json",
	routeTile:      "/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}",
}

func (r route) String() string { return routePatterns[r] }

// reqState is the per-request state shared by the layers of the chain. It
// wraps the ResponseWriter to see the status and size, and carries what
// inner layers learn (route, key) out to the log and metrics layers. It is
// one allocation per request; header values that change per response are
// stored in its slots so that setting them costs no further slice.
type reqState struct {
	w           http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool

	start    time.Time
	elapsed  time.Duration // set once by the first layer that needs it
	route    route
	client   netip.Prefix // truncated client network; invalid when unknown
	fwd      forwarding   // which forwarding headers count, see resolveClient
	token    string       // the presented key; never logged, see keyStart
	keyStart string       // its redacted form, once computed

	rateVal  [1]string
	etagVal  [1]string
	lenVal   [1]string
	retryVal [1]string
	buf      [64]byte
}

// stateOf returns the request state the chain put in place of w.
func stateOf(w http.ResponseWriter) *reqState {
	if st, ok := w.(*reqState); ok {
		return st
	}
	return &reqState{w: w, start: time.Now()}
}

// Header implements http.ResponseWriter.
func (st *reqState) Header() http.Header { return st.w.Header() }

// WriteHeader implements http.ResponseWriter.
func (st *reqState) WriteHeader(code int) {
	if st.wroteHeader {
		return
	}
	// 1xx responses are interim; the final status is still to come.
	if code >= 100 && code < 200 {
		st.w.WriteHeader(code)
		return
	}
	st.status = code
	st.wroteHeader = true
	st.w.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (st *reqState) Write(p []byte) (int, error) {
	if !st.wroteHeader {
		st.WriteHeader(http.StatusOK)
	}
	n, err := st.w.Write(p)
	st.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (st *reqState) Unwrap() http.ResponseWriter { return st.w }

// duration returns the time since the request started, read from the clock
// once and shared by the metrics and log layers.
func (st *reqState) duration(now func() time.Time) time.Duration {
	if st.elapsed == 0 {
		st.elapsed = max(now().Sub(st.start), 1)
	}
	return st.elapsed
}

// redactedKey returns the presented key in redacted form ("mpw_pk_AbCd…"),
// computing it once; "" when the request carried no key.
func (st *reqState) redactedKey() string {
	if st.keyStart == "" && st.token != "" {
		st.keyStart = apikey.Redact(st.token)
	}
	return st.keyStart
}
