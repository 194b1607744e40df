package keys

import (
	"fmt"
	"slices"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Scopes. A public key holds exactly [ScopeTilesRead]; secret keys hold any
// of the others, and [ScopeAdmin] grants every secret scope.
const (
	// ScopeTilesRead reads tiles and TileJSON; public keys only.
	ScopeTilesRead = "tiles:read"
	// ScopeKeysRead lists and inspects keys.
	ScopeKeysRead = "keys:read"
	// ScopeKeysWrite creates and revokes keys.
	ScopeKeysWrite = "keys:write"
	// ScopeKeysRotate rotates keys (the scope a CI rotation job needs).
	ScopeKeysRotate = "keys:rotate"
	// ScopeAuditRead queries, follows and verifies the audit log.
	ScopeAuditRead = "audit:read"
	// ScopeBackupCreate takes backups.
	ScopeBackupCreate = "backup:create"
	// ScopeMetricsRead reads /metrics.
	ScopeMetricsRead = "metrics:read"
	// ScopeTilesetsAdmin lists and reloads tilesets.
	ScopeTilesetsAdmin = "tilesets:admin"
	// ScopeAdmin grants every secret scope.
	ScopeAdmin = "admin"
)

// SecretScopes returns the scopes a secret key may hold, in a stable order.
func SecretScopes() []string {
	return []string{
		ScopeKeysRead, ScopeKeysWrite, ScopeKeysRotate, ScopeAuditRead,
		ScopeBackupCreate, ScopeMetricsRead, ScopeTilesetsAdmin, ScopeAdmin,
	}
}

// PublicScopes returns the scopes a public key may hold.
func PublicScopes() []string { return []string{ScopeTilesRead} }

// ValidateScopes checks that every scope exists and that kind may hold it:
// a public key holds only tiles:read, a secret key anything but tiles:read
// (admin included), and a secret key needs at least one scope. Errors wrap
// [ErrInvalidScope].
func ValidateScopes(kind apikey.Kind, scopes []string) error {
	var allowed []string
	switch kind {
	case apikey.Public:
		allowed = PublicScopes()
	case apikey.Secret:
		allowed = SecretScopes()
		if len(scopes) == 0 {
			return fmt.Errorf("a secret key needs at least one scope (one of %v): %w", allowed, ErrInvalidScope)
		}
	default:
		return fmt.Errorf("scopes for %v key: %w", kind, ErrInvalidScope)
	}
	for _, sc := range scopes {
		if slices.Contains(allowed, sc) {
			continue
		}
		if kind == apikey.Public && slices.Contains(SecretScopes(), sc) {
			return fmt.Errorf("scope %q is for secret keys; a public key may only hold %q: %w", sc, ScopeTilesRead, ErrInvalidScope)
		}
		if kind == apikey.Secret && sc == ScopeTilesRead {
			return fmt.Errorf("scope %q is for public keys only: %w", sc, ErrInvalidScope)
		}
		return fmt.Errorf("unknown scope %q (known: %v and %q): %w", sc, SecretScopes(), ScopeTilesRead, ErrInvalidScope)
	}
	return nil
}

// normalizeScopes applies the public default, validates, and returns a
// sorted copy without duplicates.
func normalizeScopes(kind apikey.Kind, scopes []string) ([]string, error) {
	if kind == apikey.Public && len(scopes) == 0 {
		scopes = PublicScopes()
	}
	if err := ValidateScopes(kind, scopes); err != nil {
		return nil, err
	}
	out := slices.Clone(scopes)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// HasScope reports whether a key granted these scopes may act where need is
// required. ScopeAdmin implies every secret scope but not tiles:read, which
// belongs to public keys, and no unknown scope. It does not allocate.
func HasScope(granted []string, need string) bool {
	for _, g := range granted {
		if g == need || (g == ScopeAdmin && isSecretScope(need)) {
			return true
		}
	}
	return false
}

func isSecretScope(s string) bool {
	switch s {
	case ScopeKeysRead, ScopeKeysWrite, ScopeKeysRotate, ScopeAuditRead,
		ScopeBackupCreate, ScopeMetricsRead, ScopeTilesetsAdmin, ScopeAdmin:
		return true
	}
	return false
}
