package shortlivedtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qujat/qujat/internal/servicetest"
)

// RedisURL returns TEST_REDIS_URL. If it is empty, the test is skipped with a
// notice, or fails when QUJAT_TEST_REQUIRE_SERVICES=1. Either way, and when
// it runs, the test is recorded for make test's summary (see package
// servicetest).
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		servicetest.Missing(t, servicetest.Redis, "TEST_REDIS_URL is not set, so tests against Redis do not run")
		return ""
	}
	servicetest.Ran(t, servicetest.Redis)
	return u
}

// UniquePrefix returns a key prefix no other test uses, so that stores on
// one Redis do not see each other's keys and tests can run in parallel. It
// is built from the test's name (without characters that mean something to
// Redis patterns or cluster hash tags) and random bytes.
func UniquePrefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '/', r == '.':
			return r
		}
		return '_'
	}, t.Name())
	return "qujat-test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// RedisServer is a redis-server child process on a loopback port, without
// persistence, for tests that need a Redis they may stop and restart.
type RedisServer struct {
	t     testing.TB
	path  string
	dir   string
	port  int
	extra []string

	mu     sync.Mutex
	paused bool // Pause was called, Resume not yet
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	log    *bytes.Buffer
}

// StartRedis starts a redis-server found on PATH on a free loopback port,
// with persistence off (--save "" --appendonly no) and any extra arguments
// (such as "--cluster-enabled", "yes"), and waits until it answers PING. It
// is stopped when the test ends. If redis-server is not installed, the test
// is skipped with a notice, or fails when QUJAT_TEST_REQUIRE_SERVICES=1. With
// -short the test is skipped.
func StartRedis(t testing.TB, extraArgs ...string) *RedisServer {
	t.Helper()
	if testing.Short() {
		servicetest.Skip(t, servicetest.RedisServer, "skipped with -short: the test starts a redis-server of its own")
		return nil
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		servicetest.Missing(t, servicetest.RedisServer, "redis-server is not on PATH, so tests that start their own Redis do not run")
		return nil
	}
	servicetest.Ran(t, servicetest.RedisServer)
	s, err := launchRedis(path, t.TempDir(), false, extraArgs)
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	s.t = t
	t.Cleanup(s.Stop)
	return s
}

// launchRedis starts redis-server (path) with its files in dir on a free
// loopback port; with bus, the port ten thousand above (a cluster node's
// bus) must be free too.
func launchRedis(path, dir string, bus bool, extraArgs []string) (*RedisServer, error) {
	s := &RedisServer{path: path, dir: dir, extra: extraArgs}
	// A free port can be taken between finding and using it: try a few.
	var lastErr error
	for range 5 {
		port, err := freePort(bus)
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// Addr returns the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's redis:// URL.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() }

// Stop stops the server (all its data is lost). It does nothing if the
// server is not running.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	signalGroup(s.cmd, syscall.SIGCONT) // a paused server must run to stop
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		signalGroup(s.cmd, syscall.SIGKILL)
		<-s.done
	}
	s.cmd, s.paused = nil, false
}

// Kill ends the server at once with SIGKILL (as a crash would) and waits for
// it to exit. It does nothing if the server is not running.
func (s *RedisServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	signalGroup(s.cmd, syscall.SIGKILL)
	signalGroup(s.cmd, syscall.SIGCONT)
	<-s.done
	s.cmd, s.paused = nil, false
}

// Pause stops the server (SIGSTOP) without ending it: it keeps its
// connections open and answers nothing, as a stalled server does, until
// Resume.
func (s *RedisServer) Pause() { s.signal(syscall.SIGSTOP, true) }

// Resume lets a paused server run again (SIGCONT).
func (s *RedisServer) Resume() { s.signal(syscall.SIGCONT, false) }

func (s *RedisServer) signal(sig syscall.Signal, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		signalGroup(s.cmd, sig)
		s.paused = paused
	}
}

// answering reports whether the server runs and is not paused.
func (s *RedisServer) answering() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && !s.paused
}

// Running reports whether the server process runs (it may be paused).
func (s *RedisServer) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Restart stops the server if it runs and starts a new, empty one on the same
// port.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Stop()
	// The port was just released; retry briefly in case it is not yet free.
	var err error
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("restarting redis-server on port %d: %v", s.port, err)
}

// start runs redis-server on s.port and waits for it to answer PING.
func (s *RedisServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
	}
	cmd := exec.Command(s.path, append(args, s.extra...)...)
	log := new(bytes.Buffer)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited: %s", lastLines(log.String()))
		default:
		}
		if Ping(s.Addr()) == nil {
			s.cmd, s.done, s.log = cmd, done, log
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server did not answer PING within 10s: %s", lastLines(log.String()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Ping sends PING to the Redis at addr over a plain connection and expects
// +PONG (a server still reading its append-only file answers LOADING, an
// error here). For tests that run a redis-server of their own.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a loopback port nothing listens on; with bus, one whose
// cluster bus port (ten thousand above) is free as well.
func freePort(bus bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		lb, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err != nil {
			continue
		}
		lb.Close()
		return port, nil
	}
	return 0, errors.New("no free port with a free cluster bus port")
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
