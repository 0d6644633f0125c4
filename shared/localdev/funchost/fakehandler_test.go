package funchost

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The test binary doubles as a scriptable custom handler: when FUNCHOST_FAKE_HANDLER is set,
// TestMain runs fakeHandler instead of the tests. It records every request it receives (one JSON
// line per request in $FAKE_RECORD) and answers according to the path.
func TestMain(m *testing.M) {
	if os.Getenv("FUNCHOST_FAKE_HANDLER") == "1" {
		fakeHandler()
		return
	}
	os.Exit(m.Run())
}

// recorded is one request as the fake handler saw it.
type recorded struct {
	Pid     int                 `json:"pid"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

func fakeHandler() {
	var mu sync.Mutex
	rec, err := os.OpenFile(os.Getenv("FAKE_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("fake handler starting")
	fmt.Fprintln(os.Stderr, "fake handler stderr line")
	var deaf atomic.Bool
	var srv *http.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNotFound) // any answer counts as ready, even 404
			return
		}
		body, _ := io.ReadAll(r.Body)
		line, _ := json.Marshal(recorded{Pid: os.Getpid(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Headers: r.Header, Body: string(body)})
		mu.Lock()
		_, _ = rec.Write(append(line, '\n'))
		mu.Unlock()
		answerJSON := func(status int, v string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, v)
		}
		switch {
		case r.URL.Path == "/Crash":
			os.Exit(3)
		case r.URL.Path == "/Deaf": // drop every connection and stop listening, but stay alive
			deaf.Store(true)
			go srv.Close()
			<-r.Context().Done()
		case r.URL.Path == "/Slow":
			<-r.Context().Done()
		case r.URL.Path == "/NoContentType":
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"Outputs":{}}`)
		case r.URL.Path == "/Empty":
			w.Header().Set("Content-Type", "application/json")
		case r.URL.Path == "/SbFail":
			answerJSON(http.StatusInternalServerError, `{"Outputs":{},"Logs":["simulated failure"]}`)
		case r.URL.Path == "/Payload":
			var p struct {
				Data struct {
					Req struct {
						Method string
						Params map[string]string
						Body   string
					} `json:"req"`
				}
			}
			_ = json.Unmarshal(body, &p)
			res, _ := json.Marshal(map[string]any{"statusCode": 207, "headers": map[string]string{"X-Echo": p.Data.Req.Params["id"]}, "body": p.Data.Req.Method + ":" + p.Data.Req.Body})
			answerJSON(http.StatusOK, `{"Outputs":{"res":`+string(res)+`},"Logs":[],"ReturnValue":null}`)
		case r.URL.Path == "/api/slow": // never answers (until the host stops the handler)
			<-r.Context().Done()
		case strings.HasPrefix(r.URL.Path, "/api/cookies"):
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			w.Header().Set("X-Custom", "yes")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "made")
		case strings.HasPrefix(r.URL.Path, "/api/redirect"):
			http.Redirect(w, r, "/api/elsewhere?x=1", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/api/"):
			answerJSON(http.StatusOK, `{"echo":true}`)
		default:
			answerJSON(http.StatusOK, `{"Outputs":{},"Logs":["ok from `+strings.Trim(r.URL.Path, "/")+`"],"ReturnValue":null}`)
		}
	})
	srv = &http.Server{Addr: "127.0.0.1:" + os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), Handler: mux}
	_ = srv.ListenAndServe()
	if deaf.Load() {
		select {} // alive and silent until killed
	}
}
