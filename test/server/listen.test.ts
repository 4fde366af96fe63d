import { describe, expect, it } from 'vitest';

import { bindTarget, isLoopback, parseListen } from '../../src/api/endpoint';

describe('parseListen', () => {
  it.each([
    ['unix:///run/vifplug/vifplug.sock', { kind: 'unix', path: '/run/vifplug/vifplug.sock' }],
    ['unix:vifplug.sock', { kind: 'unix', path: '/srv/vifplug.sock' }],
    ['unix:/abs.sock', { kind: 'unix', path: '/abs.sock' }],
    ['/var/lib/kubelet/plugins/vifplug.sock', { kind: 'unix', path: '/var/lib/kubelet/plugins/vifplug.sock' }],
    ['127.0.0.1:50051', { kind: 'tcp', host: '127.0.0.1', port: 50051 }],
    ['localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['[::1]:50051', { kind: 'tcp', host: '::1', port: 50051 }],
    ['0.0.0.0:50051', { kind: 'tcp', host: '0.0.0.0', port: 50051 }],
  ])('%s', (spec, expected) => {
    expect(parseListen(spec, '/srv')).toMatchObject({ spec, ...expected });
  });

  it.each(['', 'unix:', 'unix://relative.sock', 'host', 'host:port', ':50051', '127.0.0.1:65536', 'http://x:1', '[::1]50051'])('refuses %j', (spec) => {
    expect(() => parseListen(spec, '/srv')).toThrow(/listen address|absolute path|out of range|no socket path/);
  });

  it('gives grpc-js targets and tells loopback apart', () => {
    expect(bindTarget(parseListen('[::1]:5'))).toBe('[::1]:5');
    expect(bindTarget(parseListen('unix:///a.sock'))).toBe('unix:///a.sock');
    expect(['127.0.0.1:1', '[::1]:1', 'localhost:1', 'unix:///a'].map((s) => isLoopback(parseListen(s)))).toEqual([true, true, true, true]);
    expect(['0.0.0.0:1', '10.0.0.1:1', '[::]:1'].map((s) => isLoopback(parseListen(s)))).toEqual([false, false, false]);
  });
});
