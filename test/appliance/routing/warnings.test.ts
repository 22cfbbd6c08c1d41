import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../appliance/src/config/load.ts';
import { routingWarnings } from '../../../appliance/src/routing/warnings.ts';
import { configWith } from '../../helpers/routing/factories.ts';

describe('routingWarnings', () => {
  it('is quiet for a sensible rule set', () => {
    // (No sendAs here: a Graph route's required keys belong to the Graph room and may grow.)
    const config = configWith({
      rules: [
        { name: 'ceo', match: { recipient: 'ceo@contoso.com' }, action: { route: 'graph' } },
        {
          name: 'ext',
          match: { external: true },
          action: { route: 'acs', rewriteSender: 'noreply@contoso.com' },
        },
        { name: 'ext-big', match: { external: true, size: { over: '1MB' } }, action: { reject: true } },
      ],
    });
    expect(routingWarnings(config)).toEqual([]);
  });

  it('names sendAs on a non-Graph route, a rewritten null sender, and a rule shadowed by an identical one', () => {
    const config = configWith({
      rules: [
        { name: 'a', match: { identity: 'nas', size: { over: '1MB' } }, action: { sendAs: 'x@contoso.com' } },
        {
          name: 'bounces',
          match: { mailFrom: ['<>'] },
          action: { route: 'acs', rewriteSender: 'noreply@contoso.com' },
        },
        { name: 'b', match: { size: { over: '1MB' }, identity: ['nas'] }, action: { route: 'acs' } },
      ],
    });
    expect(routingWarnings(config)).toEqual([
      'rules[0] (a): sendAs has no effect on route "local" (type capture); only Graph routes send as a mailbox',
      'rules[1] (bounces): rewriteSender gives bounces (MAIL FROM <>) a real sender, so a failed bounce can bounce back',
      'rules[2] (b): same conditions as rules[0] (a), which always matches first',
    ]);
  });

  it('has nothing to say about the rules block of config.example.yaml', () => {
    const example = new URL('../../../appliance/config.example.yaml', import.meta.url).pathname;
    expect(routingWarnings(loadConfig(example).config)).toEqual([]);
  });
});
