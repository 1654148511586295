// Package deploy holds deployment files (the Grafana dashboard, the
// Prometheus scrape config) and the test that validates docker-compose.yml
// without a Docker engine.
package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// load parses and validates a compose file as `docker compose` would:
// schema, interpolation, anchors and merges, references between services.
func load(t *testing.T, file string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithName("lighthouse"),
		cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithInterpolation(true))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func TestComposeFile(t *testing.T) {
	p, err := load(t, "../docker-compose.yml")
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	healthy := func(names ...string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = types.ServiceConditionHealthy
		}
		return m
	}
	for _, tt := range []struct {
		service   string
		image     string // image, or "" when only built
		build     bool
		command   string // first word of the command
		volumes   []string
		dependsOn map[string]string
		ports     int
	}{
		{"nats-1", "nats:2.11-alpine", false, "-n", []string{"/data"}, nil, 0},
		{"nats-2", "nats:2.11-alpine", false, "-n", []string{"/data"}, nil, 0},
		{"nats-3", "nats:2.11-alpine", false, "-n", []string{"/data"}, nil, 0},
		{"writer", "lighthouse:local", true, "writer", []string{"/data"}, healthy("nats-1", "nats-2", "nats-3"), 1},
		{"reader-1", "lighthouse:local", false, "reader", []string{"/data", "/reader"}, healthy("writer"), 1},
		{"reader-2", "lighthouse:local", false, "reader", []string{"/data", "/reader"}, healthy("writer"), 1},
		{"fuser", "lighthouse:local", false, "fuser", []string{"/data", "/fuser"}, healthy("writer"), 0},
	} {
		t.Run(tt.service, func(t *testing.T) {
			s, ok := p.Services[tt.service]
			if !ok {
				t.Fatalf("no service %s", tt.service)
			}
			if s.Image != tt.image {
				t.Errorf("image %q, want %q", s.Image, tt.image)
			}
			if (s.Build != nil) != tt.build {
				t.Errorf("build %v, want %v", s.Build, tt.build)
			}
			if len(s.Command) == 0 || s.Command[0] != tt.command {
				t.Errorf("command %v, want it to start with %q", s.Command, tt.command)
			}
			var targets []string
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeVolume || p.Volumes[v.Source].Name == "" {
					t.Errorf("volume %s:%s is not a declared named volume", v.Source, v.Target)
				}
				targets = append(targets, v.Target)
			}
			if strings.Join(targets, ",") != strings.Join(tt.volumes, ",") {
				t.Errorf("volumes at %v, want %v", targets, tt.volumes)
			}
			hc := s.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Interval == nil || hc.Retries == nil {
				t.Errorf("health check %+v: want a test with an interval and retries", hc)
			} else if !strings.Contains(strings.Join(hc.Test, " "), "healthz") && !strings.Contains(strings.Join(hc.Test, " "), "/readyz") {
				t.Errorf("health check %v asks neither /healthz nor /readyz", hc.Test)
			}
			got := map[string]string{}
			for name, d := range s.DependsOn {
				got[name] = d.Condition
			}
			if len(got) != len(tt.dependsOn) {
				t.Errorf("depends_on %v, want %v", got, tt.dependsOn)
			}
			for name, cond := range tt.dependsOn {
				if got[name] != cond {
					t.Errorf("depends_on %s: %q, want %q", name, got[name], cond)
				}
			}
			if len(s.Ports) != tt.ports {
				t.Errorf("%d published ports, want %d", len(s.Ports), tt.ports)
			}
			for _, port := range s.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("port %s published on %q, want loopback only", port.Published, port.HostIP)
				}
			}
			if tt.command == "-n" {
				cmd := strings.Join(s.Command, " ")
				for _, want := range []string{"-js", "--cluster_name lighthouse", "--routes nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222", "-n " + tt.service} {
					if !strings.Contains(cmd, want) {
						t.Errorf("nats command %q lacks %q", cmd, want)
					}
				}
				return
			}
			bus := s.Environment["LIGHTHOUSE_BUS_URL"]
			if bus == nil || len(strings.Split(*bus, ",")) != 3 {
				t.Errorf("LIGHTHOUSE_BUS_URL %v, want the three NATS servers", bus)
			}
		})
	}
	if f := p.Services["fuser"]; len(f.Devices) != 1 || !strings.Contains(f.Devices[0].Source, "/dev/fuse") || len(f.CapAdd) != 1 || f.CapAdd[0] != "SYS_ADMIN" || f.Privileged {
		t.Errorf("fuser: devices %v, cap_add %v, privileged %v; want /dev/fuse and SYS_ADMIN, not privileged", f.Devices, f.CapAdd, f.Privileged)
	}
}

// TestComposeRejectsBrokenFiles: the loader is strict enough to catch what
// a hand edit breaks.
func TestComposeRejectsBrokenFiles(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, old, new string }{
		{"depends on a missing service", "writer: {condition: service_healthy}", "writr: {condition: service_healthy}"},
		{"undeclared volume", `"reader-2:/reader"`, `"reader-3:/reader"`},
		{"bad health check interval", "interval: 2s", "interval: often"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(raw), tt.old) {
				t.Fatalf("compose file has no %q to break", tt.old)
			}
			file := filepath.Join(t.TempDir(), "docker-compose.yml")
			if err := os.WriteFile(file, []byte(strings.Replace(string(raw), tt.old, tt.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := load(t, file); err == nil {
				t.Fatalf("a compose file with %s loads", tt.name)
			}
		})
	}
}
