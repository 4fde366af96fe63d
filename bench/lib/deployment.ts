/**
 * What the shipped DaemonSet gives vifplugd (deploy/kubernetes/daemonset.yaml):
 * the container's memory limit and its NODE_OPTIONS. The memory suite runs the
 * daemon with those options and judges it against that limit, so that what is
 * measured is what is shipped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseYamlDocuments, quantityBytes } from '../../test/deploy/parse';

import { REPO } from './paths';

export const DAEMONSET = join(REPO, 'deploy', 'kubernetes', 'daemonset.yaml');

export interface Deployment {
  readonly memoryLimitBytes: number;
  /** The container's NODE_OPTIONS; '' when it sets none. */
  readonly nodeOptions: string;
}

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  resources?: { limits?: { memory?: string } };
}

export function readDeployment(): Deployment {
  const docs = parseYamlDocuments(readFileSync(DAEMONSET, 'utf8')) as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } }[];
  const container = docs.find((d) => d.kind === 'DaemonSet')?.spec?.template?.spec?.containers?.find((c) => c.name === 'vifplugd');
  const limit = container?.resources?.limits?.memory;
  if (container === undefined || limit === undefined) throw new Error(`${DAEMONSET}: no vifplugd container with a memory limit`);
  return { memoryLimitBytes: quantityBytes(limit), nodeOptions: container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '' };
}
