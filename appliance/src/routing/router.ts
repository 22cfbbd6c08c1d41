// The router: a pure function from what is known about a message to one decision per recipient.
// (Placeholder until the rule language lands: every recipient takes the default route.)
import type { Config } from '../config/schema.ts';

export interface RouteInput {
  readonly identity: string;
  readonly sourceIp: string;
  readonly authUser?: string;
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly size: number;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
}

export interface Leg {
  route: string;
  recipients: string[];
  rule: string;
  sendAs?: string;
  mailFrom?: string;
}

export interface Rejection {
  recipients: string[];
  rule: string;
  responseCode: number;
  enhanced: string;
  message: string;
}

export interface RoutingDecision {
  legs: Leg[];
  rejections: Rejection[];
}

export interface CompiledRules {
  readonly defaultRoute: string;
}

export function compileRules(config: Config): CompiledRules {
  return { defaultRoute: config.defaultRoute };
}

export function routeMessage(rules: CompiledRules, input: RouteInput): RoutingDecision {
  return {
    legs: [{ route: rules.defaultRoute, recipients: [...input.recipients], rule: 'default' }],
    rejections: [],
  };
}

export function rejectAtRcpt(
  _rules: CompiledRules,
  _input: Omit<RouteInput, 'size' | 'headers' | 'recipients'> & { recipient: string },
): Rejection | undefined {
  return undefined;
}
