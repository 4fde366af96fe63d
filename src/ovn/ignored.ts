/**
 * The lports the agent leaves alone although they are requested to this
 * chassis: their options:vif-plug-type is set, but not to a type this agent
 * serves (--types). That is how it should be for the types ovn-controller
 * plugs itself, and how a typo in vif-plug-type looks: either way the agent
 * says so, in `vifplug-ovn status` (a section of its own, neither pending nor
 * plugged) and once in its log per lport and type, so that a typo is seen.
 */

import type { Logger } from 'pino';

import { requestedHere } from './desired';
import { VIF_PLUG_TYPE, type Binding, type ChassisIdentity } from './model';

/** An lport requested to this chassis with a vif-plug-type the agent does not serve. */
export interface IgnoredLport {
  readonly lport: string;
  /** Its options:vif-plug-type. */
  readonly type: string;
}

/** The bindings requested here whose vif-plug-type is set and not served, sorted by lport. */
export function ignoredPorts(bindings: Iterable<Binding>, chassis: ChassisIdentity, served: ReadonlySet<string>): IgnoredLport[] {
  const out: IgnoredLport[] = [];
  for (const binding of bindings) {
    const type = binding.options.get(VIF_PLUG_TYPE);
    if (type === undefined || type === '' || served.has(type) || !requestedHere(binding, chassis)) continue;
    out.push({ lport: binding.lport, type });
  }
  return out.sort((a, b) => (a.lport < b.lport ? -1 : a.lport > b.lport ? 1 : 0));
}

/** At most this many lports are named in a line; the count says the rest. */
const NAMED = 20;

/** Says each lport and type once, grouped by type in each pass: a new lport, or a changed type, is news. */
export class IgnoredLog {
  private seen = new Map<string, string>();

  constructor(
    private readonly logger: Logger,
    private readonly served: readonly string[],
  ) {}

  update(ignored: readonly IgnoredLport[]): void {
    const news = new Map<string, string[]>();
    for (const { lport, type } of ignored) {
      if (this.seen.get(lport) === type) continue;
      news.set(type, [...(news.get(type) ?? []), lport]);
    }
    for (const [type, lports] of news) {
      const named = lports.length > NAMED ? [...lports.slice(0, NAMED), `... (${lports.length - NAMED} more)`] : lports;
      const which = lports.length === 1 ? `lport ${lports[0]} is` : `${lports.length} lports are`;
      this.logger.info(
        { type, count: lports.length, lports: named },
        `${which} requested to this chassis with vif-plug-type ${type}, not served by this agent (--types ${this.served.join(',')}); ` +
          'ovn-controller plugs it if it has a provider of that type, and nothing does otherwise: check the type if it was meant for this agent',
      );
    }
    this.seen = new Map(ignored.map(({ lport, type }) => [lport, type]));
  }
}
