package sqlstore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mapwright/mapwright/internal/store"
)

// Page sizes of ListKeys and KeysDueToExpire.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Limit applies the default and the cap to a requested page size.
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	default:
		return n
	}
}

// crockford is the ULID alphabet: Crockford base32, upper case.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// KeyIDPrefix starts every key ID.
const KeyIDPrefix = "key_"

// ValidKeyID reports whether id is "key_" followed by a 26-character
// Crockford base32 ULID (whose first character is at most '7', since a ULID
// is 128 bits).
func ValidKeyID(id string) bool {
	rest, ok := strings.CutPrefix(id, KeyIDPrefix)
	if !ok || len(rest) != 26 || rest[0] > '7' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(crockford, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// CheckKeyID returns an error wrapping store.ErrInvalid when id is not a
// valid key ID.
func CheckKeyID(id string) error {
	if !ValidKeyID(id) {
		return fmt.Errorf("key ID %q is not %s followed by a 26-character ULID: %w", id, KeyIDPrefix, store.ErrInvalid)
	}
	return nil
}

// CheckCursor validates a ListKeys cursor: empty (first page) or a key ID,
// the last ID of the previous page.
func CheckCursor(c string) error {
	if c != "" && !ValidKeyID(c) {
		return fmt.Errorf("malformed cursor %q: %w", c, store.ErrInvalid)
	}
	return nil
}

// StateExpr returns an SQL expression naming the state ('active',
// 'pending', 'expired' or 'revoked') of a keys row at the time bound at the
// placeholder now. Its precedence is that of store.Key.State: revoked over
// expired over pending. Comparisons with NULL are never true, so unset
// times fall through.
func StateExpr(now string) string {
	return "(CASE WHEN revoked_at <= " + now + " THEN 'revoked'" +
		" WHEN expires_at <= " + now + " THEN 'expired'" +
		" WHEN not_before > " + now + " THEN 'pending'" +
		" ELSE 'active' END)"
}

// Dialect is what differs between the backends' SQL.
type Dialect interface {
	// Param returns the placeholder of the n-th argument, counting from 1.
	Param(n int) string
	// TilesetHas returns a condition on the keys table that is true when
	// the tilesets JSON array holds the string bound at param.
	TilesetHas(param string) string
	// LabelsHave returns a condition on the keys table that is true when
	// the labels JSON object holds every pair of labels; bind binds one
	// argument and returns its placeholder.
	LabelsHave(labels map[string]string, bind func(any) string) (string, error)
}

// Args collects query arguments and hands out their placeholders.
type Args struct {
	d    Dialect
	vals []any
}

// NewArgs returns an empty argument list for d.
func NewArgs(d Dialect) *Args { return &Args{d: d} }

// Bind adds v and returns its placeholder.
func (a *Args) Bind(v any) string {
	a.vals = append(a.vals, v)
	return a.d.Param(len(a.vals))
}

// Values returns the bound arguments in order.
func (a *Args) Values() []any { return a.vals }

// ListKeysQuery builds the query of one ListKeys page. It selects one row
// more than the page so that the caller knows whether a next page exists;
// limit is the page size.
func ListKeysQuery(d Dialect, f store.KeyFilter) (query string, args []any, limit int, err error) {
	if err := CheckCursor(f.Cursor); err != nil {
		return "", nil, 0, err
	}
	a := NewArgs(d)
	var conds []string
	if f.Kind != "" {
		conds = append(conds, "kind = "+a.Bind(f.Kind))
	}
	if f.State != "" || f.ExpiringWithin != 0 {
		if f.Now.IsZero() {
			return "", nil, 0, fmt.Errorf("key filter by state or expiry needs Now: %w", store.ErrInvalid)
		}
	}
	// Bind Now only when a condition uses it: PostgreSQL cannot type a
	// parameter that appears nowhere in the statement.
	var now string
	if f.State != "" || f.ExpiringWithin > 0 {
		now = a.Bind(Micros(f.Now))
	}
	if f.State != "" {
		switch f.State {
		case store.StateActive, store.StatePending, store.StateExpired, store.StateRevoked:
		default:
			return "", nil, 0, fmt.Errorf("unknown key state %q: %w", f.State, store.ErrInvalid)
		}
		conds = append(conds, StateExpr(now)+" = "+a.Bind(string(f.State)))
	}
	if f.ExpiringWithin < 0 {
		return "", nil, 0, fmt.Errorf("negative ExpiringWithin %s: %w", f.ExpiringWithin, store.ErrInvalid)
	}
	if f.ExpiringWithin > 0 {
		until := a.Bind(Micros(f.Now) + f.ExpiringWithin.Microseconds())
		conds = append(conds,
			StateExpr(now)+" = 'active'",
			"expires_at > "+now,
			"expires_at <= "+until)
	}
	if f.Tileset != "" {
		conds = append(conds, d.TilesetHas(a.Bind(f.Tileset)))
	}
	if len(f.Labels) > 0 {
		c, err := d.LabelsHave(f.Labels, a.Bind)
		if err != nil {
			return "", nil, 0, err
		}
		conds = append(conds, c)
	}
	if f.Cursor != "" {
		conds = append(conds, "id > "+a.Bind(f.Cursor))
	}
	limit = Limit(f.Limit)
	var b strings.Builder
	b.WriteString("SELECT " + KeyColumns + " FROM keys")
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY id LIMIT " + a.Bind(limit+1))
	return b.String(), a.Values(), limit, nil
}

// Page trims the extra row ListKeysQuery asked for and returns the cursor of
// the next page: the last ID of this page, or "" when no row follows.
func Page(keys []store.Key, limit int) ([]store.Key, string) {
	if len(keys) <= limit {
		return keys, ""
	}
	keys = keys[:limit]
	return keys, keys[len(keys)-1].ID
}

// CountKeysQuery returns the query counting keys per state at the time
// bound at the single argument.
func CountKeysQuery(d Dialect) string {
	return "SELECT " + StateExpr(d.Param(1)) + " AS state, count(*) FROM keys GROUP BY 1"
}

// EmptyCounts returns a map with every state at zero.
func EmptyCounts() map[store.KeyState]int {
	return map[store.KeyState]int{
		store.StateActive: 0, store.StatePending: 0, store.StateExpired: 0, store.StateRevoked: 0,
	}
}

// DueToExpireQuery returns the query of KeysDueToExpire, whose arguments are
// now (micros) and the limit. A key revoked at or before now is revoked, not
// expired; a revocation scheduled after now does not stop the expiry from
// being recorded, as the key is in the expired state until then.
func DueToExpireQuery(d Dialect) string {
	now, limit := d.Param(1), d.Param(2)
	return "SELECT " + KeyColumns + " FROM keys WHERE expires_at <= " + now +
		" AND expired_at IS NULL AND (revoked_at IS NULL OR revoked_at > " + now + ")" +
		" ORDER BY expires_at, id LIMIT " + limit
}

// SortedLabelKeys returns the keys of m in order, so that generated SQL is
// deterministic.
func SortedLabelKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Key kinds.
const (
	KindPublic = "public"
	KindSecret = "secret"
)

// CheckNewKey validates what InsertKey needs of a key: a well-formed ID, so
// that every ID can serve as a ListKeys cursor, and a known kind.
func CheckNewKey(k store.Key) error {
	if err := CheckKeyID(k.ID); err != nil {
		return err
	}
	if k.Kind != KindPublic && k.Kind != KindSecret {
		return fmt.Errorf("key kind %q is neither %q nor %q: %w", k.Kind, KindPublic, KindSecret, store.ErrInvalid)
	}
	return nil
}
