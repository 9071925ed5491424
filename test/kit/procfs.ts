/**
 * Linux /proc views of a process, for leak and binding checks: its TCP sockets (socket inodes from
 * /proc/<pid>/fd matched against /proc/net/tcp and tcp6; worker threads share the process's fds)
 * and its resident memory.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface TcpSocket {
  readonly family: 'tcp' | 'tcp6';
  /** Local address as hex, as /proc/net/tcp{,6} shows it (127.0.0.1 is `0100007F`). */
  readonly addressHex: string;
  readonly address: string;
  readonly port: number;
  readonly listening: boolean;
}

export type ListeningSocket = Omit<TcpSocket, 'listening'>;

/** Every TCP socket owned by process `pid`, any state. */
export function tcpSockets(pid: number): TcpSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const out: TcpSocket[] = [];
  for (const family of ['tcp', 'tcp6'] as const) {
    let table: string;
    try {
      table = readFileSync(`/proc/net/${family}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || !inodes.has(f[9] ?? '')) continue;
      const [addressHex = '', portHex = '0'] = (f[1] ?? '').split(':');
      out.push({ family, addressHex, address: hexToAddress(addressHex), port: parseInt(portHex, 16), listening: f[3] === '0A' });
    }
  }
  return out;
}

/** The sockets in LISTEN state owned by process `pid`. */
export function listeningSockets(pid: number): ListeningSocket[] {
  return tcpSockets(pid)
    .filter((s) => s.listening)
    .map(({ listening: _, ...s }) => s);
}

/** Connections (any state but LISTEN) owned by `pid` whose local port is `port`: the server's side of its clients. */
export function openConnections(pid: number, port: number): number {
  return tcpSockets(pid).filter((s) => !s.listening && s.port === port).length;
}

/** Resident set size of process `pid`, in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

function hexToAddress(hex: string): string {
  if (hex.length === 8) {
    // Little-endian IPv4.
    const b = Buffer.from(hex, 'hex');
    return `${b[3]}.${b[2]}.${b[1]}.${b[0]}`;
  }
  return hex;
}
