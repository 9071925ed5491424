/**
 * Whether exec runs in the foreground of a terminal. There, the terminal itself sends Ctrl-C
 * (SIGINT) and Ctrl-\ (SIGQUIT) to every process of the foreground process group, and exec's
 * command shares exec's group (supervisor.ts starts it without a group of its own, so it keeps the
 * terminal): forwarding those signals too would deliver each twice, and many programs read a second
 * Ctrl-C as "quit now, skip the graceful stop".
 *
 * Read from /proc/self/stat: the process group (field 5) is the terminal's foreground group
 * (field 8, tpgid; -1 without a controlling terminal). Where there is no /proc (not Linux), or it
 * cannot be read, the answer is false and signals are forwarded as before.
 */
import { readFileSync } from 'node:fs';

export function inTerminalForeground(statFile = '/proc/self/stat'): boolean {
  let stat: string;
  try {
    stat = readFileSync(statFile, 'utf8');
  } catch {
    return false;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state, ppid, pgrp, session, tty_nr, tpgid.
  const pgrp = Number(fields[2]);
  const tpgid = Number(fields[5]);
  return Number.isInteger(pgrp) && pgrp > 0 && tpgid === pgrp;
}
