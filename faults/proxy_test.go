package faults

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pgProxy forwards TCP connections to PostgreSQL. While loseCommits is on,
// a connection whose client sends COMMIT has the COMMIT forwarded, and as
// soon as the server's answer arrives the proxy drops it and closes both
// sides: the server has committed, the client never learns it.
type pgProxy struct {
	ln     net.Listener
	target string

	loseCommits atomic.Bool
	lost        atomic.Int64 // COMMIT answers dropped

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newPGProxy(target string) (*pgProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *pgProxy) addr() string { return p.ln.Addr().String() }

func (p *pgProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *pgProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *pgProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *pgProxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			server.Close()
			p.track(client, false)
			p.track(server, false)
		})
	}
	defer closeBoth()
	var doomed atomic.Bool
	commitStmts := map[string]bool{} // prepared statements that are COMMIT

	// Server to client: bytes as they come, unless a COMMIT of this
	// connection is to lose its answer.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer closeBoth()
		buf := make([]byte, 32<<10)
		var answered []byte
		for {
			n, err := server.Read(buf)
			if n > 0 {
				if doomed.Load() {
					// Drop everything from here on; close once the
					// server has answered the COMMIT (or given up).
					answered = append(answered, buf[:n]...)
					if bytes.Contains(answered, []byte("COMMIT\x00")) || bytes.Contains(answered, []byte("ROLLBACK\x00")) {
						p.lost.Add(1)
						return
					}
					continue
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()

	// Client to server, message by message: the startup messages have no
	// type byte; every later one is a type byte and a length.
	r := bufio.NewReaderSize(client, 32<<10)
	startup := true
	for {
		var msg []byte
		if startup {
			var hdr [4]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr[:])
			if n < 8 || n > 1<<20 {
				return
			}
			msg = make([]byte, n)
			copy(msg, hdr[:])
			if _, err := io.ReadFull(r, msg[4:]); err != nil {
				return
			}
			code := binary.BigEndian.Uint32(msg[4:8])
			// An SSL or GSS encryption request is followed by another
			// startup message.
			startup = code == 80877103 || code == 80877104
		} else {
			var hdr [5]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr[1:])
			if n < 4 || n > 64<<20 {
				return
			}
			msg = make([]byte, 1+n)
			copy(msg, hdr[:])
			if _, err := io.ReadFull(r, msg[5:]); err != nil {
				return
			}
			commit := isCommit(msg[0], msg[5:])
			if msg[0] == 'P' && commit {
				commitStmts[cstring(msg[5:], 0)] = true
			}
			if msg[0] == 'B' && commitStmts[cstring(msg[5:], 1)] {
				commit = true
			}
			if commit && p.loseCommits.Load() {
				doomed.Store(true)
				// If the server never answers, give up in a while.
				time.AfterFunc(5*time.Second, closeBoth)
			}
		}
		if _, err := server.Write(msg); err != nil {
			return
		}
	}
}

// cstring returns the i-th NUL-terminated string of b.
func cstring(b []byte, i int) string {
	for ; i > 0; i-- {
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return ""
		}
		b = b[j+1:]
	}
	if j := bytes.IndexByte(b, 0); j >= 0 {
		return string(b[:j])
	}
	return string(b)
}

// isCommit reports whether a client message runs COMMIT: a simple query
// ('Q') or a Parse ('P', statement name then query) of it.
func isCommit(typ byte, body []byte) bool {
	var q []byte
	switch typ {
	case 'Q':
		q = body
	case 'P':
		i := bytes.IndexByte(body, 0)
		if i < 0 {
			return false
		}
		q = body[i+1:]
	default:
		return false
	}
	if i := bytes.IndexByte(q, 0); i >= 0 {
		q = q[:i]
	}
	s := strings.TrimRight(strings.TrimSpace(string(q)), ";")
	return strings.EqualFold(strings.TrimSpace(s), "commit")
}
