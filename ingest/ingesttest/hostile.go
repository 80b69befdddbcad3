// Package ingesttest generates hostile inputs for the ingest's tests and
// benchmarks: files built to exhaust memory or time, made at run time so no
// large fixture is committed.
package ingesttest

import (
	"bytes"
	"fmt"
	"strings"
)

// WideCSV is a small file with very many columns: a header of n names and
// one data row (200,000 columns make about 1.9 MB). Before the column limit
// the conversion sized its batches by rows × columns and died of a fatal
// out-of-memory error, which no recover catches.
func WideCSV(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d", i)
	}
	b.WriteByte('\n')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('1')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// LongHeaderCSV has a header line of about size bytes in 1,000 names, and
// one data row.
func LongHeaderCSV(size int) []byte {
	var b bytes.Buffer
	name := strings.Repeat("名", max(1, size/1000/3))
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s%d", name, i)
	}
	b.WriteString("\n" + strings.Repeat("1,", 999) + "1\n")
	return b.Bytes()
}

// JSONKeys is n distinct "kI": I members, for objects with very many keys.
func JSONKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	return b.String()
}
