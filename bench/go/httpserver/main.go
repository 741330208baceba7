// The http benchmark's Go server (bench.md "http"): the same program as goro's
// examples/http_server.cpp — one goroutine per connection over a raw net.Conn (not
// net/http), keep-alive, pipelined request heads answered in order with
// "Hello, World!" — with the same buffer size and the same parsing.
//
//	go_http [port | host:port]    (default :8080)
//
// GOMAXPROCS comes from the environment (bench/http sets it).
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
)

var (
	ok         = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")
	okClose    = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!")
	tooLarge   = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	badRequest = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

const (
	inBuf = 2048
	batch = 16 // up to batch answers in one write
)

var okBatch = bytes.Repeat(ok, batch)

func hasToken(value, token string) bool {
	for _, item := range strings.Split(value, ",") {
		if strings.EqualFold(strings.Trim(item, " \t"), token) {
			return true
		}
	}
	return false
}

type head struct {
	size          int // 0: incomplete
	bad, close    bool
	contentLength int
}

func parseHead(data []byte) head {
	var h head
	pos := 0
	first := true
	http10, keepAlive := false, false
	for {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			return head{}
		}
		line := data[pos : pos+nl]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		pos += nl + 1
		if first {
			if len(line) == 0 {
				continue
			}
			first = false
			sp := bytes.LastIndexByte(line, ' ')
			if sp < 0 || bytes.IndexByte(line, ' ') == sp {
				h.bad = true
				h.size = pos
				return h
			}
			http10 = string(line[sp+1:]) == "HTTP/1.0"
			continue
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := string(line[:colon])
		value := string(line[colon+1:])
		switch {
		case strings.EqualFold(name, "Content-Length"):
			v := 0
			for _, c := range []byte(value) {
				if c >= '0' && c <= '9' {
					v = v*10 + int(c-'0')
				} else if c != ' ' && c != '\t' {
					h.bad = true
				}
			}
			h.contentLength = v
		case strings.EqualFold(name, "Connection"):
			if hasToken(value, "close") {
				h.close = true
			}
			if hasToken(value, "keep-alive") {
				keepAlive = true
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			h.close = true
		}
	}
	if http10 && !keepAlive {
		h.close = true
	}
	h.size = pos
	return h
}

// answerOK writes n "200 OK" answers.
func answerOK(c net.Conn, n int) error {
	for n > 0 {
		k := n
		if k > batch {
			k = batch
		}
		if _, err := c.Write(okBatch[:k*len(ok)]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func serve(c net.Conn) {
	defer c.Close()
	in := make([]byte, inBuf)
	have, skip := 0, 0
	for {
		n, err := c.Read(in[have:])
		if n == 0 || err != nil {
			return
		}
		have += n
		pos, pending := 0, 0
		for {
			if skip > 0 {
				k := skip
				if have-pos < k {
					k = have - pos
				}
				pos += k
				skip -= k
				if skip > 0 {
					break
				}
			}
			h := parseHead(in[pos:have])
			if h.size == 0 {
				break
			}
			pos += h.size
			if h.bad || h.close {
				if answerOK(c, pending) == nil {
					if h.bad {
						c.Write(badRequest)
					} else {
						c.Write(okClose)
					}
				}
				return
			}
			pending++
			skip = h.contentLength
		}
		if answerOK(c, pending) != nil {
			return
		}
		copy(in, in[pos:have])
		have -= pos
		if have == inBuf {
			c.Write(tooLarge)
			return
		}
	}
}

func main() {
	addr := "8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_http:", err)
		os.Exit(1)
	}
	fmt.Printf("go_http: listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_http:", err)
			os.Exit(1)
		}
		go serve(c)
	}
}
