package ingest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/golang/snappy"
)

// Both levels write standard Snappy that the reference decoder reads back;
// the fast level is the faster encoder, the default stays the better one.
func TestSnappyLevels(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "恩施市学院路%d号,%d,2012-%02d-%02d;", rng.IntN(999), rng.IntN(1e9), 1+rng.IntN(12), 1+rng.IntN(28))
	}
	src := []byte(b.String())
	fast := codec.EncodeLevel(nil, src, snappyFast)
	better := codec.EncodeLevel(nil, src, compress.DefaultCompressionLevel)
	for name, enc := range map[string][]byte{"fast": fast, "better": better} {
		dec, err := snappy.Decode(nil, enc)
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("%s: not standard Snappy: %v", name, err)
		}
	}
	if len(fast) <= len(better) {
		t.Fatalf("the default level should be the better encoder: fast %d bytes, default %d", len(fast), len(better))
	}
}
