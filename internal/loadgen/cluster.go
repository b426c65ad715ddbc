package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// proc is a child process the tool started and may kill and restart.
type proc struct {
	name string
	argv []string
	env  []string
	log  string
	cred *syscall.Credential
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...) //nolint:gosec // the tool starts its own processes (this binary, redis-server, postgres) with arguments it builds
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C of the tool does not reach it first,
	// the tool stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = f.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		p.kill()
	}
}

// freePort returns a loopback port free at the time of asking.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ClusterOptions say what the tool starts itself.
type ClusterOptions struct {
	Dir         string // temp dir for data and logs
	InboundBin  string // the inbound binary (os.Executable)
	CardnetArgv []string
	Replicas    int
	DatabaseURL string // "" with OwnPostgres false: embedded SQLite (one replica)
	OwnPostgres bool
	RedisURL    string // "" with OwnRedis false: in-process per replica
	OwnRedis    bool
	Log         func(format string, a ...any)
}

// Cluster is what the tool started: replicas, card network, and when asked
// PostgreSQL and Redis on their own ports.
type Cluster struct {
	o           ClusterOptions
	Partner     []string
	Admin       []string
	Key, Staff  string
	MasterKey   string
	DatabaseURL string
	RedisURL    string
	CardnetURL  string
	replicas    []*proc
	cardnet     *proc
	redis       *proc
	pgBin       string
	pgData      string
	pgCred      *syscall.Credential
	pgPort      int
}

// StartCluster starts everything and waits until every replica answers.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	c := &Cluster{o: o, Key: auth.NewSecret("sk_"), Staff: auth.NewSecret("st_"), MasterKey: vault.GenerateKey(),
		DatabaseURL: o.DatabaseURL, RedisURL: o.RedisURL}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if o.OwnPostgres {
		if err := c.startPostgres(ctx); err != nil {
			return nil, err
		}
	}
	if o.OwnRedis {
		if err := c.startRedis(ctx); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c.CardnetURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	argv := append(append([]string{}, o.CardnetArgv...), "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-max-hang", "5s",
		"-data", filepath.Join(o.Dir, "cardnet-data"))
	c.cardnet = &proc{name: "cardnet", argv: argv, env: os.Environ(), log: filepath.Join(o.Dir, "cardnet.log")}
	if err := c.cardnet.start(); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c.CardnetURL+"/healthz", "", 30*time.Second); err != nil {
		return nil, fmt.Errorf("cardnet: %w (see %s)", err, c.cardnet.log)
	}
	for i := range o.Replicas {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		ap, err := freePort()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(o.Dir, fmt.Sprintf("replica-%d", i))
		if o.DatabaseURL == "" && !o.OwnPostgres {
			dir = filepath.Join(o.Dir, "embedded") // one replica on SQLite
		}
		env := append(os.Environ(),
			"INBOUND_DATABASE_URL="+c.DatabaseURL, "INBOUND_REDIS_URL="+c.RedisURL, "INBOUND_CARDNET_URL="+c.CardnetURL,
			"INBOUND_MASTER_KEY="+c.MasterKey, "INBOUND_BOOTSTRAP_PARTNER_KEY="+c.Key, "INBOUND_BOOTSTRAP_STAFF_TOKEN="+c.Staff,
			fmt.Sprintf("INBOUND_PARTNER_ADDR=127.0.0.1:%d", pp), fmt.Sprintf("INBOUND_ADMIN_ADDR=127.0.0.1:%d", ap),
			"INBOUND_DATA_DIR="+dir, "INBOUND_RATE_LIMIT=0", "INBOUND_ADMIN_RATE_LIMIT=0", "INBOUND_LOG_LEVEL=warn",
			"INBOUND_SHUTDOWN_GRACE=5s")
		r := &proc{name: fmt.Sprintf("replica-%d", i), argv: []string{o.InboundBin, "serve"}, env: env,
			log: filepath.Join(o.Dir, fmt.Sprintf("replica-%d.log", i))}
		c.replicas = append(c.replicas, r)
		c.Partner = append(c.Partner, fmt.Sprintf("http://127.0.0.1:%d", pp))
		c.Admin = append(c.Admin, fmt.Sprintf("http://127.0.0.1:%d", ap))
		// One at a time: the first applies the migrations.
		if err := c.startReplica(ctx, i); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

func (c *Cluster) startReplica(ctx context.Context, i int) error {
	if err := c.replicas[i].start(); err != nil {
		return err
	}
	if err := waitHTTP(ctx, c.Partner[i]+"/v1/fx/rates", c.Key, 60*time.Second); err != nil {
		return fmt.Errorf("%s: %w (see %s)", c.replicas[i].name, err, c.replicas[i].log)
	}
	return nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url, token string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 in %s", url, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pgBinDir finds the newest PostgreSQL server binaries.
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
}

// startPostgres makes a throw-away cluster in the temp dir on its own
// port. PostgreSQL refuses to run as root, so as root it runs as the
// postgres user.
func (c *Cluster) startPostgres(ctx context.Context) error {
	bin, err := pgBinDir()
	if err != nil {
		return err
	}
	c.pgBin = bin
	c.pgData = filepath.Join(c.o.Dir, "pgdata")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.pgCred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)} //nolint:gosec // uid and gid of the local postgres user fit 32 bits
		if err := os.Chmod(c.o.Dir, 0o755); err != nil {                   //nolint:gosec // a directory the postgres user must enter; it holds test data only
			return err
		}
		if err := os.MkdirAll(c.pgData, 0o700); err != nil {
			return err
		}
		if err := os.Chown(c.pgData, uid, gid); err != nil {
			return err
		}
	}
	if c.pgPort, err = freePort(); err != nil {
		return err
	}
	if out, err := c.pgCtl(ctx, filepath.Join(bin, "initdb"), "-D", c.pgData, "-U", "postgres", "-A", "trust", "--no-sync"); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	if out, err := c.pgCtl(ctx, filepath.Join(bin, "pg_ctl"), "-D", c.pgData, "-l", filepath.Join(c.pgData, "server.log"), "-w", "-t", "60",
		"-o", c.pgOpts(), "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	c.DatabaseURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.pgPort)
	return nil
}

func (c *Cluster) pgOpts() string {
	return fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=200",
		c.pgPort, c.pgData)
}

func (c *Cluster) pgCtl(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...) //nolint:gosec // the tool starts its own processes with arguments it builds
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.pgCred}
	cmd.Dir = c.o.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// RestartPostgres restarts the tool's own PostgreSQL in immediate mode (a
// crash as far as the data is concerned: no checkpoint, recovery at start).
func (c *Cluster) RestartPostgres(ctx context.Context) error {
	if c.pgData == "" {
		return errors.New("postgres fault needs the tool's own PostgreSQL (no -database-url)")
	}
	out, err := c.pgCtl(ctx, filepath.Join(c.pgBin, "pg_ctl"), "-D", c.pgData, "-l", filepath.Join(c.pgData, "server.log"),
		"-m", "immediate", "-w", "-t", "60", "-o", c.pgOpts(), "restart")
	if err != nil {
		return fmt.Errorf("pg_ctl restart: %w: %s", err, out)
	}
	return nil
}

func (c *Cluster) startRedis(ctx context.Context) error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis fault or shared Redis needs redis-server: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.redis = &proc{name: "redis", argv: []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", c.o.Dir}, env: os.Environ(), log: filepath.Join(c.o.Dir, "redis.log")}
	if err := c.redis.start(); err != nil {
		return err
	}
	c.RedisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after %s", addr, limit)
}

// KillReplica SIGKILLs replica i, waits down, and starts it again.
func (c *Cluster) KillReplica(ctx context.Context, i int, down time.Duration) error {
	r := c.replicas[i%len(c.replicas)]
	r.kill()
	sleep(ctx, down)
	return c.startReplica(context.WithoutCancel(ctx), i%len(c.replicas))
}

// KillRedis kills the tool's own Redis and starts it again, empty.
func (c *Cluster) KillRedis(ctx context.Context, down time.Duration) error {
	if c.redis == nil {
		return errors.New("redis fault needs the tool's own Redis (no -redis-url)")
	}
	c.redis.kill()
	sleep(ctx, down)
	if err := c.redis.start(); err != nil {
		return err
	}
	return waitTCP(context.WithoutCancel(ctx), strings.TrimPrefix(strings.TrimSuffix(c.RedisURL, "/0"), "redis://"), 10*time.Second)
}

// KillCardnet kills the card network and starts it again (its state is in
// memory: what it knew is gone).
func (c *Cluster) KillCardnet(ctx context.Context, down time.Duration) error {
	c.cardnet.kill()
	sleep(ctx, down)
	if err := c.cardnet.start(); err != nil {
		return err
	}
	return waitHTTP(context.WithoutCancel(ctx), c.CardnetURL+"/healthz", "", 30*time.Second)
}

// LedgerVerify runs `inbound ledger verify` against the cluster's
// database; it returns the output when the ledger has breaks.
func (c *Cluster) LedgerVerify(ctx context.Context) (string, error) {
	return LedgerVerify(ctx, c.o.InboundBin, c.DatabaseURL, filepath.Join(c.o.Dir, "embedded"))
}

// LedgerVerify runs `bin ledger verify` on the database (dataDir for the
// embedded one); it returns the output when the ledger has breaks, "" when
// it is clean.
func LedgerVerify(ctx context.Context, bin, databaseURL, dataDir string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "ledger", "verify")
	cmd.Env = append(os.Environ(), "INBOUND_DATABASE_URL="+databaseURL, "INBOUND_DATA_DIR="+dataDir, "INBOUND_LOG_LEVEL=error")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), nil
	}
	return "", err
}

// Stop stops every process the tool started, replicas first.
func (c *Cluster) Stop() {
	for _, r := range c.replicas {
		r.stop(10 * time.Second)
	}
	if c.cardnet != nil {
		c.cardnet.stop(5 * time.Second)
	}
	if c.redis != nil {
		c.redis.stop(5 * time.Second)
	}
	if c.pgData != "" {
		_, _ = c.pgCtl(context.Background(), filepath.Join(c.pgBin, "pg_ctl"), "-D", c.pgData, "-m", "fast", "-w", "stop")
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
