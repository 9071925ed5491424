// The end-to-end suites the binary leg (scripts/test-binary.mjs) runs against the standalone binary:
// one or more per thing the binary must do as the node build does. They run the agent on the LTS
// Node inside the binary, so the LTS leg of CI (scripts/test-lts.mjs) need not run them again.
export const BINARY_SUITES = [
  'test/binary/', // runs alone from an empty directory, --version, pack, temp dir removed at exit
  'e2e/http-routes', // cached mode: every route
  'e2e/jit-contract', // JIT mode
  'e2e/kms-cached', // AWS SDK (lazily imported, bundled) for a KMS envelope
  'e2e/kms-jit',
  'e2e/source-s3', // a remote source, SigV4
  'e2e/source-vcs',
  'e2e/validation-signature', // signature verification in the workers
  'e2e/http-process', // SIGUSR1 opens no inspector (never reaches the binary: --disable-sigusr1), SIGTERM/SIGINT while serving
  'e2e/lifecycle-daemon', // daemon lifecycle
  'e2e/telemetry-metrics', // the OpenTelemetry SDK and prom-client (lazily imported, bundled): logs and metrics over OTLP
  'e2e/lambda-', // the Lambda extension lifecycle, and the layer packed with this binary (no node on PATH)
];
