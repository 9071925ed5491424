/**
 * deploy/kubernetes/*.yaml (SPEC §9): every object validates against the Kubernetes API schema
 * (kubernetes-models: validators generated from the Kubernetes OpenAPI spec), then the properties
 * the deployment relies on are checked field by field. The generated validators check types,
 * enums and required fields but accept unknown field names (the OpenAPI spec does not close its
 * objects), so every field this file relies on is read explicitly: a misspelt one fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';
import { KNOWN_VARIABLES } from '../../src/config/variables.js';
import { METRIC_TYPES } from '../helpers/ops.js';
import { parseStages } from './dockerfile.js';
import { REPO, numericUser } from './image-build.js';

const DIR = join(REPO, 'deploy', 'kubernetes');
const [imageUid, imageGid] = numericUser(parseStages(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).at(-1)!)!;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> } } & Record<string, unknown>;

/** Kubernetes reads manifests as YAML 1.1 (so `0440` is octal): parse them the same way. */
function load(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8'), { version: '1.1' }).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    return d.toJS() as K8sObject;
  });
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 ServiceAccount': ServiceAccount,
  'v1 Service': Service,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1 PrometheusRule': PrometheusRule,
};

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

/** Quantity in bytes or cores, for the Mi/Gi and milli-core forms used here. */
function quantity(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m|Mi|Gi)?$/.exec(String(q));
  assert.ok(m, `quantity ${q}`);
  const n = Number(m[1]);
  return m[2] === 'm' ? n / 1000 : m[2] === 'Mi' ? n * 2 ** 20 : m[2] === 'Gi' ? n * 2 ** 30 : n;
}

function env(c: IContainer, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** The volume whose mount in `c` holds `path`, and that mount. */
function volumeFor(pod: IPodSpec, c: IContainer, path: string) {
  const mount = c.volumeMounts?.find((m) => path.startsWith(m.mountPath + '/'));
  assert.ok(mount, `${c.name}: no volume mounted above ${path}`);
  const volume = pod.volumes?.find((v) => v.name === mount.name);
  assert.ok(volume, `volume ${mount.name}`);
  return { mount, volume };
}

describe('Kubernetes examples', () => {
  it('there are an age, a KMS and an operations-listener example', () => {
    assert.deepEqual(files.sort(), ['sidecar-kms.yaml', 'sidecar-ops.yaml', 'sidecar.yaml']);
  });

  for (const file of files) {
    describe(file, () => {
      const objects = load(file);
      const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as Deployment;
      const pod = deployment.spec!.template.spec!;
      const agent = pod.initContainers?.find((c) => c.name === 'clef-agent');
      const app = pod.containers[0]!;

      it('every object validates against the Kubernetes API schema', () => {
        for (const o of objects) {
          const Model = MODELS[`${o.apiVersion} ${o.kind}`];
          assert.ok(Model, `${file}: no schema here for ${o.apiVersion} ${o.kind}`);
          assert.doesNotThrow(() => new Model(o as never).validate(), `${file}: ${o.kind} ${o.metadata.name}`);
        }
      });

      const opsAddr = agent === undefined ? undefined : env(agent, 'CLEF_AGENT_OPS_ADDR');
      it('the agent is a native sidecar: the app starts once the agent is ready; liveness checks health', () => {
        assert.ok(agent, 'an init container named clef-agent');
        assert.equal(agent.restartPolicy, 'Always');
        if (opsAddr === undefined) {
          assert.deepEqual(agent.startupProbe?.exec?.command, ['clef-agent', 'check']);
          assert.deepEqual(agent.livenessProbe?.exec?.command, ['clef-agent', 'check', '--health']);
          assert.deepEqual(agent.readinessProbe?.exec?.command, ['clef-agent', 'check']);
        } else {
          // The httpGet alternative, on the operations listener's named port.
          const get = (p: typeof agent.startupProbe): [unknown, unknown] => [p?.httpGet?.path, p?.httpGet?.port];
          assert.deepEqual(get(agent.startupProbe), ['/v1/ready', 'ops']);
          assert.deepEqual(get(agent.livenessProbe), ['/v1/health', 'ops']);
          assert.deepEqual(get(agent.readinessProbe), ['/v1/ready', 'ops']);
        }
        assert.equal(pod.containers.length, 1);
        for (const name of agent.env?.map((e) => e.name) ?? [])
          if (name.startsWith('CLEF_AGENT_')) assert.ok((KNOWN_VARIABLES as readonly string[]).includes(name), `unknown variable ${name}`);
      });

      it('both containers: non-root as the image uid, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.equal(pod.securityContext?.runAsUser, imageUid);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
        for (const c of [agent!, app]) {
          const s = c.securityContext;
          assert.equal(s?.runAsNonRoot, true, c.name);
          assert.equal(s.runAsUser, imageUid, c.name);
          assert.equal(s.runAsGroup, imageGid, c.name);
          assert.equal(s.readOnlyRootFilesystem, true, c.name);
          assert.equal(s.allowPrivilegeEscalation, false, c.name);
          assert.deepEqual(s.capabilities?.drop, ['ALL'], c.name);
          assert.equal(s.capabilities.add, undefined, c.name);
          assert.equal(s.seccompProfile?.type, 'RuntimeDefault', c.name);
        }
      });

      it('the token goes through an in-memory emptyDir the app mounts read-only', () => {
        const tokenFile = env(agent!, 'CLEF_AGENT_TOKEN_FILE');
        assert.ok(tokenFile && posix.isAbsolute(tokenFile));
        assert.equal(env(agent!, 'CLEF_AGENT_TOKEN'), undefined);
        const { volume, mount } = volumeFor(pod, agent!, tokenFile);
        assert.equal(volume.emptyDir?.medium, 'Memory');
        assert.notEqual(mount.readOnly, true, 'the agent creates the token file');
        assert.equal(env(app, 'CLEF_AGENT_TOKEN_FILE'), tokenFile);
        const appSide = volumeFor(pod, app, tokenFile);
        assert.equal(appSide.volume.name, volume.name);
        assert.equal(appSide.mount.readOnly, true);
      });

      it('resources: requests within limits, one core, memory above the benchmark peak RSS', () => {
        const r = agent!.resources!;
        assert.ok(r.requests && r.limits);
        assert.equal(quantity(r.limits['cpu']!), 1);
        for (const k of ['cpu', 'memory']) assert.ok(quantity(r.requests[k]!) <= quantity(r.limits[k]!), k);
        assert.ok(quantity(r.limits['memory']!) >= 256 * 2 ** 20, 'the benchmark peaked at 215 MiB RSS');
      });

      it('no Kubernetes API token is mounted', () => {
        assert.equal(pod.automountServiceAccountToken, false);
      });

      if (file === 'sidecar.yaml')
        it('the age key comes from a Secret volume through CLEF_AGENT_AGE_KEY_FILE', () => {
          const keyFile = env(agent!, 'CLEF_AGENT_AGE_KEY_FILE');
          assert.ok(keyFile);
          assert.equal(env(agent!, 'CLEF_AGENT_AGE_KEY'), undefined, 'never the key inline');
          const { volume, mount } = volumeFor(pod, agent!, keyFile);
          assert.ok(volume.secret?.secretName);
          assert.equal(mount.readOnly, true);
          assert.equal(volume.secret.defaultMode, 0o440, 'not writable by group or others (the agent refuses that)');
          assert.equal(pod.securityContext?.fsGroup, imageGid, 'the group that can read the key');
          assert.ok(!app.volumeMounts?.some((m) => m.name === volume.name), 'the app never sees the age key');
        });

      if (file === 'sidecar-ops.yaml')
        it('ops: CLEF_AGENT_OPS_ADDR on the pod IP and its named port, scrape annotations, a Service and ServiceMonitor on that port, the three alerts', () => {
          assert.equal(opsAddr, '0.0.0.0:7780');
          const port = agent!.ports?.find((p) => p.name === 'ops');
          assert.equal(port?.containerPort, 7780);
          assert.notEqual(port.containerPort, 7779, 'never the secrets API port');
          assert.equal(env(agent!, 'CLEF_AGENT_PORT'), undefined, 'the API keeps 7779 on 127.0.0.1');
          const annotations = deployment.spec!.template.metadata?.annotations ?? {};
          assert.equal(annotations['prometheus.io/scrape'], 'true');
          assert.equal(annotations['prometheus.io/port'], '7780');
          assert.equal(annotations['prometheus.io/path'], '/metrics');
          const service = objects.find((o) => o.kind === 'Service') as unknown as Service;
          assert.deepEqual(
            service.spec?.ports?.map((p) => [p.name, p.port, p.targetPort]),
            [['ops', 7780, 'ops']],
            'the Service exposes the ops port only',
          );
          const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as unknown as ServiceMonitor;
          for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels ?? {}))
            assert.equal(service.metadata?.labels?.[k], v, `the ServiceMonitor selects the Service (${k})`);
          assert.deepEqual(
            monitor.spec.endpoints?.map((e) => [e.port, e.path]),
            [['ops', '/metrics']],
          );
          const rules = (objects.find((o) => o.kind === 'PrometheusRule') as unknown as PrometheusRule).spec.groups?.flatMap((g) => g.rules ?? []) ?? [];
          assert.deepEqual(
            rules.map((r) => r.alert),
            ['ClefAgentNotReady', 'ClefAgentRefreshFailing', 'ClefAgentArtifactNearTTL'],
          );
          // Every metric an alert names is one the agent exposes.
          for (const r of rules) for (const m of String(r.expr).match(/clef_agent_[a-z_]+/g) ?? []) assert.ok(m in METRIC_TYPES, `${r.alert}: ${m}`);
        });

      if (file === 'sidecar-kms.yaml')
        it('KMS: the pod runs as a ServiceAccount with an IRSA role and no age key', () => {
          const sa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === pod.serviceAccountName);
          assert.ok(sa, `ServiceAccount ${pod.serviceAccountName} in the same file`);
          assert.match(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'] ?? '', /^arn:aws:iam::\d{12}:role\/\S+$/);
          assert.equal(env(agent!, 'CLEF_AGENT_AGE_KEY_FILE'), undefined);
          assert.match(env(agent!, 'CLEF_AGENT_SOURCE') ?? '', /^s3:\/\//);
          assert.ok(env(agent!, 'AWS_REGION'));
        });
    });
  }
});
