package keys

import (
	"errors"
	"slices"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

func TestValidateScopes(t *testing.T) {
	cases := []struct {
		name   string
		kind   apikey.Kind
		scopes []string
		ok     bool
	}{
		{"public tiles:read", apikey.Public, []string{ScopeTilesRead}, true},
		{"public empty (defaults later)", apikey.Public, nil, true},
		{"public admin", apikey.Public, []string{ScopeAdmin}, false},
		{"public keys:read", apikey.Public, []string{ScopeTilesRead, ScopeKeysRead}, false},
		{"public unknown", apikey.Public, []string{"tiles:write"}, false},
		{"secret admin", apikey.Secret, []string{ScopeAdmin}, true},
		{"secret every scope", apikey.Secret, SecretScopes(), true},
		{"secret rotate only", apikey.Secret, []string{ScopeKeysRotate}, true},
		{"secret without scopes", apikey.Secret, nil, false},
		{"secret tiles:read", apikey.Secret, []string{ScopeTilesRead}, false},
		{"secret unknown", apikey.Secret, []string{"keys:delete"}, false},
		{"secret case matters", apikey.Secret, []string{"Admin"}, false},
		{"secret empty string", apikey.Secret, []string{""}, false},
		{"invalid kind", apikey.Kind(0), []string{ScopeAdmin}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateScopes(tc.kind, tc.scopes)
			if tc.ok && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("error %v, want ErrInvalidScope", err)
			}
		})
	}
}

func TestNormalizeScopes(t *testing.T) {
	got, err := normalizeScopes(apikey.Public, nil)
	if err != nil || !slices.Equal(got, []string{ScopeTilesRead}) {
		t.Fatalf("public default = %v, %v", got, err)
	}
	got, err = normalizeScopes(apikey.Secret, []string{ScopeKeysWrite, ScopeAuditRead, ScopeKeysWrite})
	if err != nil || !slices.Equal(got, []string{ScopeAuditRead, ScopeKeysWrite}) {
		t.Fatalf("secret = %v, %v; want sorted without duplicates", got, err)
	}
}

func TestHasScope(t *testing.T) {
	cases := []struct {
		name    string
		granted []string
		need    string
		want    bool
	}{
		{"exact", []string{ScopeKeysRead}, ScopeKeysRead, true},
		{"other scope", []string{ScopeKeysRead}, ScopeKeysWrite, false},
		{"admin implies keys:write", []string{ScopeAdmin}, ScopeKeysWrite, true},
		{"admin implies backup:create", []string{ScopeAdmin}, ScopeBackupCreate, true},
		{"admin implies admin", []string{ScopeAdmin}, ScopeAdmin, true},
		{"admin does not imply tiles:read", []string{ScopeAdmin}, ScopeTilesRead, false},
		{"admin does not imply unknown scopes", []string{ScopeAdmin}, "launch:missiles", false},
		{"nothing granted", nil, ScopeMetricsRead, false},
		{"public key", []string{ScopeTilesRead}, ScopeTilesRead, true},
		{"keys:write does not imply admin", []string{ScopeKeysWrite}, ScopeAdmin, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := HasScope(tc.granted, tc.need); got != tc.want {
				t.Fatalf("HasScope(%v, %q) = %v, want %v", tc.granted, tc.need, got, tc.want)
			}
		})
	}
}
