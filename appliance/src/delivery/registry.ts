// Maps a route's type to the transport that serves it. Each transport module is loaded only when a
// configured route uses it (issue 15: idle RSS): a Graph-only relay never loads mailparser for ACS
// or nodemailer for SMTP. The engine asks for one Transport per configured route at start-up.
import type { RouteConfig } from '../config/schema.ts';
import type { Transport, TransportDeps } from './transport.ts';

export async function createTransport(route: RouteConfig, deps: TransportDeps): Promise<Transport> {
  switch (route.type) {
    case 'capture':
      return (await import('./capture/capture-transport.ts')).createCaptureTransport(route, deps);
    case 'graph':
      return (await import('./graph/graph-transport.ts')).createGraphTransport(route, deps);
    case 'acs':
      return (await import('./acs/acs-transport.ts')).createAcsTransport(route, deps);
    case 'smtp':
      return (await import('./smtp/smtp-transport.ts')).createSmtpTransport(route, deps);
  }
}
