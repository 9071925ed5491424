/** The test kit: one agent launcher, one HTTP client, waiting, temp dirs, the error-body check, running a built CLI, /proc views. */
export { AgentProcess, agentCommand, BINARY, MAIN, type LaunchOptions, type LogLine, type StopOptions } from './agent.js';
export { assertErrorBody } from './error-body.js';
export {
  KeepAliveConnection,
  closedPort,
  headerPairs,
  parseRawResponse,
  rawExchange,
  request,
  socketRequest,
  tryConnect,
  type HttpAnswer,
  type RawResponse,
  type RequestOptions,
} from './http.js';
export { runCommand, runNode, type RunOptions, type RunResult } from './run.js';
export { listeningSockets, openConnections, rssBytes, tcpSockets, type ListeningSocket, type TcpSocket } from './procfs.js';
export { TempDirs, suiteTempDirs, tempDir } from './temp.js';
export { sleep, waitUntil } from './wait.js';
