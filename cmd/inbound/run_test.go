package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/testenv"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

type instance struct {
	stdout, stderr *syncBuffer
	partner, admin string
	cancel         context.CancelFunc
	done           chan error
	stopOnce       sync.Once
}

var listenRE = regexp.MustCompile(`(partner|admin) API listening on (http://\S+)`)

// start runs the program as main would, in a goroutine, and waits until both
// APIs answer /healthz.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() { in.done <- run(ctx, []string{"serve"}, getenv, in.stdout, in.stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range listenRE.FindAllStringSubmatch(in.stdout.String(), -1) {
			if m[1] == "partner" {
				in.partner = m[2]
			} else {
				in.admin = m[2]
			}
		}
		if in.partner != "" && in.admin != "" {
			if get(t, in.partner+"/healthz", "") == 200 && get(t, in.admin+"/healthz", "") == 200 {
				t.Cleanup(func() { in.stop(t) })
				return in
			}
		}
		select {
		case err := <-in.done:
			t.Fatalf("run exited: %v\nstdout:\n%s\nstderr:\n%s", err, in.stdout, in.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("did not start in time\nstdout:\n%s\nstderr:\n%s", in.stdout, in.stderr)
	return nil
}

func (in *instance) stop(t *testing.T) {
	in.stopOnce.Do(func() {
		in.cancel()
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not stop")
		}
	})
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func loopbackEnv(t *testing.T) map[string]string {
	return map[string]string{
		"INBOUND_DATA_DIR":     t.TempDir(),
		"INBOUND_PARTNER_ADDR": "127.0.0.1:0",
		"INBOUND_ADMIN_ADDR":   "127.0.0.1:0",
	}
}

var credRE = regexp.MustCompile(`partner secret key: (sk_\S+)\s+staff token \(supervisor\): (st_\S+)`)

func TestEmbeddedStartPrintsWorkingCredentials(t *testing.T) {
	env := loopbackEnv(t)
	in := start(t, env)
	m := credRE.FindStringSubmatch(in.stdout.String())
	if m == nil {
		t.Fatalf("no credentials printed:\n%s", in.stdout)
	}
	partnerKey, staffToken := m[1], m[2]
	if code := get(t, in.partner+"/v1/fx/rates", partnerKey); code != 200 {
		t.Fatalf("printed partner key on an authenticated route: %d", code)
	}
	if code := get(t, in.partner+"/v1/fx/rates", ""); code != 401 {
		t.Fatalf("no key: %d", code)
	}
	if code := get(t, in.admin+"/admin/v1/audit", staffToken); code != 200 {
		t.Fatalf("staff token: %d", code)
	}
	if code := get(t, in.admin+"/admin/v1/audit", partnerKey); code != 401 {
		t.Fatalf("partner key on admin API: %d", code)
	}
	if code := get(t, in.partner+"/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	// Secrets printed on stdout never reach the JSON logs.
	if strings.Contains(in.stderr.String(), partnerKey) || strings.Contains(in.stderr.String(), staffToken) {
		t.Fatal("credentials in logs")
	}
	for _, line := range strings.Split(strings.TrimSpace(in.stderr.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("log line is not JSON: %s", line)
		}
	}
	in.stop(t)

	// A restart keeps the same credentials and data.
	again := start(t, env)
	if m2 := credRE.FindStringSubmatch(again.stdout.String()); m2 == nil || m2[1] != partnerKey {
		t.Fatalf("credentials changed across restart:\n%s", again.stdout)
	}
	if code := get(t, again.admin+"/admin/v1/audit", staffToken); code != 200 {
		t.Fatalf("staff token after restart: %d", code)
	}
}

func TestRunsAgainstPostgresAndRedis(t *testing.T) {
	if !testenv.HasReal() {
		t.Log("INBOUND_TEST_DATABASE_URL not set: embedded only")
		return
	}
	b := testenv.Real(t)
	env := loopbackEnv(t)
	env["INBOUND_DATABASE_URL"] = b.DBURL
	env["INBOUND_REDIS_URL"] = b.Redis
	env["INBOUND_MASTER_KEY"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
	env["INBOUND_BOOTSTRAP_STAFF_TOKEN"] = "st_bootstrap_token_for_tests_0001"
	env["INBOUND_BOOTSTRAP_PARTNER_KEY"] = "sk_bootstrap_key_for_tests_00001"
	in := start(t, env)
	if strings.Contains(in.stdout.String(), "development credentials") {
		t.Fatal("generated dev credentials although bootstrap secrets are set")
	}
	if code := get(t, in.partner+"/v1/fx/rates", env["INBOUND_BOOTSTRAP_PARTNER_KEY"]); code != 200 {
		t.Fatalf("bootstrap partner key: %d", code)
	}
	if code := get(t, in.admin+"/admin/v1/audit", env["INBOUND_BOOTSTRAP_STAFF_TOKEN"]); code != 200 {
		t.Fatalf("bootstrap staff token: %d", code)
	}
	if code := get(t, in.partner+"/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
}

func TestBadConfigurationFailsFast(t *testing.T) {
	err := run(context.Background(), nil, func(k string) string {
		if k == "INBOUND_QUOTE_TTL" {
			return "forever"
		}
		return ""
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "INBOUND_QUOTE_TTL") {
		t.Fatalf("err %v", err)
	}
}

func TestSubcommands(t *testing.T) {
	env := loopbackEnv(t)
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "migration") {
		t.Fatalf("migrate: %v %s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"partners", "create", "-name", "Acme"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "sk_") {
		t.Fatalf("partners create: %v %s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"staff", "create", "-name", "Ann", "-role", "agent"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "agent") {
		t.Fatalf("staff create: %v %s", err, out.String())
	}
	if err := run(context.Background(), []string{"staff", "create", "-name", "Ann", "-role", "god"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("bad role accepted")
	}
	if err := run(context.Background(), []string{"frobnicate"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
	out.Reset()
	env["INBOUND_MASTER_KEY"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
	if err := run(context.Background(), []string{"config"}, getenv, &out, io.Discard); err != nil || strings.Contains(out.String(), env["INBOUND_MASTER_KEY"]) {
		t.Fatalf("config printed the master key: %s", out.String())
	}
}

// A request in flight when the signal comes is finished, not cut: the body
// of this one is still arriving when shutdown starts.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	env := loopbackEnv(t)
	in := start(t, env)
	m := credRE.FindStringSubmatch(in.stdout.String())
	staffToken := m[2]
	addr := strings.TrimPrefix(in.admin, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"Late Partner","reason":"signed during shutdown"}`
	head := "POST /admin/v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + staffToken +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + body[:10])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	in.cancel() // SIGTERM
	time.Sleep(200 * time.Millisecond)
	if _, err := conn.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request cut: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || !strings.Contains(string(b), "Late Partner") {
		t.Fatalf("in-flight request: %d %s", res.StatusCode, b)
	}
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		in.stopOnce.Do(func() {})
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	// New connections are refused once shut down.
	if code := get(t, in.partner+"/healthz", ""); code != 0 {
		t.Fatalf("still serving after shutdown: %d", code)
	}
}

func TestLedgerVerifySubcommand(t *testing.T) {
	env := loopbackEnv(t)
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ledger", "verify"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "balanced") {
		t.Fatalf("verify on an empty ledger: %v %s", err, out.String())
	}
	if err := run(context.Background(), []string{"ledger"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("ledger without verb accepted")
	}
}

func callJSON(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// bootstrapTarget finds what the bootstrap created, through the audit log.
func bootstrapTarget(t *testing.T, in *instance, token, action string) string {
	t.Helper()
	code, m := callJSON(t, "GET", in.admin+"/admin/v1/audit?actor=system:bootstrap", token, "")
	if code != 200 {
		t.Fatalf("audit: %d %v", code, m)
	}
	for _, e := range m["data"].([]any) {
		if e := e.(map[string]any); e["action"] == action {
			return e["target"].(string)
		}
	}
	t.Fatalf("no %s by system:bootstrap in %v", action, m)
	return ""
}

// TestRotatedBootstrapKeyDoesNotBreakTheNextStart: rotating the bootstrap
// partner key used to make every later start fail on a unique violation of
// partner_keys.key_hash (pods crash-looping). Now the start warns and the
// revoked key stays revoked.
func TestRotatedBootstrapKeyDoesNotBreakTheNextStart(t *testing.T) {
	backends := []string{"embedded"}
	if testenv.HasReal() {
		backends = append(backends, "postgres")
	}
	for _, name := range backends {
		t.Run(name, func(t *testing.T) {
			env := loopbackEnv(t)
			if name == "postgres" {
				b := testenv.Real(t)
				env["INBOUND_DATABASE_URL"], env["INBOUND_REDIS_URL"] = b.DBURL, b.Redis
				env["INBOUND_MASTER_KEY"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
			}
			key, tok := "sk_bootstrap_key_for_tests_00001", "st_bootstrap_token_for_tests_0001"
			env["INBOUND_BOOTSTRAP_PARTNER_KEY"], env["INBOUND_BOOTSTRAP_STAFF_TOKEN"] = key, tok
			in := start(t, env)
			ptn := bootstrapTarget(t, in, tok, "partner.create")
			code, m := callJSON(t, "POST", in.admin+"/admin/v1/partners/"+ptn+"/rotate_key", tok, `{"reason":"leaked"}`)
			if code != 200 {
				t.Fatalf("rotate: %d %v", code, m)
			}
			newKey := m["secret_key"].(string)
			in.stop(t)

			again := start(t, env)
			if !strings.Contains(again.stderr.String(), "bootstrap partner key was rotated") {
				t.Fatalf("no warning:\n%s", again.stderr)
			}
			if code := get(t, again.partner+"/v1/fx/rates", key); code != 401 {
				t.Fatalf("revoked bootstrap key after restart: %d", code)
			}
			if code := get(t, again.partner+"/v1/fx/rates", newKey); code != 200 {
				t.Fatalf("rotated key after restart: %d", code)
			}
		})
	}
}

// TestStartupNeverPrintsCredentials starts the service with credentials in
// every URL-valued setting, each pointing where the start fails, and checks
// the error, the log and the output; and `inbound config` with all of them.
func TestStartupNeverPrintsCredentials(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string
		secret string
	}{
		{"database userinfo", map[string]string{"INBOUND_DATABASE_URL": "postgres://inbound:Pw0rdDB1@127.0.0.1:1/inbound?connect_timeout=2"}, "Pw0rdDB1"}, //nolint:gosec // fake credentials: the test checks they are never printed
		{"database password query", map[string]string{"INBOUND_DATABASE_URL": "postgres://inbound@127.0.0.1:1/inbound?password=Pw0rdDB2&sslpassword=Pw0rdDB3&connect_timeout=2"}, "Pw0rdDB"},
		{"redis password", map[string]string{"INBOUND_REDIS_URL": "redis://default:Pw0rdRD1@127.0.0.1:1/0"}, "Pw0rdRD1"}, //nolint:gosec // fake credentials: the test checks they are never printed
		{"fx rates token", map[string]string{"INBOUND_FX_RATES": "http://127.0.0.1:1/rates.json?api_key=Pw0rdFX1"}, "Pw0rdFX1"},
		{"fx rates userinfo", map[string]string{"INBOUND_FX_RATES": "http://feed:Pw0rdFX2@127.0.0.1:1/rates.json"}, "Pw0rdFX2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := loopbackEnv(t)
			env["INBOUND_MASTER_KEY"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
			for k, v := range c.env {
				env[k] = v
			}
			getenv := func(k string) string { return env[k] }
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"serve"}, getenv, &stdout, &stderr)
			if err == nil {
				t.Fatal("started against an unreachable service")
			}
			all := err.Error() + "\n" + stdout.String() + "\n" + stderr.String()
			if strings.Contains(all, c.secret) {
				t.Fatalf("start printed a credential:\n%s", all)
			}
			stdout.Reset()
			if err := run(ctx, []string{"config"}, getenv, &stdout, io.Discard); err != nil || strings.Contains(stdout.String(), c.secret) {
				t.Fatalf("config: %v\n%s", err, stdout.String())
			}
		})
	}
}

// TestBootstrapTokenDoesNotRecreateASupervisor: once the bootstrap
// supervisor's token is rotated, a restart does not bring the old token
// back as a new supervisor; embedded mode says the printed token is stale.
func TestBootstrapTokenDoesNotRecreateASupervisor(t *testing.T) {
	env := loopbackEnv(t)
	in := start(t, env)
	m := credRE.FindStringSubmatch(in.stdout.String())
	if m == nil {
		t.Fatalf("no credentials:\n%s", in.stdout)
	}
	tok := m[2]
	stf := bootstrapTarget(t, in, tok, "staff.create")
	// A second supervisor from the CLI, then the bootstrap one rotates its token.
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"staff", "create", "-name", "Two", "-role", "supervisor"}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	code, r := callJSON(t, "POST", in.admin+"/admin/v1/staff/"+stf+"/rotate_token", tok, `{"reason":"routine"}`)
	if code != 200 {
		t.Fatalf("rotate: %d %v", code, r)
	}
	newTok := r["token"].(string)
	in.stop(t)

	again := start(t, env)
	if code := get(t, again.admin+"/admin/v1/audit", tok); code != 401 {
		t.Fatalf("old bootstrap token works again after restart: %d", code)
	}
	if !strings.Contains(again.stdout.String(), "staff token (supervisor): (rotated or disabled since") {
		t.Fatalf("stale token printed as working:\n%s", again.stdout)
	}
	code, au := callJSON(t, "GET", again.admin+"/admin/v1/audit?actor=system:bootstrap", newTok, "")
	if code != 200 {
		t.Fatalf("audit: %d", code)
	}
	n := 0
	for _, e := range au["data"].([]any) {
		if e.(map[string]any)["action"] == "staff.create" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("bootstrap created %d supervisors, want 1", n)
	}
}

// TestCLIStaffActionsAreAudited: the CLI is an operator's way in; what it
// does is in the audit log under system:cli.
func TestCLIStaffActionsAreAudited(t *testing.T) {
	env := loopbackEnv(t)
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	runOut := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, args, getenv, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	idRE := regexp.MustCompile(`staff (stf_\S+)`)
	tokRE := regexp.MustCompile(`token \(shown once\): (st_\S+)`)
	sup := runOut("staff", "create", "-name", "Sue", "-role", "supervisor")
	supID := idRE.FindStringSubmatch(sup)[1]
	agent := runOut("staff", "create", "-name", "Ann", "-role", "agent", "-reason", "new hire")
	agentID := idRE.FindStringSubmatch(agent)[1]
	rot := runOut("staff", "rotate", "-id", agentID, "-reason", "lost laptop")
	if tokRE.FindStringSubmatch(rot) == nil || tokRE.FindStringSubmatch(rot)[1] == tokRE.FindStringSubmatch(agent)[1] {
		t.Fatalf("rotate: %s", rot)
	}
	runOut("staff", "disable", "-id", agentID, "-reason", "left")
	runOut("partners", "create", "-name", "Acme")
	if err := run(ctx, []string{"staff", "disable", "-id", supID, "-reason", "x"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("CLI disabled the last active supervisor")
	}
	if err := run(ctx, []string{"staff", "disable", "-id", agentID}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("disable without a reason accepted")
	}

	in := start(t, env)
	code, au := callJSON(t, "GET", in.admin+"/admin/v1/audit?actor=system:cli", tokRE.FindStringSubmatch(sup)[1], "")
	if code != 200 {
		t.Fatalf("audit: %d %v", code, au)
	}
	var actions []string
	for _, e := range au["data"].([]any) {
		e := e.(map[string]any)
		actions = append(actions, e["action"].(string))
		if e["role"] != "system" || e["reason"] == "" {
			t.Errorf("incomplete record %v", e)
		}
	}
	if strings.Join(actions, ",") != "partner.create,staff.disable,staff.rotate_token,staff.create,staff.create" {
		t.Fatalf("CLI audit: %v", actions)
	}
}

// TestEmbeddedDataDirIsPrivate starts in embedded mode in a data dir that
// already exists with mode 0755, under umask 022: the dir ends 0700 with a
// warning, and everything written there (database, -wal, -shm, generated
// master key, development credentials) is 0600.
func TestEmbeddedDataDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	env := loopbackEnv(t)
	dir := filepath.Join(env["INBOUND_DATA_DIR"], "data")
	if err := os.Mkdir(dir, 0o755); err != nil { //nolint:gosec // deliberately too wide: the start must narrow it to 0700
		t.Fatal(err)
	}
	env["INBOUND_DATA_DIR"] = dir
	in := start(t, env)
	// A write, so the -wal and -shm files exist.
	if m := credRE.FindStringSubmatch(in.stdout.String()); m == nil || get(t, in.admin+"/admin/v1/audit", m[2]) != 200 {
		t.Fatalf("no working credentials:\n%s", in.stdout)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir %v %v", fi.Mode(), err)
	}
	if !strings.Contains(in.stderr.String(), "data directory was accessible to other users") {
		t.Errorf("no warning about the wide data dir:\n%s", in.stderr)
	}
	// Every file below it is 0600 and every directory 0700 (the
	// in-process card network keeps its record in cardnet/).
	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		seen[rel] = true
		want := fs.FileMode(0o600)
		if e.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", rel, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"inbound.db", "inbound.db-wal", "inbound.db-shm", "master.key", "credentials.json",
		"cardnet", filepath.Join("cardnet", "cardnet.key"), filepath.Join("cardnet", "state.json")} {
		if !seen[want] {
			t.Errorf("%s not written (found %v)", want, seen)
		}
	}
}
