// Classification rows for the smtp transport; classify.ts tries them before the generic rows.
import type { ClassificationRow } from './classify.ts';

export const SMTP_ERROR_ROWS: readonly ClassificationRow[] = [];
