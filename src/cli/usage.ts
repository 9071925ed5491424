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
  exec              run a command with the secrets as environment variables, and restart or
                    signal it when they change ('clef-agent exec --help')
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

Signals: SIGTERM/SIGINT stop (drain, then exit); SIGHUP re-reads the token, scoped-tokens and age
key files (all or nothing) and refreshes at once.

Exit status: 0 clean stop (SIGTERM/SIGINT), 1 the first load failed, 2 invalid configuration or a
refused start.

${README_POINTER}
`;

export const CHECK_USAGE = `Usage: clef-agent check [--ready | --health] [--port N | --socket PATH]

Asks the agent on 127.0.0.1 (or on its Unix socket) and exits 0 when it answers 200, 1 otherwise, with the reason on
stderr; gives up after 1 second (connect and answer together). The probe for Docker HEALTHCHECK,
Kubernetes exec probes and ECS health checks. Sends no token and reads none of the agent's other
configuration.

Options:
  --ready        GET /v1/ready: has a valid, unexpired artifact loaded (the default)
  --health       GET /v1/health: the process is up and answering
  --port N       the agent's port, 1-65535 (default: $CLEF_AGENT_PORT, else 7779)
  --socket PATH  the agent's Unix socket (default: $CLEF_AGENT_SOCKET when set)
  -h, --help     show this help

Exit status: 0 ready (or healthy), 1 not ready, not answering or refused, 2 usage error.

${README_POINTER}
`;

export const EXEC_USAGE = `Usage: clef-agent exec [options] -- <command> [args...]

Loads and verifies the artifact like the agent (the same CLEF_AGENT_* variables), then runs
<command> (no shell; PATH is searched) with the inherited environment, minus every CLEF_AGENT_*
variable, plus one variable per secret: <namespace>__<KEY>, with characters outside [A-Za-z0-9_]
mapped to "_". The refresh loop keeps running. Signals SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR2
are forwarded to the command (in a terminal's foreground, not SIGINT and SIGQUIT: the terminal sent
them to the command already); exec exits with its status (128+n when signal n killed it).
Logs go to stderr. No HTTP API unless --serve.

Naming:
  --env-prefix P          put P before every name (letters, digits, "_"; e.g. APP_)
  --namespace NS          only this namespace (repeatable; default: all)
  --no-qualify            the bare KEY; a key in two selected namespaces is an error
  --override              replace an inherited variable of the same name (default: error)

On a new artifact (default: nothing, logged):
  --restart-on-change     stop the command (--restart-signal, default SIGTERM), wait --grace
                          seconds, SIGKILL, and start it again with the new variables
  --restart-signal SIG    the stop signal (HUP, INT, QUIT, TERM, USR1, USR2, WINCH)
  --grace N               seconds between the stop signal and SIGKILL, 0-3600 (default 10)
  --signal-on-change SIG  only send SIG to the command (it may re-read through --serve)
  --restart-on-exit       start the command again when it exits by itself (rate-limited:
                          1 s doubling to 30 s while it lives under 10 s)

On revocation or expiry the command is stopped (it holds secrets that must no longer be used)
and started again when a valid artifact is published:
  --keep-on-revoke        leave it running instead (logged)

Other:
  --serve                 also serve the HTTP API on 127.0.0.1 (same token rules as the agent)
  -h, --help              show this help

Exit status: the command's; 1 the first load failed (the command is not started), 2 invalid
configuration, flags or a refused start (e.g. a variable collision), 126/127 the command could
not be run / was not found.

${README_POINTER}
`;
