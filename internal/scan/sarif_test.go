package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// This file checks WriteSARIF's output against the constraints of the SARIF
// 2.1.0 JSON schema (OASIS, errata 01) for every object it emits: the
// property names each object allows (the schema closes them with
// additionalProperties: false), required properties, types, enums, minimums,
// URI formats and uniqueness. The definitions below transcribe those
// constraints for the objects in question.

// sprop is a property's constraints: a JSON type ("string", "integer",
// "number", "boolean", "object", "array"), or a reference to a definition,
// with the item definition or type of an array.
type sprop struct {
	typ      string
	ref      string
	items    string // definition of array items
	itemType string // JSON type of array items
	enum     []string
	min      *float64
	format   string // "uri" or "uri-reference"
	unique   bool
	mapOf    string // object whose values have this JSON type
}

// sdef is a definition: its allowed properties, required ones, and sets of
// which at least one must be present (anyOf required).
type sdef struct {
	props    map[string]sprop
	required []string
	anyOf    [][]string
	open     bool // additionalProperties: true
}

func fl(v float64) *float64 { return &v }

var (
	levels    = []string{"none", "note", "warning", "error"}
	minusOne  = fl(-1)
	one       = fl(1)
	zero      = fl(0)
	bag       = sprop{ref: "propertyBag"}
	msg       = sprop{ref: "message"}
	mfm       = sprop{ref: "multiformatMessageString"}
	anyString = sprop{typ: "string"}
	anyArray  = sprop{typ: "array"}
	anyObject = sprop{typ: "object"}
)

var sarifDefs = map[string]sdef{
	"sarifLog": {props: map[string]sprop{
		"$schema": {typ: "string", format: "uri"}, "version": {typ: "string", enum: []string{"2.1.0"}},
		"runs": {typ: "array", items: "run"}, "inlineExternalProperties": anyArray, "properties": bag,
	}, required: []string{"version", "runs"}},
	"run": {props: map[string]sprop{
		"tool": {ref: "tool"}, "invocations": anyArray, "conversion": anyObject, "language": anyString,
		"versionControlProvenance": anyArray, "originalUriBaseIds": anyObject, "artifacts": anyArray,
		"logicalLocations": anyArray, "graphs": anyArray, "results": {typ: "array", items: "result"},
		"automationDetails": anyObject, "runAggregates": anyArray, "baselineGuid": anyString,
		"redactionTokens": anyArray, "defaultEncoding": anyString, "defaultSourceLanguage": anyString,
		"newlineSequences": anyArray, "columnKind": {typ: "string", enum: []string{"utf16CodeUnits", "unicodeCodePoints"}},
		"externalPropertyFileReferences": anyObject, "threadFlowLocations": anyArray, "taxonomies": anyArray,
		"addresses": anyArray, "translations": anyArray, "policies": anyArray, "webRequests": anyArray,
		"webResponses": anyArray, "specialLocations": anyObject, "properties": bag,
	}, required: []string{"tool"}},
	"tool": {props: map[string]sprop{"driver": {ref: "toolComponent"}, "extensions": anyArray, "properties": bag}, required: []string{"driver"}},
	"toolComponent": {props: map[string]sprop{
		"guid": anyString, "name": anyString, "organization": anyString, "product": anyString,
		"productSuite": anyString, "shortDescription": mfm, "fullDescription": mfm, "fullName": anyString,
		"version": anyString, "semanticVersion": anyString, "dottedQuadFileVersion": anyString,
		"releaseDateUtc": anyString, "downloadUri": {typ: "string", format: "uri"},
		"informationUri": {typ: "string", format: "uri"}, "globalMessageStrings": anyObject,
		"notifications": anyArray, "rules": {typ: "array", items: "reportingDescriptor", unique: true},
		"taxa": anyArray, "locations": anyArray, "language": anyString, "contents": anyArray,
		"isComprehensive": {typ: "boolean"}, "localizedDataSemanticVersion": anyString,
		"minimumRequiredLocalizedDataSemanticVersion": anyString, "associatedComponent": anyObject,
		"translationMetadata": anyObject, "supportedTaxonomies": anyArray, "properties": bag,
	}, required: []string{"name"}},
	"reportingDescriptor": {props: map[string]sprop{
		"id": anyString, "deprecatedIds": anyArray, "guid": anyString, "deprecatedGuids": anyArray,
		"name": anyString, "deprecatedNames": anyArray, "shortDescription": mfm, "fullDescription": mfm,
		"messageStrings": anyObject, "defaultConfiguration": {ref: "reportingConfiguration"},
		"helpUri": {typ: "string", format: "uri"}, "help": mfm, "relationships": anyArray, "properties": bag,
	}, required: []string{"id"}},
	"multiformatMessageString": {props: map[string]sprop{"text": anyString, "markdown": anyString, "properties": bag}, required: []string{"text"}},
	"reportingConfiguration": {props: map[string]sprop{
		"enabled": {typ: "boolean"}, "level": {typ: "string", enum: levels}, "rank": {typ: "number", min: minusOne},
		"parameters": bag, "properties": bag,
	}},
	"propertyBag": {props: map[string]sprop{"tags": {typ: "array", itemType: "string", unique: true}}, open: true},
	"result": {props: map[string]sprop{
		"ruleId": anyString, "ruleIndex": {typ: "integer", min: minusOne}, "rule": anyObject,
		"kind":  {typ: "string", enum: []string{"notApplicable", "pass", "fail", "review", "open", "informational"}},
		"level": {typ: "string", enum: levels}, "message": msg, "analysisTarget": {ref: "artifactLocation"},
		"locations": {typ: "array", items: "location"}, "guid": anyString, "correlationGuid": anyString,
		"occurrenceCount": {typ: "integer", min: one}, "partialFingerprints": {typ: "object", mapOf: "string"},
		"fingerprints": {typ: "object", mapOf: "string"}, "stacks": anyArray, "codeFlows": anyArray,
		"graphs": anyArray, "graphTraversals": anyArray, "relatedLocations": anyArray,
		"suppressions":  {typ: "array", items: "suppression", unique: true},
		"baselineState": {typ: "string", enum: []string{"new", "unchanged", "updated", "absent"}},
		"rank":          {typ: "number", min: minusOne}, "attachments": anyArray, "hostedViewerUri": anyString,
		"workItemUris": anyArray, "provenance": anyObject, "fixes": anyArray, "taxa": anyArray,
		"webRequest": anyObject, "webResponse": anyObject, "properties": bag,
	}, required: []string{"message"}},
	"message": {props: map[string]sprop{"text": anyString, "markdown": anyString, "id": anyString, "arguments": anyArray, "properties": bag},
		anyOf: [][]string{{"text"}, {"id"}}},
	"location": {props: map[string]sprop{
		"id": {typ: "integer", min: minusOne}, "physicalLocation": {ref: "physicalLocation"},
		"logicalLocations": anyArray, "message": msg, "annotations": anyArray, "relationships": anyArray, "properties": bag,
	}},
	"physicalLocation": {props: map[string]sprop{
		"address": anyObject, "artifactLocation": {ref: "artifactLocation"}, "region": {ref: "region"},
		"contextRegion": {ref: "region"}, "properties": bag,
	}, anyOf: [][]string{{"address"}, {"artifactLocation"}}},
	"artifactLocation": {props: map[string]sprop{
		"uri": {typ: "string", format: "uri-reference"}, "uriBaseId": anyString,
		"index": {typ: "integer", min: minusOne}, "description": msg, "properties": bag,
	}},
	"region": {props: map[string]sprop{
		"startLine": {typ: "integer", min: one}, "startColumn": {typ: "integer", min: one},
		"endLine": {typ: "integer", min: one}, "endColumn": {typ: "integer", min: one},
		"charOffset": {typ: "integer", min: minusOne}, "charLength": {typ: "integer", min: zero},
		"byteOffset": {typ: "integer", min: minusOne}, "byteLength": {typ: "integer", min: zero},
		"snippet": anyObject, "message": msg, "sourceLanguage": anyString, "properties": bag,
	}, anyOf: [][]string{{"startLine"}, {"charOffset"}, {"byteOffset"}}},
	"suppression": {props: map[string]sprop{
		"guid": anyString, "kind": {typ: "string", enum: []string{"inSource", "external"}},
		"status":        {typ: "string", enum: []string{"accepted", "underReview", "rejected"}},
		"justification": anyString, "location": {ref: "location"}, "properties": bag,
	}, required: []string{"kind"}},
}

// validate checks v (decoded JSON) against definition name and returns
// every violation, each with its JSON path.
func validate(name string, v any, at string) []string {
	def, ok := sarifDefs[name]
	if !ok {
		return []string{at + ": no definition " + name}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %s is not an object", at, name)}
	}
	var errs []string
	for _, r := range def.required {
		if _, ok := obj[r]; !ok {
			errs = append(errs, fmt.Sprintf("%s: %s lacks required %q", at, name, r))
		}
	}
	if len(def.anyOf) > 0 {
		okAny := false
		for _, set := range def.anyOf {
			all := true
			for _, r := range set {
				if _, ok := obj[r]; !ok {
					all = false
				}
			}
			okAny = okAny || all
		}
		if !okAny {
			errs = append(errs, fmt.Sprintf("%s: %s needs one of %v", at, name, def.anyOf))
		}
	}
	for k, val := range obj {
		p, ok := def.props[k]
		if !ok {
			if !def.open {
				errs = append(errs, fmt.Sprintf("%s: %s does not allow property %q", at, name, k))
			}
			continue
		}
		errs = append(errs, checkProp(p, val, at+"."+k)...)
	}
	return errs
}

func checkProp(p sprop, val any, at string) []string {
	if p.ref != "" {
		return validate(p.ref, val, at)
	}
	var errs []string
	if !hasType(p.typ, val) {
		return []string{fmt.Sprintf("%s: want %s, got %T", at, p.typ, val)}
	}
	if len(p.enum) > 0 {
		s, _ := val.(string)
		found := false
		for _, e := range p.enum {
			found = found || e == s
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: %q not in %v", at, s, p.enum))
		}
	}
	if p.min != nil {
		if f, _ := val.(float64); f < *p.min {
			errs = append(errs, fmt.Sprintf("%s: %v below minimum %v", at, f, *p.min))
		}
	}
	switch p.format {
	case "uri":
		u, err := url.Parse(val.(string))
		if err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Sprintf("%s: %q is not an absolute URI", at, val))
		}
	case "uri-reference":
		if _, err := url.Parse(val.(string)); err != nil || strings.ContainsAny(val.(string), " \\") {
			errs = append(errs, fmt.Sprintf("%s: %q is not a URI reference", at, val))
		}
	}
	if arr, ok := val.([]any); ok {
		seen := map[string]bool{}
		for i, item := range arr {
			ia := fmt.Sprintf("%s[%d]", at, i)
			if p.items != "" {
				errs = append(errs, validate(p.items, item, ia)...)
			}
			if p.itemType != "" && !hasType(p.itemType, item) {
				errs = append(errs, fmt.Sprintf("%s: want %s", ia, p.itemType))
			}
			if p.unique {
				b, _ := json.Marshal(item)
				if seen[string(b)] {
					errs = append(errs, fmt.Sprintf("%s: duplicate item in a unique array", ia))
				}
				seen[string(b)] = true
			}
		}
	}
	if p.mapOf != "" {
		for k, item := range val.(map[string]any) {
			if !hasType(p.mapOf, item) {
				errs = append(errs, fmt.Sprintf("%s.%s: want %s", at, k, p.mapOf))
			}
		}
	}
	return errs
}

func hasType(typ string, v any) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "number":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

func TestSARIFValidator(t *testing.T) {
	// The validator must reject what the schema rejects.
	bad := []string{
		`{"version":"2.1.0"}`,
		`{"version":"2.0.0","runs":[]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","informationUri":"relative/path"}}}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r"}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"region":{"startLine":0}}}]}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"tokens":1}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"suppressions":[{"kind":"inline"}]}]}]}`,
	}
	for _, doc := range bad {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		if len(validate("sarifLog", v, "$")) == 0 {
			t.Errorf("validator accepted %s", doc)
		}
	}
}

func TestWriteSARIF(t *testing.T) {
	dir := t.TempDir()
	pk, sk, allowed := mustKey(t, apikey.Public), mustKey(t, apikey.Secret), mustKey(t, apikey.Public)
	write(t, filepath.Join(dir, "web", "my app.js"), []byte("\n  k='"+pk+"'\n"))
	write(t, filepath.Join(dir, "ci.env"), []byte("K="+sk+"\nX="+allowed+" # mwctl:allow\n"))
	t.Chdir(dir)
	res, err := Scan(context.Background(), Options{Paths: []string{"."}})
	if err != nil {
		t.Fatal(err)
	}
	res.Keys[0].Status, res.Keys[0].ID, res.Keys[0].Name = StatusRevoked, "key_9", "ci"
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	res.Keys = append(res.Keys, &Key{Hash: strings.Repeat("ab", 32), Redacted: "mpw_sk_AbCd…", Kind: apikey.Secret, Valid: true, Status: StatusUnknown,
		Locations: []Location{{Path: "old/deploy.sh", Commit: strings.Repeat("c", 40), AuthorDate: &when, Line: 4, Column: 9, Offset: 50, Fingerprint: strings.Repeat("0", 64)}}})

	var buf bytes.Buffer
	if err := WriteSARIF(&buf, res, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{pk, sk, allowed} {
		if strings.Contains(buf.String(), tok[apikey.StartLen:]) {
			t.Fatal("SARIF output contains a token")
		}
	}
	var doc any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, e := range validate("sarifLog", doc, "$") {
		t.Error(e)
	}

	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, InformationURI string
					Rules                []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string }
						Region           struct{ StartLine, StartColumn, ByteOffset, ByteLength int }
					}
				}
				PartialFingerprints map[string]string
				Suppressions        []struct{ Kind string }
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.HasSuffix(log.Schema, "sarif-schema-2.1.0.json") || len(log.Runs) != 1 {
		t.Fatalf("log header: %q %q %d runs", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "mwctl" || run.Tool.Driver.InformationURI != InformationURI ||
		len(run.Tool.Driver.Rules) != 2 || run.Tool.Driver.Rules[0].ID != RulePublic || run.Tool.Driver.Rules[1].ID != RuleSecret {
		t.Errorf("driver %+v", run.Tool.Driver)
	}
	type want struct {
		uri, rule, level string
		line, col        int
		suppressed       string
	}
	var got []want
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.Message.Text == "" || len(r.Locations) != 1 || len(r.PartialFingerprints[fingerprintKey]) != 64 {
			t.Errorf("result %+v", r)
		}
		l := r.Locations[0].PhysicalLocation
		if l.Region.ByteLength != apikey.TokenLen {
			t.Errorf("byteLength %d", l.Region.ByteLength)
		}
		w := want{l.ArtifactLocation.URI, r.RuleID, r.Level, l.Region.StartLine, l.Region.StartColumn, ""}
		if len(r.Suppressions) == 1 {
			w.suppressed = r.Suppressions[0].Kind
		}
		got = append(got, w)
	}
	wantAll := []want{
		{"ci.env", RuleSecret, "note", 1, 3, ""},
		{"ci.env", RulePublic, "error", 2, 3, "inSource"},
		{"web/my%20app.js", RulePublic, "error", 2, 6, ""},
		{"old/deploy.sh", RuleSecret, "error", 4, 9, ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(wantAll) {
		t.Errorf("results\ngot  %v\nwant %v", got, wantAll)
	}
	if !strings.Contains(run.Results[3].Message.Text, "cccccccccccc") {
		t.Errorf("git result message lacks the commit: %q", run.Results[3].Message.Text)
	}
	if a := artifactOf("/abs/dir/x.env"); a.URI != "file:///abs/dir/x.env" || a.URIBaseID != "" {
		t.Errorf("absolute path: %+v", a)
	}
}
