package scan

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// SARIF constants.
const (
	// SARIFVersion is the version of the SARIF documents WriteSARIF writes.
	SARIFVersion = "2.1.0"
	// SARIFSchema is the schema URI written into them.
	SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// InformationURI is the tool's home page in SARIF documents.
	InformationURI = "https://github.com/mapwright/mapwright"
	// RulePublic and RuleSecret are the SARIF rule ids.
	RulePublic = "mapwright/leaked-public-key"
	RuleSecret = "mapwright/leaked-secret-key"
	// fingerprintKey names Fingerprint in partialFingerprints.
	fingerprintKey = "mwctlFingerprint/v1"
)

// The SARIF 2.1.0 objects WriteSARIF uses, with the property names of the
// specification.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool       sarifTool      `json:"tool"`
		Results    []sarifResult  `json:"results"`
		Properties map[string]any `json:"properties,omitempty"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string            `json:"id"`
		Name                 string            `json:"name"`
		ShortDescription     sarifMultiformat  `json:"shortDescription"`
		FullDescription      sarifMultiformat  `json:"fullDescription"`
		Help                 sarifMultiformat  `json:"help"`
		DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
		Properties           sarifRuleProperty `json:"properties"`
	}
	sarifMultiformat struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProperty struct {
		Tags             []string `json:"tags"`
		Precision        string   `json:"precision"`
		SecuritySeverity string   `json:"security-severity"`
	}
	sarifResult struct {
		RuleID              string             `json:"ruleId"`
		RuleIndex           int                `json:"ruleIndex"`
		Level               string             `json:"level"`
		Message             sarifMessage       `json:"message"`
		Locations           []sarifLocation    `json:"locations"`
		PartialFingerprints map[string]string  `json:"partialFingerprints"`
		Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
		Properties          map[string]any     `json:"properties"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifA      `json:"artifactLocation"`
		Region           sarifRegion `json:"region"`
	}
	sarifA struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
	}
	sarifRegion struct {
		StartLine   int64 `json:"startLine"`
		StartColumn int64 `json:"startColumn"`
		EndLine     int64 `json:"endLine"`
		EndColumn   int64 `json:"endColumn"`
		ByteOffset  int64 `json:"byteOffset"`
		ByteLength  int64 `json:"byteLength"`
	}
	sarifSuppression struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification,omitempty"`
	}
)

// srcRoot is the uriBaseId of relative artifact locations: the directory
// the scan ran in, or the repository's root in git modes.
const srcRoot = "%SRCROOT%"

// sarifRules returns the two rules, public keys first.
func sarifRules() []sarifRule {
	return []sarifRule{
		{
			ID:   RulePublic,
			Name: "LeakedPublicKey",
			ShortDescription: sarifMultiformat{
				Text: "A Mapwright public API key (mpw_pk_) is exposed.",
			},
			FullDescription: sarifMultiformat{
				Text: "A Mapwright public API key with a valid checksum appears in the scanned content. Public keys fetch tiles and may live in web pages, but only with an origin allowlist; one in a repository or build output can be copied and used elsewhere.",
			},
			Help: sarifMultiformat{
				Text:     "If the key is active, revoke it (mwctl keys revoke ID, or mwctl scan --revoke), issue a new one restricted to the allowed origins, and remove the key from the content and its history. Add the marker mwctl:allow on the line, or record the finding in a baseline, only for keys that are meant to be public.",
				Markdown: "If the key is active, revoke it (`mwctl keys revoke ID`, or `mwctl scan --revoke`), issue a new one restricted to the allowed origins, and remove the key from the content and its history. Add the marker `mwctl:allow` on the line, or record the finding in a baseline, only for keys that are meant to be public.",
			},
			DefaultConfiguration: sarifRuleConfig{Level: "warning"},
			Properties:           sarifRuleProperty{Tags: []string{"security", "secret", "api-key"}, Precision: "very-high", SecuritySeverity: "5.0"},
		},
		{
			ID:   RuleSecret,
			Name: "LeakedSecretKey",
			ShortDescription: sarifMultiformat{
				Text: "A Mapwright secret API key (mpw_sk_) is exposed.",
			},
			FullDescription: sarifMultiformat{
				Text: "A Mapwright secret API key with a valid checksum appears in the scanned content. Secret keys reach the admin API: whoever holds one can manage keys and the server within its scopes.",
			},
			Help: sarifMultiformat{
				Text:     "Revoke the key at once (mwctl keys revoke ID, or mwctl scan --revoke), issue a replacement stored in a secret store, and remove the key from the content and its history.",
				Markdown: "Revoke the key at once (`mwctl keys revoke ID`, or `mwctl scan --revoke`), issue a replacement stored in a secret store, and remove the key from the content and its history.",
			},
			DefaultConfiguration: sarifRuleConfig{Level: "error"},
			Properties:           sarifRuleProperty{Tags: []string{"security", "secret", "api-key"}, Precision: "very-high", SecuritySeverity: "9.0"},
		},
	}
}

// WriteSARIF writes r as a SARIF 2.1.0 log with one run of the tool "mwctl"
// (version toolVersion): one result per location of each valid key, rule
// RulePublic or RuleSecret, level error for a live key and note for a
// revoked or expired one, the location's Fingerprint as the partial
// fingerprint "mwctlFingerprint/v1", and suppressed locations marked with a
// suppression (inSource for the inline marker, external for the baseline).
// Columns count bytes; byteOffset and byteLength locate the token exactly.
// Look-alikes are not results.
func WriteSARIF(w io.Writer, r *Result, toolVersion string) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "mwctl",
			Version:        toolVersion,
			InformationURI: InformationURI,
			Rules:          sarifRules(),
		}},
		Results: []sarifResult{},
		Properties: map[string]any{
			"invalidCount": r.InvalidCount,
			"checked":      r.Checked,
		},
	}
	for _, k := range r.Keys {
		if !k.Valid {
			continue
		}
		for _, l := range k.Locations {
			run.Results = append(run.Results, sarifResultOf(k, l))
		}
	}
	return writeIndented(w, sarifLog{Schema: SARIFSchema, Version: SARIFVersion, Runs: []sarifRun{run}})
}

func sarifResultOf(k *Key, l Location) sarifResult {
	rule, idx := RulePublic, 0
	if k.Kind == apikey.Secret {
		rule, idx = RuleSecret, 1
	}
	level := "error"
	if !k.Status.Live() {
		level = "note"
	}
	msg := fmt.Sprintf("Mapwright %s key %s is exposed here; status: %s", k.Kind, k.Redacted, statusText(k))
	if k.ID != "" {
		msg += fmt.Sprintf(" (key %s %q)", k.ID, k.Name)
	}
	msg += "."
	props := map[string]any{
		"keyHash": k.Hash,
		"status":  string(k.Status),
	}
	if k.ID != "" {
		props["keyId"] = k.ID
	}
	if l.Commit != "" {
		props["commit"] = l.Commit
		msg += " Introduced in commit " + shortCommit(l.Commit)
		if l.AuthorDate != nil {
			props["authorDate"] = l.AuthorDate.Format(time.RFC3339)
			msg += " (" + l.AuthorDate.Format("2006-01-02") + ")"
		}
		msg += "."
	}
	res := sarifResult{
		RuleID:    rule,
		RuleIndex: idx,
		Level:     level,
		Message:   sarifMessage{Text: msg},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
			ArtifactLocation: artifactOf(l.Path),
			Region: sarifRegion{
				StartLine: l.Line, StartColumn: l.Column,
				EndLine: l.Line, EndColumn: l.Column + apikey.TokenLen,
				ByteOffset: l.Offset, ByteLength: apikey.TokenLen,
			},
		}}},
		PartialFingerprints: map[string]string{fingerprintKey: l.Fingerprint},
		Properties:          props,
	}
	switch l.Suppressed {
	case SuppressedInline:
		res.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: "marked " + AllowMarker}}
	case SuppressedBaseline:
		res.Suppressions = []sarifSuppression{{Kind: "external", Justification: "in the baseline"}}
	}
	return res
}

// artifactOf is the artifact location of a path: a relative URI reference
// against %SRCROOT% for a relative path, a file URI for an absolute one.
// The path of an archive member keeps its "!" separators, which URIs allow.
func artifactOf(p string) sarifA {
	if filepath.IsAbs(p) {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
		return sarifA{URI: u.String()}
	}
	p = strings.TrimPrefix(normalizePath(p), "/")
	u := url.URL{Path: p}
	return sarifA{URI: u.String(), URIBaseID: srcRoot}
}
