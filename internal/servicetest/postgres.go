package servicetest

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
)

// PGServer is a PostgreSQL server that a test started as a child process
// on a loopback port of its own (initdb, or pg_basebackup from another),
// run as the postgres user when the test runs as root (initdb refuses
// root). The role qujat is its superuser, trusted on loopback, also for
// replication. It is stopped and its directory removed when the test ends.
type PGServer struct {
	t    testing.TB
	bin  string
	root string // removed at the end
	data string
	port int
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *logBuffer
}

// StartPostgresPrimary runs initdb and starts a server that streaming
// replicas can follow (wal_level=replica, WAL senders, hot standby on its
// replicas). Without PostgreSQL's binaries it fails the test under
// QUJAT_TEST_REQUIRE_SERVICES=1 and skips it otherwise.
func StartPostgresPrimary(t testing.TB) *PGServer {
	t.Helper()
	bin, err := PGBinDir()
	if err != nil {
		Missing(t, PostgresServer, err.Error())
		return nil
	}
	p := newPGServer(t, bin)
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", "qujat", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = p.root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	p.start()
	Ran(t, PostgresServer)
	return p
}

// StartReplica takes a base backup of p (pg_basebackup -R: it follows p
// by streaming replication) and starts it as a hot standby on a port of
// its own.
func (p *PGServer) StartReplica() *PGServer {
	p.t.Helper()
	r := newPGServer(p.t, p.bin)
	cmd := exec.Command(filepath.Join(p.bin, "pg_basebackup"), "-D", r.data, "-R", "-X", "stream", "--no-sync",
		"-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "qujat", "-c", "fast")
	cmd.Dir = r.root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("pg_basebackup: %v: %s", err, out)
	}
	r.start()
	return r
}

func newPGServer(t testing.TB, bin string) *PGServer {
	t.Helper()
	root, err := os.MkdirTemp("", "qujat-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &PGServer{t: t, bin: bin, root: root, data: filepath.Join(root, "data"), out: &logBuffer{}}
	if err := os.Mkdir(p.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(p.data, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Cleanup(p.Stop)
	return p
}

// PGBinDir finds the directory with initdb, postgres, pg_basebackup and
// pg_ctl: pg_config --bindir, else PostgreSQL 15's directory on Debian.
func PGBinDir() (string, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	dirs = append(dirs, "/usr/lib/postgresql/15/bin")
	for _, d := range dirs {
		ok := true
		for _, b := range []string{"initdb", "postgres", "pg_basebackup", "pg_ctl"} {
			fi, err := os.Stat(filepath.Join(d, b))
			ok = ok && err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
		}
		if ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL's initdb, postgres, pg_basebackup and pg_ctl not found (pg_config --bindir, PostgreSQL 15's directory)")
}

// URL is a connection string for database db (postgres if empty) as the
// superuser qujat.
func (p *PGServer) URL(db string) string {
	if db == "" {
		db = "postgres"
	}
	return fmt.Sprintf("postgres://qujat@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// Port is the server's port.
func (p *PGServer) Port() int { return p.port }

func (p *PGServer) start() {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "wal_level=replica", "-c", "max_wal_senders=5", "-c", "hot_standby=on",
		// fsync off only matters when the machine itself crashes.
		"-c", "fsync=off", "-c", "max_connections=100")
	cmd.Dir = p.root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("postgres: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			p.t.Fatalf("postgres exited: %s", p.out.tail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL(""))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.Stop()
			p.t.Fatalf("postgres did not accept connections: %v: %s", err, p.out.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down (fast: sessions are ended) and waits for it;
// a server that does not stop within 10 s is killed. Stopping a stopped
// server does nothing.
func (p *PGServer) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	signalAll(cmd.Process.Pid, syscall.SIGCONT) // in case it was stalled
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Stall stops the server and every process it started (SIGSTOP) without
// closing a connection: clients wait on it as on a machine that hangs.
// Resume wakes it. Stop wakes a stalled server first.
func (p *PGServer) Stall() { p.signal(syscall.SIGSTOP) }

// Resume wakes a stalled server (SIGCONT).
func (p *PGServer) Resume() { p.signal(syscall.SIGCONT) }

func (p *PGServer) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil {
		signalAll(cmd.Process.Pid, sig)
	}
}

// signalAll sends sig to the postmaster pid and each of its children:
// every backend runs in a session of its own, so a group signal would
// reach the postmaster alone.
func signalAll(pid int, sig syscall.Signal) {
	_ = syscall.Kill(pid, sig)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
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
		// pid (comm) state ppid ...: comm may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			_ = syscall.Kill(child, sig)
		}
	}
}

// Restart starts a stopped server again on the same port and directory.
func (p *PGServer) Restart() {
	p.t.Helper()
	p.start()
}

// Promote makes a replica a primary (pg_ctl promote, waiting until it
// accepts writes).
func (p *PGServer) Promote() {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), "promote", "-w", "-t", "30", "-D", p.data)
	cmd.Dir = p.root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl promote: %v: %s", err, out)
	}
}

// Exec runs sql on database db (postgres if empty) and scans its one row
// into dest, if any.
func (p *PGServer) Exec(db, sql string, dest ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if len(dest) == 0 {
		_, err = conn.Exec(ctx, sql)
		return err
	}
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

// Log is the end of the server's output, for a failure's message.
func (p *PGServer) Log() string { return p.out.tail() }

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		l.b.Reset()
	}
	return l.b.Write(b)
}

func (l *logBuffer) tail() string {
	l.mu.Lock()
	text := l.b.String()
	l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 12 {
		lines = lines[len(lines)-12:]
	}
	return strings.Join(lines, " | ")
}
