/**
 * What the shipped DaemonSet (deploy/kubernetes/daemonset.yaml) gives the
 * vifplugd container: its memory limit and its environment. The memory bench
 * runs the daemon with that environment and judges it against that limit, and
 * the container test runs the image with it, so that what is measured and
 * tested is what is shipped.
 */
import { readFileSync } from 'node:fs';

import { parseYamlDocuments, quantityBytes } from './parse';

export interface Deployment {
  readonly memoryLimitBytes: number;
  /** The container's environment, NODE_OPTIONS included. */
  readonly env: Readonly<Record<string, string>>;
  /** The container's NODE_OPTIONS; '' when it sets none. */
  readonly nodeOptions: string;
}

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  resources?: { limits?: { memory?: string } };
}

/** The vifplugd container of the DaemonSet in `file`. */
export function readDeployment(file: string): Deployment {
  const docs = parseYamlDocuments(readFileSync(file, 'utf8')) as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } }[];
  const container = docs.find((d) => d.kind === 'DaemonSet')?.spec?.template?.spec?.containers?.find((c) => c.name === 'vifplugd');
  const limit = container?.resources?.limits?.memory;
  if (container === undefined || limit === undefined) throw new Error(`${file}: no vifplugd container with a memory limit`);
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  return { memoryLimitBytes: quantityBytes(limit), env, nodeOptions: env['NODE_OPTIONS'] ?? '' };
}
