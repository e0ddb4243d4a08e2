package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/slipway-dev/slipway/internal/config"
)

func testConfig() config.Config {
	return config.Config{
		Addr: "127.0.0.1:0", LogLevel: slog.LevelInfo, LogFormat: "json",
		ShutdownTimeout: 5 * time.Second, DrainDelay: 0, ReadHeaderTimeout: 300 * time.Millisecond,
	}
}

// live is a real server on a loopback port, stopped at the end of the test.
type live struct {
	url   string
	addr  string
	stop  context.CancelFunc // what SIGTERM does in main
	wait  func() error       // Serve's result, once it has returned
	logs  *syncBuffer
	admin string // the admin listener's URL, when cfg.AdminAddr is set
}

// start runs New(cfg) after tweak, if given, has changed it.
func start(t *testing.T, cfg config.Config, tweak ...func(*Server)) *live {
	t.Helper()
	ln := listen(t)
	var admin net.Listener
	l := &live{url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), logs: &syncBuffer{}}
	if cfg.AdminAddr != "" {
		admin = listen(t)
		l.admin = "http://" + admin.Addr().String()
	}
	s := New(cfg, slog.New(slog.NewJSONHandler(l.logs, nil)))
	for _, f := range tweak {
		f(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, admin) }()
	l.stop, l.wait = cancel, sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		cancel()
		_ = l.wait() // tests that care about the result check it themselves
	})
	return l
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func do(t *testing.T, method, url, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestRoutes(t *testing.T) {
	l := start(t, testConfig())
	long := strings.Repeat("a", maxNameLen+1)
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/healthz", "", 200, `"ok"`},
		{"GET", "/readyz", "", 200, `"ready"`},
		{"GET", "/version", "", 200, `"go":"go1.`},
		{"GET", "/v1/greet?name=Ada", "", 200, `{"message":"Hello, Ada!"}`},
		{"GET", "/v1/greet?name=Jos%C3%A9%20O%27Neil", "", 200, `Hello, José O'Neil!`},
		{"POST", "/v1/greet", `{"name":"Ada"}`, 200, `{"message":"Hello, Ada!"}`},
		{"GET", "/v1/greet", "", 400, `"error":"name is required"`},
		{"GET", "/v1/greet?name=" + long, "", 400, "longer than 64"},
		{"GET", "/v1/greet?name=%3Cscript%3E", "", 400, "not allowed"},
		{"POST", "/v1/greet", `{"name":`, 400, "malformed JSON"},
		{"POST", "/v1/greet", `{"name":"Ada","admin":true}`, 400, "unknown field"},
		{"POST", "/v1/greet", `{"name":"Ada"}{"name":"Bob"}`, 400, "nothing after it"},
		{"POST", "/v1/greet", `{"name":"Ada"}}`, 400, "nothing after it"},
		{"POST", "/v1/greet", `["Ada"]`, 400, "malformed JSON"},
		{"POST", "/v1/greet", `{"name":42}`, 400, "malformed JSON"},
		{"POST", "/v1/greet", ``, 400, "the body is empty"},
		{"POST", "/v1/greet", `{"name":"Ada\u0000"}`, 400, "not allowed"},
		{"POST", "/v1/greet", `{"name":"` + strings.Repeat("a", maxBody) + `"}`, 413, "request body over"},
		{"DELETE", "/v1/greet", "", 405, "use GET, HEAD, POST"},
		{"POST", "/healthz", "", 405, "use GET"},
		{"GET", "/nope", "", 404, "no such path: /nope"},
	}
	for _, c := range cases {
		status, hdr, body := do(t, c.method, l.url+c.path, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s = %d %s; want %d containing %s", c.method, c.path, status, trunc(body), c.status, c.want)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
		if status >= 400 && !json.Valid([]byte(body)) {
			t.Errorf("%s %s: error body is not JSON: %s", c.method, c.path, trunc(body))
		}
	}
}

// A body of unknown length (chunked) is cut off at the limit too, not only a declared one.
func TestChunkedOversizeBodyGets413(t *testing.T) {
	l := start(t, testConfig())
	body := io.MultiReader(strings.NewReader(`{"name":"`), io.LimitReader(repeatA{}, maxBody+1024), strings.NewReader(`"}`))
	resp, err := http.Post(l.url+"/v1/greet", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Allow") != "" {
		t.Fatalf("chunked body over %d bytes answered %s", maxBody, resp.Status)
	}
}

type repeatA struct{}

func (repeatA) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestRequestIDAndAccessLog(t *testing.T) {
	l := start(t, testConfig())
	_, hdr, _ := do(t, "GET", l.url+"/healthz", "", "X-Request-ID", "abc-123")
	if hdr.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("sane incoming ID not kept: %q", hdr.Get("X-Request-ID"))
	}
	_, hdr, _ = do(t, "GET", l.url+"/healthz", "", "X-Request-ID", "bad id\" injected")
	if got := hdr.Get("X-Request-ID"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("unsafe incoming ID not replaced: %q", got)
	}
	var line map[string]any
	for _, s := range strings.Split(l.logs.String(), "\n") {
		if strings.Contains(s, `"request_id":"abc-123"`) {
			if err := json.Unmarshal([]byte(s), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line["msg"] != "request" || line["route"] != "GET /healthz" || line["status"] != float64(200) || line["method"] != "GET" {
		t.Fatalf("access log line = %v\nlogs:\n%s", line, l.logs.String())
	}
}

func TestMetricsExposition(t *testing.T) {
	l := start(t, testConfig())
	do(t, "GET", l.url+"/v1/greet?name=Ada", "")
	do(t, "GET", l.url+"/v1/greet", "")
	for i := 0; i < 3; i++ {
		do(t, "GET", fmt.Sprintf("%s/random/%d", l.url, i), "") // must not mint a series per path
	}
	_, _, body := do(t, "GET", l.url+"/metrics", "")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "http_requests_total", "http_request_duration_seconds"} {
		if families[name] == nil {
			t.Errorf("no %s family", name)
		}
	}
	series := map[string]float64{}
	for _, m := range families["http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		series[labels["route"]+"|"+labels["method"]+"|"+labels["code"]] = m.GetCounter().GetValue()
	}
	for key, want := range map[string]float64{"GET /v1/greet|GET|200": 1, "GET /v1/greet|GET|400": 1, "unmatched|GET|404": 3} {
		if series[key] != want {
			t.Errorf("http_requests_total{%s} = %v, want %v (all: %v)", key, series[key], want, series)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /fine", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "fine") })
	ln := listen(t)
	srv := &http.Server{Handler: chain(mux, log, newHTTPMetrics(prometheus.NewRegistry())), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "http://" + ln.Addr().String()

	status, _, body := do(t, "GET", url+"/boom", "")
	if status != 500 || !strings.Contains(body, `"error":"internal error"`) {
		t.Fatalf("panic answered %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", url+"/fine", ""); status != 200 {
		t.Fatalf("server stopped serving after a panic: %d", status)
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), "goroutine") {
		t.Fatalf("panic not logged with a stack:\n%s", logs.String())
	}
}

func TestOversizeHeaderGets431(t *testing.T) {
	l := start(t, testConfig())
	status, _, _ := do(t, "GET", l.url+"/healthz", "", "X-Big", strings.Repeat("x", 2<<20))
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("2 MiB header answered %d, want 431", status)
	}
}

func TestSlowlorisIsDisconnected(t *testing.T) {
	l := start(t, testConfig()) // ReadHeaderTimeout 300ms
	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// Never finish the headers. The server must hang up within its timeout, not wait forever.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() { //nolint:errorlint // a deadline error is never wrapped here
		t.Fatal("server kept a connection with unfinished headers open past 5s")
	}
}

// The shutdown sequence as a load balancer sees it: a health checker polls /readyz, clients stop
// sending once it turns 503, and the drain delay covers the gap, so no request fails. A request
// whose body is still arriving when the signal lands, and still arriving after the listener has
// closed, is answered normally.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = 500 * time.Millisecond // far more than the poll interval below
	l := start(t, cfg)

	slow, conn := slowGreet(t, l.addr)

	var lbOut atomic.Bool // the load balancer has taken this replica out
	var wg sync.WaitGroup
	wg.Go(func() {
		for !lbOut.Load() {
			resp, err := http.Get(l.url + "/readyz")
			if err != nil {
				t.Errorf("readiness probe failed while draining: %v", err)
				lbOut.Store(true)
				return
			}
			resp.Body.Close()
			lbOut.Store(resp.StatusCode == http.StatusServiceUnavailable)
			time.Sleep(5 * time.Millisecond)
		}
	})
	var ok, failed atomic.Int64
	for range 8 {
		wg.Go(func() {
			for !lbOut.Load() {
				resp, err := http.Get(l.url + "/v1/greet?name=Load")
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed during shutdown: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					t.Errorf("request during shutdown answered %s", resp.Status)
				}
				ok.Add(1)
			}
		})
	}
	waitFor(t, "load to build up", func() bool { return ok.Load() >= 50 })
	l.stop()
	wg.Wait()

	// Shutdown has begun once the listener refuses new connections. Only then send the rest.
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", l.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if _, err := io.WriteString(conn, `"Slow"}`); err != nil {
		t.Fatal(err)
	}
	if err := <-slow; err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if err := l.wait(); err != nil {
		t.Fatalf("Serve after a clean shutdown: %v", err)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), ok.Load()+failed.Load())
	}
	t.Logf("%d requests under load into the shutdown, none failed", ok.Load())
}

// A request that outlives --shutdown-timeout is cut off and Serve says so, naming the setting.
func TestShutdownTimeoutIsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.ShutdownTimeout = 200 * time.Millisecond
	l := start(t, cfg)
	slow, _ := slowGreet(t, l.addr) // never finished

	l.stop()
	err := l.wait()
	if err == nil || !strings.Contains(err.Error(), "--shutdown-timeout 200ms") {
		t.Fatalf("Serve = %v, want a shutdown timeout error", err)
	}
	if err := <-slow; err == nil {
		t.Fatal("the cut-off request got an answer")
	}
}

// slowGreet sends POST /v1/greet with half its body and returns once the handler is reading
// it (the server's "100 Continue" says so), so the request is certainly in flight. Writing
// `"Slow"}` to the connection completes the body; result then gets nil if the answer is the
// expected greeting.
func slowGreet(t *testing.T, addr string) (result <-chan error, conn net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	const body = `{"name":"Slow"}`
	fmt.Fprintf(conn, "POST /v1/greet HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n{\"name\":", len(body))
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", resp, err)
	}
	res := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "Hello, Slow!") {
				err = fmt.Errorf("answered %d %s", resp.StatusCode, b)
			}
		}
		res <- err
	}()
	return res, conn
}

// waitFor polls cond: tests wait for events, not for fixed times.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAdminListener(t *testing.T) {
	cfg := testConfig()
	cfg.AdminAddr = "127.0.0.1:0"
	l := start(t, cfg)
	do(t, "GET", l.url+"/v1/greet?name=Ada", "")
	if status, _, body := do(t, "GET", l.admin+"/metrics", ""); status != 200 || !strings.Contains(body, `http_requests_total{code="200",method="GET",route="GET /v1/greet"} 1`) {
		t.Fatalf("admin /metrics = %d %s", status, trunc(body))
	}
	if status, _, body := do(t, "GET", l.admin+"/debug/pprof/goroutine?debug=1", ""); status != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("admin pprof = %d %s", status, trunc(body))
	}
	if status, _, _ := do(t, "GET", l.url+"/debug/pprof/", ""); status != 404 {
		t.Fatalf("pprof is reachable on the public listener: %d", status)
	}
}

// The documented limit (README: "a 1 MiB body limit"), pinned by its value rather than derived
// from the constant, and enforced at the exact byte: 1 MiB is read, 1 MiB + 1 is refused,
// whether the excess comes before the object or after it.
func TestBodyLimitIsExactlyOneMiB(t *testing.T) {
	if maxBody != 1<<20 {
		t.Fatalf("maxBody = %d, the documented limit is 1 MiB (%d)", maxBody, 1<<20)
	}
	l := start(t, testConfig())
	const object = `{"name":"Ada"}`
	for _, tc := range []struct {
		size   int
		status int
	}{{1 << 20, 200}, {1<<20 + 1, 413}} {
		pad := strings.Repeat(" ", tc.size-len(object))
		for where, body := range map[string]string{"after": object + pad, "before": pad + object} {
			resp, err := http.Post(l.url+"/v1/greet", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%d-byte body (whitespace %s the object) answered %d %s, want %d", len(body), where, resp.StatusCode, b, tc.status)
			}
		}
	}
}

// encoding/json's messages name Go types and struct fields; the client gets the JSON field and
// the JSON type it wants.
func TestJSONErrorsNameFieldsNotGoTypes(t *testing.T) {
	l := start(t, testConfig())
	long := strings.Repeat("k", 100<<10)
	for _, tc := range []struct{ body, want string }{
		{`{"name":42}`, `malformed JSON: field "name" must be a string, not a number`},
		{`{"name":true}`, `field "name" must be a string, not a bool`},
		{`{"name":{"first":"Ada"}}`, `field "name" must be a string, not an object`},
		{`{"name":["Ada"]}`, `field "name" must be a string, not an array`},
		{`["Ada"]`, `the body must be an object such as {"name":"Ada"}, not an array`},
		{`"Ada"`, `not a string`},
		{`{"name":"Ada",}`, "malformed JSON at byte 15: invalid character '}'"},
		{`{"name":`, "ends in the middle of a value"},
		{`{"admin":true}`, `malformed JSON: unknown field "admin"`},
		{`{"` + long + `":1}`, `malformed JSON: unknown field "kkk`},
	} {
		status, _, body := do(t, "POST", l.url+"/v1/greet", tc.body)
		var e errorBody
		if err := json.Unmarshal([]byte(body), &e); err != nil || status != 400 {
			t.Errorf("%s: %d %s", trunc(tc.body), status, trunc(body))
			continue
		}
		if !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: error %q, want %q", trunc(tc.body), trunc(e.Error), tc.want)
		}
		for _, leak := range []string{"Go ", "struct", "greetRequest", "server.", "of type", "json: "} {
			if strings.Contains(e.Error, leak) {
				t.Errorf("%s: error %q leaks %q", trunc(tc.body), trunc(e.Error), leak)
			}
		}
		if len(e.Error) > 2*maxEchoed {
			t.Errorf("%s: a %d-byte error echoes the client's input unbounded", trunc(tc.body), len(e.Error))
		}
	}
}

// A client-chosen path or method is repeated in the access log and the error body, each cut to
// maxEchoed bytes and marked with its length: a 60 KB path no longer makes a 60 KB log line.
func TestLongPathAndMethodAreBoundedInLogsAndBodies(t *testing.T) {
	l := start(t, testConfig())
	path := "/" + strings.Repeat("p", 60<<10)
	method := strings.Repeat("M", 60<<10)
	for _, tc := range []struct {
		method, path, echoed string
		status               int
	}{
		{"GET", path, path, 404},
		{method, "/healthz", method, 405},
	} {
		id := fmt.Sprintf("long-%d", tc.status)
		status, _, body := do(t, tc.method, l.url+tc.path, "", "X-Request-ID", id)
		marker := fmt.Sprintf("...(%d bytes)", len(tc.echoed))
		if status != tc.status || !strings.Contains(body, tc.echoed[:maxEchoed]+marker) || len(body) > 1024 {
			t.Errorf("%d-byte %s: answered %d with %d bytes, want %d bounded, ending in %q: %s",
				len(tc.echoed), http.StatusText(tc.status), status, len(body), tc.status, marker, trunc(body))
		}
		var line string
		for _, s := range strings.Split(l.logs.String(), "\n") {
			if strings.Contains(s, `"request_id":"`+id+`"`) {
				line = s
			}
		}
		if line == "" || len(line) > 1024 || !strings.Contains(line, marker) {
			t.Errorf("%d-byte %s: access log line of %d bytes, want at most 1024 with %q: %s", len(tc.echoed),
				http.StatusText(tc.status), len(line), marker, trunc(line))
		}
		t.Logf("%d-byte %s: %d-byte answer, %d-byte log line", len(tc.echoed), http.StatusText(tc.status), len(body), len(line))
	}
	// A cut never splits a character: the JSON log stays valid UTF-8 without replacement runes.
	if got := clip(strings.Repeat("a", maxEchoed-1) + "é" + strings.Repeat("b", 10)); !strings.HasPrefix(got, strings.Repeat("a", maxEchoed-1)+"...(") {
		t.Errorf("clip split a character: %q", got)
	}
}

// The admin listener (pprof) has the public one's limits: a client slow with its headers or its
// body, or idle on a kept-alive connection, is cut off there too. The limits are shortened here
// so that each can be watched firing; both servers are built by one function from the same values.
func TestAdminListenerHasTheSameTimeouts(t *testing.T) {
	cfg := testConfig()
	cfg.AdminAddr = "127.0.0.1:0"
	l := start(t, cfg, func(s *Server) {
		s.timeouts = timeouts{readHeader: 300 * time.Millisecond, read: 500 * time.Millisecond, write: 500 * time.Millisecond, idle: 500 * time.Millisecond}
	})
	for name, addr := range map[string]string{"public": l.addr, "admin": strings.TrimPrefix(l.admin, "http://")} {
		post := "/v1/greet"
		if name == "admin" {
			post = "/debug/pprof/symbol" // reads its body
		}
		for what, send := range map[string]string{
			"unfinished headers": "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
			"unfinished body":    "POST " + post + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
			"idle keep-alive":    "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
		} {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(conn, send); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, conn) // returns when the server hangs up
			conn.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() { //nolint:errorlint // a deadline error is never wrapped here
				t.Errorf("%s listener: a client with %s kept its connection past 5s", name, what)
			}
		}
	}
	// pprof lengthens its own write deadline by the duration asked for: a CPU profile longer
	// than the write timeout still arrives whole.
	resp, err := http.Get(l.admin + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(b) == 0 {
		t.Fatalf("a 1s CPU profile under a 500ms write timeout: %d, %d bytes, %v", resp.StatusCode, len(b), err)
	}
}
