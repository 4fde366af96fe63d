// Preloaded into the daemon by the soak only (node --expose-gc --require):
// SIGUSR2 runs a full garbage collection, so that the soak measures the heap
// the daemon keeps rather than garbage not yet collected.
process.on('SIGUSR2', () => global.gc());
