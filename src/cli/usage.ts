/**
 * The agent's own command-line texts: the top-level usage, `serve --help` and `check --help`.
 * Strings only, so every command (the `check` probe above all) can import it for nothing.
 * `pack` and `loadtest` keep their help next to their parsers (tools/pack/args.ts,
 * tools/loadtest/args.ts): the tools stand alone and import nothing from src/.
 */

/** Where the full documentation lives: README.md ships in the npm package next to package.json. */
export const README_POINTER = 'Documentation: README.md, shipped in the clef-agent package.';

export const MAIN_USAGE = `Usage: clef-agent [command] [options]

Commands:
  serve (default)   run the agent, configured by CLEF_AGENT_* environment variables
  check             ask the local agent whether it is ready (exit 0) or not (exit 1): a probe
  pack              build a packed artifact
  loadtest          load-test a running agent

Options:
  -h, --help        show this help ('clef-agent <command> --help' for a command's options)
  --version         print the version

${README_POINTER}
`;

export const SERVE_USAGE = `Usage: clef-agent [serve]

Runs the agent: fetches, verifies and decrypts the packed artifact and serves it on
127.0.0.1:<CLEF_AGENT_PORT> (default 7779) behind a bearer token. Takes no flags: every setting is a
CLEF_AGENT_* environment variable (the README's Configuration table lists them all).

Options:
  -h, --help   show this help

Exit status: 0 clean stop (SIGTERM/SIGINT), 1 the first load failed, 2 invalid configuration or a
refused start.

${README_POINTER}
`;

export const CHECK_USAGE = `Usage: clef-agent check [--ready | --health] [--port N]

Asks the agent on 127.0.0.1 and exits 0 when it answers 200, 1 otherwise, with the reason on
stderr; gives up after 1 second (connect and answer together). The probe for Docker HEALTHCHECK,
Kubernetes exec probes and ECS health checks. Sends no token and reads none of the agent's other
configuration.

Options:
  --ready      GET /v1/ready: has a valid, unexpired artifact loaded (the default)
  --health     GET /v1/health: the process is up and answering
  --port N     the agent's port, 1-65535 (default: $CLEF_AGENT_PORT, else 7779)
  -h, --help   show this help

Exit status: 0 ready (or healthy), 1 not ready, not answering or refused, 2 usage error.

${README_POINTER}
`;
