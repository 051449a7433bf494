// OpenTelemetry spans for Stripe calls. Exported over OTLP/HTTP only when
// OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set; otherwise the global no-op tracer
// makes every span free.
import { trace, type Tracer } from '@opentelemetry/api';
import { config, type AppConfig } from '@/lib/config';

// On globalThis: OpenTelemetry's tracer provider is process-wide (a second registration from
// another Next.js bundle's copy of this module would be refused and its exporter never shut
// down), so the exporter is registered once per process, and shut down by whichever copy stops.
const g = globalThis as unknown as { __briskTracing?: { tracer: Tracer; shutdown(): Promise<void> } };

async function register(): Promise<() => Promise<void>> {
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  // The provider and exporter read OTEL_SERVICE_NAME, the endpoint and headers from the
  // standard OTEL_* variables themselves.
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  trace.setGlobalTracerProvider(provider);
  return () => provider.shutdown();
}

export function tracingEnabled(env: Pick<AppConfig, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'> = config()): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

let registering: Promise<() => Promise<void>> | null = null;

/** The tracer for Brisk's spans; registers the OTLP exporter once when configured. */
export function tracer(): Tracer {
  if (!g.__briskTracing) {
    let shutdown = async () => {};
    if (tracingEnabled() && !registering) {
      registering = register();
      registering.then((s) => (shutdown = s)).catch(() => {});
    }
    g.__briskTracing = { tracer: trace.getTracer('brisk'), shutdown: () => shutdown() };
  }
  return g.__briskTracing.tracer;
}

export async function shutdownTracing(): Promise<void> {
  await g.__briskTracing?.shutdown();
}
