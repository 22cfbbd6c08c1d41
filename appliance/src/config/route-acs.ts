// Config of an Azure Communication Services Email route (issue 5 owns the details).
import { z } from 'zod';

export const acsRouteFields = {
  type: z.literal('acs'),
};
