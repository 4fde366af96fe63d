import { describe, expect, it } from 'vitest';

import { ChangeFeed, Registry, type Change, type ProviderContext } from '../../src/registry';
import { withTestProviders } from '../helpers/test-providers';

describe('ChangeFeed', () => {
  it('numbers changes from 1 and keeps delivering when a listener throws (dropping that listener)', () => {
    const feed = new ChangeFeed();
    const seen: Change[] = [];
    feed.subscribe(() => {
      throw new Error('a buggy listener');
    });
    const stop = feed.subscribe((c) => seen.push(c));
    feed.publish('provider-registered', 'a');
    feed.publish('view-changed', 'a', 'i1');
    expect(seen).toEqual([
      { kind: 'provider-registered', type: 'a', instanceId: '', sequence: 1 },
      { kind: 'view-changed', type: 'a', instanceId: 'i1', sequence: 2 },
    ]);
    expect(feed.subscribers).toBe(1);
    stop();
    expect(feed.subscribers).toBe(0);
  });

  it('is fed by the registry; a provider context outlives nothing it announces', async () => {
    let context: ProviderContext | undefined;
    const registry = new Registry({
      builtins: withTestProviders({
        hw: () => ({
          type: 'hw',
          maintainedIfaceOptions: [],
          open: (ctx) => {
            context = ctx;
            ctx?.viewChanged(); // during open: nothing to announce yet
            return { preparePort: () => ({ plug: true }) };
          },
        }),
      }),
    });
    const seen: string[] = [];
    registry.changes.subscribe((c) => seen.push(`${c.kind} ${c.type}`));
    await registry.register('hw');
    const { instanceId } = await registry.open('hw');
    context!.viewChanged();
    await registry.close(instanceId);
    context!.viewChanged();
    await registry.unregister('hw');
    expect(seen).toEqual(['provider-registered hw', 'instance-opened hw', 'view-changed hw', 'instance-closed hw', 'provider-unregistered hw']);
    await registry.destroyAll();
  });
});
