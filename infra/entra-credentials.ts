// infra/ room: the credentials registered on an Entra application, one set of resources per slot of
// credential-rotation.ts. A certificate slot is a private key, a self-signed certificate and its
// ApplicationCertificate; a secret slot is an ApplicationPassword. Slots have their own logical
// names, so adding the next one never replaces the previous; nothing renews by itself on refresh
// (a silent replacement would cut off every site still holding the old credential).
import * as azuread from '@pulumi/azuread';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import type { CredentialExpiry, CredentialSlot, SecretSlot } from './credential-rotation.ts';

export interface IssuedCredential {
  /** The current credential: PEM certificate + PKCS#8 key, or the client secret (secret Output). */
  readonly value: pulumi.Output<string>;
  /** RFC 3339 end of validity of the current credential. */
  readonly expires: pulumi.Output<string>;
  /** Every registered credential with its expiry (current first). */
  readonly expiry: pulumi.Output<CredentialExpiry[]>;
}

function expiryOf(slot: CredentialSlot, expires: pulumi.Input<string>): pulumi.Output<CredentialExpiry> {
  return pulumi.output(expires).apply((e) => ({
    id: slot.id,
    state: slot.state,
    expires: e,
    ...(slot.retiresAfter === undefined ? {} : { retiresAfter: slot.retiresAfter }),
  }));
}

/** Key + self-signed certificate + the certificate registered on the application, per slot. */
export function certificateCredentials(
  name: string,
  parent: pulumi.Resource,
  application: azuread.Application,
  commonName: string,
  validityDays: number,
  slots: readonly CredentialSlot[],
): IssuedCredential {
  const issued = slots.map((slot) => {
    const n = `${name}${slot.suffix}`;
    const key = new tls.PrivateKey(`${n}-key`, { algorithm: 'RSA', rsaBits: 3072 }, { parent });
    const cert = new tls.SelfSignedCert(
      `${n}-cert`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName },
        validityPeriodHours: validityDays * 24,
        allowedUses: ['digital_signature', 'client_auth'],
      },
      { parent },
    );
    new azuread.ApplicationCertificate(
      `${n}-cert-credential`,
      {
        applicationId: application.id,
        type: 'AsymmetricX509Cert',
        encoding: 'pem',
        value: cert.certPem,
        endDate: cert.validityEndTime,
      },
      { parent },
    );
    return { slot, key, cert };
  });
  const current = issued[0];
  if (current === undefined) throw new Error('certificateCredentials needs at least one slot');
  return {
    value: pulumi.secret(
      pulumi
        .all([current.cert.certPem, current.key.privateKeyPemPkcs8])
        .apply(([c, k]) => `${c.trimEnd()}\n${k.trimEnd()}\n`),
    ),
    expires: current.cert.validityEndTime,
    expiry: pulumi.all(issued.map((i) => expiryOf(i.slot, i.cert.validityEndTime))),
  };
}

/** One ApplicationPassword per secret slot (this period's, and last period's during the grace). */
export function secretCredentials(
  name: string,
  parent: pulumi.Resource,
  application: azuread.Application,
  slots: readonly SecretSlot[],
): IssuedCredential {
  const issued = slots.map((slot) => ({
    slot,
    password: new azuread.ApplicationPassword(
      `${name}-secret${slot.suffix}`,
      {
        applicationId: application.id,
        displayName: `relaykit ${slot.periodStart.slice(0, 10)}`,
        endDate: slot.endDate,
        rotateWhenChanged: { rotationPeriod: slot.periodStart },
      },
      { parent },
    ),
  }));
  const current = issued[0];
  if (current === undefined) throw new Error('secretCredentials needs at least one slot');
  return {
    value: pulumi.secret(current.password.value),
    expires: pulumi.output(current.slot.endDate),
    expiry: pulumi.all(issued.map((i) => expiryOf(i.slot, i.slot.endDate))),
  };
}
