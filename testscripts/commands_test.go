package testscripts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/testscript"
	// The "sqlite" database/sql driver, for sqlexec.
	_ "modernc.org/sqlite"

	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// commands are the extra script commands:
//
//	waitfor [-timeout 30s] ADDR...     wait until each host:port accepts TCP, or each unix socket path accepts
//	fetch [flags] URL                  one HTTP request; prints "HTTP <code>", the headers (sorted) and the body
//	pgdb NAME                          create a fresh PostgreSQL database and export its URL as $NAME
//	envfrom NAME FILE                  export the trimmed contents of FILE as $NAME
//	demotileset DIR                    write the bundled countries.pmtiles into DIR
//	clientca DIR                       write a client CA and a client certificate (mutual TLS)
//	truncatefile SRC DST               copy the first half of SRC to DST (a damaged file)
//	sleep DURATION                     pause (a Go duration)
//	jsonenv NAME FILE FIELD            export a top-level string field of the JSON object in FILE as $NAME
//	sqlexec DB SQL...                  run statements on the SQLite file DB (as someone with write access
//	                                   to the database would); a SELECT prints its rows, one per line
//	newkey NAME public|secret          export a fresh, well-formed key that no server knows as $NAME
//	badkeys [-ca FILE] N URL           send N GETs to URL, each with another unknown key (?key=); print
//	                                   "HTTP <code>: <count>" per status and export $BADKEYS_<code>
func commands(t *testing.T) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"waitfor": cmdWaitfor,
		"fetch":   cmdFetch,
		"envfrom": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: envfrom NAME FILE")
			}
			ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
		},
		"clientca": cmdClientCA,
		"truncatefile": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: truncatefile SRC DST")
			}
			b, err := os.ReadFile(ts.MkAbs(args[0]))
			ts.Check(err)
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), b[:len(b)/2], 0o600))
		},
		"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: sleep DURATION")
			}
			d, err := time.ParseDuration(args[0])
			ts.Check(err)
			time.Sleep(d)
		},
		"jsonenv": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 3 {
				ts.Fatalf("usage: jsonenv NAME FILE FIELD")
			}
			var obj map[string]any
			ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &obj))
			v, ok := obj[args[2]].(string)
			if !ok {
				ts.Fatalf("%s has no string field %q", args[1], args[2])
			}
			ts.Setenv(args[0], v)
		},
		"demotileset": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: demotileset DIR")
			}
			dir := ts.MkAbs(args[0])
			ts.Check(os.MkdirAll(dir, 0o755))
			_, err := demo.WriteTileset(dir)
			ts.Check(err)
		},
		"sqlexec": cmdSQLExec,
		"badkeys": cmdBadKeys,
		"newkey": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: newkey NAME public|secret")
			}
			kind, err := apikey.ParseKind(args[1])
			ts.Check(err)
			tok, err := apikey.Generate(kind)
			ts.Check(err)
			ts.Setenv(args[0], tok)
		},
		"pgdb": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: pgdb NAME")
			}
			ts.Setenv(args[0], pgtest.URL(t))
		},
	}
}

func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("waitfor", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 || neg {
		ts.Fatalf("usage: waitfor [-timeout D] ADDR...")
	}
	deadline := time.Now().Add(*timeout)
	for _, addr := range fs.Args() {
		network := "tcp"
		if strings.HasPrefix(addr, "/") {
			network = "unix"
		}
		for {
			c, err := net.DialTimeout(network, addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				ts.Fatalf("waitfor %s: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// cmdFetch makes one request. Flags: -X METHOD, -H 'Name: value'
// (repeatable), -ca FILE (trust this CA), -cert/-key (client certificate),
// -unix SOCKET (dial a unix socket), -resolve HOST (TLS server name),
// -status N (fail unless the status is N), -body TEXT, -http1.
func cmdFetch(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	method := fs.String("X", "GET", "method")
	var headers headerFlags
	fs.Var(&headers, "H", "header")
	caFile := fs.String("ca", "", "CA file")
	certFile := fs.String("cert", "", "client certificate")
	keyFile := fs.String("key", "", "client key")
	unixSock := fs.String("unix", "", "unix socket")
	status := fs.Int("status", 0, "expected status")
	body := fs.String("body", "", "request body")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: fetch [flags] URL")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	if *caFile != "" {
		pem, err := os.ReadFile(ts.MkAbs(*caFile))
		ts.Check(err)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			ts.Fatalf("no certificate in %s", *caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(ts.MkAbs(*certFile), ts.MkAbs(*keyFile))
		ts.Check(err)
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	if *unixSock != "" {
		sock := ts.MkAbs(*unixSock)
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var rb io.Reader
	if *body != "" {
		rb = strings.NewReader(*body)
	}
	req, err := http.NewRequest(*method, fs.Arg(0), rb)
	ts.Check(err)
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			ts.Fatalf("bad header %q", h)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}
	if rb != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		if neg {
			fmt.Fprintf(ts.Stdout(), "error: %v\n", err)
			return
		}
		ts.Fatalf("fetch %s: %v", fs.Arg(0), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	ts.Check(err)
	out := ts.Stdout()
	fmt.Fprintf(out, "HTTP %d\n", resp.StatusCode)
	names := make([]string, 0, len(resp.Header))
	for name := range resp.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range resp.Header[name] {
			fmt.Fprintf(out, "%s: %s\n", name, v)
		}
	}
	fmt.Fprintln(out)
	if utf8.Valid(data) {
		out.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fmt.Fprintln(out)
		}
	} else {
		fmt.Fprintf(out, "<%d bytes of binary>\n", len(data))
	}
	failed := *status != 0 && resp.StatusCode != *status
	if failed != neg {
		if neg {
			ts.Fatalf("fetch %s: unexpectedly got status %d", fs.Arg(0), resp.StatusCode)
		}
		ts.Fatalf("fetch %s: status %d, want %s", fs.Arg(0), resp.StatusCode, strconv.Itoa(*status))
	}
}

// cmdSQLExec runs SQL statements on a SQLite database file directly, the
// way an intruder with write access to the database (but not to the audit
// key) would tamper with it. Rows of a statement that returns any are
// printed one per line, columns separated by "|".
func cmdSQLExec(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: sqlexec DB SQL...")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(10000)")
	ts.Check(err)
	defer db.Close()
	for _, stmt := range args[1:] {
		rows, err := db.Query(stmt)
		if err != nil {
			ts.Fatalf("sqlexec %q: %v", stmt, err)
		}
		cols, err := rows.Columns()
		ts.Check(err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			ts.Check(rows.Scan(ptrs...))
			cells := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = fmt.Sprintf("%x", b)
				}
				cells[i] = fmt.Sprint(v)
			}
			fmt.Fprintln(ts.Stdout(), strings.Join(cells, "|"))
		}
		ts.Check(rows.Err())
		ts.Check(rows.Close())
	}
}

// cmdBadKeys sends N requests, each with a fresh well-formed key that no
// server knows, and counts the answers by status.
func cmdBadKeys(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("badkeys", flag.ContinueOnError)
	caFile := fs.String("ca", "", "CA file")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 || neg {
		ts.Fatalf("usage: badkeys [-ca FILE] N URL")
	}
	n, err := strconv.Atoi(fs.Arg(0))
	if err != nil || n < 1 {
		ts.Fatalf("badkeys: bad count %q", fs.Arg(0))
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if *caFile != "" {
		pem, err := os.ReadFile(ts.MkAbs(*caFile))
		ts.Check(err)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			ts.Fatalf("no certificate in %s", *caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	counts := map[int]int{}
	for range n {
		tok, err := apikey.Generate(apikey.Public)
		ts.Check(err)
		resp, err := client.Get(fs.Arg(1) + "?key=" + tok)
		if err != nil {
			ts.Fatalf("badkeys: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		counts[resp.StatusCode]++
	}
	codes := make([]int, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(ts.Stdout(), "HTTP %d: %d\n", c, counts[c])
		ts.Setenv("BADKEYS_"+strconv.Itoa(c), strconv.Itoa(counts[c]))
	}
}
