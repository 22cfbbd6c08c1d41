// Maps a route's type to the transport that serves it. Each transport module registers here; the
// engine asks for one Transport per configured route.
import type { RouteConfig } from '../config/schema.ts';
import { createAcsTransport } from './acs/acs-transport.ts';
import { createCaptureTransport } from './capture/capture-transport.ts';
import { createGraphTransport } from './graph/graph-transport.ts';
import { createSmtpTransport } from './smtp/smtp-transport.ts';
import type { Transport, TransportDeps } from './transport.ts';

export function createTransport(route: RouteConfig, deps: TransportDeps): Transport {
  switch (route.type) {
    case 'capture':
      return createCaptureTransport(route, deps);
    case 'graph':
      return createGraphTransport(route, deps);
    case 'acs':
      return createAcsTransport(route, deps);
    case 'smtp':
      return createSmtpTransport(route, deps);
  }
}
