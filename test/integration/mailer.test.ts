// The mailer against a real SMTP server on loopback and a local HTTPS fake of ACS Email.
import {
  ACS_TOKEN_SCOPE,
  AcsMailer,
  createMailer,
  LogMailer,
  MailError,
  type MailMessage,
  SmtpMailer,
} from '../../src/azure/mailer';
import { composeDigest } from '../../src/domain/alertPolicy';
import { type AcsFake, RecordingCredential, startAcsFake } from '../support/acsFake';
import { type SmtpSink, startSmtpSink } from '../support/smtpSink';

const NOW = new Date('2025-07-10T06:00:00Z');

function digestMessage(): MailMessage {
  const digest = composeDigest({
    now: NOW,
    tokens: [
      {
        alert: {
          kind: 'expiring',
          storageAccount: 'partnerdata01',
          tokenId: 'tok-2025',
          expiresOn: '2025-07-13T07:00:00Z',
          daysLeft: 3,
          thresholdDays: 3,
          recordThresholdDays: 3,
        },
        exports: [
          { scope: '/subscriptions/00000000-0000-0000-0000-000000000001', exportName: 'daily-actual' },
        ],
        exportCount: 1,
      },
    ],
    failing: [],
    stale: [],
    appBaseUrl: 'https://func-cea.azurewebsites.net',
  });
  return { to: ['finops@example.com', 'billing@example.org'], ...digest };
}

describe('SMTP mailer (nodemailer → smtp-server on loopback)', () => {
  let sink: SmtpSink;
  beforeEach(async () => {
    sink = await startSmtpSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  const mailer = (port = sink.port) =>
    new SmtpMailer({ host: '127.0.0.1', port, secure: false, sender: 'alerts@example.com', timeoutMs: 5000 });

  it('delivers the digest: subject, both bodies, sender and every recipient', async () => {
    const message = digestMessage();
    const smtp = mailer();
    const receipt = await smtp.send(message);
    smtp.close();
    expect(receipt).toMatchObject({ transport: 'smtp', rejected: [] });
    expect(receipt.messageId).toMatch(/@/);
    expect(sink.received).toHaveLength(1);
    const mail = sink.received[0]!;
    expect(mail.from).toBe('alerts@example.com');
    expect(mail.to).toEqual(['finops@example.com', 'billing@example.org']);
    expect(mail.subject).toBe('3 days left: 1 SAS token expiring (Cost Export Autopilot)');
    expect(mail.text).toContain('partnerdata01 / token tok-2025: 3 days left');
    expect(mail.text).toContain(
      'curl -X POST "https://func-cea.azurewebsites.net/api/tokens/partnerdata01/rotate"',
    );
    expect(mail.html).toContain('<h3>SAS tokens</h3>');
    expect(mail.html).toContain('daily-actual at /subscriptions/00000000-0000-0000-0000-000000000001');
  });

  it('reports a relay that is down as a transient MailError', async () => {
    await sink.close();
    const smtp = mailer();
    const failure = await smtp.send(digestMessage()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MailError);
    expect(failure).toMatchObject({ transport: 'smtp', transient: true });
    expect((failure as Error).message).toMatch(/ECONNREFUSED/);
    sink = await startSmtpSink(); // for afterEach
  });

  it.each([
    [451, true],
    [554, false],
  ])('an SMTP %d reply is a MailError (transient: %p)', async (code, transient) => {
    sink.failWith({ code, message: 'not now' });
    const failure = await mailer()
      .send(digestMessage())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MailError);
    expect(failure).toMatchObject({ transient });
    expect(sink.received).toHaveLength(0);
  });

  it('refuses bad messages and settings naming the field', async () => {
    await expect(mailer().send({ ...digestMessage(), to: [] })).rejects.toThrow(/^to:/);
    await expect(mailer().send({ ...digestMessage(), to: ['nobody'] })).rejects.toThrow(/"nobody"/);
    expect(() => new SmtpMailer({ host: 'h', port: 0, secure: false, sender: 'a@b.c' })).toThrow(/SMTP_PORT/);
    expect(() => new SmtpMailer({ host: 'h', port: 25, secure: false, sender: 'x' })).toThrow(/ALERT_SENDER/);
  });
});

describe('ACS Email mailer (@azure/communication-email → local HTTPS fake)', () => {
  let acs: AcsFake;
  let credential: RecordingCredential;
  beforeAll(async () => {
    acs = await startAcsFake();
  });
  afterAll(async () => {
    await acs.close();
  });
  beforeEach(() => {
    acs.sent.length = 0;
    acs.requests.length = 0;
    acs.setOutcome({ kind: 'succeed' });
    acs.runningPolls = 1;
    credential = new RecordingCredential();
  });

  const mailer = () =>
    new AcsMailer({
      endpoint: acs.url,
      credential,
      sender: 'DoNotReply@alerts.example.com',
      caPem: acs.caPem,
      pollIntervalMs: 1,
    });

  it('sends with a managed-identity token and waits for the operation to succeed', async () => {
    acs.runningPolls = 2;
    const message = digestMessage();
    const receipt = await mailer().send(message);
    expect(receipt.transport).toBe('acs');
    expect(acs.sent).toHaveLength(1);
    const sent = acs.sent[0]!;
    expect(receipt.messageId).toBe(sent.operationId);
    expect(sent).toMatchObject({
      senderAddress: 'DoNotReply@alerts.example.com',
      subject: message.subject,
      plainText: message.text,
      html: message.html,
      to: ['finops@example.com', 'billing@example.org'],
      authorization: 'Bearer fake-acs-token',
    });
    expect(credential.scopes).toContainEqual([ACS_TOKEN_SCOPE]);
    const calls = acs.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, '{id}')}`);
    expect(calls).toEqual([
      'POST /emails:send',
      'GET /emails/operations/{id}',
      'GET /emails/operations/{id}',
      'GET /emails/operations/{id}',
    ]);
    expect(acs.requests[0]!.query.get('api-version')).toMatch(/^\d{4}-\d{2}-\d{2}/);
  });

  it('an operation that ends Failed is a MailError', async () => {
    acs.setOutcome({ kind: 'fail', code: 'EmailDroppedAllRecipientsSuppressed', message: 'all suppressed' });
    const failure = await mailer()
      .send(digestMessage())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MailError);
    expect((failure as Error).message).toMatch(/^acs mail was not accepted/);
    expect(acs.sent).toHaveLength(1);
  });

  it('a refused send (400) is a permanent MailError', async () => {
    acs.setOutcome({
      kind: 'reject',
      status: 400,
      code: 'InvalidSender',
      message: 'sender domain not linked',
    });
    const failure = await mailer()
      .send(digestMessage())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MailError);
    expect(failure).toMatchObject({ transport: 'acs', transient: false });
    expect((failure as Error).message).toMatch(/sender domain not linked/);
  });

  it('refuses a non-https endpoint naming the setting', () => {
    expect(() => new AcsMailer({ endpoint: 'http://127.0.0.1:1', credential, sender: 'a@b.c' })).toThrow(
      /ACS_ENDPOINT/,
    );
  });
});

describe('createMailer', () => {
  it('builds each transport from the alerts settings', () => {
    const base = { recipients: ['a@b.c'], sender: 'alerts@example.com' };
    expect(
      createMailer(
        { ...base, transport: 'acs', acsEndpoint: 'https://x.communication.azure.com' },
        { credential: new RecordingCredential() },
      ),
    ).toBeInstanceOf(AcsMailer);
    const smtp = createMailer({ ...base, transport: 'smtp', smtp: { host: 'h', port: 25, secure: false } });
    expect(smtp).toBeInstanceOf(SmtpMailer);
    smtp.close?.();
    expect(createMailer({ ...base, transport: 'none' })).toBeInstanceOf(LogMailer);
  });

  it('none logs the digest, redacted, and counts it as delivered', async () => {
    const lines: string[] = [];
    const mailer = createMailer({ transport: 'none', recipients: [] }, { log: (l) => lines.push(l) });
    const receipt = await mailer.send({
      to: ['a@b.c'],
      subject: 'x',
      text: 'see https://a.blob.core.windows.net/c?sv=2024-01-01&sig=abcdefSECRET123%3D',
      html: '',
    });
    expect(receipt.transport).toBe('none');
    expect(lines.join('\n')).toContain('Alert (ALERT_MAIL_TRANSPORT=none) to a@b.c: x');
    expect(lines.join('\n')).not.toContain('abcdefSECRET123');
  });
});
