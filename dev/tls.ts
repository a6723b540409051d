// A throwaway self-signed certificate for loopback HTTPS servers (the emulator, test fakes).
// HTTPS is not optional: the Azure SDK refuses to send bearer tokens over plain http.
import { generate } from 'selfsigned';

export interface LoopbackCertificate {
  /** PEM certificate; clients trust it explicitly (it is its own CA). */
  cert: string;
  /** PEM private key. */
  key: string;
}

export async function createLoopbackCertificate(days = 2): Promise<LoopbackCertificate> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    curve: 'P-256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
