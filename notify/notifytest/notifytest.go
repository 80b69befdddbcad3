// Package notifytest has test helpers for e-mail: a fake SMTP server.
package notifytest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// FakeSMTP accepts messages on a loopback port until the test ends and
// returns the address and what it received.
func FakeSMTP(t testing.TB) (string, <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), serve(t, ln)
}

// serve answers SMTP on ln until the test ends.
func serve(t testing.TB, ln net.Listener) <-chan string {
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 256)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(c, got)
		}
	}()
	return got
}

func serveSMTP(c net.Conn, got chan<- string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	w := func(s string) { c.Write([]byte(s + "\r\n")) }
	w("220 fake ESMTP")
	var data strings.Builder
	inData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if inData {
			if line == ".\r\n" {
				inData = false
				w("250 ok")
				got <- data.String()
				continue
			}
			data.WriteString(line)
			continue
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			w("250 fake")
		case strings.HasPrefix(cmd, "DATA"):
			inData = true
			w("354 go")
		case strings.HasPrefix(cmd, "QUIT"):
			w("221 bye")
			return
		default:
			w("250 ok")
		}
	}
}

// HangingSMTP accepts connections on a loopback port and never answers
// (a mail server that stalls); it returns the address.
func HangingSMTP(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, silent
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// DownSMTP is a loopback address where nothing listens yet; Up starts the
// fake server there.
func DownSMTP(t testing.TB) (addr string, up func() <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	return addr, func() <-chan string {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return serve(t, ln)
	}
}
