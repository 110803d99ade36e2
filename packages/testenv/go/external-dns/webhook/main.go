// Command webhook serves external-dns's webhook provider HTTP API (its provider/webhook/api
// server, unchanged) in front of one of external-dns's own providers: the in-memory one, or
// RFC2136 on a real DNS server. Tests use it as a real webhook sidecar.
//
//	webhook --listen 127.0.0.1:8888 --health 127.0.0.1:8080 -- --provider=inmemory --inmemory-zone=example.org
//
// Flags after `--` are external-dns's own (the provider and its settings, --domain-filter).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/provider"
	"sigs.k8s.io/external-dns/provider/inmemory"
	"sigs.k8s.io/external-dns/provider/rfc2136"
	webhookapi "sigs.k8s.io/external-dns/provider/webhook/api"
)

var providers = map[string]func(context.Context, *externaldns.Config, *endpoint.DomainFilter) (provider.Provider, error){
	externaldns.ProviderInMemory: inmemory.New,
	externaldns.ProviderRFC2136:  rfc2136.New,
}

// serialized runs one call at a time: external-dns calls a provider from one loop, and its
// in-memory provider keeps plain maps, which concurrent requests to the API server would
// read and write at once (a Go fatal error).
type serialized struct {
	provider.Provider
	mu sync.Mutex
}

func (s *serialized) Records(ctx context.Context) ([]*endpoint.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Provider.Records(ctx)
}

func (s *serialized) ApplyChanges(ctx context.Context, changes *plan.Changes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Provider.ApplyChanges(ctx, changes)
}

func (s *serialized) AdjustEndpoints(eps []*endpoint.Endpoint) ([]*endpoint.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Provider.AdjustEndpoints(eps)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8888", "address of the webhook provider API")
	health := flag.String("health", "127.0.0.1:8080", "address of /healthz")
	flag.Parse()

	cfg := externaldns.NewConfig()
	// external-dns's parser requires a source; a webhook server has none (as in its
	// --webhook-server mode, where the value is ignored too).
	if err := cfg.ParseFlags(append([]string{"--source=fake"}, flag.Args()...)); err != nil {
		log.Fatalf("external-dns flags: %v", err)
	}
	newProvider, ok := providers[cfg.Provider]
	if !ok {
		log.Fatalf("--provider=%s: only inmemory and rfc2136 are built in", cfg.Provider)
	}
	domainFilter := endpoint.NewDomainFilterWithOptions(
		endpoint.WithDomainFilter(cfg.DomainFilter),
		endpoint.WithDomainExclude(cfg.DomainExclude),
	)
	p, err := newProvider(context.Background(), cfg, domainFilter)
	if err != nil {
		log.Fatalf("provider %s: %v", cfg.Provider, err)
	}

	go func() {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) })
		log.Fatal(http.ListenAndServe(*health, mux))
	}()
	started := make(chan struct{}, 1)
	go func() {
		<-started
		// The line tests wait for: the API listens.
		fmt.Fprintf(os.Stderr, "webhook listening on %s\n", *listen)
	}()
	webhookapi.StartHTTPApi(&serialized{Provider: p}, started, 10*time.Second, 10*time.Second, *listen)
}
