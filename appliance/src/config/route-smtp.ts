// Config of an SMTP smarthost route (issue 5 owns the details).
import { z } from 'zod';

export const smtpRouteFields = {
  type: z.literal('smtp'),
};
