// The embedded default: what `npm start` runs with no config file. SMTP on 127.0.0.1:2525, loopback
// devices without AUTH, every message captured as an .eml under var/outbox/, status on :8025.
// Paths are relative to the working directory (the repository root under `npm start`).
export const EMBEDDED_DEFAULT_YAML = `
appliance:
  hostname: relaykit.localhost
listeners:
  - name: loopback
    address: 127.0.0.1
    port: 2525
    auth: false
identities:
  - name: loopback-devices
    networks: [127.0.0.0/8, ::1/128]
routes:
  - name: local
    type: capture
    directory: var/outbox
defaultRoute: local
spool:
  directory: var/spool
http:
  address: 127.0.0.1
  port: 8025
`;
