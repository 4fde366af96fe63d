/**
 * Runs tasks one at a time per key, in arrival order, while tasks of different
 * keys interleave freely. The registry uses it so that Register, Unregister,
 * Open and Close of one provider type never see each other half done, however
 * their provider callbacks await.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
