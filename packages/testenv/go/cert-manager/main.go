// A cert-manager v1 controller built from the root module's own packages: the module proxy
// does not serve cert-manager's cmd/controller module, so this one declares its path (which
// lets it import the root module's internal/ packages) and starts the controllers the real
// binary enables by default, configured from cert-manager's own ControllerConfiguration
// defaults. Only the flags the tests use are offered, under the real binary's names.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/controller/scheme"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	_ "github.com/cert-manager/cert-manager/internal/controller/feature"
	cmv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

// loadConfig returns the configuration the real binary starts from (its defaults), with the
// offered flags applied.
func loadConfig(args []string) (*config.ControllerConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	external := &cmv1alpha1.ControllerConfiguration{}
	scheme.Default(external)
	cfg := &config.ControllerConfiguration{}
	if err := scheme.Convert(external, cfg, nil); err != nil {
		return nil, err
	}
	shim := &cfg.IngressShimConfig
	fs := pflag.NewFlagSet("cert-manager-controller", pflag.ContinueOnError)
	fs.StringVar(&cfg.KubeConfig, "kubeconfig", cfg.KubeConfig, "path to a kubeconfig")
	fs.StringVar(&cfg.Namespace, "namespace", cfg.Namespace, "only watch this namespace")
	fs.StringVar(&cfg.ClusterResourceNamespace, "cluster-resource-namespace", cfg.ClusterResourceNamespace, "namespace of ClusterIssuer secrets")
	fs.StringSliceVar(&cfg.Controllers, "controllers", defaults.DefaultEnabledControllers, "controllers to run")
	fs.StringVar(&shim.DefaultIssuerName, "default-issuer-name", shim.DefaultIssuerName, "ingress-shim default issuer name")
	fs.StringVar(&shim.DefaultIssuerKind, "default-issuer-kind", shim.DefaultIssuerKind, "ingress-shim default issuer kind")
	fs.StringVar(&shim.DefaultIssuerGroup, "default-issuer-group", shim.DefaultIssuerGroup, "ingress-shim default issuer group")
	fs.StringSliceVar(&shim.DefaultAutoCertificateAnnotations, "auto-certificate-annotations", shim.DefaultAutoCertificateAnnotations, "annotations that ask for a certificate with the default issuer")
	fs.BoolVar(&cfg.EnableCertificateOwnerRef, "enable-certificate-owner-ref", cfg.EnableCertificateOwnerRef, "make Certificates owners of their Secrets")
	fs.StringSliceVar(&cfg.ACMEDNS01Config.RecursiveNameservers, "dns01-recursive-nameservers", cfg.ACMEDNS01Config.RecursiveNameservers, "host:port of DNS-01 self-check resolvers")
	fs.BoolVar(&cfg.ACMEDNS01Config.RecursiveNameserversOnly, "dns01-recursive-nameservers-only", cfg.ACMEDNS01Config.RecursiveNameserversOnly, "check DNS-01 propagation at the recursive nameservers only")
	fs.IntVar(&cfg.NumberOfConcurrentWorkers, "concurrent-workers", cfg.NumberOfConcurrentWorkers, "workers per controller")
	fs.StringVar(&cfg.HealthzListenAddress, "healthz-listen-address", cfg.HealthzListenAddress, "address of /livez, answered once every controller runs")
	return cfg, fs.Parse(args)
}

// contextOptions maps the configuration onto the controllers' options as the real binary does.
func contextOptions(cfg *config.ControllerConfiguration) (controller.ContextOptions, error) {
	quantities := map[string]*resource.Quantity{}
	for _, q := range []string{
		cfg.ACMEHTTP01Config.SolverResourceRequestCPU, cfg.ACMEHTTP01Config.SolverResourceRequestMemory,
		cfg.ACMEHTTP01Config.SolverResourceLimitsCPU, cfg.ACMEHTTP01Config.SolverResourceLimitsMemory,
	} {
		parsed, err := resource.ParseQuantity(q)
		if err != nil {
			return controller.ContextOptions{}, fmt.Errorf("acmeHTTP01Config: %q: %w", q, err)
		}
		quantities[q] = &parsed
	}
	http := cfg.ACMEHTTP01Config
	return controller.ContextOptions{
		Kubeconfig:         cfg.KubeConfig,
		KubernetesAPIQPS:   cfg.KubernetesAPIQPS,
		KubernetesAPIBurst: cfg.KubernetesAPIBurst,
		Namespace:          cfg.Namespace,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace:        cfg.ClusterResourceNamespace,
			ClusterIssuerAmbientCredentials: cfg.ClusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        cfg.IssuerAmbientCredentials,
		},
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverImage:                 http.SolverImage,
			HTTP01SolverResourceRequestCPU:    *quantities[http.SolverResourceRequestCPU],
			HTTP01SolverResourceRequestMemory: *quantities[http.SolverResourceRequestMemory],
			HTTP01SolverResourceLimitsCPU:     *quantities[http.SolverResourceLimitsCPU],
			HTTP01SolverResourceLimitsMemory:  *quantities[http.SolverResourceLimitsMemory],
			ACMEHTTP01SolverRunAsNonRoot:      http.SolverRunAsNonRoot,
			HTTP01SolverNameservers:           http.SolverNameservers,
			DNS01CheckAuthoritative:           !cfg.ACMEDNS01Config.RecursiveNameserversOnly,
			DNS01Nameservers:                  cfg.ACMEDNS01Config.RecursiveNameservers,
			DNS01CheckRetryPeriod:             cfg.ACMEDNS01Config.CheckRetryPeriod,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerName:                 cfg.IngressShimConfig.DefaultIssuerName,
			DefaultIssuerKind:                 cfg.IngressShimConfig.DefaultIssuerKind,
			DefaultIssuerGroup:                cfg.IngressShimConfig.DefaultIssuerGroup,
			DefaultAutoCertificateAnnotations: cfg.IngressShimConfig.DefaultAutoCertificateAnnotations,
			ExtraCertificateAnnotations:       cfg.IngressShimConfig.ExtraCertificateAnnotations,
			GatewayAPIExtraProtocols:          sets.New[string](),
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           cfg.EnableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 cfg.CopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: cfg.CertificateRequestMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: cfg.CertificateRequestMaximumBackoffDuration,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: cfg.MaxConcurrentChallenges},
	}, nil
}

func run(ctx context.Context, cfg *config.ControllerConfiguration) error {
	opts, err := contextOptions(cfg)
	if err != nil {
		return err
	}
	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(cfg.Controllers))
	for _, name := range cfg.Controllers {
		constructor, ok := controller.Known()[name]
		if !ok {
			return fmt.Errorf("--controllers: %q is not a controller of this build", name)
		}
		if cfg.Namespace != "" && name == clusterissuers.ControllerName {
			continue
		}
		iface, err := constructor(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		wg.Go(func() {
			if err := iface.Run(cfg.NumberOfConcurrentWorkers, ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", name, err)
			}
		})
	}
	// The informer factories are shared by every Context the factory builds.
	shared, err := factory.Build()
	if err != nil {
		return err
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	if err := serveLivez(ctx, cfg.HealthzListenAddress); err != nil {
		return err
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// serveLivez answers /livez: the controllers are running (the real binary's probe also
// follows leader election, which this build does not do).
func serveLivez(ctx context.Context, address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("--healthz-listen-address: %w", err)
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})}
	go func() {
		<-ctx.Done()
		_ = server.Close()
	}()
	go func() { _ = server.Serve(listener) }()
	return nil
}

func main() {
	logf.InitLogs()
	defer logf.FlushLogs()
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
