// Config of routing rules (issue 5 owns the details): an ordered list, first match wins, and a
// mandatory default route. The router (routing/router.ts) evaluates them as a pure function.
import { z } from 'zod';
import { name } from './fields.ts';

export const ruleSchema = z.strictObject({
  name,
  /** Conditions; all given conditions must hold. */
  match: z.strictObject({}).default({}),
  /** What to do with the recipients the rule matches. */
  action: z.strictObject({ route: name }),
});

export type RuleConfig = z.infer<typeof ruleSchema>;
