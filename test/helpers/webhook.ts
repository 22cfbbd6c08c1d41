// A webhook receiver for alert tests: a real HTTP server on 127.0.0.1:0 that records each JSON body
// and answers with the status the test chooses, or never ("hang").
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  readonly url: string;
  readonly bodies: unknown[];
  close(): void;
}

export async function webhookServer(
  answer: (req: IncomingMessage, body: string) => number | 'hang' = () => 202,
): Promise<WebhookReceiver> {
  const bodies: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      const a = answer(req, body);
      if (a === 'hang') return;
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
