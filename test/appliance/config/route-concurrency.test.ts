// Route `concurrency` defaults: Graph's limit is 4 concurrent requests per (app, mailbox)
// (reference microsoft-mail-apis.md, Outlook service limits), so a Graph route's default follows its
// mailboxes; other routes default to 4.
import { describe, expect, it } from 'vitest';
import { routeSchema } from '../../../appliance/src/config/schema.ts';

const graph = {
  name: 'm365',
  type: 'graph',
  tenantId: 'contoso.onmicrosoft.com',
  clientId: '00000000-0000-0000-0000-000000000001',
  clientSecret: 'graph-secret',
};
const concurrency = (r: Record<string, unknown>) => routeSchema.parse(r).concurrency;

describe('route concurrency defaults', () => {
  it('Graph with envelope senders: 16 mailboxes × 4, so ten mailboxes get 4 each (not 4 in total)', () => {
    expect(concurrency(graph)).toBe(64);
    expect(concurrency({ ...graph, mailboxConcurrency: 2 })).toBe(32);
    expect(concurrency(graph)).toBeGreaterThanOrEqual(10 * 4);
  });

  it('Graph with one fixed mailbox: that mailbox’s limit', () => {
    expect(concurrency({ ...graph, mailbox: 'scanner@contoso.com' })).toBe(4);
    expect(concurrency({ ...graph, mailbox: 'scanner@contoso.com', mailboxConcurrency: 1 })).toBe(1);
  });

  it('an explicit value wins; other route types default to 4', () => {
    expect(concurrency({ ...graph, concurrency: 8 })).toBe(8);
    expect(concurrency({ name: 'c', type: 'capture' })).toBe(4);
    expect(() => routeSchema.parse({ ...graph, concurrency: 0 })).toThrow();
  });
});
