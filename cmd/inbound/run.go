package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/config"
	"github.com/inbound-gateway/inbound/internal/console"
	"github.com/inbound-gateway/inbound/internal/datadir"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/httpapi"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/keys"
	"github.com/inbound-gateway/inbound/internal/kv"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/vault"
)

const usage = `usage: inbound [command]

commands:
  serve                                 run the partner and admin APIs (default)
  migrate                               apply database migrations and exit
  partners create -name NAME [-reason R]
                                        create a partner and print its secret key
  staff create -name NAME -role ROLE [-reason R]
                                        create a staff member (viewer, agent, supervisor) and print the token
  staff disable -id ID -reason R        disable a staff member (not the last active supervisor)
  staff rotate -id ID -reason R         give a staff member a new token and print it
  ledger verify [-full]                 check every ledger invariant; exit 1 listing each break
                                        (-full: recompute from every transfer, ignoring checkpoints)
  ledger checkpoint                     store every account's sums so far, so verify reads only later transfers
  recon [-day YYYY-MM-DD] [-cardnet URL]
                                        reconcile the ledger, escrow and the day's settlement (default today, UTC);
                                        exit 1 listing each break
  keys generate                         print a new random master key (base64)
  keys status                           count the sealed values under each master key id
  keys reseal [-batch N]                re-encrypt every sealed value under the current master key
  config                                print the configuration with secrets masked
  seed [-visitors N] [-workers W] [-chunk C] [-days D] [-cardnet-data DIR]
                                        fill PostgreSQL with synthetic, valid data (about 12 ledger
                                        entries per visitor) for measurements at scale (docs/BENCHMARKS.md)
  load [-scenario S] [-clients N] [-duration D] [-faults F] [-report DIR]
                                        load, soak and chaos test; prints a JSON verdict (see docs/RELIABILITY.md)
  testdata passport [-surname S] [-given G] [-nationality N] [-sex M|F|X]
                    [-born YYYY-MM-DD] [-expires YYYY-MM-DD] [-number N] [-format td1|td2|td3]
                                        print a POST /v1/visitors body with a valid MRZ
                                        (default: an approvable adult, random number; docs/TESTING.md)
`

// run is the whole program; main only calls it, and tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "testdata" {
		// Needs no configuration: it only prints.
		return testdataCmd(args, time.Now().UTC(), stdout, stderr)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg.LogLevel, stderr)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		return migrate(ctx, cfg, log, stdout)
	case "partners":
		return partnersCmd(ctx, cfg, log, args, stdout)
	case "staff":
		return staffCmd(ctx, cfg, log, args, stdout)
	case "ledger":
		return ledgerCmd(ctx, cfg, log, args, stdout)
	case "recon":
		return reconCmd(ctx, cfg, log, args, stdout, time.Now().UTC())
	case "keys":
		return keysCmd(ctx, cfg, log, args, stdout)
	case "load":
		return loadCmd(ctx, args, stdout, stderr)
	case "seed":
		return seedCmd(ctx, cfg, log, args, stdout, stderr)
	case "config":
		fmt.Fprint(stdout, cfg.String())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg config.Config, log *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	all, _ := d.Applied(ctx)
	fmt.Fprintf(stdout, "applied %d migration(s) now, %d in total (%s)\n", len(applied), len(all), d.Dialect)
	return nil
}

// cliAudited returns the Then that writes the audit record of a CLI action,
// by the actor system:cli, in the transaction of the change: whoever runs
// the binary against the database is an operator, and what they do is
// logged like a staff action.
func cliAudited[T any](action, reason string, describe func(T) (string, audit.Summary)) db.Then[T] {
	return cliAuditedBy(audit.ActorCLI, action, reason, describe)
}

// cliAuditedBy is cliAudited for any system actor.
func cliAuditedBy[T any](actor, action, reason string, describe func(T) (string, audit.Summary)) db.Then[T] {
	return func(tx *db.Tx, result T) error {
		target, after := describe(result)
		_, err := audit.Record(tx, audit.Entry{ActorID: actor, ActorRole: audit.RoleSystem, Action: action, Target: target,
			Reason: reason, RequestID: ids.New(ids.Request), After: audit.State(after)})
		return err
	}
}

func staffSummary(changed ...string) func(auth.Staff) (string, audit.Summary) {
	return func(st auth.Staff) (string, audit.Summary) {
		return st.ID, audit.Summary{Object: "staff", ID: st.ID, Status: st.Status, Role: st.Role.String(), Changed: changed, CreatedBy: st.CreatedBy}
	}
}

// bootstrapReason is the audit reason of what the bootstrap creates.
const bootstrapReason = "bootstrap at start-up"

func partnerSummary(p auth.Partner) (string, audit.Summary) {
	return p.ID, audit.Summary{Object: "partner", ID: p.ID, Status: p.Status, Changed: []string{"name", "status", "secret_key"}}
}

func partnersCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: inbound partners create -name NAME [-reason REASON]")
	}
	fs := flag.NewFlagSet("partners create", flag.ContinueOnError)
	name := fs.String("name", "", "partner name")
	reason := fs.String("reason", "created with the inbound CLI", "why (kept in the audit log)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	p, key, err := auth.NewService(auth.NewStore(d)).CreatePartner(ctx, ids.New(ids.Partner), *name, "",
		cliAudited("partner.create", *reason, partnerSummary))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "partner %s (%s)\nsecret key (shown once): %s\n", p.ID, p.Name, key)
	return nil
}

const staffUsage = `usage: inbound staff create -name NAME -role viewer|agent|supervisor [-reason REASON]
       inbound staff disable -id ID -reason REASON
       inbound staff rotate -id ID -reason REASON`

// staffCmd manages staff from the command line. It is the operator's way
// in: a supervisor created here needs no second supervisor (there may be
// none yet), which is why every action is audited as system:cli.
func staffCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(staffUsage)
	}
	action := args[0]
	fs := flag.NewFlagSet("staff "+action, flag.ContinueOnError)
	var name, roleName, id, reason *string
	switch action {
	case "create":
		name = fs.String("name", "", "staff member name")
		roleName = fs.String("role", "viewer", "viewer, agent or supervisor")
		reason = fs.String("reason", "created with the inbound CLI", "why (kept in the audit log)")
	case "disable", "rotate":
		id = fs.String("id", "", "staff id (stf_...)")
		reason = fs.String("reason", "", "why (kept in the audit log; required)")
	default:
		return errors.New(staffUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var role auth.Role
	if action == "create" {
		r, err := auth.ParseRole(*roleName)
		if err != nil {
			return err
		}
		role = r
	} else if *id == "" || strings.TrimSpace(*reason) == "" {
		return fmt.Errorf("staff %s needs -id and -reason\n%s", action, staffUsage)
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	svc := auth.NewService(auth.NewStore(d))
	switch action {
	case "create":
		st, token, err := svc.CreateStaff(ctx, ids.New(ids.Staff), *name, role, "", audit.ActorCLI,
			cliAudited("staff.create", *reason, staffSummary("name", "role", "status", "token")))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "staff %s (%s, %s)\ntoken (shown once): %s\n", st.ID, st.Name, st.Role, token)
	case "disable":
		st, err := svc.DisableStaff(ctx, *id, cliAudited("staff.disable", *reason, staffSummary("status")))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "staff %s (%s, %s) disabled\n", st.ID, st.Name, st.Role)
	case "rotate":
		st, token, err := svc.RotateStaffToken(ctx, *id, audit.ActorCLI, "", cliAudited("staff.rotate_token", *reason, staffSummary("token")))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "staff %s (%s, %s)\nnew token (shown once): %s\n", st.ID, st.Name, st.Role, token)
	}
	return nil
}

// ledgerCmd runs `inbound ledger verify [-full]` (every ledger invariant
// over one snapshot; a break is an error, exit status 1, listing each one)
// and `inbound ledger checkpoint`.
func ledgerCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	const use = "usage: inbound ledger verify [-full] | checkpoint"
	if len(args) == 0 {
		return errors.New(use)
	}
	full := false
	switch {
	case args[0] == "verify" && len(args) == 1:
	case args[0] == "verify" && len(args) == 2 && (args[1] == "-full" || args[1] == "--full"):
		full = true
	case args[0] == "checkpoint" && len(args) == 1:
	default:
		return errors.New(use)
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	l := ledger.New(d)
	start := time.Now()
	if args[0] == "checkpoint" {
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ledger checkpoint: %d transfers up to seq %d, %d accounts, in %s\n",
			cp.Transfers, cp.Seq, cp.Accounts, time.Since(start).Round(time.Millisecond))
		return nil
	}
	verify := l.Verify
	if full {
		verify = l.VerifyFull
	}
	breaks, err := verify(ctx)
	if err != nil {
		return err
	}
	for _, b := range breaks {
		fmt.Fprintln(stdout, b.String())
	}
	if len(breaks) > 0 {
		return fmt.Errorf("ledger verify: %d break(s)", len(breaks))
	}
	fmt.Fprintf(stdout, "ledger verify: balanced, no negative constrained balance, stored balances equal their entries (%s)\n",
		time.Since(start).Round(time.Millisecond))
	return nil
}

// errNoMasterKey stops a start on PostgreSQL without INBOUND_MASTER_KEY: a
// key generated per replica would let each replica seal and index with its
// own key, so one replica could not read what another stored and the
// duplicate checks would compare hashes under different keys.
var errNoMasterKey = errors.New("INBOUND_MASTER_KEY is required when INBOUND_DATABASE_URL is set: " +
	"every replica must use the same key. Generate one with `inbound keys generate`, store it in your secret store, " +
	"and pass it to every replica (for example from a Kubernetes Secret)")

// masterKey returns the configured master key or, on the embedded default
// only, one generated into the data dir (with a warning: such a key is as
// safe as the disk it sits on).
func masterKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.MasterKey != "" {
		k, err := vault.ParseKey(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("INBOUND_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	if !cfg.Embedded() {
		return nil, errNoMasterKey
	}
	// The key decrypts every PAN: its directory and file are private,
	// narrowed if an older version or an operator left them wider.
	if err := datadir.Prepare(cfg.DataDir, log); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	if b, err := os.ReadFile(path); err == nil { //nolint:gosec // the development key file in the operator-chosen data dir
		log.Warn("INBOUND_MASTER_KEY not set: using the development key from the data dir", "path", path)
		return vault.ParseKey(string(b))
	}
	k := vault.GenerateKey()
	if err := datadir.WriteFile(path, []byte(k+"\n")); err != nil {
		return nil, fmt.Errorf("write dev master key: %w", err)
	}
	log.Warn("INBOUND_MASTER_KEY not set: generated a development key into the data dir; set INBOUND_MASTER_KEY in production", "path", path)
	return vault.ParseKey(k)
}

// openKeyring opens the database and the keyring over it, for the keys
// commands; the caller closes the database.
func openKeyring(ctx context.Context, cfg config.Config, log *slog.Logger) (*db.DB, *vault.Vault, error) {
	mk, err := masterKey(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	v, err := openVault(ctx, cfg, d, mk)
	if err != nil {
		_ = d.Close()
		return nil, nil, err
	}
	return d, v, nil
}

// openVault builds the keyring (mk from masterKey, then
// INBOUND_MASTER_KEY_PREVIOUS) over the database's stored index key.
func openVault(ctx context.Context, cfg config.Config, d *db.DB, mk []byte) (*vault.Vault, error) {
	prev, err := keys.ParsePrevious(cfg.MasterKeyPrevious)
	if err != nil {
		return nil, err
	}
	return keys.Open(ctx, d, mk, prev)
}

// keySample is how many rows from each end of every sealed column the
// start-up check looks at.
const keySample = 20

// keysCmd runs `inbound keys generate|status|reseal`.
func keysCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	const use = "usage: inbound keys generate | status | reseal [-batch N]"
	if len(args) == 0 {
		return errors.New(use)
	}
	switch args[0] {
	case "generate":
		fmt.Fprintln(stdout, vault.GenerateKey())
		return nil
	case "status":
		d, v, err := openKeyring(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer d.Close()
		sts, err := keys.Status(ctx, d)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "keyring: current %s, all %s\n", v.CurrentKeyID(), strings.Join(v.KeyIDs(), ", "))
		for _, st := range sts {
			fmt.Fprintf(stdout, "%s:%s\n", st.Column.Name(), formatByKey(st.ByKey, v))
		}
		return nil
	case "reseal":
		fs := flag.NewFlagSet("keys reseal", flag.ContinueOnError)
		batch := fs.Int("batch", 500, "rows per transaction")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		d, v, err := openKeyring(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer d.Close()
		fmt.Fprintf(stdout, "resealing under key %s\n", v.CurrentKeyID())
		_, err = keys.Reseal(ctx, d, v, *batch, func(r keys.ColumnResult) {
			fmt.Fprintf(stdout, "%s: %d resealed\n", r.Column.Name(), r.Resealed)
		})
		if err != nil {
			return err
		}
		sts, err := keys.Status(ctx, d)
		if err != nil {
			return err
		}
		old := map[string]bool{}
		for _, st := range sts {
			for kid, n := range st.ByKey {
				if kid != v.CurrentKeyID() && n > 0 {
					old[kid] = true
				}
			}
		}
		if len(old) > 0 {
			// Rows written meanwhile by a replica still sealing under an old key.
			return fmt.Errorf("keys reseal: values under %s remain (a replica still runs with an old INBOUND_MASTER_KEY?); run it again once every replica uses key %s",
				strings.Join(slices.Sorted(maps.Keys(old)), ", "), v.CurrentKeyID())
		}
		fmt.Fprintf(stdout, "done: every sealed value is under key %s; the previous keys can be dropped from INBOUND_MASTER_KEY_PREVIOUS\n", v.CurrentKeyID())
		return nil
	}
	return errors.New(use)
}

func formatByKey(m map[string]int64, v *vault.Vault) string {
	if len(m) == 0 {
		return " empty"
	}
	var b strings.Builder
	for _, kid := range slices.Sorted(maps.Keys(m)) {
		note := ""
		switch {
		case kid == v.CurrentKeyID():
			note = " (current)"
		case !v.HasKey(kid):
			note = " (NOT IN KEYRING)"
		}
		fmt.Fprintf(&b, " %d under %s%s", m[kid], kid, note)
	}
	return b.String()
}

// devCredentials are generated in embedded mode when no bootstrap secrets
// are configured, kept in the data dir so they survive restarts.
type devCredentials struct {
	PartnerKey string `json:"partner_key"`
	StaffToken string `json:"staff_token"`
}

// bootstrap makes sure the configured (or, in embedded mode, generated)
// partner key and supervisor token exist. It never undoes a rotation or a
// disabling: a revoked bootstrap key stays revoked, and the staff token
// creates a supervisor only while there is no active supervisor at all.
// Either case is a warning, not a failed start (replicas must not
// crash-loop over it).
func bootstrap(ctx context.Context, cfg config.Config, svc *auth.Service, log *slog.Logger, stdout io.Writer) error {
	partnerKey, staffToken := cfg.BootstrapKey, cfg.BootstrapStaff
	dev := cfg.Embedded() && partnerKey == "" && staffToken == ""
	path := filepath.Join(cfg.DataDir, "credentials.json")
	if dev {
		var dc devCredentials
		if b, err := os.ReadFile(path); err == nil { //nolint:gosec // the development credentials file in the operator-chosen data dir
			if err := json.Unmarshal(b, &dc); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		} else {
			dc = devCredentials{PartnerKey: auth.NewSecret("sk_"), StaffToken: auth.NewSecret("st_")}
			b, _ := json.MarshalIndent(dc, "", "  ")
			if err := datadir.WriteFile(path, b); err != nil {
				return fmt.Errorf("write dev credentials: %w", err)
			}
		}
		partnerKey, staffToken = dc.PartnerKey, dc.StaffToken
	}
	partnerOK, staffOK := false, false
	if partnerKey != "" {
		out, err := svc.EnsurePartnerKey(ctx, ids.New(ids.Partner), "Bootstrap partner", partnerKey,
			cliAuditedBy(audit.ActorBootstrap, "partner.create", bootstrapReason, partnerSummary))
		if err != nil {
			return fmt.Errorf("bootstrap partner: %w", err)
		}
		partnerOK = out == auth.BootstrapExists || out == auth.BootstrapCreated
		if out == auth.BootstrapRevoked {
			log.Warn("the bootstrap partner key was rotated and stays revoked; use the partner's current key (or unset INBOUND_BOOTSTRAP_PARTNER_KEY)")
		}
	}
	if staffToken != "" {
		out, err := svc.EnsureStaffToken(ctx, ids.New(ids.Staff), "Bootstrap supervisor", staffToken, audit.ActorBootstrap,
			cliAuditedBy(audit.ActorBootstrap, "staff.create", bootstrapReason, staffSummary("name", "role", "status", "token")))
		if err != nil {
			return fmt.Errorf("bootstrap staff: %w", err)
		}
		staffOK = out == auth.BootstrapExists || out == auth.BootstrapCreated
		switch out {
		case auth.BootstrapRevoked:
			log.Warn("the bootstrap staff token was rotated or its supervisor disabled; it stays so")
		case auth.BootstrapSkipped:
			log.Warn("the bootstrap staff token is unused: active supervisors exist, so no supervisor was created from it")
		}
	}
	if dev {
		// Print only what works: a rotated secret stays in the file but is
		// no use to anyone reading this.
		fmt.Fprintf(stdout, "development credentials (embedded mode; kept in %s):\n", path)
		if partnerOK {
			fmt.Fprintf(stdout, "  partner secret key: %s\n", partnerKey)
		} else {
			fmt.Fprintln(stdout, "  partner secret key: (rotated since; use the current key)")
		}
		if staffOK {
			fmt.Fprintf(stdout, "  staff token (supervisor): %s\n", staffToken)
		} else {
			fmt.Fprintln(stdout, "  staff token (supervisor): (rotated or disabled since; use `inbound staff create` or `inbound staff rotate`)")
		}
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The key first, before touching the database: no key, no start.
	mk, err := masterKey(cfg, log)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	vlt, err := openVault(ctx, cfg, d, mk)
	if err != nil {
		return err
	}
	// Refuse to start when stored data needs a key the ring lacks (a key
	// dropped before the re-seal finished): better a stalled rollout, with
	// the old replicas still serving, than replicas that fail requests.
	if err := keys.Check(ctx, d, vlt, keySample); err != nil {
		return err
	}
	log.Info("master keyring", "current", vlt.CurrentKeyID(), "keys", vlt.KeyIDs())
	store, err := kv.Open(ctx, kv.Options{URL: cfg.RedisURL, Cluster: cfg.RedisCluster})
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(d.SQL(), string(d.Dialect)))

	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	cardnetURL := cfg.CardnetURL
	if cardnetURL == "" {
		// The in-process simulator, on loopback only.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("in-process card network: %w", err)
		}
		// Its state lives under the data directory when there is one, so
		// a restart keeps the network's record and reconciliation stays
		// clean.
		simDir := ""
		if cfg.DataDir != "" {
			simDir = filepath.Join(cfg.DataDir, "cardnet")
		}
		engine, err := cardnet.Open(cardnet.Config{Logger: log.With("component", "cardnet"), DataDir: simDir})
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("in-process card network: %w", err)
		}
		wg.Go(func() {
			_ = cardnet.Serve(ctx, ln, cardnet.NewHandler(engine), 5*time.Second)
			if err := engine.Close(); err != nil {
				log.Error("card network final snapshot failed", "err", err)
			}
		})
		cardnetURL = "http://" + ln.Addr().String()
		fmt.Fprintf(stdout, "card-network simulator (in-process) on %s\n", cardnetURL)
	}

	svc, err := app.New(ctx, d, vlt, log, app.Options{
		SanctionsDir: cfg.SanctionsDir, FXRates: cfg.FXRates, QuoteTTL: cfg.QuoteTTL,
		AccountValidity: cfg.AccountValid, AllowPrivateWebhooks: cfg.AllowPrivateWebhooks,
		CardnetURL: cardnetURL, Registerer: reg, AutoRelease: cfg.AutoRelease,
		// Development on the embedded default gets market moves in the
		// built-in rates, so quotes move as they would; production reads a rates feed.
		SimulateFX:        cfg.Embedded(),
		AdjustmentCeiling: cfg.AdjustmentCeiling,
	})
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, cfg, svc.Auth, log, stdout); err != nil {
		return err
	}

	srv, err := httpapi.NewServer(httpapi.Deps{
		DB: d, KV: store, Auth: svc.Auth, Vault: vlt, Webhooks: svc.Webhooks, KYC: svc.KYC, Accounts: svc.Accounts, FX: svc.FX, Cards: svc.Cards, Ledger: svc.Ledger, Adjustments: svc.Adjustments, Prepaid: svc.Prepaid, Escrow: svc.Escrow, Settlement: recon.HTTPReports{BaseURL: cardnetURL}, Log: log, Registry: reg,
		RateLimit: cfg.RateLimit, MaxBodyBytes: cfg.MaxBodyBytes,
		AdminRateLimit: cfg.AdminRateLimit, AuthFailureLimit: cfg.AuthFailureLimit,
		TrustedProxies: cfg.TrustedProxies, SeparateMetrics: cfg.MetricsAddr != "",
		IdempotencyLockTTL: cfg.IdempotencyLockTTL,
	})
	if err != nil {
		return err
	}
	// The support console, under /console on the admin listener.
	if srv.Console, err = console.New(srv, console.Options{}); err != nil {
		return err
	}

	runner := jobs.NewRunner(jobs.NewStore(d), cfg.JobInterval, cfg.JobLease, log)
	if err := runner.Instrument(reg); err != nil {
		return err
	}
	for _, j := range svc.Jobs(app.JobOptions{Interval: cfg.JobInterval, Retention: cfg.Retention, Log: log}) {
		runner.Register(j)
	}

	servers := []*namedServer{
		{name: "partner", addr: cfg.PartnerAddr, handler: srv.Partner()},
		{name: "admin", addr: cfg.AdminAddr, handler: srv.Admin()},
	}
	if cfg.MetricsAddr != "" {
		servers = append(servers, &namedServer{name: "metrics", addr: cfg.MetricsAddr, handler: srv.Metrics()})
	}
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("%s API: %w", s.name, err)
		}
		s.ln = ln
		s.http = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
		fmt.Fprintf(stdout, "%s API listening on http://%s\n", s.name, ln.Addr())
	}
	log.Info("inbound started", "database", string(d.Dialect), "redis_embedded", store.Embedded())

	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s API: %w", s.name, err)
			}
		}()
	}
	wg.Go(func() { runner.Start(ctx) })
	wg.Go(func() { svc.Webhooks.Run(ctx, time.Second) })

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down: finishing in-flight requests", "grace", cfg.ShutdownGrace.String())
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer scancel()
	for _, s := range servers {
		if err := s.http.Shutdown(sctx); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("%s API shutdown: %w", s.name, err))
		}
	}
	cancel()
	wg.Wait()
	fmt.Fprintln(stdout, "stopped")
	return runErr
}

type namedServer struct {
	name    string
	addr    string
	handler http.Handler
	ln      net.Listener
	http    *http.Server
}
