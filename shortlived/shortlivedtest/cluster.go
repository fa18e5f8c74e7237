package shortlivedtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/qujat/qujat/internal/servicetest"
)

// ClusterNodeTimeout is the cluster-node-timeout of a test cluster's nodes:
// how long a master may not answer before the others count it as failed
// and its replica takes over (production keeps Redis's 15 s, or a few
// seconds; a test wants the failover soon).
const ClusterNodeTimeout = time.Second

// Cluster is a Redis Cluster on loopback made of redis-server children:
// three masters holding a third of the slots each, and one replica of each
// master, as `redis-cli --cluster create --cluster-replicas 1` lays them out.
type Cluster struct {
	Nodes []*RedisServer // the six nodes, in the order given to redis-cli

	mu      sync.Mutex
	admins  map[string]*redis.Client // one plain client per node address
	cleanup func()
}

// StartCluster starts a Redis Cluster of three masters and three replicas
// (six redis-server processes on free loopback ports, each with a
// directory of its own, joined by redis-cli --cluster create), waits until
// every node reports the cluster ok and every replica is in sync, and stops
// it when the test ends. extraArgs go to every redis-server.
//
// Without redis-server or redis-cli on PATH the test is skipped with a
// notice, or fails when QUJAT_TEST_REQUIRE_SERVICES=1; with -short it is
// skipped.
func StartCluster(t testing.TB, extraArgs ...string) *Cluster {
	t.Helper()
	server, cli, ok := clusterBinaries(t)
	if !ok {
		return nil
	}
	c, err := startCluster(server, cli, t.TempDir, extraArgs)
	if c != nil {
		t.Cleanup(c.Stop)
	}
	if err != nil {
		t.Fatalf("starting a Redis Cluster: %v", err)
	}
	return c
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
	root string
}

// SharedCluster returns one cluster for every test of the package that
// asks, started (as StartCluster) by the first. Tests that use it must not
// break it (kill or pause nodes) and keep to key prefixes of their own
// (UniquePrefix). The package's TestMain must call Main, which stops it.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	server, cli, ok := clusterBinaries(t)
	if !ok {
		return nil
	}
	shared.once.Do(func() {
		shared.root, shared.err = os.MkdirTemp("", "qujat-redis-cluster-")
		if shared.err != nil {
			return
		}
		n := 0
		dir := func() string {
			n++
			d := filepath.Join(shared.root, strconv.Itoa(n))
			if err := os.Mkdir(d, 0o700); err != nil {
				panic(err)
			}
			return d
		}
		shared.c, shared.err = startCluster(server, cli, dir, nil)
	})
	if shared.err != nil {
		t.Fatalf("starting the shared Redis Cluster: %v", shared.err)
	}
	return shared.c
}

// Main runs the package's tests and then stops the cluster SharedCluster
// started, if any. Call it from TestMain: func TestMain(m *testing.M) {
// shortlivedtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
	os.Exit(code)
}

// clusterBinaries finds redis-server and redis-cli, recording the test for
// make test's summary, or skips (or fails) it.
func clusterBinaries(t testing.TB) (server, cli string, ok bool) {
	t.Helper()
	if testing.Short() {
		servicetest.Skip(t, servicetest.RedisCluster, "skipped with -short: the test starts a Redis Cluster of its own")
		return "", "", false
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		servicetest.Missing(t, servicetest.RedisCluster, "redis-server is not on PATH, so tests on a Redis Cluster do not run")
		return "", "", false
	}
	cli, err = exec.LookPath("redis-cli")
	if err != nil {
		servicetest.Missing(t, servicetest.RedisCluster, "redis-cli is not on PATH, so tests on a Redis Cluster do not run")
		return "", "", false
	}
	servicetest.Ran(t, servicetest.RedisCluster)
	return server, cli, true
}

// startCluster starts the six nodes (each in dir()), creates the cluster
// and waits until it is healthy. On error the returned cluster, if any,
// still has nodes to stop.
func startCluster(server, cli string, dir func() string, extraArgs []string) (*Cluster, error) {
	args := append([]string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
		// A test cluster has one replica per master; let any of them take
		// over whatever its lag, as a test kills masters on purpose.
		"--cluster-replica-validity-factor", "0",
		// A new replica's first sync starts at once, not after Redis's
		// default five seconds of waiting for more replicas.
		"--repl-diskless-sync-delay", "0",
		// CLUSTER SLOTS lists a replica only once it has reported a
		// replication offset, which an idle master moves by pinging its
		// replicas: every second, not Redis's default ten.
		"--repl-ping-replica-period", "1",
	}, extraArgs...)
	c := &Cluster{admins: map[string]*redis.Client{}}
	for range 6 {
		n, err := launchRedis(server, dir(), true, args)
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	create := append([]string{"--cluster", "create"}, c.Addrs()...)
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput()
	if err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %v: %s", err, lastLines(string(out)))
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// Addrs returns the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns the nodes' addresses separated by commas, as QUJAT_REDIS_URL
// names a cluster (and redisstore.Open takes it).
func (c *Cluster) URL() string { return strings.Join(c.Addrs(), ",") }

// Stop stops every node.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Go(n.Stop)
	}
	wg.Wait()
	c.mu.Lock()
	for _, a := range c.admins {
		a.Close()
	}
	c.admins = map[string]*redis.Client{}
	c.mu.Unlock()
}

// admin returns a plain (non-cluster) client of node n, for commands about
// the node itself.
func (c *Cluster) admin(n *RedisServer) *redis.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.admins[n.Addr()]
	if !ok {
		a = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1,
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
		c.admins[n.Addr()] = a
	}
	return a
}

func (c *Cluster) node(addr string) *RedisServer {
	for _, n := range c.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// MasterOf returns the node that is master of key's slot, as a running
// node (not paused) sees the cluster now.
func (c *Cluster) MasterOf(ctx context.Context, key string) (*RedisServer, error) {
	var lastErr error
	for _, n := range c.Nodes {
		if !n.answering() {
			continue
		}
		a := c.admin(n)
		slot, err := a.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			lastErr = err
			continue
		}
		slots, err := a.ClusterSlots(ctx).Result()
		if err != nil {
			lastErr = err
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				if m := c.node(s.Nodes[0].Addr); m != nil {
					return m, nil
				}
				return nil, fmt.Errorf("slot %d is served by %s, not a node of this cluster", slot, s.Nodes[0].Addr)
			}
		}
		return nil, fmt.Errorf("no node serves slot %d", slot)
	}
	if lastErr == nil {
		lastErr = errors.New("no node is running")
	}
	return nil, lastErr
}

// WaitMasterChange waits until key's slot is served by a running master
// other than old, every running node reports the cluster ok, and that
// master answers for key; it returns the new master.
func (c *Cluster) WaitMasterChange(ctx context.Context, key string, old *RedisServer) (*RedisServer, error) {
	var last string
	for {
		m, err := c.MasterOf(ctx, key)
		switch {
		case err != nil:
			last = err.Error()
		case m == old || !m.answering():
			last = "the old master still serves the slot"
		default:
			if err := c.allOK(ctx); err != nil {
				last = err.Error()
			} else if err := c.admin(m).Exists(ctx, key).Err(); err != nil { // MOVED unless it serves the slot
				last = err.Error()
			} else {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no failover of %q: %s", key, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReplicated waits until every running master's replicas have
// received everything the master had written when it was called.
func (c *Cluster) WaitReplicated(ctx context.Context) error {
	for _, n := range c.Nodes {
		if !n.answering() {
			continue
		}
		a := c.admin(n)
		info, err := a.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:master") {
			continue
		}
		target := infoInt(info, "master_repl_offset")
		for {
			info, err := a.Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			behind := infoInt(info, "connected_slaves") == 0
			for _, line := range strings.Split(info, "\n") {
				if strings.HasPrefix(line, "slave") && strings.Contains(line, "offset=") {
					off := line[strings.Index(line, "offset=")+len("offset="):]
					off, _, _ = strings.Cut(off, ",")
					if v, _ := strconv.ParseInt(strings.TrimSpace(off), 10, 64); v < target {
						behind = true
					}
				}
			}
			if !behind {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the replicas of %s did not catch up: %v", n.Addr(), ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// infoInt reads field's integer from an INFO answer (0 if absent).
func infoInt(info, field string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// RestartNode starts a killed node again on its port and directory: it
// reads its nodes.conf, rejoins the cluster and, if a replica took over
// meanwhile, becomes that master's replica.
func (c *Cluster) RestartNode(n *RedisServer) error {
	var err error
	for range 20 {
		if err = n.start(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// WaitHealthy waits until every node runs and reports the cluster ok, there
// are three masters each with a replica whose link is up, and all nodes
// agree on that.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		if last = c.healthy(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster is not healthy: %v", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) allOK(ctx context.Context) error {
	for _, n := range c.Nodes {
		if !n.answering() {
			continue
		}
		info, err := c.admin(n).ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: %v", n.Addr(), err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s does not report cluster_state:ok", n.Addr())
		}
	}
	return nil
}

func (c *Cluster) healthy(ctx context.Context) error {
	for _, n := range c.Nodes {
		if !n.Running() {
			return fmt.Errorf("%s is not running", n.Addr())
		}
	}
	if err := c.allOK(ctx); err != nil {
		return err
	}
	var view string
	for _, n := range c.Nodes {
		a := c.admin(n)
		slots, err := a.ClusterSlots(ctx).Result()
		if err != nil {
			return err
		}
		var b strings.Builder
		masters := map[string]bool{}
		for _, s := range slots {
			if len(s.Nodes) != 2 {
				return fmt.Errorf("%s: slots %d-%d have %d nodes, want a master and a replica", n.Addr(), s.Start, s.End, len(s.Nodes))
			}
			masters[s.Nodes[0].Addr] = true
			fmt.Fprintf(&b, "%d-%d:%s>%s ", s.Start, s.End, s.Nodes[0].Addr, s.Nodes[1].Addr)
		}
		if len(masters) != 3 {
			return fmt.Errorf("%s sees %d masters, want 3", n.Addr(), len(masters))
		}
		if view == "" {
			view = b.String()
		} else if view != b.String() {
			return fmt.Errorf("nodes disagree about the slots: %s / %s", view, b.String())
		}
		repl, err := a.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync with its master", n.Addr())
		}
	}
	return nil
}
