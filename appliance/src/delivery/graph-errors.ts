// Classification rows for the graph transport; classify.ts tries them before the generic rows.
import type { ClassificationRow } from './classify.ts';

export const GRAPH_ERROR_ROWS: readonly ClassificationRow[] = [];
