/** The systemd unit reader the deployment tests use. */

import { describe, expect, it } from 'vitest';

import { parseUnit, splitCommandLine } from './parse';

describe('parseUnit and splitCommandLine', () => {
  it('joins continuation lines, keeps repeated keys, and splits a command line as systemd does', () => {
    const unit = parseUnit(['[Service]', 'ExecStart=-/bin/x \\', '    --a "b c" \\', '# a comment inside', "    --d='e'", 'X=1', 'X=2', 'Empty='].join('\n'));
    expect(unit.get('Service')?.get('X')).toEqual(['1', '2']);
    expect(unit.get('Service')?.get('Empty')).toEqual(['']);
    expect(splitCommandLine(unit.get('Service')!.get('ExecStart')![0]!)).toEqual(['/bin/x', '--a', 'b c', '--d=e']);
  });
});
