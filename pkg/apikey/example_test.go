package apikey_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// The checksum of a key can be recomputed by anyone, so a scanner tells real
// keys from look-alikes offline.
func Example() {
	// Prefix and 30 random characters, then their checksum.
	body := "mpw_pk_0123456789ABCDEFGHIJabcdefghij"
	token := body + apikey.Checksum(body)
	fmt.Println(token)

	kind, err := apikey.Parse(token)
	fmt.Println(kind, err)

	// One mistyped character breaks the checksum.
	_, err = apikey.Parse(strings.Replace(token, "ABC", "ABD", 1))
	fmt.Println(errors.Is(err, apikey.ErrChecksum))

	// What a server stores and shows instead of the key.
	fmt.Println(apikey.HashHex(token)[:16], apikey.Start(token))
	// Output:
	// mpw_pk_0123456789ABCDEFGHIJabcdefghij2LoRM3
	// public <nil>
	// true
	// d48ba3b3dbf95acb mpw_pk_0123
}

func ExampleGenerate() {
	token, err := apikey.Generate(apikey.Secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Never print a key: show it redacted.
	fmt.Println(len(token), apikey.Valid(token), strings.HasPrefix(apikey.Redact(token), "mpw_sk_"))
	// Output: 43 true true
}

func ExampleParse() {
	for _, s := range []string{
		"mpw_pk_0123456789ABCDEFGHIJabcdefghij2LoRM3",
		"mpw_pk_0123456789ABCDEFGHIJabcdefghij000000",
		"mpw_pk_0123456789",
		"ghp_0123456789",
	} {
		kind, err := apikey.Parse(s)
		if err != nil {
			// Errors hold no part of the key; add the redacted form.
			fmt.Printf("%s: %v\n", apikey.Redact(s), err)
			continue
		}
		fmt.Printf("%s: valid %s key\n", apikey.Redact(s), kind)
	}
	// Output:
	// mpw_pk_0123…: valid public key
	// mpw_pk_0123…: apikey: token checksum does not match
	// mpw_pk_0123…: apikey: token is not 43 characters long
	// [redacted]: apikey: token does not start with mpw_pk_ or mpw_sk_
}

func ExampleRedact() {
	fmt.Println(apikey.Redact("mpw_sk_0123456789ABCDEFGHIJabcdefghij41Cdpm"))
	fmt.Println(apikey.Redact("hunter2"))
	// Output:
	// mpw_sk_0123…
	// [redacted]
}

func ExampleAppendMatches() {
	text := []byte(`{"key": "mpw_pk_0123456789ABCDEFGHIJabcdefghij2LoRM3",
 "example": "mpw_sk_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
 "not_a_key": "xmpw_pk_0123456789ABCDEFGHIJabcdefghij2LoRM3"}`)
	for _, m := range apikey.AppendMatches(nil, text) {
		token := string(text[m.Offset : m.Offset+apikey.TokenLen])
		fmt.Println(m.Offset, m.Kind, m.Valid, apikey.Redact(token))
	}
	// Output:
	// 9 public true mpw_pk_0123…
	// 68 secret false mpw_sk_XXXX…
}

// A Finder scans a stream of any size in fixed-size chunks; a key split
// between two reads is still found, once, at its offset in the stream.
func ExampleFinder() {
	stream := strings.NewReader("config:\n  key: mpw_pk_0123456789ABCDEFGHIJabcdefghij2LoRM3\n")
	r := bufio.NewReaderSize(stream, 16) // tiny chunks to show the split
	f := apikey.NewFinder()
	report := func(m apikey.Match, token []byte) {
		fmt.Println(m.Offset, m.Kind, m.Valid, apikey.Redact(string(token)))
	}
	buf := make([]byte, 16)
	for {
		n, err := r.Read(buf)
		f.Write(buf[:n], report)
		if err == io.EOF {
			break
		}
	}
	f.Flush(report)
	// Output:
	// 15 public true mpw_pk_0123…
}
