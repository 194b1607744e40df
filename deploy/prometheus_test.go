package deploy

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/server"
	"github.com/mapwright/mapwright/pkg/apikey"
)

const (
	promDir       = "deploy/prometheus"
	promConfigDir = "/etc/prometheus/"
)

// TestPromtool has promtool check the scrape config and the rules, and run
// the rules' unit tests (alerts_test.yml fires alerts on synthetic series).
func TestPromtool(t *testing.T) {
	promtool := needTool(t, "promtool", "prometheus")
	dir := t.TempDir()
	for _, name := range []string{"prometheus.yml", "alerts.yml", "alerts_test.yml"} {
		text := readRepoFile(t, promDir+"/"+name)
		// promtool wants the files the config names to exist: give it
		// real ones in the temporary directory.
		text = strings.ReplaceAll(text, promConfigDir, dir+"/")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tlsDir := filepath.Join(dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	mat, err := certs.EnsureLocalCA(tlsDir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mapwright-ca.pem"), mat.CACertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mapwright-metrics.key"), []byte("a secret key with scope metrics:read\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
	}{
		{"scrape config", []string{"check", "config", "prometheus.yml"}},
		{"alert rules", []string{"check", "rules", "alerts.yml"}},
		{"alert unit tests", []string{"test", "rules", "alerts_test.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, promtool, tt.args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
		})
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// scrapeConfig is the part of prometheus.yml the tests read.
type scrapeConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		Scheme        string `yaml:"scheme"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func loadYAML(t *testing.T, rel string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(readRepoFile(t, rel)), v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// series describes what mapwrightd exports: every series name, and for
// each the labels it carries and the values seen for them.
type series struct {
	names  map[string]string              // series name -> metric family
	labels map[string]map[string][]string // metric family -> label -> values seen
}

func (s *series) addFamily(family string, typ dto.MetricType, labels []string) {
	names := []string{family}
	switch typ {
	case dto.MetricType_HISTOGRAM:
		names = []string{family + "_bucket", family + "_sum", family + "_count"}
	case dto.MetricType_SUMMARY:
		names = append(names, family+"_sum", family+"_count")
	}
	for _, n := range names {
		s.names[n] = family
	}
	if s.labels[family] == nil {
		s.labels[family] = map[string][]string{}
	}
	for _, l := range labels {
		if _, ok := s.labels[family][l]; !ok {
			s.labels[family][l] = nil
		}
	}
}

func (s *series) addValue(family, label, value string) {
	if !slices.Contains(s.labels[family][label], value) {
		s.labels[family][label] = append(s.labels[family][label], value)
	}
}

// recordingRegisterer remembers the collectors registered through it.
type recordingRegisterer struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
	r.Registerer.MustRegister(cs...)
}

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
)

// exportedSeries gathers what mapwrightd exports, from two sources: the
// descriptions of every collector of internal/metrics (so a vector no
// request has touched yet still counts), and the /metrics of a live
// daemon after a few requests (the process and Go collectors it adds, and
// real label values).
func exportedSeries(t *testing.T) *series {
	t.Helper()
	s := &series{names: map[string]string{}, labels: map[string]map[string][]string{}}

	rec := &recordingRegisterer{Registerer: prometheus.NewRegistry()}
	m := metrics.New(rec)
	for _, c := range rec.collectors {
		// A vector without children gathers nothing, so its type comes
		// from its Go type here; single metrics are typed by the Gather
		// below.
		typ := dto.MetricType_UNTYPED
		switch c.(type) {
		case *prometheus.HistogramVec:
			typ = dto.MetricType_HISTOGRAM
		case *prometheus.SummaryVec:
			typ = dto.MetricType_SUMMARY
		}
		ch := make(chan *prometheus.Desc, 8)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			name := descName.FindStringSubmatch(d.String())
			labels := descLabels.FindStringSubmatch(d.String())
			if name == nil || labels == nil {
				t.Fatalf("cannot read the metric description %s", d)
			}
			var ls []string
			for _, l := range strings.Split(labels[1], ",") {
				if l = strings.TrimSpace(l); l != "" {
					ls = append(ls, l)
				}
			}
			s.addFamily(name[1], typ, ls)
		}
	}
	if len(s.names) == 0 {
		t.Fatal("internal/metrics registered nothing")
	}
	// The reasons of refused requests are a fixed set of the public
	// server; no request of this test produces all of them.
	for _, r := range []string{server.ReasonMissing, server.ReasonMalformed, server.ReasonUnknown, server.ReasonRevoked,
		server.ReasonExpired, server.ReasonNotYetValid, server.ReasonSecretKey, server.ReasonScope,
		server.ReasonTileset, server.ReasonOrigin, server.ReasonUnavailable} {
		s.addValue(metrics.Namespace+"_auth_failures_total", "reason", r)
	}
	// The public server names its routes when it is built.
	server.New(server.Options{Metrics: m})
	reg := rec.Registerer.(*prometheus.Registry)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	addSamples(s, families)

	d := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.client.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	// A request answered and one refused on the public listener, so that
	// its series carry real label values.
	if code := d.publicGet(t, "/livez"); code != http.StatusOK {
		t.Fatalf("GET /livez: %d", code)
	}
	unknown, err := apikey.Generate(apikey.Public)
	if err != nil {
		t.Fatal(err)
	}
	if code := d.publicGet(t, "/v1/tilesets?key="+unknown); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/tilesets with an unknown key: %d, want 401", code)
	}
	text, err := d.client.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	live, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse the daemon's /metrics: %v", err)
	}
	var list []*dto.MetricFamily
	for _, f := range live {
		list = append(list, f)
	}
	addSamples(s, list)
	return s
}

func addSamples(s *series, families []*dto.MetricFamily) {
	for _, f := range families {
		var labels []string
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !slices.Contains(labels, lp.GetName()) {
					labels = append(labels, lp.GetName())
				}
			}
		}
		s.addFamily(f.GetName(), f.GetType(), labels)
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				s.addValue(f.GetName(), lp.GetName(), lp.GetValue())
			}
		}
	}
}

// checkedLabels are the labels whose values in rules must be ones the
// daemon really uses; a typo there makes an alert that never fires.
var checkedLabels = []string{"listener", "route", "reason", "scope", "outcome", "cache", "result"}

// TestAlertRulesUseExportedMetrics reads every expression of alerts.yml and
// checks each series it selects is exported by mapwrightd (or is up, which
// Prometheus records itself), each label it matches exists on that series
// or is a target label of prometheus.yml, and each fixed label value it
// names is one the daemon uses.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	var rules ruleFile
	loadYAML(t, promDir+"/alerts.yml", &rules)
	var scrape scrapeConfig
	loadYAML(t, promDir+"/prometheus.yml", &scrape)

	targetLabels := []string{"job", "instance"}
	for _, sc := range scrape.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for l := range st.Labels {
				targetLabels = append(targetLabels, l)
			}
		}
	}
	s := exportedSeries(t)

	count := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			t.Run(r.Alert, func(t *testing.T) {
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Error("an alert needs a severity label, a summary and a description")
				}
				sels, err := selectors(r.Expr)
				if err != nil {
					t.Fatalf("expr: %v", err)
				}
				if len(sels) == 0 {
					t.Fatal("expr selects no series")
				}
				for _, sel := range sels {
					count++
					checkSelector(t, s, sel, targetLabels)
				}
			})
		}
	}
	if count < 10 {
		t.Errorf("only %d selectors in alerts.yml", count)
	}
}

func checkSelector(t *testing.T, s *series, sel selector, targetLabels []string) {
	t.Helper()
	if sel.metric == "up" {
		for _, m := range sel.matchers {
			if !slices.Contains(targetLabels, m.label) {
				t.Errorf("%s: up has no label %s", sel, m.label)
			}
		}
		return
	}
	family, ok := s.names[sel.metric]
	if !ok {
		t.Errorf("%s: mapwrightd exports no series %s", sel, sel.metric)
		return
	}
	for _, m := range sel.matchers {
		values, has := s.labels[family][m.label]
		switch {
		case slices.Contains(targetLabels, m.label):
			continue
		case m.label == "le" && strings.HasSuffix(sel.metric, "_bucket"):
			continue
		case !has:
			t.Errorf("%s: %s has no label %s", sel, family, m.label)
			continue
		}
		if !slices.Contains(checkedLabels, m.label) || m.op == "!=" || m.op == "!~" {
			continue
		}
		alternatives := []string{m.value}
		if m.op == "=~" {
			alternatives = strings.Split(m.value, "|")
		}
		for _, v := range alternatives {
			if !slices.Contains(values, v) {
				t.Errorf("%s: %s{%s} never takes the value %q (seen: %q)", sel, family, m.label, v, values)
			}
		}
	}
}

// TestScrapeTargetsMatchProductionConfig: Prometheus reaches each replica
// under a name the production example's admin listener accepts, on its
// port, at the path mapwrightd serves metrics on.
func TestScrapeTargetsMatchProductionConfig(t *testing.T) {
	var scrape scrapeConfig
	loadYAML(t, promDir+"/prometheus.yml", &scrape)
	var prod struct {
		Admin struct {
			Addr         string   `yaml:"addr"`
			AllowedHosts []string `yaml:"allowed_hosts"`
		} `yaml:"admin"`
	}
	loadYAML(t, "examples/mapwrightd-production.yaml", &prod)

	if len(scrape.ScrapeConfigs) != 1 {
		t.Fatalf("%d scrape jobs, want the one mapwright job", len(scrape.ScrapeConfigs))
	}
	job := scrape.ScrapeConfigs[0]
	if job.JobName != "mapwright" || job.Scheme != "https" || job.MetricsPath != "/metrics" {
		t.Errorf("job %q scheme %q path %q, want mapwright over https at /metrics", job.JobName, job.Scheme, job.MetricsPath)
	}
	_, port, _ := strings.Cut(prod.Admin.Addr, ":")
	var targets []string
	for _, sc := range job.StaticConfigs {
		targets = append(targets, sc.Targets...)
	}
	if len(targets) < 2 {
		t.Errorf("targets %q, want several replicas", targets)
	}
	for _, target := range targets {
		if !slices.Contains(prod.Admin.AllowedHosts, target) {
			t.Errorf("target %s is not in the production example's admin.allowed_hosts %q: the host gate would refuse Prometheus", target, prod.Admin.AllowedHosts)
		}
		if !strings.HasSuffix(target, ":"+port) {
			t.Errorf("target %s is not on the admin port %s", target, port)
		}
	}
}
