// Delivery room: which due legs start on a route now. Pure policy over the route's ready queues; the
// engine (worker.ts) supplies the counts and starts the legs.

/**
 * Starts due legs while the route has room, water-filling across concurrency keys: a slot goes to a
 * key with the fewest legs in flight (level by level), never by the keys' order. Served in order
 * instead, a slot freed by a late key went back to an early one at each completion, until the early
 * keys held the route's whole limit and the last ones none (bench: 10 Graph mailboxes,
 * keyConcurrency 8, route limit 64: 8 mailboxes sending, 2 starved, 182 of 400 msg/s). The key ''
 * (a transport without keys) is not limited per key. `start` may find a leg no longer live and drop
 * it: that key's turn at this level is spent, and the next level gives it another.
 */
export function fillLane<T>(
  ready: Map<string, T[]>,
  room: () => number,
  keyLimit: number,
  activeOf: (key: string) => number,
  start: (key: string, task: T) => void,
): void {
  for (let level = 1; room() > 0 && ready.size > 0; level++) {
    let below = false;
    for (const [k, q] of ready) {
      if (room() <= 0) break;
      const active = k === '' ? 0 : activeOf(k);
      if (active >= keyLimit) continue;
      below = true;
      // This level admits keys with fewer than `level` legs in flight.
      if (k !== '' && active >= level) continue;
      const t = q.shift();
      if (q.length === 0) ready.delete(k);
      if (t !== undefined) start(k, t);
    }
    // Every key with due legs is at its own limit: nothing more can start on this route now.
    if (!below) break;
  }
}
