package datadir_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/inbound-gateway/inbound/internal/datadir"
)

// withUmask runs the test under a umask as common as 022.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPrepareNarrowsAnExistingDirAndItsFiles(t *testing.T) {
	withUmask(t, 0o022)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil { //nolint:gosec // deliberately too wide: Prepare must narrow it
		t.Fatal(err)
	}
	for _, name := range []string{"inbound.db", "inbound.db-wal", "master.key", "credentials.json", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil { //nolint:gosec // deliberately too wide: Prepare must narrow it
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	if err := datadir.Prepare(dir, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir mode %#o, want 0700", m)
	}
	for _, name := range []string{"inbound.db", "inbound.db-wal", "master.key", "credentials.json"} {
		if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
			t.Errorf("%s mode %#o, want 0600", name, m)
		}
	}
	if m := mode(t, filepath.Join(dir, "notes.txt")); m != 0o644 {
		t.Errorf("a file Inbound does not own was changed to %#o", m)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 5 {
		t.Errorf("%d warnings, want 5 (dir and four files):\n%s", n, logs.String())
	}
	// Nothing to narrow the second time: no warning.
	logs.Reset()
	if err := datadir.Prepare(dir, slog.New(slog.NewTextHandler(&logs, nil))); err != nil || logs.Len() != 0 {
		t.Fatalf("second Prepare: %v %s", err, logs.String())
	}
}

func TestNewDirAndFilesArePrivate(t *testing.T) {
	withUmask(t, 0o022)
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := datadir.Prepare(dir, nil); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir mode %#o", m)
	}
	p := filepath.Join(dir, "inbound.db")
	if err := datadir.Touch(p); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, p); m != 0o600 {
		t.Errorf("touched file mode %#o", m)
	}
	// WriteFile narrows a file that existed with a wider mode.
	k := filepath.Join(dir, "master.key")
	if err := os.WriteFile(k, []byte("old"), 0o644); err != nil { //nolint:gosec // deliberately too wide: Prepare must narrow it
		t.Fatal(err)
	}
	if err := datadir.WriteFile(k, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, k); m != 0o600 {
		t.Errorf("written file mode %#o", m)
	}
}
