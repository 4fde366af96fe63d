/**
 * The OVN sandbox the tests run: the one `npm run demo:ovn` runs, which lives
 * with the demo (demo/ovn/sandbox.ts) so that the demo imports no test code.
 */

export * from '../../demo/ovn/sandbox';
