package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"opendata/errs"

	"opendata/catalog"
)

// Cursor is where the next page starts: the last row's sort values and row
// number, bound to one resource, version, variant and sort. It is signed so
// an edited cursor is refused rather than read.
type Cursor struct {
	Resource int64     `json:"r"`
	Version  int       `json:"v"`
	Variant  string    `json:"a"`
	Sort     string    `json:"s"`
	Keys     []*string `json:"k"`
	Row      int64     `json:"n"`
}

// Signer signs and opens cursors with a server secret.
type Signer struct{ Secret []byte }

func (s Signer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.Secret)
	m.Write([]byte("opendata cursor v1\x00"))
	m.Write(b)
	return m.Sum(nil)[:16]
}

// Encode signs a cursor.
func (s Signer) Encode(c Cursor) string {
	b, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(b) + "." + enc.EncodeToString(s.mac(b))
}

// Decode checks a cursor's signature and that it belongs to this resource,
// version, variant and sort; every failure is a 400 naming "cursor".
func (s Signer) Decode(text string, resource int64, version int, variant, sort string) (*Cursor, error) {
	bad := func(key string, kv ...any) error { return errs.Fieldf("cursor", key, kv...) }
	body, sig, ok := strings.Cut(text, ".")
	if !ok || len(text) > 8192 {
		return nil, bad("err.query.cursor.foreign")
	}
	enc := base64.RawURLEncoding
	b, err1 := enc.DecodeString(body)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(b)) {
		return nil, bad("err.query.cursor.altered")
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, bad("err.query.cursor.unreadable")
	}
	switch {
	case c.Resource != resource:
		return nil, bad("err.query.cursor.dataset", "id", c.Resource)
	case c.Variant != variant:
		return nil, bad("err.query.cursor.variant")
	case c.Version != version:
		return nil, bad("err.query.cursor.version", "was", c.Version, "now", version)
	case c.Sort != sort:
		return nil, bad("err.query.cursor.sort_changed", "sort", c.Sort)
	}
	return &c, nil
}

// keyText renders a sort-key value for a cursor (typed() reads it back).
func keyText(v any, typ catalog.ColumnType, loc *time.Location) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		if typ == catalog.ColDate {
			s = x.Format("2006-01-02")
		} else {
			s = x.In(loc).Format(time.RFC3339Nano)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		s = fmt.Sprint(x)
	}
	return &s
}
