package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/testutil/testenv"
)

func examplePath(t *testing.T) string {
	return filepath.Join(testenv.ModuleRoot(t), "examples", "mapwrightd.yaml")
}

// TestExampleConfigIsDefaults proves the shipped example stays true: it
// loads to exactly Defaults(), and it names every key with its
// environment variable.
func TestExampleConfigIsDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	got, err := Load(LoadOptions{File: examplePath(t), Environ: []string{"HOME=" + home}})
	if err != nil {
		t.Fatalf("example config does not load: %v", err)
	}
	if want := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("example config differs from Defaults():\n got %+v\nwant %+v", got, want)
	}

	data, err := os.ReadFile(examplePath(t))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := parseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var inFile []string
	for k := range fs.lines {
		inFile = append(inFile, k)
	}
	slices.Sort(inFile)
	if !slices.Equal(inFile, Keys()) {
		t.Errorf("example sets keys %v, want every key %v", inFile, Keys())
	}
	for _, k := range Keys() {
		if !strings.Contains(string(data), EnvName(k)) {
			t.Errorf("example does not mention %s for %s", EnvName(k), k)
		}
	}
}

// FuzzLoadYAML feeds arbitrary bytes as the config file: Load must never
// panic, and whatever it accepts must validate.
func FuzzLoadYAML(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "..", "examples", "mapwrightd.yaml")); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"listen:\n  addr: \":9000\"\n",
		"listen: &a\n  <<: *a\n",
		"a: &a [*a, *a]\nlisten:\n  <<: *a\n",
		"admin:\n  allowed_cidrs: [\"10.0.0.0/8\", ~, {}]\n",
		"audit:\n  retention: 1.5d\nkeys:\n  cache_ttl: 0\n",
		"rate_limit:\n  rps: .nan\n  burst: 1e30\n",
		"? [a]\n: b\n",
		"---\n---\n",
		"log: {level: debug, format: json}\n",
		"listen:\n  trusted_proxies: [\"10.0.0.0/24\", \"::/0\", 5, ~]\n  public_url: \"https://u:p@x:0/a/../?#\"\n",
		"listen:\n  trusted_proxies: 10.0.0.0/24\n  public_url: [http://localhost]\n",
		"tiles:\n  public: a,b\n  absent: \"404\"\n",
		"\t\x00\xff",
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(LoadOptions{File: path, Environ: []string{"HOME=/nonexistent-home"}})
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that does not validate: %v", err)
		}
	})
}
