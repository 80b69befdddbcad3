package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Keys are the secrets the chain is signed with. They live outside the
// database (a key file the operator keeps, or a key in the configuration),
// so someone who can edit the database cannot recompute the hashes. The
// last key is the current one: new events are signed with it; the others
// verify events signed before a rotation. Each event stores the id of its
// key (the first 12 hex digits of the key's SHA-256), never the key.
type Keys struct {
	byID    map[string][]byte
	current string
}

// KeyID names a secret without revealing it.
func KeyID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])[:12]
}

// NewKeys makes a key set from secrets, the last one current.
func NewKeys(secrets ...[]byte) (*Keys, error) {
	k := &Keys{byID: map[string][]byte{}}
	for _, s := range secrets {
		if len(s) < 16 {
			return nil, fmt.Errorf("audit key too short: at least 16 bytes (32 hex digits)")
		}
		id := KeyID(s)
		k.byID[id], k.current = s, id
	}
	if k.current == "" {
		return nil, fmt.Errorf("no audit key")
	}
	return k, nil
}

// Current is the id of the key new events are signed with.
func (k *Keys) Current() string { return k.current }

// IDs lists the key ids, the current one last.
func (k *Keys) IDs() []string {
	out := make([]string, 0, len(k.byID))
	for id := range k.byID {
		if id != k.current {
			out = append(out, id)
		}
	}
	return append(out, k.current)
}

func (k *Keys) mac(id string, msg []byte) ([]byte, bool) {
	s, ok := k.byID[id]
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, s)
	m.Write(msg)
	return m.Sum(nil), true
}

// LoadKeyFile reads a key file: one hex-encoded secret per line (# starts
// a comment), the last line the current key. To rotate, append a new line
// (`opendata audit rotate-key` does) and keep the old ones. With create set
// and no file, a random key is written (mode 0600).
func LoadKeyFile(path string, create bool) (*Keys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := AddKey(path); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit key file: %w", err)
	}
	var secrets [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("audit key file %s line %d: not hex", path, n)
		}
		secrets = append(secrets, s)
	}
	k, err := NewKeys(secrets...)
	if err != nil {
		return nil, fmt.Errorf("audit key file %s: %w", path, err)
	}
	return k, nil
}

// AddKey appends a new random key to the key file (creating it), making it
// the current one.
func AddKey(path string) error {
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("audit key file: %w", err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(s)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (k *Keys) macOrNil(id string, msg []byte) ([]byte, bool) {
	if k == nil {
		return nil, false
	}
	return k.mac(id, msg)
}
