package pages

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/components"
	"github.com/mapwright/mapwright/pkg/client"
)

// DefaultGrace is the grace period a rotation offers: the old key keeps
// working this long, time enough to deploy the new one.
const DefaultGrace = 24 * time.Hour

// keysPageSize is the page size used to fetch every key.
const keysPageSize = 1000

// KeysState is what the Keys page is doing.
type KeysState int

// States of the Keys page.
const (
	// KeysLoading: the first list has not arrived.
	KeysLoading KeysState = iota
	// KeysBrowsing: the table has the keyboard.
	KeysBrowsing
	// KeysFiltering: the filter field has the keyboard.
	KeysFiltering
	// KeysDetail: every field of the selected key fills the page.
	KeysDetail
	// KeysCreating: the create form is open.
	KeysCreating
	// KeysRotating: asking the grace period of a rotation.
	KeysRotating
	// KeysRevokeReason: asking why a key is revoked.
	KeysRevokeReason
	// KeysRevokeConfirm: asking to confirm a revocation (y/n).
	KeysRevokeConfirm
	// KeysWorking: a create, rotate or revoke request is in flight.
	KeysWorking
	// KeysShowingSecret: a new key is shown, once, until dismissed.
	KeysShowingSecret
)

// KeysLoadedMsg is the result of listing every key.
type KeysLoadedMsg struct {
	At   time.Time
	Keys []client.Key
	Err  error
}

// KeyCreatedMsg is the result of creating a key. Token is set on success.
type KeyCreatedMsg struct {
	Key   client.Key
	Token Secret
	Err   error
}

// KeyRotatedMsg is the result of rotating key OldID. Key is the new key and
// Token its token.
type KeyRotatedMsg struct {
	OldID        string
	Key          client.Key
	Token        Secret
	OldExpiresAt *time.Time
	Err          error
}

// KeyRevokedMsg is the result of revoking key ID.
type KeyRevokedMsg struct {
	ID     string
	Result client.RevokeResult
	Err    error
}

// Sortable columns of the keys table, in the order s cycles through them.
const (
	keyColName = iota
	keyColStart
	keyColKind
	keyColState
	keyColScopes
	keyColTilesets
	keyColExpires
	keyColLastUsed
	keyColumns
)

// keyRow is a key with its lower-case search text, computed once per list.
type keyRow struct {
	k    client.Key
	text string
}

// Keys is the Keys page: every key in a table with a filter, a sort, a
// detail pane and the create, rotate and revoke actions.
type Keys struct {
	common.Common
	state    KeysState
	rows     []keyRow
	view     []int // indices into rows after filter and sort
	table    *components.Table
	sortCol  int
	sortDesc bool
	filter   string
	input    textinput.Model
	form     *components.Form
	loadedAt time.Time
	loading  bool
	loadErr  error
	// target is the key a rotate or revoke is about; reason the revoke
	// reason typed.
	target client.Key
	reason string
	// working describes the request in flight.
	working string
	// secret is the key shown once; secretTitle and secretLines describe
	// it. All three are cleared when the box is dismissed.
	secret      Secret
	secretTitle string
	secretLines []string
	// flash is the last result, shown on the bottom line; flashBad marks
	// an error.
	flash    string
	flashBad bool
	// createValues keep the form's text after a refused create.
	createValues []string
}

// NewKeys returns the Keys page.
func NewKeys(c common.Common) *Keys {
	p := &Keys{Common: c}
	p.table = components.NewTable(c, []components.Column{
		keyColName:     {Title: "NAME", Min: 8, Weight: 3},
		keyColStart:    {Title: "START", Width: 11},
		keyColKind:     {Title: "KIND", Width: 6},
		keyColState:    {Title: "STATE", Width: 7},
		keyColScopes:   {Title: "SCOPES", Min: 6, Weight: 2},
		keyColTilesets: {Title: "TILESETS", Min: 6, Weight: 2},
		keyColExpires:  {Title: "EXPIRES", Width: 7},
		keyColLastUsed: {Title: "LAST USED", Width: 9},
	})
	p.table.Empty = "No keys."
	p.table.SetSort(p.sortCol, p.sortDesc)
	return p
}

// State is the page's state.
func (p *Keys) State() KeysState { return p.state }

// Init implements Page.
func (p *Keys) Init() tea.Cmd { return nil }

// Title implements Page.
func (p *Keys) Title() string { return "Keys" }

// Capturing implements Page.
func (p *Keys) Capturing() bool {
	switch p.state {
	case KeysFiltering, KeysCreating, KeysRotating, KeysRevokeReason, KeysRevokeConfirm, KeysShowingSecret:
		return true
	}
	return false
}

// ShortHelp implements Page.
func (p *Keys) ShortHelp() []key.Binding {
	km := p.KeyMap
	switch p.state {
	case KeysFiltering:
		return []key.Binding{km.Submit, km.Cancel}
	case KeysCreating:
		return []key.Binding{km.NextField, km.Toggle, km.Submit, km.Cancel}
	case KeysRotating, KeysRevokeReason:
		return []key.Binding{km.Submit, km.Cancel}
	case KeysRevokeConfirm:
		return []key.Binding{km.Yes, km.No}
	case KeysShowingSecret:
		return []key.Binding{km.Dismiss}
	case KeysDetail:
		return []key.Binding{km.Back, km.Rotate, km.Revoke}
	}
	return []key.Binding{km.Up, km.Down, km.Open, km.Filter, km.Sort, km.Create, km.Rotate, km.Revoke}
}

// FullHelp implements Page.
func (p *Keys) FullHelp() [][]key.Binding {
	km := p.KeyMap
	return [][]key.Binding{
		p.KeyMap.Navigation(),
		{km.Open, km.Back, km.Filter, km.Sort, km.SortReverse},
		{km.Create, km.Rotate, km.Revoke},
	}
}

// SetSize implements Page.
func (p *Keys) SetSize(width, height int) {
	p.Common.SetSize(width, height)
	p.table.SetSize(width, p.tableHeight())
	if p.form != nil {
		p.form.SetSize(width, height)
	}
}

// detailHeight is the height of the detail pane under the table: a title
// line and six lines of fields, when the page is tall enough.
func (p *Keys) detailHeight() int {
	if p.Height < 16 {
		return 0
	}
	return 7
}

func (p *Keys) tableHeight() int { return max(p.Height-2-p.detailHeight(), 2) }

// Poll implements Page: the list is fetched when the page is shown and
// its data is older than RefreshAfter, or on demand.
func (p *Keys) Poll(now time.Time, active, force bool) tea.Cmd {
	if p.loading || (!active && !force) {
		return nil
	}
	if !force && p.loadErr == nil && !p.loadedAt.IsZero() && now.Sub(p.loadedAt) < RefreshAfter {
		return nil
	}
	return p.load(now)
}

func (p *Keys) load(now time.Time) tea.Cmd {
	p.loading = true
	c := p.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		keys, err := c.API.ListAllKeys(ctx, client.ListKeysOptions{Limit: keysPageSize})
		return KeysLoadedMsg{At: now, Keys: keys, Err: err}
	}
}

// SetKeys replaces the keys shown, keeping the selected key selected.
func (p *Keys) SetKeys(keys []client.Key) {
	sel, ok := p.Selected()
	p.rows = make([]keyRow, len(keys))
	for i, k := range keys {
		p.rows[i] = keyRow{k: k, text: searchText(k)}
	}
	p.rebuild(sel, ok)
}

// searchText is what the filter matches: names, ids, kinds, states,
// scopes, tilesets, origins and labels, lower-cased.
func searchText(k client.Key) string {
	parts := []string{k.Name, k.ID, k.Start, k.Kind, k.State}
	parts = append(parts, k.Scopes...)
	parts = append(parts, k.Tilesets...)
	parts = append(parts, k.Origins...)
	for l, v := range k.Labels {
		parts = append(parts, l+"="+v)
	}
	return strings.ToLower(strings.Join(parts, "\x00"))
}

// Selected returns the key under the cursor; ok is false when none.
func (p *Keys) Selected() (k client.Key, ok bool) {
	i := p.table.Cursor()
	if i < 0 || i >= len(p.view) {
		return client.Key{}, false
	}
	return p.rows[p.view[i]].k, true
}

// Shown is the number of keys that pass the filter.
func (p *Keys) Shown() int { return len(p.view) }

// rebuild applies the filter and the sort, then puts the cursor back on
// the key that was selected, when it is still shown.
func (p *Keys) rebuild(prev client.Key, hadPrev bool) {
	words := strings.Fields(strings.ToLower(p.filter))
	p.view = p.view[:0]
	for i, r := range p.rows {
		ok := true
		for _, w := range words {
			if !strings.Contains(r.text, w) {
				ok = false
				break
			}
		}
		if ok {
			p.view = append(p.view, i)
		}
	}
	now := p.Now()
	col, desc := p.sortCol, p.sortDesc
	sort.SliceStable(p.view, func(a, b int) bool {
		c := compareKeys(p.rows[p.view[a]].k, p.rows[p.view[b]].k, col, now)
		if desc {
			return c > 0
		}
		return c < 0
	})
	p.table.SetSort(p.sortCol, p.sortDesc)
	p.table.SetRows(keyRows{p})
	if hadPrev {
		for i, idx := range p.view {
			if p.rows[idx].k.ID == prev.ID {
				p.table.SetCursor(i)
				break
			}
		}
	}
}

// compareKeys orders two keys by a column; ties go by name, then id.
func compareKeys(a, b client.Key, col int, now time.Time) int {
	var c int
	switch col {
	case keyColStart:
		c = strings.Compare(a.Start, b.Start)
	case keyColKind:
		c = strings.Compare(a.Kind, b.Kind)
	case keyColState:
		c = strings.Compare(a.State, b.State)
	case keyColScopes:
		c = strings.Compare(strings.Join(a.Scopes, ","), strings.Join(b.Scopes, ","))
	case keyColTilesets:
		c = strings.Compare(strings.Join(a.Tilesets, ","), strings.Join(b.Tilesets, ","))
	case keyColExpires:
		// Keys that never expire sort after every date.
		c = compareTimes(a.ExpiresAt, b.ExpiresAt, true)
	case keyColLastUsed:
		// Keys never used sort before every date: the least used first.
		c = compareTimes(a.LastUsedAt, b.LastUsedAt, false)
	}
	if c == 0 {
		c = cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	return c
}

func compareTimes(a, b *time.Time, nilLast bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if nilLast {
			return 1
		}
		return -1
	case b == nil:
		if nilLast {
			return -1
		}
		return 1
	}
	return a.Compare(*b)
}

// keyRows shows the page's filtered, sorted keys in the table.
type keyRows struct{ p *Keys }

func (r keyRows) Len() int { return len(r.p.view) }

func (r keyRows) Cell(row, col int) string {
	k := &r.p.rows[r.p.view[row]].k
	switch col {
	case keyColName:
		return k.Name
	case keyColStart:
		return k.Start
	case keyColKind:
		return k.Kind
	case keyColState:
		return k.State
	case keyColScopes:
		return strings.Join(k.Scopes, ",")
	case keyColTilesets:
		if len(k.Tilesets) == 0 {
			return "all"
		}
		return strings.Join(k.Tilesets, ",")
	case keyColExpires:
		if k.ExpiresAt == nil {
			return "never"
		}
		return common.ShortRelative(k.ExpiresAt, r.p.Now())
	case keyColLastUsed:
		if k.LastUsedAt == nil {
			return "never"
		}
		return common.ShortRelative(k.LastUsedAt, r.p.Now())
	}
	return ""
}

func (r keyRows) CellStyle(row, col int) (lipgloss.Style, bool) {
	if col != keyColState {
		return lipgloss.Style{}, false
	}
	return r.p.Styles.KeyState(r.p.rows[r.p.view[row]].k.State), true
}

// Update implements Page.
func (p *Keys) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case KeysLoadedMsg:
		p.loading = false
		p.loadErr = m.Err
		if m.Err != nil {
			p.Logger.Warn("list keys", logging.KeyErr, m.Err)
			if p.state == KeysLoading {
				p.state = KeysBrowsing
			}
			return nil
		}
		p.loadedAt = m.At
		p.SetKeys(m.Keys)
		if p.state == KeysLoading {
			p.state = KeysBrowsing
		}
		return nil
	case KeyCreatedMsg:
		return p.created(m)
	case KeyRotatedMsg:
		return p.rotated(m)
	case KeyRevokedMsg:
		return p.revoked(m)
	case tea.KeyMsg:
		return p.key(m)
	}
	return nil
}

func (p *Keys) key(msg tea.KeyMsg) tea.Cmd {
	km := p.KeyMap
	switch p.state {
	case KeysFiltering:
		switch {
		case key.Matches(msg, km.Submit):
			p.state = KeysBrowsing
		case key.Matches(msg, km.Cancel):
			p.state = KeysBrowsing
			p.setFilter("")
		default:
			cmd := components.UpdateInput(&p.input, msg)
			p.setFilter(p.input.Value())
			return cmd
		}
		return nil
	case KeysCreating:
		res, cmd := p.form.Update(msg)
		switch res {
		case components.FormCancelled:
			p.form, p.createValues = nil, nil
			p.state = KeysBrowsing
		case components.FormSubmitted:
			return p.submitCreate()
		}
		return cmd
	case KeysRotating:
		switch {
		case key.Matches(msg, km.Submit):
			return p.submitRotate()
		case key.Matches(msg, km.Cancel):
			p.state = KeysBrowsing
			p.setFlash("Rotation cancelled; nothing changed.", false)
			return nil
		}
		return components.UpdateInput(&p.input, msg)
	case KeysRevokeReason:
		switch {
		case key.Matches(msg, km.Submit):
			p.reason = strings.TrimSpace(p.input.Value())
			p.state = KeysRevokeConfirm
			return nil
		case key.Matches(msg, km.Cancel):
			p.state = KeysBrowsing
			p.setFlash("Revocation cancelled; nothing changed.", false)
			return nil
		}
		return components.UpdateInput(&p.input, msg)
	case KeysRevokeConfirm:
		switch {
		case key.Matches(msg, km.Yes):
			return p.submitRevoke()
		case key.Matches(msg, km.No):
			p.state = KeysBrowsing
			p.setFlash("Revocation cancelled; nothing changed.", false)
		}
		// Any other key leaves the question open: only y revokes.
		return nil
	case KeysShowingSecret:
		if key.Matches(msg, km.Dismiss, km.Back) {
			p.secret, p.secretTitle, p.secretLines = "", "", nil
			p.state = KeysBrowsing
		}
		return nil
	case KeysWorking, KeysLoading:
		return nil
	case KeysDetail:
		switch {
		case key.Matches(msg, km.Back, km.Open):
			p.state = KeysBrowsing
			return nil
		case key.Matches(msg, km.Rotate, km.Revoke):
			p.state = KeysBrowsing
			return p.key(msg)
		}
		return nil
	}
	// Browsing.
	if p.table.Update(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, km.Filter):
		p.input = components.NewInput(p.Styles, "/ ", p.filter, 200)
		p.state = KeysFiltering
	case key.Matches(msg, km.Back):
		if p.filter != "" {
			p.setFilter("")
		}
	case key.Matches(msg, km.Sort):
		p.sortCol = (p.sortCol + 1) % keyColumns
		p.sortDesc = false
		p.resort()
	case key.Matches(msg, km.SortReverse):
		p.sortDesc = !p.sortDesc
		p.resort()
	case key.Matches(msg, km.Open):
		if _, ok := p.Selected(); ok {
			p.state = KeysDetail
		}
	case key.Matches(msg, km.Create):
		p.openCreate(nil, "")
	case key.Matches(msg, km.Rotate):
		k, ok := p.Selected()
		switch {
		case !ok:
		case k.State == "revoked" || k.State == "expired":
			p.setFlash(fmt.Sprintf("Key %s is %s and cannot be rotated.", keyLabel(k), k.State), true)
		case k.ReplacedBy != "":
			p.setFlash(fmt.Sprintf("Key %s was already rotated to %s.", keyLabel(k), k.ReplacedBy), true)
		default:
			p.target = k
			p.input = components.NewInput(p.Styles, "", "24h", 32)
			p.state = KeysRotating
		}
	case key.Matches(msg, km.Revoke):
		k, ok := p.Selected()
		switch {
		case !ok:
		case k.State == "revoked":
			p.setFlash(fmt.Sprintf("Key %s is already revoked.", keyLabel(k)), false)
		default:
			p.target = k
			p.reason = ""
			p.input = components.NewInput(p.Styles, "", "", 200)
			p.state = KeysRevokeReason
		}
	}
	return nil
}

func (p *Keys) setFilter(f string) {
	p.filter = f
	p.resort()
}

func (p *Keys) resort() {
	sel, ok := p.Selected()
	p.rebuild(sel, ok)
}

func (p *Keys) setFlash(s string, bad bool) { p.flash, p.flashBad = s, bad }

// keyLabel names a key in messages: its name and id.
func keyLabel(k client.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return fmt.Sprintf("%q (%s)", k.Name, k.ID)
}

// Fields of the create form, in order.
const (
	createName = iota
	createKind
	createScopes
	createTilesets
	createOrigins
	createExpires
)

func (p *Keys) openCreate(values []string, errText string) {
	p.form = components.NewForm(p.Common, "Create a key", []components.Field{
		createName:     {Label: "Name", Hint: "unique among keys that are not revoked"},
		createKind:     {Label: "Kind", Choices: []string{"public", "secret"}, Hint: "public: tiles, in browsers; secret: admin API, never in a browser"},
		createScopes:   {Label: "Scopes", Hint: "comma-separated; empty: tiles:read (public) or admin (secret)"},
		createTilesets: {Label: "Tilesets", Hint: "comma-separated; empty: every tileset"},
		createOrigins:  {Label: "Origins", Hint: "comma-separated, e.g. https://*.example.com; empty: no browser use"},
		createExpires:  {Label: "Expires", Hint: "a duration (90d, 720h), a date (2030-01-31) or an RFC 3339 time; empty: never"},
	}, values)
	p.form.SetSize(p.Width, p.Height)
	p.form.Err = errText
	p.state = KeysCreating
}

// splitList splits a comma-separated field, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseWhen parses an expiry typed in the create form: a duration from now
// ("90d", "720h"), a date (midnight UTC) or an RFC 3339 time. Empty gives
// nil. The time must be in the future.
func ParseWhen(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var t time.Time
	if d, err := config.ParseDuration(s); err == nil {
		if d <= 0 {
			return nil, fmt.Errorf("expiry %q: the duration must be positive", s)
		}
		t = now.Add(d).UTC().Truncate(time.Second)
	} else if v, err := time.Parse(time.RFC3339, s); err == nil {
		t = v.UTC()
	} else if v, err := time.Parse(time.DateOnly, s); err == nil {
		t = v.UTC()
	} else {
		return nil, fmt.Errorf("expiry %q: want a duration (90d, 720h), a date (2030-01-31) or an RFC 3339 time", s)
	}
	if !t.After(now) {
		return nil, fmt.Errorf("expiry %q is in the past", s)
	}
	return &t, nil
}

func (p *Keys) submitCreate() tea.Cmd {
	f := p.form
	values := make([]string, createExpires+1)
	for i := range values {
		values[i] = f.Value(i)
	}
	if values[createName] == "" {
		f.Err = "A key needs a name."
		return nil
	}
	expires, err := ParseWhen(values[createExpires], p.Now())
	if err != nil {
		f.Err = err.Error()
		return nil
	}
	req := client.CreateKeyRequest{
		Name:      values[createName],
		Kind:      values[createKind],
		Scopes:    splitList(values[createScopes]),
		Tilesets:  splitList(values[createTilesets]),
		Origins:   splitList(values[createOrigins]),
		ExpiresAt: expires,
	}
	p.createValues = values
	p.working = fmt.Sprintf("Creating key %q…", req.Name)
	p.state = KeysWorking
	c := p.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		ck, err := c.API.CreateKey(ctx, req)
		if err != nil {
			return KeyCreatedMsg{Err: err}
		}
		return KeyCreatedMsg{Key: ck.Key, Token: Secret(ck.Token)}
	}
}

func (p *Keys) created(m KeyCreatedMsg) tea.Cmd {
	if m.Err != nil {
		p.Logger.Warn("create key", logging.KeyErr, m.Err)
		// Back to the form with what was typed, and the server's answer.
		p.openCreate(p.createValues, common.ErrorText(m.Err))
		return nil
	}
	p.form, p.createValues = nil, nil
	p.Logger.Info("key created", logging.KeyKeyID, m.Key.ID, common.LogKeyName, m.Key.Name)
	p.upsert(m.Key)
	p.selectID(m.Key.ID)
	k := m.Key
	p.showSecret(m.Token, fmt.Sprintf("Key created: %s", keyLabel(k)), []string{
		fmt.Sprintf("Kind %s · scopes %s · tilesets %s", k.Kind, orNone(k.Scopes, "-"), orNone(k.Tilesets, "all")),
		"Expires: " + expiryText(k.ExpiresAt, p.Now()),
	})
	p.setFlash(fmt.Sprintf("Created key %s.", keyLabel(k)), false)
	return p.load(p.Now())
}

func (p *Keys) submitRotate() tea.Cmd {
	s := strings.TrimSpace(p.input.Value())
	grace := DefaultGrace
	if s != "" {
		d, err := config.ParseDuration(s)
		if err != nil || d < 0 {
			p.setFlash(fmt.Sprintf("Grace period %q: want a duration such as 24h, 90m or 7d (0 ends the old key at once).", s), true)
			return nil
		}
		grace = d
	}
	id := p.target.ID
	p.working = fmt.Sprintf("Rotating key %s…", keyLabel(p.target))
	p.state = KeysWorking
	c := p.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		rk, err := c.API.RotateKey(ctx, id, grace)
		if err != nil {
			return KeyRotatedMsg{OldID: id, Err: err}
		}
		return KeyRotatedMsg{OldID: id, Key: rk.Key, Token: Secret(rk.Token), OldExpiresAt: rk.OldExpiresAt}
	}
}

func (p *Keys) rotated(m KeyRotatedMsg) tea.Cmd {
	if m.Err != nil {
		p.Logger.Warn("rotate key", logging.KeyKeyID, m.OldID, logging.KeyErr, m.Err)
		p.state = KeysBrowsing
		p.setFlash("Rotation failed: "+common.ErrorText(m.Err), true)
		return nil
	}
	p.Logger.Info("key rotated", logging.KeyKeyID, m.OldID, common.LogKeyNewKeyID, m.Key.ID)
	for i := range p.rows {
		if p.rows[i].k.ID == m.OldID {
			p.rows[i].k.ReplacedBy = m.Key.ID
			p.rows[i].k.ExpiresAt = m.OldExpiresAt
		}
	}
	p.upsert(m.Key)
	p.selectID(m.Key.ID)
	p.showSecret(m.Token, fmt.Sprintf("Key rotated: %s, new key %s replaces %s", common.Sanitize(m.Key.Name), m.Key.ID, m.OldID), []string{
		fmt.Sprintf("The old key %s keeps working until %s (%s).", m.OldID, common.Timestamp(m.OldExpiresAt), common.Relative(m.OldExpiresAt, p.Now())),
		"Deploy the new key before then.",
	})
	p.setFlash(fmt.Sprintf("Rotated key %s to %s.", m.OldID, m.Key.ID), false)
	return p.load(p.Now())
}

func (p *Keys) submitRevoke() tea.Cmd {
	id, reason := p.target.ID, p.reason
	p.working = fmt.Sprintf("Revoking key %s…", keyLabel(p.target))
	p.state = KeysWorking
	c := p.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		res, err := c.API.RevokeKey(ctx, id, reason)
		return KeyRevokedMsg{ID: id, Result: res, Err: err}
	}
}

func (p *Keys) revoked(m KeyRevokedMsg) tea.Cmd {
	p.state = KeysBrowsing
	if m.Err != nil {
		p.Logger.Warn("revoke key", logging.KeyKeyID, m.ID, logging.KeyErr, m.Err)
		p.setFlash("Revocation failed: "+common.ErrorText(m.Err), true)
		return nil
	}
	p.Logger.Info("key revoked", logging.KeyKeyID, m.ID)
	p.upsert(m.Result.Key)
	if m.Result.AlreadyRevoked {
		p.setFlash(fmt.Sprintf("Key %s was already revoked; nothing changed.", keyLabel(m.Result.Key)), false)
	} else {
		p.setFlash(fmt.Sprintf("Revoked key %s.", keyLabel(m.Result.Key)), false)
	}
	return p.load(p.Now())
}

// upsert replaces the key with k's id, or adds k.
func (p *Keys) upsert(k client.Key) {
	sel, ok := p.Selected()
	i := slices.IndexFunc(p.rows, func(r keyRow) bool { return r.k.ID == k.ID })
	if i >= 0 {
		p.rows[i] = keyRow{k: k, text: searchText(k)}
	} else {
		p.rows = append(p.rows, keyRow{k: k, text: searchText(k)})
	}
	p.rebuild(sel, ok)
}

func (p *Keys) selectID(id string) {
	for i, idx := range p.view {
		if p.rows[idx].k.ID == id {
			p.table.SetCursor(i)
			return
		}
	}
}

func (p *Keys) showSecret(token Secret, title string, lines []string) {
	p.secret, p.secretTitle, p.secretLines = token, title, lines
	p.state = KeysShowingSecret
}

func orNone(v []string, none string) string {
	if len(v) == 0 {
		return none
	}
	return strings.Join(v, ",")
}

func expiryText(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return common.Timestamp(t) + " (" + common.Relative(t, now) + ")"
}

// View implements Page.
func (p *Keys) View() string {
	st := p.Styles
	header := st.Title.Render("Keys") + " " + st.Dim.Render(p.countText())
	if p.loadErr != nil {
		header += " " + st.Bad.Render("· list failed: "+common.ErrorText(p.loadErr))
	}
	header = common.Truncate(header, p.Width)
	bodyH := max(p.Height-2, 1)
	var body string
	switch p.state {
	case KeysLoading:
		body = st.Dim.Render("Loading keys…")
	case KeysCreating:
		body = p.form.View()
	case KeysShowingSecret:
		body = components.SecretBox(st, p.secretTitle, p.secret.Reveal(), p.secretLines, p.Width)
	case KeysDetail:
		k, _ := p.Selected()
		body = st.Title.Render(common.Truncate(common.Sanitize(keyLabel(k)), p.Width)) + "\n" +
			labelled(p.Common, p.Width, p.detailPairs(k, false))
	default:
		body = p.table.View()
		if dh := p.detailHeight(); dh > 0 {
			body = fit(body, p.tableHeight()) + "\n" + p.detailPane(dh)
		}
	}
	return fit(header+"\n"+fit(body, bodyH)+"\n"+p.footer(), p.Height)
}

func (p *Keys) countText() string {
	if p.state == KeysLoading {
		return "loading…"
	}
	n, total := len(p.view), len(p.rows)
	s := plural(total, "key")
	if p.filter != "" {
		s = fmt.Sprintf("%d of %s · filter %q", n, plural(total, "key"), p.filter)
	}
	dir := "▲"
	if p.sortDesc {
		dir = "▼"
	}
	names := []string{"name", "start", "kind", "state", "scopes", "tilesets", "expires", "last used"}
	s += " · sorted by " + names[p.sortCol] + " " + dir
	if i := p.table.Cursor(); i >= 0 && n > 0 {
		s += fmt.Sprintf(" · %d/%d", i+1, n)
	}
	return s
}

// footer is the page's bottom line: a question, a field, work in
// progress, or the last result.
func (p *Keys) footer() string {
	st := p.Styles
	w := p.Width
	switch p.state {
	case KeysFiltering:
		p.input.Width = max(w-3, 1)
		return p.input.View()
	case KeysRotating:
		q := fmt.Sprintf("Rotate %s: grace period for the old key (enter: 24h, 0: none): ", keyLabel(p.target))
		q = common.Truncate(common.Sanitize(q), max(w-12, 1))
		p.input.Width = max(w-len([]rune(q))-1, 6)
		return st.Prompt.Render(q) + p.input.View()
	case KeysRevokeReason:
		q := common.Truncate(common.Sanitize(fmt.Sprintf("Reason for revoking %s: ", keyLabel(p.target))), max(w-12, 1))
		p.input.Width = max(w-len([]rune(q))-1, 6)
		return st.Prompt.Render(q) + p.input.View()
	case KeysRevokeConfirm:
		// The answer's keys must stay visible however long the name: the
		// name gives way.
		k := p.target
		const tail = "? It stops working at once. [y/N]"
		q := common.Truncate(common.Sanitize(fmt.Sprintf("Revoke %s key %q (%s)", k.Kind, k.Name, k.Start)), max(w-len(tail), 10))
		return st.Bad.Render(q + tail)
	case KeysWorking:
		return st.Dim.Render(common.Truncate(common.Sanitize(p.working), w))
	}
	if p.flash == "" {
		return ""
	}
	s := common.Truncate(common.Sanitize(p.flash), w)
	if p.flashBad {
		return st.Bad.Render(s)
	}
	return st.OK.Render(s)
}

// detailPane renders the selected key's main fields under the table.
func (p *Keys) detailPane(height int) string {
	st := p.Styles
	k, ok := p.Selected()
	if !ok {
		return st.Dim.Render(strings.Repeat("─", p.Width))
	}
	return st.Dim.Render(common.Rule(common.Sanitize(keyLabel(k)), p.Width)) + "\n" + twoColumns(p.Common, p.Width, height-1, p.detailPairs(k, true))
}

// detailPairs are the fields of a key, most useful first; compact gives
// times relative to now, to fit the pane under the table.
func (p *Keys) detailPairs(k client.Key, compact bool) [][2]string {
	st := p.Styles
	now := p.Now()
	s := common.Sanitize
	when := func(t *time.Time) string {
		if compact {
			return common.Relative(t, now)
		}
		return common.Timestamp(t)
	}
	expires := expiryText(k.ExpiresAt, now)
	if compact {
		// The pane is narrow: the relative time alone.
		expires = relOrNever(k.ExpiresAt, now)
	}
	pairs := [][2]string{
		{"ID", s(k.ID)},
		{"State", st.KeyState(k.State).Render(s(k.State))},
	}
	if k.RevokedAt != nil {
		pairs = append(pairs,
			[2]string{"Revoked", when(k.RevokedAt) + " by " + s(common.OrDash(k.RevokedBy))},
			[2]string{"Reason", s(common.OrDash(k.RevokeReason))})
	}
	pairs = append(pairs, [][2]string{
		{"Scopes", s(orNone(k.Scopes, "-"))},
		{"Tilesets", s(orNone(k.Tilesets, "all"))},
		{"Origins", s(orNone(k.Origins, "none (no browser use)"))},
		{"Expires", expires},
		{"Created", when(&k.CreatedAt) + " by " + s(common.OrDash(k.CreatedBy))},
		{"Last used", relOrNever(k.LastUsedAt, now)},
	}...)
	rate := "server default"
	if k.Rate > 0 || k.Burst > 0 {
		rate = fmt.Sprintf("%s/s, burst %d", strconv.FormatFloat(k.Rate, 'f', -1, 64), k.Burst)
	}
	pairs = append(pairs, [2]string{"Rate", rate})
	if len(k.Labels) > 0 {
		ls := make([]string, 0, len(k.Labels))
		for l, v := range k.Labels {
			ls = append(ls, l+"="+v)
		}
		sort.Strings(ls)
		pairs = append(pairs, [2]string{"Labels", s(strings.Join(ls, ", "))})
	}
	if k.NotBefore != nil {
		pairs = append(pairs, [2]string{"Not before", expiryText(k.NotBefore, now)})
	}
	if k.Replaces != "" {
		pairs = append(pairs, [2]string{"Replaces", s(k.Replaces)})
	}
	if k.ReplacedBy != "" {
		pairs = append(pairs, [2]string{"Replaced by", s(k.ReplacedBy)})
	}
	if k.Kind == "secret" {
		pairs = append(pairs, [2]string{"TOTP", map[bool]string{true: "enrolled", false: "no"}[k.TOTP]})
	}
	return pairs
}

func relOrNever(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return common.Relative(t, now)
}
