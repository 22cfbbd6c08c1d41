// Config of a Microsoft Graph route (issue 4 owns the details).
import { z } from 'zod';

export const graphRouteFields = {
  type: z.literal('graph'),
};
