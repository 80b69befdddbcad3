package ingest

import (
	"io"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
)

// fastSnappy lets a Parquet writer choose between s2's two Snappy
// encoders by compression level: snappyFast (1) takes the default encoder,
// about twice as fast as the "better" one arrow-go uses for every level,
// for 10–13 % more bytes; any other level keeps the better one. Both write
// standard Snappy blocks that every reader (DuckDB, pyarrow, Spark) reads.
// Decoding is unchanged.
type fastSnappy struct{ compress.Codec }

const snappyFast = 1

func (fastSnappy) Encode(dst, src []byte) []byte { return s2.EncodeSnappyBetter(dst, src) }
func (fastSnappy) EncodeLevel(dst, src []byte, level int) []byte {
	if level == snappyFast {
		return s2.EncodeSnappy(dst, src)
	}
	return s2.EncodeSnappyBetter(dst, src)
}
func (fastSnappy) CompressBound(n int64) int64 { return int64(snappy.MaxEncodedLen(int(n))) }
func (fastSnappy) NewWriter(w io.Writer) io.WriteCloser {
	return s2.NewWriter(w, s2.WriterSnappyCompat())
}
func (f fastSnappy) NewWriterLevel(w io.Writer, _ int) (io.WriteCloser, error) {
	return f.NewWriter(w), nil
}

func init() {
	base, err := compress.GetCodec(compress.Codecs.Snappy)
	if err == nil {
		compress.RegisterCodec(compress.Codecs.Snappy, fastSnappy{base})
	}
}
