// The test bed's application: a small HTTP service instrumented with the Prometheus client library, as
// real services are (http_requests_total and http_request_duration_seconds by code and method, no
// deployment label). Each image tag bakes one behaviour into its environment, the way a real hotfix
// carries its own bug:
//
//	APP_ERROR_RATIO=0.2         answer that share of requests with 500
//	APP_LATENCY_MS=1500         take that long to answer
//	APP_CRASH_AT_START=true     exit 1 before serving (CrashLoopBackOff)
//	APP_EXIT_AFTER=20s          exit 1 after serving that long
//	APP_READY_AFTER=60s|never   fail /readyz until then (never: readiness never passes)
//	APP_LEAK_MB_PER_SECOND=50   grow the heap until the memory limit kills it (OOMKilled)
package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type behaviour struct {
	errorRatio   float64
	latency      time.Duration
	readyAt      time.Time // zero: ready at once
	neverReady   bool
	exitAfter    time.Duration
	leakPerSecMB int
}

func duration(name string) time.Duration {
	value := os.Getenv(name)
	if value == "" {
		return 0
	}
	parsed, err := time.ParseDuration(value)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %s=%q: %v\n", name, value, err)
		os.Exit(2)
	}
	return parsed
}

func number(name string) float64 {
	value := os.Getenv(name)
	if value == "" {
		return 0
	}
	parsed, err := strconv.ParseFloat(value, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %s=%q: %v\n", name, value, err)
		os.Exit(2)
	}
	return parsed
}

func load() behaviour {
	chosen := behaviour{
		errorRatio:   number("APP_ERROR_RATIO"),
		latency:      time.Duration(number("APP_LATENCY_MS")) * time.Millisecond,
		exitAfter:    duration("APP_EXIT_AFTER"),
		leakPerSecMB: int(number("APP_LEAK_MB_PER_SECOND")),
	}
	if os.Getenv("APP_READY_AFTER") == "never" {
		chosen.neverReady = true
	} else {
		chosen.readyAt = time.Now().Add(duration("APP_READY_AFTER"))
	}
	return chosen
}

func (b behaviour) work(w http.ResponseWriter, _ *http.Request) {
	time.Sleep(b.latency)
	if rand.Float64() < b.errorRatio {
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (b behaviour) ready(w http.ResponseWriter, _ *http.Request) {
	if b.neverReady || time.Now().Before(b.readyAt) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// leak keeps what it allocates reachable and touched, so the resident set grows past the container's limit.
func leak(megabytesPerSecond int) {
	var kept [][]byte
	for range time.Tick(time.Second) {
		chunk := make([]byte, megabytesPerSecond<<20)
		for index := range chunk {
			chunk[index] = byte(index)
		}
		kept = append(kept, chunk)
	}
}

func main() {
	if os.Getenv("APP_CRASH_AT_START") == "true" {
		fmt.Fprintln(os.Stderr, "fatal: cannot load configuration: missing key \"database.url\"")
		os.Exit(1)
	}
	chosen := load()
	if chosen.exitAfter > 0 {
		time.AfterFunc(chosen.exitAfter, func() {
			fmt.Fprintf(os.Stderr, "fatal: worker pool exhausted after %s\n", chosen.exitAfter)
			os.Exit(1)
		})
	}
	if chosen.leakPerSecMB > 0 {
		go leak(chosen.leakPerSecMB)
	}
	requests := prometheus.NewCounterVec(
		prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests served, by status code and method."},
		[]string{"code", "method"},
	)
	durations := prometheus.NewHistogramVec(
		prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Request latency, by status code and method.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10},
		},
		[]string{"code", "method"},
	)
	prometheus.MustRegister(requests, durations)
	work := promhttp.InstrumentHandlerDuration(durations,
		promhttp.InstrumentHandlerCounter(requests, http.HandlerFunc(chosen.work)))
	mux := http.NewServeMux()
	mux.Handle("/", work)
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/readyz", chosen.ready)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Println("serving on :8080")
	server := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "fatal:", err)
		os.Exit(1)
	}
}
