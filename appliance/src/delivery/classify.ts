// Delivery decisions are data: the one classification table, composed of each transport's own rows
// (graph/graph-errors.ts, acs/acs-errors.ts, smtp/smtp-errors.ts) and the generic rows (failure.ts).
// Rows are tried in order: specific service codes first, then generic status classes. Every
// transport row names its transport, so a transport judging with its own rows plus the generic ones
// (as each transport does) reaches the same verdict as this table.
import { ACS_ERROR_ROWS } from './acs/acs-errors.ts';
import {
  type Classification,
  type ClassificationRow,
  type FailureFacts,
  GENERIC_ROWS,
  judge,
} from './failure.ts';
import { GRAPH_ERROR_ROWS } from './graph/graph-errors.ts';
import { SMTP_ERROR_ROWS } from './smtp/smtp-errors.ts';

export type { Classification, ClassificationRow, FailureFacts } from './failure.ts';

/** The one table: service-specific rows first, generic rows last. */
export const CLASSIFICATION_TABLE: readonly ClassificationRow[] = [
  ...GRAPH_ERROR_ROWS,
  ...ACS_ERROR_ROWS,
  ...SMTP_ERROR_ROWS,
  ...GENERIC_ROWS,
];

export function classify(facts: FailureFacts): Classification {
  return judge(CLASSIFICATION_TABLE, facts);
}
