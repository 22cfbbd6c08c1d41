// Child process of the Graph memory bench: relays one spooled message through the Graph transport
// (draft + upload path) against simulators run by the parent, then prints its own peak RSS. Running
// the transport alone in a process keeps the simulators' memory out of the figure.
import { benchGraphTransport, type ChildCloud } from './graph-child-transport.ts';

interface ChildInput extends ChildCloud {
  message: { path: string; offset: number; length: number };
  mailFrom: string;
  recipients: string[];
}

const input = JSON.parse(process.argv[2] ?? '{}') as ChildInput;
const { transport, close } = benchGraphTransport(input, {
  // Both sizes take the draft + upload path.
  sendMailMaxSize: '256KB',
  messagesPerMinute: 6000,
});
const started = Date.now();
const outcome = await transport.deliver({
  id: 'bench',
  leg: 0,
  mailFrom: input.mailFrom,
  recipients: input.recipients,
  identity: 'bench',
  attempt: 1,
  receivedAt: started,
  message: input.message,
  idempotencyKey: 'bench/0',
  signal: new AbortController().signal,
});
await close();
process.stdout.write(
  `${JSON.stringify({ kind: outcome.kind, outcome, ms: Date.now() - started, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
