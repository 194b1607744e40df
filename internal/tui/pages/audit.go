package pages

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/components"
	"github.com/mapwright/mapwright/pkg/client"
)

// Audit page limits: events fetched when the page opens or a filter
// changes, and events kept in memory while the stream runs.
const (
	AuditInitialEvents = 200
	AuditMaxEvents     = 5000
)

// AuditState is what the Audit page is doing.
type AuditState int

// States of the Audit page.
const (
	// AuditLoading: the first list has not arrived.
	AuditLoading AuditState = iota
	// AuditBrowsing: the event list has the keyboard.
	AuditBrowsing
	// AuditFilterAction and AuditFilterActor: a filter field has the
	// keyboard.
	AuditFilterAction
	AuditFilterActor
	// AuditDetail: every field of one event fills the page.
	AuditDetail
	// AuditVerifying: a chain verification is in flight.
	AuditVerifying
	// AuditVerified: the verification's result is shown until dismissed.
	AuditVerified
)

// AuditListedMsg is the answer to listing events with a filter.
type AuditListedMsg struct {
	// Gen tells answers to an older filter apart: they are dropped.
	Gen    int
	Query  client.AuditQuery
	Events []client.AuditEvent
	Err    error
}

// AuditEventMsg is one event from the live stream.
type AuditEventMsg struct{ Event client.AuditEvent }

// AuditStreamMsg reports the stream's trouble: a lost connection it will
// retry after Wait, or (Ended) an end it will not retry.
type AuditStreamMsg struct {
	Err   error
	Wait  time.Duration
	Ended bool
	At    time.Time
}

// AuditVerifiedMsg is the result of verifying the chain.
type AuditVerifiedMsg struct {
	Result client.AuditVerifyResult
	Err    error
}

// streamState is the live stream's condition, for the header.
type streamState int

const (
	streamOff streamState = iota
	streamLive
	streamRetrying
	streamEnded
)

// Columns of the audit table.
const (
	auColSeq = iota
	auColTime
	auColActor
	auColAction
	auColTarget
	auColOutcome
)

// Audit is the Audit page: the audit log, newest first, kept up to date by
// the server's event stream, with filters, the detail of one event and a
// verification of the chain.
type Audit struct {
	common.Common
	state   AuditState
	events  []client.AuditEvent // newest first
	table   *components.Table
	action  string
	actor   string
	input   textinput.Model
	gen     int
	loading bool
	loadErr error
	tried   time.Time

	stream     streamState
	streamErr  error
	retryAt    time.Time
	feed       chan tea.Msg
	verify     client.AuditVerifyResult
	verifyErr  error
	flash      string
	flashBad   bool
	startedFor bool
}

// NewAudit returns the Audit page.
func NewAudit(c common.Common) *Audit {
	p := &Audit{Common: c, feed: make(chan tea.Msg, 1024)}
	p.table = components.NewTable(c, []components.Column{
		auColSeq:     {Title: "SEQ", Width: 6, Right: true},
		auColTime:    {Title: "TIME (UTC)", Width: 14},
		auColActor:   {Title: "ACTOR", Min: 8, Weight: 1},
		auColAction:  {Title: "ACTION", Width: 18},
		auColTarget:  {Title: "TARGET", Min: 8, Weight: 1},
		auColOutcome: {Title: "OUTCOME", Width: 7},
	})
	p.table.Empty = "No events."
	return p
}

// State is the page's state.
func (p *Audit) State() AuditState { return p.state }

// Events returns the events held, newest first, before the filter.
func (p *Audit) Events() []client.AuditEvent { return p.events }

// Init implements Page: the first list is fetched at once, so that the
// stream runs (and events gather) even before the page is shown.
func (p *Audit) Init() tea.Cmd { return p.list(p.Now()) }

// Title implements Page.
func (p *Audit) Title() string { return "Audit" }

// Capturing implements Page.
func (p *Audit) Capturing() bool {
	return p.state == AuditFilterAction || p.state == AuditFilterActor
}

// ShortHelp implements Page.
func (p *Audit) ShortHelp() []key.Binding {
	km := p.KeyMap
	switch p.state {
	case AuditFilterAction, AuditFilterActor:
		return []key.Binding{km.Submit, km.Cancel}
	case AuditDetail:
		return []key.Binding{km.Back}
	case AuditVerified:
		return []key.Binding{km.Dismiss}
	}
	return []key.Binding{km.Up, km.Down, km.Open, km.FilterAction, km.FilterActor, km.ClearFilter, km.Verify}
}

// FullHelp implements Page.
func (p *Audit) FullHelp() [][]key.Binding {
	km := p.KeyMap
	return [][]key.Binding{km.Navigation(), {km.Open, km.Back, km.FilterAction, km.FilterActor, km.ClearFilter, km.Verify}}
}

// SetSize implements Page.
func (p *Audit) SetSize(width, height int) {
	p.Common.SetSize(width, height)
	p.table.SetSize(width, p.tableHeight())
}

func (p *Audit) detailHeight() int {
	if p.Height < 14 {
		return 0
	}
	return 4
}

func (p *Audit) tableHeight() int { return max(p.Height-2-p.detailHeight(), 2) }

// Poll implements Page: a failed list is retried while the page is shown,
// or until the stream has started; a working stream needs no polling.
func (p *Audit) Poll(now time.Time, active, force bool) tea.Cmd {
	if p.loading {
		return nil
	}
	if force || (p.loadErr != nil && (active || !p.startedFor) && now.Sub(p.tried) >= RefreshAfter) {
		return p.list(now)
	}
	return nil
}

// query is the server query of the current filter.
func (p *Audit) query() client.AuditQuery {
	return client.AuditQuery{Action: p.action, Actor: p.actor, Order: "desc", Limit: AuditInitialEvents}
}

func (p *Audit) list(now time.Time) tea.Cmd {
	p.loading = true
	p.tried = now
	p.gen++
	gen, q, c := p.gen, p.query(), p.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		page, err := c.API.AuditList(ctx, q)
		return AuditListedMsg{Gen: gen, Query: q, Events: page.Events, Err: err}
	}
}

// follow runs the live stream from the event after from until the
// dashboard ends; events and troubles reach the page through the feed.
func (p *Audit) follow(from int64) tea.Cmd {
	c, feed := p.Common, p.feed
	ctx := c.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	send := func(m tea.Msg) error {
		select {
		case feed <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return func() tea.Msg {
		err := c.API.FollowAudit(ctx, from,
			func(ev client.AuditEvent) error { return send(AuditEventMsg{Event: ev}) },
			func(err error, wait time.Duration) {
				_ = send(AuditStreamMsg{Err: err, Wait: wait, At: c.Now()})
			})
		if ctx.Err() != nil {
			return nil
		}
		return AuditStreamMsg{Err: err, Ended: true, At: c.Now()}
	}
}

// listen waits for the next message of the stream.
func (p *Audit) listen() tea.Cmd {
	feed := p.feed
	done := context.Background().Done()
	if p.Ctx != nil {
		done = p.Ctx.Done()
	}
	return func() tea.Msg {
		select {
		case m := <-feed:
			return m
		case <-done:
			return nil
		}
	}
}

// Update implements Page.
func (p *Audit) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case AuditListedMsg:
		return p.listed(m)
	case AuditEventMsg:
		p.stream, p.streamErr = streamLive, nil
		p.add(m.Event)
		return p.listen()
	case AuditStreamMsg:
		p.streamErr = m.Err
		if m.Ended {
			p.stream = streamEnded
			p.Logger.Warn("audit stream ended", logging.KeyErr, m.Err)
			return nil
		}
		p.stream = streamRetrying
		p.retryAt = m.At.Add(m.Wait)
		p.Logger.Info("audit stream lost", logging.KeyErr, m.Err, common.LogKeyRetryIn, m.Wait)
		return p.listen()
	case AuditVerifiedMsg:
		p.verify, p.verifyErr = m.Result, m.Err
		p.state = AuditVerified
		if m.Err != nil {
			p.Logger.Warn("verify audit chain", logging.KeyErr, m.Err)
		}
		return nil
	case tea.KeyMsg:
		return p.key(m)
	}
	return nil
}

// streamSettle is how long after its retry a lost stream is taken to be
// back when the server answers polls: long enough for a failed retry to
// have said so.
const streamSettle = 2 * time.Second

// ServerAnswers tells the page that a poll of the server succeeded at now.
// A stream waiting to retry has most likely reconnected once its wait is
// over (the stream announces failures, not successes): the header says
// live again.
func (p *Audit) ServerAnswers(now time.Time) {
	if p.stream == streamRetrying && !now.Before(p.retryAt.Add(streamSettle)) {
		p.stream, p.streamErr = streamLive, nil
	}
}

func (p *Audit) listed(m AuditListedMsg) tea.Cmd {
	if m.Gen != p.gen {
		return nil
	}
	p.loading = false
	if p.state == AuditLoading {
		p.state = AuditBrowsing
	}
	if m.Err != nil {
		p.loadErr = m.Err
		p.Logger.Warn("list audit events", logging.KeyErr, m.Err)
		return nil
	}
	p.loadErr = nil
	sel, hadSel := p.Selected()
	// Events the stream delivered while the list was on its way are
	// newer than the list; keep them.
	var newer []client.AuditEvent
	top := int64(0)
	if len(m.Events) > 0 {
		top = maxSeq(m.Events)
	}
	for _, ev := range p.events {
		if ev.Seq > top && p.matches(ev) {
			newer = append(newer, ev)
		}
	}
	p.events = append(newer, m.Events...)
	sort.SliceStable(p.events, func(i, j int) bool { return p.events[i].Seq > p.events[j].Seq })
	p.table.SetRows(auditRows{p})
	if hadSel {
		p.selectSeq(sel.Seq)
	}
	if p.startedFor {
		return nil
	}
	// The stream starts once, after the first successful list: from its
	// newest event, so nothing is missed or shown twice.
	p.startedFor = true
	p.stream = streamLive
	return tea.Batch(p.follow(top), p.listen())
}

func maxSeq(evs []client.AuditEvent) int64 {
	var m int64
	for _, ev := range evs {
		m = max(m, ev.Seq)
	}
	return m
}

// matches applies the filter as the server does: the action is a prefix,
// the actor exact.
func (p *Audit) matches(ev client.AuditEvent) bool {
	return strings.HasPrefix(ev.Action, p.action) && (p.actor == "" || ev.Actor == p.actor)
}

// add puts a streamed event in place, once, if it passes the filter.
func (p *Audit) add(ev client.AuditEvent) {
	if !p.matches(ev) {
		return
	}
	i := sort.Search(len(p.events), func(i int) bool { return p.events[i].Seq <= ev.Seq })
	if i < len(p.events) && p.events[i].Seq == ev.Seq {
		return
	}
	cursor := p.table.Cursor()
	p.events = append(p.events, client.AuditEvent{})
	copy(p.events[i+1:], p.events[i:])
	p.events[i] = ev
	if len(p.events) > AuditMaxEvents {
		p.events = p.events[:AuditMaxEvents]
	}
	p.table.SetRows(auditRows{p})
	// Keep the cursor on the event it was on: a new event above it moves
	// it down one row. At the top, the cursor follows the newest event.
	if cursor > 0 && i <= cursor {
		p.table.SetCursor(cursor + 1)
	}
}

// Selected returns the event under the cursor.
func (p *Audit) Selected() (client.AuditEvent, bool) {
	i := p.table.Cursor()
	if i < 0 || i >= len(p.events) {
		return client.AuditEvent{}, false
	}
	return p.events[i], true
}

func (p *Audit) selectSeq(seq int64) {
	for i, ev := range p.events {
		if ev.Seq == seq {
			p.table.SetCursor(i)
			return
		}
	}
}

func (p *Audit) key(msg tea.KeyMsg) tea.Cmd {
	km := p.KeyMap
	switch p.state {
	case AuditFilterAction, AuditFilterActor:
		switch {
		case key.Matches(msg, km.Submit):
			v := strings.TrimSpace(p.input.Value())
			if p.state == AuditFilterAction {
				p.action = v
			} else {
				p.actor = v
			}
			p.state = AuditBrowsing
			return p.refilter()
		case key.Matches(msg, km.Cancel):
			p.state = AuditBrowsing
			return nil
		}
		return components.UpdateInput(&p.input, msg)
	case AuditVerified:
		if key.Matches(msg, km.Dismiss, km.Back) {
			p.state = AuditBrowsing
		}
		return nil
	case AuditDetail:
		if key.Matches(msg, km.Back, km.Open) {
			p.state = AuditBrowsing
		}
		return nil
	case AuditLoading, AuditVerifying:
		return nil
	}
	if p.table.Update(msg) {
		return nil
	}
	sel, ok := p.Selected()
	switch {
	case key.Matches(msg, km.Open):
		if ok {
			p.state = AuditDetail
		}
	case key.Matches(msg, km.FilterAction):
		v := p.action
		if v == "" && ok {
			v = sel.Action
		}
		p.input = components.NewInput(p.Styles, "", v, 64)
		p.state = AuditFilterAction
	case key.Matches(msg, km.FilterActor):
		v := p.actor
		if v == "" && ok {
			v = sel.Actor
		}
		p.input = components.NewInput(p.Styles, "", v, 200)
		p.state = AuditFilterActor
	case key.Matches(msg, km.ClearFilter):
		if p.action != "" || p.actor != "" {
			p.action, p.actor = "", ""
			return p.refilter()
		}
	case key.Matches(msg, km.Verify):
		p.state = AuditVerifying
		c := p.Common
		return func() tea.Msg {
			ctx, cancel := c.Request()
			defer cancel()
			res, err := c.API.AuditVerify(ctx, client.AuditVerifyRequest{})
			return AuditVerifiedMsg{Result: res, Err: err}
		}
	}
	return nil
}

// refilter drops the events that fail the new filter at once and asks the
// server for the newest that pass it.
func (p *Audit) refilter() tea.Cmd {
	kept := p.events[:0]
	for _, ev := range p.events {
		if p.matches(ev) {
			kept = append(kept, ev)
		}
	}
	p.events = kept
	p.table.SetRows(auditRows{p})
	return p.list(p.Now())
}

type auditRows struct{ p *Audit }

func (r auditRows) Len() int { return len(r.p.events) }

func (r auditRows) Cell(row, col int) string {
	ev := &r.p.events[row]
	switch col {
	case auColSeq:
		return strconv.FormatInt(ev.Seq, 10)
	case auColTime:
		return ev.Time.UTC().Format("01-02 15:04:05")
	case auColActor:
		return ev.Actor
	case auColAction:
		return ev.Action
	case auColTarget:
		return ev.Target
	case auColOutcome:
		return ev.Outcome
	}
	return ""
}

func (r auditRows) CellStyle(row, col int) (lipgloss.Style, bool) {
	if col != auColOutcome {
		return lipgloss.Style{}, false
	}
	return r.p.Styles.KeyState(r.p.events[row].Outcome), true
}

// View implements Page.
func (p *Audit) View() string {
	st := p.Styles
	bodyH := max(p.Height-2, 1)
	var body string
	switch p.state {
	case AuditLoading:
		body = st.Dim.Render("Loading the audit log…")
	case AuditDetail:
		ev, _ := p.Selected()
		body = st.Title.Render(fmt.Sprintf("Event #%d", ev.Seq)) + "\n" + labelled(p.Common, p.Width, p.detailPairs(ev, true))
	case AuditVerified:
		body = p.verifyView()
	default:
		body = p.table.View()
		if dh := p.detailHeight(); dh > 0 {
			body = fit(body, p.tableHeight()) + "\n" + p.detailPane(dh)
		}
	}
	return fit(p.header()+"\n"+fit(body, bodyH)+"\n"+p.footer(), p.Height)
}

func (p *Audit) header() string {
	st := p.Styles
	var live string
	switch p.stream {
	case streamLive:
		live = st.OK.Render("live")
	case streamRetrying:
		live = st.Warn.Render("stream lost, reconnecting at " + p.retryAt.UTC().Format("15:04:05") + ": " + common.ErrorText(p.streamErr))
	case streamEnded:
		live = st.Bad.Render("stream stopped: " + common.ErrorText(p.streamErr))
	default:
		live = st.Dim.Render("not streaming")
	}
	filter := fmt.Sprintf("%s · action %s · actor %s", plural(len(p.events), "event"), orAny(p.action, "*"), orAny(p.actor, ""))
	h := st.Title.Render("Audit") + " " + live + " " + st.Dim.Render("· "+common.Sanitize(filter))
	if p.loadErr != nil {
		h += " " + st.Bad.Render("· list failed: "+common.ErrorText(p.loadErr))
	}
	return common.Truncate(h, p.Width)
}

func orAny(v, suffix string) string {
	if v == "" {
		return "any"
	}
	return v + suffix
}

func (p *Audit) footer() string {
	st := p.Styles
	w := p.Width
	switch p.state {
	case AuditFilterAction:
		q := "Action prefix (key. for every key event, empty for all): "
		p.input.Width = max(w-len([]rune(q))-1, 6)
		return st.Prompt.Render(common.Truncate(q, w-8)) + p.input.View()
	case AuditFilterActor:
		q := "Actor (exact, empty for all): "
		p.input.Width = max(w-len([]rune(q))-1, 6)
		return st.Prompt.Render(q) + p.input.View()
	case AuditVerifying:
		return st.Dim.Render("Verifying the audit chain…")
	}
	if p.flash == "" {
		return ""
	}
	if p.flashBad {
		return st.Bad.Render(common.Truncate(p.flash, w))
	}
	return st.OK.Render(common.Truncate(p.flash, w))
}

func (p *Audit) detailPane(height int) string {
	st := p.Styles
	ev, ok := p.Selected()
	if !ok {
		return st.Dim.Render(strings.Repeat("─", p.Width))
	}
	title := fmt.Sprintf("#%d %s %s", ev.Seq, common.Sanitize(ev.Action), common.Sanitize(ev.Target))
	return st.Dim.Render(common.Rule(title, p.Width)) + "\n" + labelled(p.Common, p.Width, p.detailPairs(ev, false)[:min(height-1, 3)])
}

// detailPairs are the fields of an event; full adds the ones the table
// already shows and lists every detail on its own line.
func (p *Audit) detailPairs(ev client.AuditEvent, full bool) [][2]string {
	s := common.Sanitize
	names := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		names = append(names, k)
	}
	sort.Strings(names)
	var pairs [][2]string
	if full {
		pairs = append(pairs,
			[2]string{"Time", ev.Time.UTC().Format(time.RFC3339Nano)},
			[2]string{"Actor", s(ev.Actor)},
			[2]string{"Action", s(ev.Action)},
			[2]string{"Target", s(common.OrDash(ev.Target))},
			[2]string{"Outcome", p.Styles.KeyState(ev.Outcome).Render(s(ev.Outcome))},
			[2]string{"Client IP", s(common.OrDash(ev.ClientIP))},
		)
		for _, k := range names {
			pairs = append(pairs, [2]string{"  " + s(k), s(ev.Details[k])})
		}
		return append(pairs, [2]string{"Hash", s(ev.Hash)}, [2]string{"Prev hash", s(ev.PrevHash)})
	}
	details := make([]string, 0, len(names))
	for _, k := range names {
		details = append(details, k+"="+ev.Details[k])
	}
	return [][2]string{
		{"Details", s(common.OrDash(strings.Join(details, " ")))},
		{"Actor", s(ev.Actor) + "  " + p.Styles.Label.Render("client") + " " + s(common.OrDash(ev.ClientIP))},
		{"Hash", s(short(ev.Hash)) + "  " + p.Styles.Label.Render("prev") + " " + s(short(ev.PrevHash))},
	}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return common.OrDash(h)
}

// verifyView shows the result of a chain verification.
func (p *Audit) verifyView() string {
	st := p.Styles
	r := p.verify
	var title, body string
	switch {
	case p.verifyErr != nil:
		title = st.Bad.Render("✗ Could not verify the audit chain")
		body = common.ErrorText(p.verifyErr)
	case r.OK:
		title = st.OK.Render("✓ The audit chain verifies")
		body = fmt.Sprintf("%d events checked, from #%d (anchored to %s) to the head #%d.\nHead hash %s",
			r.Checked, r.Start, common.Sanitize(common.OrDash(r.Anchor)), r.Head.Seq, common.Sanitize(common.OrDash(r.Head.Hash)))
		if r.Note != "" {
			body += "\nNote: " + common.Sanitize(r.Note)
		}
	default:
		title = st.Bad.Render(fmt.Sprintf("✗ The audit chain is BROKEN at event #%d", r.FirstBad))
		body = fmt.Sprintf("%s\n%d events verified before it, from #%d (anchored to %s).",
			common.Sanitize(r.Reason), r.Checked, r.Start, common.Sanitize(common.OrDash(r.Anchor)))
	}
	return components.Dialog(st, title, body+"\n\n"+st.Dim.Render("Press enter to close."), p.Width)
}
