package faults

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
)

// child is one server process the test started, in a process group of its
// own, so that a stall stops the server and every process it forked.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedWriter
}

func startChild(name string, cmd *exec.Cmd, cred *syscall.Credential) (*child, error) {
	out := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// signalGroup sends sig to the child's whole process group.
func (c *child) signalGroup(sig syscall.Signal) error {
	return syscall.Kill(-c.cmd.Process.Pid, sig)
}

// kill kills the whole group at once (after waking it, if it was stopped)
// and waits for the process to exit.
func (c *child) kill() {
	_ = c.signalGroup(syscall.SIGKILL)
	_ = c.signalGroup(syscall.SIGCONT)
	<-c.done
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		l.w.Reset()
	}
	return l.w.Write(p)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisServer is a redis-server child with an append-only file (as in
// production, appendfsync everysec), so that a kill -9 and a restart keep
// what it had acknowledged.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu sync.Mutex
	c  *child
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *redisServer) start() error {
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no")
	c, err := startChild("redis-server", cmd, nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c.exited() {
			return fmt.Errorf("redis-server exited: %s", tail(c.out))
		}
		if shortlivedtest.Ping(r.addr()) == nil {
			r.mu.Lock()
			r.c = c
			r.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("redis-server did not answer PING: %s", tail(c.out))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *redisServer) current() *child {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

// pgServer is a PostgreSQL child: initdb once, then postgres on a free
// loopback port, as the postgres user when the test runs as root (initdb
// refuses root).
type pgServer struct {
	t    testing.TB
	bin  string
	data string
	port int
	cred *syscall.Credential

	mu sync.Mutex
	c  *child
}

// newPG runs initdb in a fresh directory (removed when the test ends).
func newPG(t testing.TB, bin string) (*pgServer, error) {
	root, err := os.MkdirTemp("", "qujat-faults-pg-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	p := &pgServer{t: t, bin: bin, data: filepath.Join(root, "data")}
	if err := os.Mkdir(p.data, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(p.data, uid, gid); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", "qujat", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	return p, nil
}

func (p *pgServer) directURL() string {
	return fmt.Sprintf("postgres://qujat@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// start runs postgres and waits until it accepts connections (after crash
// recovery, if it was killed).
func (p *pgServer) start() error {
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		// fsync off only matters when the machine itself crashes: a killed
		// server has written its WAL at every commit all the same.
		"-c", "fsync=off", "-c", "max_connections=100")
	cmd.Dir = filepath.Dir(p.data)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	c, err := startChild("postgres", cmd, p.cred)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c.exited() {
			return fmt.Errorf("postgres exited: %s", tail(c.out))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.directURL())
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			p.mu.Lock()
			p.c = c
			p.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("postgres did not accept connections: %v: %s", err, tail(c.out))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *pgServer) current() *child {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c
}

// signalAll sends sig to the postmaster and every process it started:
// each backend runs in a session of its own, so a group signal would reach
// the postmaster alone.
func (p *pgServer) signalAll(sig syscall.Signal) error {
	c := p.current()
	pid := c.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after
		// its closing parenthesis.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			_ = syscall.Kill(child, sig)
		}
	}
	return nil
}

// immediateStop is pg_ctl stop -m immediate: SIGQUIT to the postmaster,
// which ends every backend without a checkpoint; the next start recovers
// from the WAL.
func (p *pgServer) immediateStop() {
	c := p.current()
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.kill()
	}
	// Backends left behind die with their postmaster; make sure.
	_ = c.signalGroup(syscall.SIGKILL)
}

func tail(l *lockedWriter) string {
	l.mu.Lock()
	text := l.w.String()
	l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, " | ")
}
