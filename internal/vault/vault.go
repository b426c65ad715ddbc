// Package vault encrypts sensitive values (PANs, passport numbers) with
// AES-256-GCM under a master key, and derives keyed HMAC-SHA256 indexes so
// equal values can be found without decrypting anything. Ciphertexts carry
// the key id so the master key can be rotated: old ciphertexts stay readable
// while the old key is kept in the keyring.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors of the vault.
var (
	ErrBadKey        = errors.New("vault: master key must be 32 bytes, base64 encoded")
	ErrUnknownKey    = errors.New("vault: ciphertext key id not in keyring")
	ErrBadCiphertext = errors.New("vault: ciphertext cannot be opened")
)

// UnknownKeyError is ErrUnknownKey with the key id the ciphertext names.
// The id is public (a short hash of the key), so it can go in logs: it is
// what tells an operator which key is missing from the keyring.
type UnknownKeyError struct{ KeyID string }

func (e *UnknownKeyError) Error() string {
	return "vault: ciphertext key id " + e.KeyID + " not in keyring"
}

// Is makes errors.Is(err, ErrUnknownKey) hold.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Vault seals and opens values and computes lookup indexes.
type Vault struct {
	current string
	aeads   map[string]cipher.AEAD
	macKey  []byte
}

// KeyID is a short public identifier of a master key: the first 8 hex digits
// of SHA-256 over it, so a log or a row can say which key sealed it.
func KeyID(master []byte) string {
	sum := sha256.Sum256(master)
	return hex.EncodeToString(sum[:4])
}

// ParseKey decodes a base64 32-byte master key.
func ParseKey(b64 string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(k) != 32 {
		return nil, ErrBadKey
	}
	return k, nil
}

// GenerateKey returns a new random base64 master key.
func GenerateKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// New builds a vault whose current key is master; older keys (oldest last)
// can still open what they sealed. The HMAC index key is derived with HKDF
// from the oldest key in the ring (DeriveIndexKey). The service itself uses
// NewKeyring with an index key kept apart from the encryption keys (see
// internal/keys), so that retiring the oldest key does not change indexes.
func New(master []byte, older ...[]byte) (*Vault, error) {
	root := master
	if len(older) > 0 {
		root = older[len(older)-1]
	}
	if len(root) != 32 {
		return nil, ErrBadKey
	}
	ik, err := DeriveIndexKey(root)
	if err != nil {
		return nil, err
	}
	return NewKeyring(ik, master, older...)
}

// DeriveIndexKey is the HMAC index key New derives from a master key: HKDF,
// so an encryption key is never used directly as a MAC key.
func DeriveIndexKey(root []byte) ([]byte, error) {
	if len(root) != 32 {
		return nil, ErrBadKey
	}
	mk, err := hkdf.Key(sha256.New, root, nil, "inbound index v1", 32)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return mk, nil
}

// NewKeyring builds a vault that seals under current, opens what current
// or any of previous sealed, and computes indexes under indexKey (32
// bytes), whatever the encryption keys are: lookups survive any rotation.
func NewKeyring(indexKey, current []byte, previous ...[]byte) (*Vault, error) {
	if len(current) != 32 || len(indexKey) != 32 {
		return nil, ErrBadKey
	}
	v := &Vault{current: KeyID(current), aeads: map[string]cipher.AEAD{}, macKey: bytes.Clone(indexKey)}
	for _, k := range append([][]byte{current}, previous...) {
		if len(k) != 32 {
			return nil, ErrBadKey
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		v.aeads[KeyID(k)] = aead
	}
	return v, nil
}

// CurrentKeyID is the id of the key new seals use.
func (v *Vault) CurrentKeyID() string { return v.current }

// KeyIDs lists the ids of every key in the ring, current first, then sorted.
func (v *Vault) KeyIDs() []string {
	out := make([]string, 0, len(v.aeads))
	for id := range v.aeads {
		if id != v.current {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return append([]string{v.current}, out...)
}

// HasKey reports whether the ring holds the key with that id.
func (v *Vault) HasKey(id string) bool {
	_, ok := v.aeads[id]
	return ok
}

// SealedKeyID returns the key id a sealed value names ("" if malformed).
func SealedKeyID(sealed string) string {
	kid, _, ok := strings.Cut(sealed, ":")
	if !ok {
		return ""
	}
	return kid
}

// Seal encrypts plaintext bound to a context label (for example "pan" or
// "passport"), so a ciphertext moved to another column does not open.
// The result is "keyid:base64(nonce|ciphertext)".
func (v *Vault) Seal(label string, plaintext []byte) string {
	aead := v.aeads[v.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := aead.Seal(nonce, nonce, plaintext, []byte(label))
	return v.current + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// Open decrypts what Seal produced under the same label.
func (v *Vault) Open(label, sealed string) ([]byte, error) {
	kid, b64, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, ErrBadCiphertext
	}
	aead, ok := v.aeads[kid]
	if !ok {
		return nil, &UnknownKeyError{KeyID: kid}
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, ErrBadCiphertext
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(label))
	if err != nil {
		return nil, ErrBadCiphertext
	}
	return pt, nil
}

// Index is a keyed hash of the value under a label, hex encoded: equal
// inputs give equal indexes; without the master key it reveals nothing.
func (v *Vault) Index(label string, parts ...string) string {
	m := hmac.New(sha256.New, v.macKey)
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}
