// Package deploy holds the deployment files (docker-compose with a reverse
// proxy, Kubernetes manifests, the systemd unit, an example configuration);
// its test checks that every option they set is a real configuration key.
package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"opendata/config"
)

func TestDeployFilesSetRealOptions(t *testing.T) {
	known := map[string]bool{"OPENDATA_CONFIG": true}
	for _, o := range config.Options {
		known[o.Env()] = true
	}
	env := regexp.MustCompile(`OPENDATA_[A-Z0-9_]+`)
	found := 0
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, name := range env.FindAllString(string(b), -1) {
			found++
			if !known[name] {
				t.Errorf("%s sets %s, which is not a configuration option", p, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 20 {
		t.Fatalf("only %d options found in deploy/: the scan is broken", found)
	}
	// The example file loads (an unknown key or bad value would stop it),
	// with the secrets it says come from the environment.
	if _, err := config.Load("opendata.example.toml", []string{"OPENDATA_S3_ACCESS_KEY=k", "OPENDATA_S3_SECRET_KEY=s",
		"OPENDATA_DATABASE_URL=postgres://u@h/db", "OPENDATA_MEILISEARCH_KEY=m"}); err != nil {
		t.Fatalf("opendata.example.toml: %v", err)
	}
	// The probes point at the real health routes.
	k8s, _ := os.ReadFile("kubernetes/opendata.yaml")
	for _, want := range []string{"path: /healthz", "path: /readyz", "kind: Job", "kind: Service", "secretKeyRef", "configMapRef"} {
		if !strings.Contains(string(k8s), want) {
			t.Errorf("kubernetes/opendata.yaml lacks %q", want)
		}
	}
	compose, _ := os.ReadFile("docker-compose.yml")
	for _, want := range []string{"opendata-1:", "opendata-2:", "postgres:", "minio:", "redis:", "meilisearch:", "Caddyfile"} {
		if !strings.Contains(string(compose), want) {
			t.Errorf("docker-compose.yml lacks %q", want)
		}
	}
}

// The release binary is stripped and reproducible: the Dockerfile builds
// with the flags the README documents.
func TestReleaseBuildFlags(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `go build -trimpath -ldflags="-s -w"`) {
		t.Fatal(`Dockerfile does not build with -trimpath -ldflags="-s -w"`)
	}
}
