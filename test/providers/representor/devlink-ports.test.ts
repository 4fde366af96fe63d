import { execFileSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { DevlinkJsonError, DevlinkPortsParser, MAX_PORT_JSON_BYTES, parseDevlinkPortsJson, parseHandle } from '../../../src/providers/representor/devlink-ports';
import { devlinkJsonFromText, parseDevlinkText } from '../../helpers/host/devlink-text';
import { FakeHost } from '../../helpers/host/fake-host';
import { readFixture } from '../../helpers/host/fixtures';

/** The JSON fixture without its "# source:" line. */
function jsonFixture(name: string): string {
  return readFixture(name).split('\n').slice(1).join('\n');
}

describe('parseDevlinkPortsJson', () => {
  it('reads the real `devlink -jp port show` output of fixture 06', () => {
    const { ports, warnings } = parseDevlinkPortsJson(jsonFixture('06-mlx5-external-controller-vf-json.txt'));
    expect(warnings).toEqual([]);
    expect(ports).toEqual([
      {
        handle: 'pci/0000:06:00.0/2',
        device: 'pci/0000:06:00.0',
        index: 2,
        type: 'eth',
        netdev: 'ens2f0c1pf0vf1',
        flavour: 'pcivf',
        controller: 1,
        pfnum: 0,
        vfnum: 1,
        external: true,
        hwAddr: '00:00:00:00:00:00',
      },
    ]);
  });

  it('agrees with the text form of the same port (fixture 05), through the test converter', () => {
    const fromText = parseDevlinkPortsJson(JSON.stringify(devlinkJsonFromText(readFixture('05-mlx5-external-controller-vf-text.txt'))));
    expect(fromText).toEqual(parseDevlinkPortsJson(jsonFixture('06-mlx5-external-controller-vf-json.txt')));
  });

  it.each([
    ['01-mlx5-cx6-host-switchdev-devlink-port.txt', 2],
    ['02-ice-e810-devlink-port-show.txt', 6],
    ['04-ice-e810-4vf-underscore-rep-names.txt', 5],
    ['05-mlx5-external-controller-vf-text.txt', 1],
    ['07-bluefield-arm-sf-external-controller.txt', 3],
    ['09a-hypervisor-side-vf-virtual-flavour.txt', 10],
    ['12-mlx5-uplink-port-pci-vs-auxiliary-6.1-vs-6.5.txt', 4],
    ['14-devlink-monitor-port-sf-lifecycle.txt', 0],
    ['15a-netdevsim-devlink-port-before-fix.txt', 5],
    ['15b-netdevsim-devlink-port-after-fix.txt', 5],
    ['16-mlx5-local-sf-add-and-udev-name.txt', 2],
  ])('understands every port of %s', (fixture, count) => {
    const { ports, warnings } = parseDevlinkPortsJson(JSON.stringify(devlinkJsonFromText(readFixture(fixture))));
    expect(warnings).toEqual([]);
    expect(ports).toHaveLength(count);
    for (const port of ports) {
      expect(port.flavour).toMatch(/^(physical|pcipf|pcivf|pcisf|virtual)$/);
      expect(`${port.device}/${port.index}`).toBe(port.handle);
    }
  });

  it('keeps attributes old kernels omit optional (fixtures 09a, 15a)', () => {
    const { ports } = parseDevlinkPortsJson(JSON.stringify(devlinkJsonFromText(readFixture('15a-netdevsim-devlink-port-before-fix.txt'))));
    const vf = ports.find((p) => p.vfnum === 2)!;
    expect(vf).toEqual({
      handle: 'netdevsim/netdevsim10/130',
      device: 'netdevsim/netdevsim10',
      index: 130,
      type: 'eth',
      netdev: 'eni10npf0vf2',
      flavour: 'pcivf',
      pfnum: 0,
      vfnum: 2,
    });
  });

  it('reads the function MAC and the SF number (fixture 07, indentation lost)', () => {
    const { ports } = parseDevlinkPortsJson(JSON.stringify(devlinkJsonFromText(readFixture('07-bluefield-arm-sf-external-controller.txt'))));
    expect(ports.find((p) => p.flavour === 'pcisf')).toMatchObject({
      handle: 'pci/0033:01:00.0/163840',
      netdev: 'eth1',
      controller: 1,
      pfnum: 0,
      sfnum: 77,
      external: true,
      hwAddr: '00:00:00:00:00:00',
    });
  });

  it('splits handles on the first and last slash, whatever the bus', () => {
    expect(parseHandle('auxiliary/mlx5_core.eth.0/65535')).toEqual({ bus: 'auxiliary', deviceName: 'mlx5_core.eth.0', index: 65535 });
    expect(parseHandle('netdevsim/netdevsim10/128')).toEqual({ bus: 'netdevsim', deviceName: 'netdevsim10', index: 128 });
    for (const bad of ['pci/0000:08:00.0', 'pci//1', '/x/1', 'pci/x/', 'pci/x/01', 'pci/x/-1', 'pci/x/99999999999']) expect(parseHandle(bad)).toBeUndefined();
  });

  it('accepts an empty dump', () => {
    expect(parseDevlinkPortsJson('{"port":{}}').ports).toEqual([]);
    expect(parseDevlinkPortsJson('{}').ports).toEqual([]);
  });

  it.each(['', 'Failed to connect to devlink Netlink', '[]', '"port"', '{"port":[]}', '{"port": 3}', '{"port":{'])('refuses %j as not its JSON', (text) => {
    expect(() => parseDevlinkPortsJson(text)).toThrow(DevlinkJsonError);
  });

  it('drops values of the wrong type or range instead of trusting them', () => {
    const { ports, warnings } = parseDevlinkPortsJson(
      JSON.stringify({
        port: {
          'pci/0000:01:00.0/1': {
            type: 'eth',
            netdev: '../../etc',
            flavour: 'pcivf',
            controller: -1,
            pfnum: 70000,
            vfnum: '3',
            sfnum: 1.5,
            external: 'true',
            function: { hw_addr: 'not-a-mac' },
          },
          'pci/0000:01:00.0/2': { netdev: 'this-name-is-far-too-long', flavour: 'pcivf; rm -rf /' },
          'bogus-handle': { netdev: 'eth0' },
          'pci/0000:01:00.0/3': 'not an object',
        },
      }),
    );
    expect(ports).toEqual([
      { handle: 'pci/0000:01:00.0/1', device: 'pci/0000:01:00.0', index: 1, type: 'eth', flavour: 'pcivf' },
      { handle: 'pci/0000:01:00.0/2', device: 'pci/0000:01:00.0', index: 2 },
    ]);
    // One note per cause, each with an example naming the port and a count.
    expect(Object.fromEntries(warnings.map((w) => [w.cause, w.count]))).toEqual({
      'devlink netdev malformed': 2,
      'devlink controller malformed': 1,
      'devlink pfnum malformed': 1,
      'devlink vfnum malformed': 1,
      'devlink sfnum malformed': 1,
      'devlink external malformed': 1,
      'devlink function hw_addr malformed': 1,
      'devlink flavour malformed': 1,
      'devlink port handle malformed': 1,
      'devlink port attributes not an object': 1,
    });
    expect(warnings.find((w) => w.cause === 'devlink vfnum malformed')!.example).toBe(
      'devlink port pci/0000:01:00.0/1: vfnum "3" is not an integer in 0..65535; the attribute is ignored',
    );
  });

  it('keeps a 20-byte InfiniBand function address out of the notes (a real address, not a MAC)', () => {
    const { ports, warnings } = parseDevlinkPortsJson(
      JSON.stringify({ port: { 'pci/0000:01:00.0/1': { flavour: 'pcipf', pfnum: 0, function: { hw_addr: Array(20).fill('fe').join(':') } } } }),
    );
    expect(ports[0]!.hwAddr).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});

describe('DevlinkPortsParser (incremental)', () => {
  const text = JSON.stringify(devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt')), null, 2);
  const whole = parseDevlinkPortsJson(text);

  it('reads the same ports whatever the chunks the output arrives in', () => {
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const parser = new DevlinkPortsParser();
      for (let i = 0; i < text.length; i += size) parser.write(text.slice(i, i + size));
      expect(parser.end()).toEqual(whole);
    }
  });

  it('skips top-level members other than "port", whatever they hold', () => {
    const parsed = parseDevlinkPortsJson(`{"x":{"a":[1,"}",{"b":"\\""}]},"port":${JSON.stringify(JSON.parse(text).port)},"y":-1.5e3,"z":null}`);
    expect(parsed).toEqual(whole);
  });

  it.each([
    ['{"port":{}} x', /goes on after the document/],
    ['{"port":{"pci/0000:01:00.0/1":{"vfnum":1}', /ends before the document does/],
    ['{"port":{"pci/0000:01:00.0/1":{"vfnum":01x}}}', /not JSON near byte/],
    ['{"port":{"pci/0000:01:00.0/1" {}}}', /where ":" should be/],
  ])('refuses %j, saying where', (bad, message) => {
    expect(() => parseDevlinkPortsJson(bad)).toThrow(message);
  });

  it('refuses a port whose attributes are larger than any real port\'s, without holding more', () => {
    const parser = new DevlinkPortsParser();
    parser.write('{"port":{"pci/0000:01:00.0/1":{"x":"');
    const chunk = 'a'.repeat(4096);
    expect(() => {
      for (let i = 0; i < MAX_PORT_JSON_BYTES / chunk.length + 1; i++) parser.write(chunk);
    }).toThrow(`has the attributes of port "pci/0000:01:00.0/1" longer than ${MAX_PORT_JSON_BYTES} bytes`);
  });
});

describe('the devlink text parser of the test helpers', () => {
  it('reads fixture 14 as a sequence of monitor events', () => {
    const events = parseDevlinkText(readFixture('14-devlink-monitor-port-sf-lifecycle.txt'));
    expect(events.map((e) => [e.event, e.attrs.type, e.attrs.netdev ?? null])).toEqual([
      ['new', 'notset', null],
      ['new', 'eth', null],
      ['new', 'eth', 'eth3'],
      ['new', 'eth', 'eth3'],
      ['new', 'eth', null],
      ['new', 'notset', null],
      ['del', 'notset', null],
    ]);
    expect(events[0]!.attrs.function).toEqual({ hw_addr: '00:00:00:00:00:00', state: 'inactive', opstate: 'detached', roce: 'enable' });
  });

  it('round-trips through the text the stand-in prints without -j', () => {
    const json = devlinkJsonFromText(readFixture('02-ice-e810-devlink-port-show.txt'));
    const host = new FakeHost();
    try {
      host.setDevlinkPorts(json);
      const text = execFileSync(host.devlinkBin, ['port', 'show'], { encoding: 'utf8' });
      expect(devlinkJsonFromText(text)).toEqual(json);
    } finally {
      host.remove();
    }
  });
});
