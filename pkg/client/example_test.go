package client_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// Issue a browser key restricted to one site, then list the active keys. A
// fake admin API stands in for mapwrightd here; against a real server,
// Server is its address (unix:///var/lib/mapwright/admin.sock or
// https://host:9443) and Token a secret key.
func Example() {
	fake := clienttest.New(clienttest.Options{})
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()

	c, err := client.New(client.Options{Server: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	created, err := c.CreateKey(ctx, client.CreateKeyRequest{
		Name:    "web-prod",
		Kind:    "public",
		Origins: []string{"https://maps.example.com"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created", created.ID, created.Start)

	keys, err := c.ListAllKeys(ctx, client.ListKeysOptions{State: "active"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range keys {
		fmt.Println(k.ID, k.Name, k.Kind, k.State)
	}

	_, err = c.GetKey(ctx, "key_9999")
	fmt.Println(client.IsNotFound(err), err)
	// Output:
	// created key_0001 mpw_pk_9cWd
	// key_0001 web-prod public active
	// true get key "key_9999": Not Found: no key with id "key_9999"
}
