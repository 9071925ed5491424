/**
 * deploy/ecs/task-definition.json (SPEC §9), checked against the ECS RegisterTaskDefinition API.
 *
 * The schema: the AWS SDK's own runtime schema of the request (`RegisterTaskDefinitionRequest$`
 * from @aws-sdk/client-ecs, generated from the ECS Smithy model, checked by smithy-check.ts). The SDK's TypeScript types would check field names and types at compile time
 * only, and a hand-written schema would check what we believed; this one is the service model as
 * AWS ships it, so a misspelt field, a string where ECS wants a number, or a missing required
 * member fails. Enum values come from the same package's enum objects. What no model can tell
 * (the deployment's own rules) is checked field by field after that.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Compatibility, ContainerCondition, NetworkMode, RegisterTaskDefinitionRequest$ } from '@aws-sdk/client-ecs';
import type { ContainerDefinition, RegisterTaskDefinitionRequest } from '@aws-sdk/client-ecs';
import { NormalizedSchema } from '@smithy/core/schema';
import { KNOWN_VARIABLES } from '../../src/config/variables.js';
import { parseStages } from './dockerfile.js';
import { REPO, numericUser } from './image-build.js';
import { check, requiredMembers } from './smithy-check.js';

const text = readFileSync(join(REPO, 'deploy', 'ecs', 'task-definition.json'), 'utf8');
const task = JSON.parse(text) as RegisterTaskDefinitionRequest;
const [imageUid, imageGid] = numericUser(parseStages(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).at(-1)!)!;

function container(name: string): ContainerDefinition {
  const c = task.containerDefinitions?.find((d) => d.name === name);
  assert.ok(c, `container ${name}`);
  return c;
}

describe('ECS task definition', () => {
  it('matches the RegisterTaskDefinition request shape of the ECS service model', () => {
    const schema = NormalizedSchema.of(RegisterTaskDefinitionRequest$);
    assert.ok(requiredMembers(schema).includes('containerDefinitions'), 'the schema reader sees required members');
    assert.deepEqual(check(schema, task, '$'), []);
  });

  it('the model check catches a misspelt field and a wrong type', () => {
    const bad = JSON.parse(text) as Record<string, unknown> & { containerDefinitions: Record<string, unknown>[] };
    bad['readOnlyRootFilesystem'] = true;
    bad.containerDefinitions[0]!['memory'] = '320';
    delete bad['family'];
    assert.deepEqual(check(NormalizedSchema.of(RegisterTaskDefinitionRequest$), bad, '$').sort(), [
      '$.containerDefinitions[0].memory: expected an integer, got "320"',
      '$.family: required',
      '$.readOnlyRootFilesystem: not a member of RegisterTaskDefinitionRequest',
    ]);
  });

  it('awsvpc networking, so the containers share 127.0.0.1; enum values from the model', () => {
    assert.equal(task.networkMode, NetworkMode.AWSVPC);
    for (const c of task.requiresCompatibilities ?? []) assert.ok(Object.values(Compatibility).includes(c), c);
    for (const c of task.containerDefinitions ?? [])
      for (const d of c.dependsOn ?? []) assert.ok(Object.values(ContainerCondition).includes(d.condition!), d.condition);
  });

  it('a task role gives the agent its AWS credentials for S3 and KMS', () => {
    assert.match(task.taskRoleArn ?? '', /^arn:aws:iam::\d{12}:role\/\S+$/);
    const env: Record<string, string | undefined> = Object.fromEntries((container('agent').environment ?? []).map((e) => [e.name ?? '', e.value]));
    assert.match(env['CLEF_AGENT_SOURCE'] ?? '', /^s3:\/\//);
    for (const name of Object.keys(env))
      if (name.startsWith('CLEF_AGENT_')) assert.ok((KNOWN_VARIABLES as readonly string[]).includes(name), `unknown variable ${name}`);
  });

  it('the agent is an essential sidecar whose health check is `clef-agent check`; the app waits for HEALTHY', () => {
    const agent = container('agent');
    assert.equal(agent.essential, true);
    assert.deepEqual(agent.healthCheck?.command, ['CMD', 'clef-agent', 'check']);
    const app = task.containerDefinitions!.find((c) => c.name !== 'agent')!;
    assert.deepEqual(app.dependsOn, [{ containerName: 'agent', condition: 'HEALTHY' }]);
  });

  it('every container: the image uid, numeric; read-only root; no capabilities', () => {
    for (const c of task.containerDefinitions ?? []) {
      assert.equal(c.user, `${imageUid}:${imageGid}`, c.name);
      assert.equal(c.readonlyRootFilesystem, true, c.name);
      assert.deepEqual(c.linuxParameters?.capabilities?.drop, ['ALL'], c.name);
      assert.equal(c.privileged, undefined, c.name);
    }
  });

  it('both containers get the same token, from Secrets Manager, never inline', () => {
    const tokens = task.containerDefinitions!.map((c) => c.secrets?.find((s) => s.name === 'CLEF_AGENT_TOKEN')?.valueFrom);
    assert.ok(tokens[0]?.startsWith('arn:aws:secretsmanager:'));
    assert.deepEqual(new Set(tokens).size, 1);
    for (const c of task.containerDefinitions ?? []) assert.ok(!c.environment?.some((e) => e.name === 'CLEF_AGENT_TOKEN'), c.name);
    assert.ok(task.executionRoleArn, 'the execution role reads the secret');
  });

  it('the agent gets longer than its own 15 s stop bound before SIGKILL', () => {
    assert.ok((container('agent').stopTimeout ?? 30) > 15);
  });
});
