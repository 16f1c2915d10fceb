/**
 * The Helm chart: lint, render with default values and with everything enabled, and check
 * the rendered manifests field by field. helm comes from scripts/build-helm.sh.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { ROOT, requireTool, run } from './tools.js';

const CHART = join(ROOT, 'helm/ckawatch');

/** The chart's files/ are copies: deploy/ and dashboards/ are the single source of truth. */
const COPIES: readonly (readonly [string, string])[] = [
  ['deploy/recording-rules.yaml', 'helm/ckawatch/files/recording-rules.yaml'],
  ['deploy/alerts.yaml', 'helm/ckawatch/files/alerts.yaml'],
  ['dashboards/ckawatch-overview.json', 'helm/ckawatch/files/ckawatch-overview.json'],
];

/** Every value the "everything on" render sets. */
const FULL = [
  'replicaCount=3',
  'kind=StatefulSet',
  'checkpoint.persistence.enabled=true',
  'checkpoint.persistence.storageClass=fast',
  'serviceMonitor.enabled=true',
  'serviceMonitor.labels.release=kube-prometheus-stack',
  'prometheusRule.enabled=true',
  'prometheusRule.labels.release=kube-prometheus-stack',
  'secretEnv.existingSecret=ckawatch-kafka',
  'reference.volume.configMap.name=ckawatch-reference',
  'config.source.sasl.mechanism=scram-sha-512',
  'config.source.sasl.username=ckawatch',
  'config.source.sasl.passwordEnv=KAFKA_PASSWORD',
  'dashboard.annotations.grafana_folder=ML',
];

interface Manifest {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

let helm: string;

async function template(sets: readonly string[] = []): Promise<Manifest[]> {
  const args = ['template', 'release', CHART, '--namespace', 'ml', ...sets.flatMap((s) => ['--set', s])];
  const { stdout } = await run(helm, args);
  return parseAllDocuments(stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm template gave invalid YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

function only(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

// Loose views of the rendered objects, enough for the checks below.
interface Container {
  name: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  envFrom?: { secretRef: { name: string } }[];
}
interface PodSpec {
  securityContext: { runAsNonRoot: boolean; runAsUser: number };
  containers: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
}
interface Workload {
  spec: {
    replicas: number;
    template: { metadata: { annotations: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { storageClassName?: string } }[];
  };
}

function podOf(workload: Manifest): { spec: Workload['spec']; pod: PodSpec; container: Container } {
  const { spec } = workload as unknown as Workload;
  const pod = spec.template.spec;
  return { spec, pod, container: pod.containers[0]! };
}

function configOf(manifests: readonly Manifest[], env: Record<string, string> = {}) {
  const configMap = only(manifests, 'ConfigMap', 'release-ckawatch') as unknown as { data: Record<string, string> };
  const text = configMap.data['ckawatch.yaml']!;
  // The chart's paths are inside the pod: parse them as such (nothing here reads the files).
  return parseConfigText(text, 'yaml', { env, baseDir: '/etc/ckawatch', fileName: 'rendered ckawatch.yaml' });
}

describe('helm chart', () => {
  beforeAll(() => {
    helm = requireTool('helm');
  });

  it("keeps files/ equal to deploy/ and dashboards/ (copy them over after editing those)", () => {
    for (const [source, copy] of COPIES) {
      expect(existsSync(join(ROOT, source)), `${source} is missing`).toBe(true);
      const same = existsSync(join(ROOT, copy)) && readFileSync(join(ROOT, copy), 'utf8') === readFileSync(join(ROOT, source), 'utf8');
      expect(same, `${copy} differs from ${source}: run \`cp ${source} ${copy}\``).toBe(true);
    }
  });

  it('passes helm lint with default values and with everything enabled', async () => {
    await run(helm, ['lint', '--strict', CHART]);
    await run(helm, ['lint', '--strict', CHART, ...FULL.flatMap((s) => ['--set', s])]);
  });

  it('renders a Deployment with probes, a locked-down security context and writable checkpoints', async () => {
    const manifests = await template();
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'Service', 'ServiceAccount']);
    const { spec, pod, container } = podOf(only(manifests, 'Deployment'));
    const config = configOf(manifests);

    expect(spec.replicas).toBe(1);
    expect(container.args).toEqual(['run', '--config', '/etc/ckawatch/ckawatch.yaml']);
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: config.metrics.port, protocol: 'TCP' }]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits?.['memory']).toBeDefined();

    const mounts = new Map(container.volumeMounts.map((m) => [m.name, m]));
    const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
    // config from the ConfigMap, the model read-only from the configured volume source
    expect(mounts.get('config')).toMatchObject({ mountPath: '/etc/ckawatch', readOnly: true });
    expect(mounts.get('model')).toMatchObject({ mountPath: dirname(config.model.path!), readOnly: true });
    expect(volumes.get('model')).toMatchObject({ persistentVolumeClaim: { claimName: 'ckawatch-models' } });
    // with no reference volume, the reference is read next to the model
    expect(dirname(config.reference.path)).toBe(dirname(config.model.path!));
    // the only writable places: checkpoints (emptyDir by default) and /tmp
    expect(mounts.get('checkpoints')?.mountPath).toBe(config.checkpoint.dir);
    expect(volumes.get('checkpoints')).toEqual({ name: 'checkpoints', emptyDir: {} });
    expect(mounts.get('tmp')?.mountPath).toBe('/tmp');
    expect(container.envFrom).toBeUndefined();

    const service = only(manifests, 'Service') as unknown as { spec: { ports: { name: string; targetPort: string }[] } };
    expect(service.spec.ports).toMatchObject([{ name: 'metrics', targetPort: 'metrics' }]);
  });

  it('renders the values into a config that ckawatch parses', async () => {
    const config = configOf(await template());
    expect(config.model).toMatchObject({ path: '/models/model.onnx', providers: ['cpu'] });
    expect(config.reference).toMatchObject({ path: '/models/reference.npy', samplesPerBatch: 64, seed: 1 });
    expect(config.source).toMatchObject({ kind: 'kafka', topic: 'model-inputs', groupId: 'ckawatch' });
    expect(config.metrics).toMatchObject({ host: '0.0.0.0', port: 9464 });
    expect(config.checkpoint.dir).toBe('/var/lib/ckawatch');
    expect(config.windows.map((w) => w.name)).toEqual(['5m', '1h', '24h']);
  });

  it('ships the dashboard in a ConfigMap that the Grafana sidecar picks up', async () => {
    const dashboard = only(await template(), 'ConfigMap', 'release-ckawatch-dashboard') as Manifest & { data: Record<string, string> };
    expect(dashboard.metadata.labels?.['grafana_dashboard']).toBe('1');
    const json: unknown = JSON.parse(dashboard.data['ckawatch-overview.json']!);
    expect(json).toEqual(JSON.parse(readFileSync(join(ROOT, 'dashboards/ckawatch-overview.json'), 'utf8')));
  });

  it('renders ServiceMonitor, PrometheusRule, a StatefulSet with claims and secrets from env', async () => {
    const manifests = await template(FULL);
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor', 'StatefulSet']);

    const monitor = only(manifests, 'ServiceMonitor') as Manifest & { spec: { endpoints: { port: string; path: string }[]; selector: { matchLabels: Record<string, string> } } };
    expect(monitor.metadata.labels?.['release']).toBe('kube-prometheus-stack');
    expect(monitor.spec.endpoints).toMatchObject([{ port: 'metrics', path: '/metrics' }]);
    const service = only(manifests, 'Service') as Manifest & { metadata: { labels: Record<string, string> } };
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) expect(service.metadata.labels[k]).toBe(v);

    // The PrometheusRule holds exactly the groups of deploy/'s rule files.
    const rule = only(manifests, 'PrometheusRule') as Manifest & { spec: { groups: unknown[] } };
    expect(rule.metadata.labels?.['release']).toBe('kube-prometheus-stack');
    const groupsOf = (file: string): unknown[] => (parseYaml(readFileSync(join(ROOT, file), 'utf8')) as { groups: unknown[] }).groups;
    expect(rule.spec.groups).toEqual([...groupsOf('deploy/recording-rules.yaml'), ...groupsOf('deploy/alerts.yaml')]);

    const statefulSet = only(manifests, 'StatefulSet');
    const { spec, pod, container } = podOf(statefulSet);
    expect(spec.replicas).toBe(3);
    expect(spec.volumeClaimTemplates).toMatchObject([{ metadata: { name: 'checkpoints' }, spec: { storageClassName: 'fast' } }]);
    expect(pod.volumes.some((v) => v.name === 'checkpoints')).toBe(false);
    expect(container.volumeMounts.find((m) => m.name === 'checkpoints')?.mountPath).toBe('/var/lib/ckawatch');
    expect(container.envFrom).toEqual([{ secretRef: { name: 'ckawatch-kafka' } }]);
    expect(pod.volumes.find((v) => v.name === 'reference')).toMatchObject({ configMap: { name: 'ckawatch-reference' } });

    // The SASL password comes from the environment the Secret fills.
    const config = configOf(manifests, { KAFKA_PASSWORD: 'from-the-secret' });
    expect(config.reference.path).toBe('/reference/reference.npy');
    if (config.source.kind !== 'kafka') throw new Error('expected a kafka source');
    expect(config.source.sasl?.password.reveal()).toBe('from-the-secret');

    const dashboard = only(manifests, 'ConfigMap', 'release-ckawatch-dashboard');
    expect(dashboard.metadata.annotations?.['grafana_folder']).toBe('ML');
  });

  it('refuses values that cannot work, saying why', async () => {
    await expect(template(['kind=DaemonSet'])).rejects.toThrow(/kind must be Deployment or StatefulSet/);
    await expect(template(['checkpoint.persistence.enabled=true'])).rejects.toThrow(/needs checkpoint.persistence.existingClaim/);
  });
});
