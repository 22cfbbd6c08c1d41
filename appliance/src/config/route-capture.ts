// Config of the capture route: writes each message as one .eml file into a directory.
import { z } from 'zod';

export const captureRouteFields = {
  type: z.literal('capture'),
  /** Directory for the .eml files; relative paths resolve against the config file's directory. */
  directory: z.string().default('var/outbox'),
};
