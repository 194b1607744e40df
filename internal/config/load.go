package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// maxConfigSize bounds the config file read into memory; a real one is a
// few kilobytes.
const maxConfigSize = 1 << 20

// LoadOptions says where Load finds settings.
type LoadOptions struct {
	// File is the YAML config file. Empty: the --config flag of Flags when
	// set, else MAPWRIGHT_CONFIG from Environ, else no file.
	File string
	// Flags are the parsed command-line flags. Only flags the user set
	// (Changed) override the file and the environment. Nil: no flags.
	Flags *pflag.FlagSet
	// Environ is the environment as "KEY=value" strings. Nil means
	// os.Environ(); tests pass their own.
	Environ []string
	// FlagKeys maps flag names to the config keys they set. Nil means
	// FlagKeys(). Flags absent from Flags are skipped.
	FlagKeys map[string]string
}

// Load builds the configuration from defaults, the config file, MAPWRIGHT_*
// environment variables and set flags (each overriding the one before),
// through one viper instance, then validates it. Every problem is
// reported, each a *FieldError naming its key and where its value came
// from; a YAML syntax error names its line. The database password never
// appears in an error.
func Load(opts LoadOptions) (Config, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := envMap(environ)
	flagKeys := opts.FlagKeys
	if flagKeys == nil {
		flagKeys = FlagKeys()
	}

	v := viper.New()
	base := baseDefaults()
	for _, k := range configSchema.leaves {
		v.SetDefault(k.key, k.value(&base).Interface())
	}
	sources := map[string]string{}

	path := opts.File
	if path == "" && opts.Flags != nil {
		if f := opts.Flags.Lookup(ConfigFlag); f != nil && f.Changed {
			path = f.Value.String()
		}
	}
	if path == "" {
		path = env[ConfigEnv]
	}
	if path != "" {
		fileVals, err := readFile(path, sources)
		if err != nil {
			return Config{}, err
		}
		if err := v.MergeConfigMap(fileVals); err != nil {
			return Config{}, fmt.Errorf("config file %q: %w", path, err)
		}
	}

	// The environment is merged into the same layer after the file, so it
	// wins over the file and loses to flags, which go in as overrides.
	if envVals := envSettings(env, sources); len(envVals) > 0 {
		if err := v.MergeConfigMap(envVals); err != nil {
			return Config{}, fmt.Errorf("environment: %w", err)
		}
	}
	if opts.Flags != nil {
		if err := applyFlags(v, opts.Flags, flagKeys, sources); err != nil {
			return Config{}, err
		}
	}

	var cfg Config
	err := v.Unmarshal(&cfg, viper.DecodeHook(decodeHook()), func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
	})
	if err != nil {
		return Config{}, withSources(decodeErrors(err), sources)
	}
	cfg.resolve(env)
	if err := cfg.Validate(); err != nil {
		return Config{}, withSources(err, sources)
	}
	return cfg, nil
}

// readFile parses the config file and notes the line of each key in
// sources.
func readFile(path string, sources map[string]string) (map[string]any, error) {
	// Checked before opening: opening a pipe would block.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open config file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("config file %q: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config file %q: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config file %q: larger than %d bytes", path, maxConfigSize)
	}
	fs, err := parseFile(data)
	if err != nil {
		// Field errors carry the file in their source; other problems
		// (syntax) get it as a prefix.
		var out []error
		for _, e := range flatten(err) {
			var fe *FieldError
			if errors.As(e, &fe) {
				fe.Source = path + " " + fe.Source
				out = append(out, e)
				continue
			}
			out = append(out, fmt.Errorf("config file %q: %w", path, e))
		}
		return nil, errors.Join(out...)
	}
	for key, line := range fs.lines {
		sources[key] = path + " " + lineSource(line)
	}
	return fs.values, nil
}

// envMap turns "KEY=value" strings into a map; later entries win, as in
// a process environment.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// envSettings collects the MAPWRIGHT_* variables of known keys into a
// nested map. Empty values are ignored so that "MAPWRIGHT_X=" in a unit
// file does not wipe a default.
func envSettings(env map[string]string, sources map[string]string) map[string]any {
	out := map[string]any{}
	for _, k := range configSchema.leaves {
		name := EnvName(k.key)
		raw := env[name]
		if strings.TrimSpace(raw) == "" {
			continue
		}
		var val any = raw
		if k.typ.Kind() == reflect.Slice {
			val = splitList(raw)
		}
		setNested(out, k.key, val)
		sources[k.key] = name
	}
	return out
}

func setNested(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val
}

// applyFlags sets every flag the user gave as a viper override, the
// highest layer.
func applyFlags(v *viper.Viper, fs *pflag.FlagSet, flagKeys map[string]string, sources map[string]string) error {
	names := make([]string, 0, len(flagKeys))
	for n := range flagKeys {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		key := flagKeys[name]
		if _, ok := configSchema.byKey[key]; !ok {
			return fmt.Errorf("flag --%s: maps to unknown config key %q", name, key)
		}
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		var val any = f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			val = append([]string(nil), sv.GetSlice()...)
		}
		v.Set(key, val)
		sources[key] = "flag --" + name
	}
	return nil
}

// decodeErrors turns mapstructure's errors into FieldErrors named by key.
func decodeErrors(err error) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if de, ok := e.(*mapstructure.DecodeError); ok {
			if _, joined := de.Unwrap().(interface{ Unwrap() []error }); !joined {
				out = append(out, fieldErr(strings.TrimPrefix(de.Name(), "."), simplify(de.Unwrap())))
				return
			}
			e = de.Unwrap()
		}
		switch u := e.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			out = append(out, fmt.Errorf("%w: %w", ErrInvalid, e))
		}
	}
	walk(err)
	return errors.Join(out...)
}

// simplify rewords mapstructure's type errors for an operator.
func simplify(err error) error {
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("must be a %s", kindName(pe.Expected.Type()))
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Errorf("must be a %s", kindName(ue.Expected.Type()))
	}
	return err
}

func kindName(t reflect.Type) string {
	if t == durationType {
		return "duration such as \"30s\" or \"90d\""
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int64:
		return "whole number"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list"
	default:
		return "string"
	}
}

// withSources names, in each FieldError, where its value came from.
func withSources(err error, sources map[string]string) error {
	for _, fe := range FieldErrors(err) {
		if fe.Source != "" {
			continue
		}
		key := fe.Field
		if i := strings.IndexByte(key, '['); i >= 0 {
			key = key[:i]
		}
		fe.Source = sources[key]
	}
	return err
}
