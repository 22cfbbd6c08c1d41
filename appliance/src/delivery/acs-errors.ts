// Classification rows for the acs transport; classify.ts tries them before the generic rows.
import type { ClassificationRow } from './classify.ts';

export const ACS_ERROR_ROWS: readonly ClassificationRow[] = [];
