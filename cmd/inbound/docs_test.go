package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

// TestMain lets the test binary stand in for the inbound command: the
// documentation scripts call `go run ./cmd/inbound ...`, which the tests
// route here instead of compiling the program again.
func TestMain(m *testing.M) {
	if os.Getenv("INBOUND_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var shBlock = regexp.MustCompile("(?ms)^```sh\n(.*?)^```")

// shellBlocks returns the ```sh blocks of a document, in order.
func shellBlocks(t *testing.T, doc string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), doc))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range shBlock.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s has no sh blocks", doc)
	}
	return out
}

// goShim routes `go run ./cmd/inbound ARGS` to this test binary.
const goShim = `go() {
  if [ "$1" = run ] && [ "$2" = ./cmd/inbound ]; then shift 2; INBOUND_TEST_AS_CLI=1 "$INBOUND_CLI" "$@"
  else command go "$@"; fi
}
`

// TestQuickstartRunsAsWritten runs every sh block of docs/QUICKSTART.md, as
// one bash script, against a server started as `go run ./cmd/inbound`
// would start it; twice, because a reader runs it again (fresh keys, fresh
// passport number, the card unbound at the end). A block that fails, or an
// answer the page promises and does not come, fails the test.
func TestQuickstartRunsAsWritten(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	env := loopbackEnv(t)
	in := start(t, env)
	cli, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := "set -euo pipefail\n" + goShim + strings.Join(shellBlocks(t, "docs/QUICKSTART.md"), "\n")
	for run := 1; run <= 2; run++ {
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "P="+in.partner, "A="+in.admin, "INBOUND_DATA_DIR="+env["INBOUND_DATA_DIR"], "INBOUND_CLI="+cli)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d: %v\nstdout:\n%s\nstderr:\n%s", run, err, stdout.String(), stderr.String())
		}
		t.Logf("run %d:\n%s", run, stdout.String())
		for _, want := range []string{"approved", "loaded", "released to the merchant", `"status":"closed"`, `"credited":{"value":"970.00","currency":"CNY"}`, "quickstart done"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("run %d: output lacks %q:\n%s", run, want, stdout.String())
			}
		}
	}
}

// tableRows returns the rows of the markdown table that follows the line
// holding marker in doc: the cells of each row, trimmed, header and
// separator left out.
func tableRows(t *testing.T, doc, marker string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), doc))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("%s has no %q", doc, marker)
	}
	var rows [][]string
	started := false
	for _, line := range strings.Split(after, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 3 {
		t.Fatalf("%s: no table after %q", doc, marker)
	}
	return rows[2:]
}

// cardOutcome is how docs/TESTING.md words a field 39 answer.
func cardOutcome(rc string) string {
	switch rc {
	case gateway.RCApproved:
		return "approved"
	case "":
		return "no answer: reversed, 402 decline_code `issuer_unavailable`"
	case gateway.RCAuthenticationRequired:
		return "`requires_action`: OTP `" + cardnet.OTP + "`"
	}
	return "402 decline_code `" + gateway.DeclineFor(rc).Code + "` (" + rc + ")"
}

// TestTestCardsTableMatchesTheSimulator: the test-card table of
// docs/TESTING.md is the simulator's table, row for row.
func TestTestCardsTableMatchesTheSimulator(t *testing.T) {
	var want []string
	for _, c := range cardnet.TestCards() {
		want = append(want, "| "+strings.Join([]string{"`" + c.PAN + "`", c.Network.String(), c.IssuerCountry, c.Currency,
			cardOutcome(c.Verification), cardOutcome(c.Purchase)}, " | ")+" |")
	}
	var got []string
	for _, r := range tableRows(t, "docs/TESTING.md", "<!-- test cards -->") {
		got = append(got, "| "+strings.Join(r, " | ")+" |")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docs/TESTING.md test cards differ from gateway/cardnet; the table should read:\n%s", strings.Join(want, "\n"))
	}
}

var (
	codeSpan   = regexp.MustCompile("`([^`]+)`")
	holderName = regexp.MustCompile("`holder_name` `([^`]+)`")
)

// TestTestPassportsHaveTheDocumentedOutcome onboards every passport of
// docs/TESTING.md, in order, through the API of a fresh server and checks
// the answer the table gives.
func TestTestPassportsHaveTheDocumentedOutcome(t *testing.T) {
	in := start(t, loopbackEnv(t))
	m := credRE.FindStringSubmatch(in.stdout.String())
	if m == nil {
		t.Fatalf("no credentials printed:\n%s", in.stdout)
	}
	sk := m[1]
	visitorOf := map[string]string{} // MRZ -> visitor id
	rows := tableRows(t, "docs/TESTING.md", "<!-- test passports -->")
	for _, r := range rows {
		if len(r) != 5 {
			t.Fatalf("row has %d cells, want 5: %v", len(r), r)
		}
		name, answer, status, reasons := r[0], r[2], r[3], r[4]
		var lines []string
		for _, s := range codeSpan.FindAllStringSubmatch(r[1], -1) {
			lines = append(lines, s[1])
		}
		mrz := strings.Join(lines, "\n")
		wantStatus, wantCode, _ := strings.Cut(answer, " ")
		wantCode = strings.Trim(wantCode, "`")
		t.Run(name, func(t *testing.T) {
			if h := holderName.FindStringSubmatch(name); h != nil {
				vis := visitorOf[mrz]
				if vis == "" {
					t.Fatalf("no visitor onboarded earlier with this MRZ")
				}
				body, _ := json.Marshal(map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123", "holder_name": h[1]})
				code, got := postJSON(t, in.partner+"/v1/visitors/"+vis+"/cards", sk, string(body))
				e, _ := got["error"].(map[string]any)
				if strconv.Itoa(code) != wantStatus || e["code"] != wantCode {
					t.Fatalf("bind with %q: %d %v, want %s %s", h[1], code, got, wantStatus, wantCode)
				}
				return
			}
			body, _ := json.Marshal(map[string][]string{"mrz": lines})
			code, got := postJSON(t, in.partner+"/v1/visitors", sk, string(body))
			if strconv.Itoa(code) != wantStatus {
				t.Fatalf("%d %v, want %s", code, got, answer)
			}
			if wantCode != "" {
				if e, _ := got["error"].(map[string]any); e["code"] != wantCode {
					t.Fatalf("error %v, want %s", got, wantCode)
				}
				return
			}
			k, _ := got["kyc"].(map[string]any)
			var gotReasons []string
			for _, x := range k["reasons"].([]any) {
				gotReasons = append(gotReasons, x.(string))
			}
			if k["status"] != status || strings.Join(gotReasons, ", ") != reasons {
				t.Errorf("kyc %v, want status %q reasons %q", k, status, reasons)
			}
			visitorOf[mrz], _ = got["id"].(string)
		})
	}
}

// repoFiles lists the files of the repository: git's tracked files when
// git is there, else every file under the root outside .git and data dirs.
func repoFiles(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".inbound") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestNoReferencesOutsideTheRepository: a clone has nothing beside it, so
// no file may send the reader to a folder outside the repository.
func TestNoReferencesOutsideTheRepository(t *testing.T) {
	outside := ".." + "/shared" // split so this file does not match itself
	for _, f := range repoFiles(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), f))
		if err != nil {
			continue // deleted in the work tree
		}
		if strings.Contains(string(b), outside) {
			t.Errorf("%s mentions %s; point to docs/ instead", f, outside)
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

// TestDocLinksResolve: every relative link of README.md and docs/*.md
// names a file of the repository.
func TestDocLinksResolve(t *testing.T) {
	root := repoRoot(t)
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p := filepath.Join(filepath.Dir(d), target)
			rel, _ := filepath.Rel(root, p)
			if strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", d, target)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: broken link %s", d, target)
			}
		}
	}
}
