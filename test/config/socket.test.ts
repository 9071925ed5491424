/** SPEC §10.4 settings: CLEF_AGENT_SOCKET, CLEF_AGENT_SOCKET_MODE and CLEF_AGENT_PORT=off, with their exact messages. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith } from './helpers.js';

after(cleanup);

const MODE_EXPECTED =
  'expected an octal mode such as 0660 or 0600: read and write for the owner, read-and-write or nothing for group and others (no execute bits)';

describe('CLEF_AGENT_SOCKET, CLEF_AGENT_SOCKET_MODE, CLEF_AGENT_PORT=off', () => {
  test('unset: no socket, TCP on the default port', () => {
    const c = load(env());
    assert.equal(c.socket, undefined);
    assert.equal(c.port, 7779);
  });

  test('a socket path (relative to the working directory) with the default mode 0660, alongside TCP', () => {
    const c = load(env({ CLEF_AGENT_SOCKET: 'run/agent.sock' }));
    assert.deepEqual(c.socket, { path: '/work/app/run/agent.sock', mode: 0o660 });
    assert.equal(c.port, 7779);
    assert.deepEqual(c.warnings, []);
  });

  test('CLEF_AGENT_PORT=off with a socket: no TCP listener', () => {
    const c = load(env({ CLEF_AGENT_SOCKET: '/run/clef/agent.sock', CLEF_AGENT_PORT: 'off' }));
    assert.equal(c.port, 'off');
    assert.equal(c.socket?.path, '/run/clef/agent.sock');
  });

  test('CLEF_AGENT_PORT=off without a socket is refused: the API must listen somewhere', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: 'off' }), [
      'CLEF_AGENT_PORT: is off but CLEF_AGENT_SOCKET is not set; expected a port, or off together with CLEF_AGENT_SOCKET (the API must listen somewhere)',
    ]));

  test('CLEF_AGENT_PORT: OFF or " off" is refused with the exact spelling', () => {
    for (const raw of ['OFF', ' off'])
      refuseWith(env({ CLEF_AGENT_PORT: raw, CLEF_AGENT_SOCKET: '/run/a.sock' }), [
        `CLEF_AGENT_PORT: ${JSON.stringify(raw)} is not the word off; expected off, in lowercase without spaces (with CLEF_AGENT_SOCKET)`,
      ]);
  });

  test('CLEF_AGENT_SOCKET_MODE without a socket is refused', () =>
    void refuseWith(env({ CLEF_AGENT_SOCKET_MODE: '0600' }), [
      'CLEF_AGENT_SOCKET_MODE: is set but CLEF_AGENT_SOCKET is not; expected CLEF_AGENT_SOCKET_MODE only together with CLEF_AGENT_SOCKET',
    ]));

  test('CLEF_AGENT_SOCKET_MODE: 0600, 600, 0660, 0606 accepted; 0666 accepted with a warning', () => {
    for (const [raw, mode] of [
      ['0600', 0o600],
      ['600', 0o600],
      ['0660', 0o660],
      ['0606', 0o606],
    ] as const) {
      const c = load(env({ CLEF_AGENT_SOCKET: '/run/a.sock', CLEF_AGENT_SOCKET_MODE: raw }));
      assert.equal(c.socket?.mode, mode, raw);
    }
    const open = load(env({ CLEF_AGENT_SOCKET: '/run/a.sock', CLEF_AGENT_SOCKET_MODE: '0666' }));
    assert.equal(open.socket?.mode, 0o666);
    assert.deepEqual(open.warnings, [
      'CLEF_AGENT_SOCKET_MODE 0666 lets every local user connect to the socket; the token is then the only barrier (0660 or 0600 keeps them out)',
    ]);
  });

  test('CLEF_AGENT_SOCKET_MODE: refused values name the problem', () => {
    const cases: readonly (readonly [string, string])[] = [
      ['', 'is empty'],
      ['rw-rw----', '"rw-rw----" is not an octal mode'],
      ['0o660', '"0o660" is not an octal mode'],
      ['01660', '"01660" is not an octal mode'],
      ['0680', '"0680" is not an octal mode'],
      ['0060', '"0060" does not let the owner read and write'],
      ['0400', '"0400" does not let the owner read and write'],
      ['0700', '"0700" gives the owner 7, not 6'],
      ['0640', '"0640" gives group 4, not 6 or 0'],
      ['0670', '"0670" gives group 7, not 6 or 0'],
      ['0662', '"0662" gives others 2, not 6 or 0'],
    ];
    for (const [raw, problem] of cases) {
      refuseWith(env({ CLEF_AGENT_SOCKET: '/run/a.sock', CLEF_AGENT_SOCKET_MODE: raw }), [`CLEF_AGENT_SOCKET_MODE: ${problem}; ${MODE_EXPECTED}`]);
    }
  });

  test('CLEF_AGENT_SOCKET: empty, a NUL byte, a trailing slash and paths longer than sun_path are refused', () => {
    const expected = 'expected an absolute or relative path of at most 107 bytes whose directory path is at most 92 bytes';
    refuseWith(env({ CLEF_AGENT_SOCKET: '' }), [`CLEF_AGENT_SOCKET: is empty; ${expected}`]);
    refuseWith(env({ CLEF_AGENT_SOCKET: '/run/a\0.sock' }), [`CLEF_AGENT_SOCKET: "/run/a\\u0000.sock" contains a NUL byte; ${expected}`]);
    refuseWith(env({ CLEF_AGENT_SOCKET: '/run/clef/' }), [`CLEF_AGENT_SOCKET: "/run/clef/" names a directory; ${expected}`]);
    const long = `/run/${'a'.repeat(110)}.sock`;
    refuseWith(env({ CLEF_AGENT_SOCKET: long }), [`CLEF_AGENT_SOCKET: "${long}" is 120 bytes long; ${expected}`]);
    const deep = `/${'d'.repeat(99)}/a.sock`;
    refuseWith(env({ CLEF_AGENT_SOCKET: deep }), [`CLEF_AGENT_SOCKET: "${deep}" is in a directory whose path is 100 bytes long; ${expected}`]);
  });
});
