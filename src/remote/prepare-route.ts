/**
 * Which way a PreparePort travels to a remote provider: the one place that
 * chooses, for each call, between the provider API's three prepare methods
 * (and whether to wait a moment for company). One per session, made from
 * what GetInfo announced, so a new session (perhaps a new version of the
 * provider) starts from its own announcement.
 *
 * It only chooses. It sends nothing and keeps no ports (preparer.ts does);
 * all it remembers is what the session taught it (a PortStream answered
 * UNIMPLEMENTED).
 */
import type { Capabilities } from '../gen/vifplug/provider/v1/provider';
import type { CallBudget } from '../registry';

export type Route =
  /**
   * Wait for the end of this turn of the event loop: ports asked for
   * meanwhile travel together (the preparer sends the turn's first port at
   * once when it would go alone on the stream).
   */
  | 'gather'
  /** PreparePorts: ports that travel together, the hop paid once for them all. */
  | 'batch'
  /** One message of the session's PortStream: no HTTP/2 stream of its own. */
  | 'stream'
  /** PreparePort: one unary call. */
  | 'unary';

export class PrepareRoute {
  /** The provider answered PortStream UNIMPLEMENTED: PreparePort for the rest of the session. */
  private streamless = false;

  constructor(private readonly capabilities: Capabilities | undefined) {}

  /**
   * The route of a call for `ports` ports (more than one only once they
   * were gathered); `budget` is the call's, for a port alone.
   */
  choose(ports: number, budget: CallBudget | undefined, gathered: boolean): Route {
    // Concurrent callers and the ports of one PreparePorts arrive in the same
    // turn; a provider that takes PreparePorts answers them in one hop.
    if (!gathered && this.capabilities?.preparePorts === true) return 'gather';
    if (ports > 1) return 'batch';
    // A call without a budget could not tell the stream when to give up on
    // it (a cancel message), so it keeps a unary call and its deadline.
    if (budget === undefined || this.streamless || this.capabilities?.portStream !== true) return 'unary';
    return 'stream';
  }

  /** The provider does not serve PortStream after all. */
  withoutStream(): void {
    this.streamless = true;
  }
}
