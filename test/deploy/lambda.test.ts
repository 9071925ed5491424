/**
 * deploy/lambda/ (SPEC §6, §9): the layer, the function and its role's policy, checked against the
 * Lambda API's request shapes (`PublishLayerVersionRequest$`, `CreateFunctionRequest$` from
 * @aws-sdk/client-lambda, read by smithy-check.ts), then against what the agent needs: the function
 * names this layer, its environment is one the agent's configuration accepts as a Lambda extension,
 * no secret sits in the function's configuration, and the policy grants exactly the artifact's
 * object and key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { Architecture, CreateFunctionRequest$, PublishLayerVersionRequest$ } from '@aws-sdk/client-lambda';
import type { CreateFunctionRequest, PublishLayerVersionRequest } from '@aws-sdk/client-lambda';
import { NormalizedSchema } from '@smithy/core/schema';
import { loadConfig } from '../../src/config/index.js';
import { KNOWN_VARIABLES } from '../../src/config/variables.js';
import { REPO } from './image-build.js';
import { check } from './smithy-check.js';

const dir = join(REPO, 'deploy', 'lambda');
const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
const fn = JSON.parse(read('function.json')) as CreateFunctionRequest;
const layer = JSON.parse(read('layer.json')) as PublishLayerVersionRequest;

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: string | string[];
}
const policy = JSON.parse(read('execution-policy.json')) as { Version: string; Statement: Statement[] };

const env = fn.Environment?.Variables ?? {};
const LAYER_ARN = /^arn:aws:lambda:([a-z0-9-]+):(\d{12}):layer:([A-Za-z0-9_-]+):(\d+)$/;

describe('Lambda deployment example', () => {
  it('layer.json and function.json match the Lambda API request shapes', () => {
    assert.deepEqual(check(NormalizedSchema.of(PublishLayerVersionRequest$), layer, '$'), []);
    assert.deepEqual(check(NormalizedSchema.of(CreateFunctionRequest$), fn, '$'), []);
  });

  it('the model check catches a misspelt field, a wrong type and a missing member', () => {
    const bad = JSON.parse(read('function.json')) as Record<string, unknown>;
    bad['Memory'] = 512;
    bad['Timeout'] = '10';
    delete bad['FunctionName'];
    assert.deepEqual(check(NormalizedSchema.of(CreateFunctionRequest$), bad, '$').sort(), [
      '$.FunctionName: required',
      '$.Memory: not a member of CreateFunctionRequest',
      '$.Timeout: expected an integer, got "10"',
    ]);
  });

  it('the function uses this layer, on an architecture the layer is built for', () => {
    const arns = (fn.Layers ?? []).map((a) => LAYER_ARN.exec(a)).filter((m) => m !== null);
    assert.equal(arns.length, 1, 'one clef-agent layer');
    assert.equal(arns[0]![3], layer.LayerName);
    for (const a of fn.Architectures ?? []) assert.ok(layer.CompatibleArchitectures?.includes(a), a);
    assert.deepEqual(layer.CompatibleArchitectures, [Architecture.x86_64], 'the binary is built for the machine that builds it (linux-x64)');
    // The zip npm run build:lambda-layer writes, uploaded under its own name.
    assert.equal(basename(layer.Content?.S3Key ?? ''), 'clef-agent-layer.zip');
    assert.ok(read('../../scripts/build-lambda-layer.mjs').includes("'clef-agent-layer.zip'"));
  });

  it('no secret in the function configuration: no token, no age key, no AWS credentials', () => {
    for (const name of Object.keys(env)) {
      if (name.startsWith('CLEF_AGENT_')) assert.ok((KNOWN_VARIABLES as readonly string[]).includes(name), `unknown variable ${name}`);
      assert.ok(
        !['CLEF_AGENT_TOKEN', 'CLEF_AGENT_AGE_KEY', 'CLEF_AGENT_VCS_TOKEN'].includes(name),
        `${name} would be readable by anyone allowed GetFunctionConfiguration`,
      );
      assert.ok(!/^AWS_/.test(name), `${name}: Lambda sets the AWS_* variables (the role's credentials, the Runtime API)`);
    }
    // The token file lives where the function and its extensions share files.
    assert.match(env['CLEF_AGENT_TOKEN_FILE'] ?? '', /^\/tmp\/[^/]+$/);
  });

  it('the agent accepts this environment as a Lambda extension, and creates the token file the function reads', () => {
    const region = LAYER_ARN.exec(fn.Layers?.[0] ?? '')?.[1];
    const tmp = mkdtempSync(join(tmpdir(), 'clef-lambda-'));
    try {
      const tokenFile = join(tmp, basename(env['CLEF_AGENT_TOKEN_FILE'] ?? 'token'));
      // What Lambda adds to the sandbox: the region, and the Runtime API address. /tmp is the test's.
      const config = loadConfig({ ...env, CLEF_AGENT_TOKEN_FILE: tokenFile, AWS_REGION: region, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }, { cwd: tmp });
      assert.equal(config.cacheTtl, 300, 'cached mode: INVOKE refreshes, no per-request KMS call');
      assert.equal(config.workers, 1);
      assert.ok(config.verifyKey !== undefined, 'a signed artifact');
      assert.equal(config.tokenOrigin, 'generated-file');
      assert.equal(readFileSync(tokenFile, 'utf8').trim(), config.token);
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      assert.match(config.sourceLabel, /my-artifacts/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the role may read exactly the artifact and use exactly its key, nothing else', () => {
    assert.equal(policy.Version, '2012-10-17');
    const grants = policy.Statement.flatMap((s) => {
      assert.equal(s.Effect, 'Allow');
      const actions = [s.Action].flat();
      const resources = [s.Resource].flat();
      return actions.flatMap((a) => resources.map((r) => `${a} ${r}`));
    });
    const source = /^s3:\/\/([^/]+)\/(.+)$/.exec(env['CLEF_AGENT_SOURCE'] ?? '');
    assert.ok(source, 'an S3 source');
    const region = LAYER_ARN.exec(fn.Layers?.[0] ?? '')?.[1];
    const account = /^arn:aws:iam::(\d{12}):role\//.exec(fn.Role ?? '')?.[1];
    assert.equal(grants.length, 2, grants.join(', '));
    assert.ok(grants.includes(`s3:GetObject arn:aws:s3:::${source[1]}/${source[2]}`), grants.join(', '));
    const kms = grants.find((g) => g.startsWith('kms:Decrypt '));
    assert.match(kms ?? '', new RegExp(`^kms:Decrypt arn:aws:kms:${region}:${account}:key/[0-9a-f-]{36}$`));
  });
});
