// Alert e-mail. In Azure: Azure Communication Services Email with the app's managed identity (no
// secret to keep). Elsewhere: any SMTP relay through nodemailer. `none`: the digest goes to the log.
// A send resolves only once the service accepted the message (ACS: the send operation Succeeded;
// SMTP: the relay accepted at least one recipient), so callers can record "alerted" afterwards.
import { rootCertificates } from 'node:tls';

import type * as CommunicationEmail from '@azure/communication-email';
import type { EmailClient, EmailMessage } from '@azure/communication-email';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type * as Nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';

import type { AppConfig, MailTransport } from '../config';
import { redactSecrets } from '../domain/redact';
import { lazyModule } from './lazyModule';

const acsSdk = lazyModule<typeof CommunicationEmail>('@azure/communication-email');
const nodemailer = lazyModule<typeof Nodemailer>('nodemailer');

export interface MailMessage {
  to: readonly string[];
  subject: string;
  text: string;
  html: string;
}

export interface MailReceipt {
  transport: MailTransport;
  /** ACS operation id or SMTP Message-ID. */
  messageId?: string;
  /** Recipients the relay refused (SMTP); the message still counts as sent when some accepted it. */
  rejected: string[];
}

export interface Mailer {
  readonly transport: MailTransport;
  /** Resolves once the message was accepted; throws MailError otherwise. */
  send(message: MailMessage): Promise<MailReceipt>;
  close?(): void;
}

/** A message that was not accepted. The message names the transport and never holds a secret. */
export class MailError extends Error {
  constructor(
    readonly transport: MailTransport,
    message: string,
    /** Whether sending again later may succeed (network, throttling, 5xx). */
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(redactSecrets(`${transport} mail was not accepted: ${message}`), options);
    this.name = 'MailError';
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function checkMessage(message: MailMessage): void {
  if (!Array.isArray(message.to) || message.to.length === 0)
    throw new TypeError('to: at least one recipient');
  for (const address of message.to) {
    if (typeof address !== 'string' || !EMAIL.test(address)) {
      throw new TypeError(`to: "${String(address)}" is not an e-mail address`);
    }
  }
  if (typeof message.subject !== 'string' || message.subject.trim() === '')
    throw new TypeError('subject: required');
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${error.message}`;
  }
  return String(error);
}

// ------------------------------------------------------------------------------------------ ACS

/** The token audience ACS asks for (sic, with the double slash the SDK uses). */
export const ACS_TOKEN_SCOPE = 'https://communication.azure.com//.default';

export interface AcsMailerOptions {
  /** `https://{resource}.communication.azure.com` (ACS_ENDPOINT). */
  endpoint: string;
  /** Managed identity in Azure (DefaultAzureCredential); a fake in tests. */
  credential: TokenCredential;
  /** A verified sender of the resource's e-mail domain (ALERT_SENDER). */
  sender: string;
  /** An extra CA to trust (a local fake's self-signed certificate). */
  caPem?: string;
  /** Between status polls when the service gives no Retry-After (SDK default 2 s). */
  pollIntervalMs?: number;
}

export class AcsMailer implements Mailer {
  readonly transport = 'acs' as const;
  private readonly client: EmailClient;

  constructor(private readonly options: AcsMailerOptions) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new TypeError(`ACS_ENDPOINT: expected an https URL, got "${options.endpoint}"`);
    }
    // The bearer policy refuses http anyway; say so with the setting's name.
    if (url.protocol !== 'https:')
      throw new TypeError(`ACS_ENDPOINT: expected an https URL, got "${options.endpoint}"`);
    if (!EMAIL.test(options.sender))
      throw new TypeError(`ALERT_SENDER: "${options.sender}" is not an e-mail address`);
    this.client = new (acsSdk().EmailClient)(options.endpoint, options.credential, {
      ...(options.caPem ? { tlsOptions: { ca: [...rootCertificates, options.caPem] } } : {}),
    });
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    checkMessage(message);
    const email: EmailMessage = {
      senderAddress: this.options.sender,
      content: { subject: message.subject, plainText: message.text, html: message.html },
      recipients: { to: message.to.map((address) => ({ address })) },
    };
    let result;
    try {
      const poller = await this.client.beginSend(email, {
        ...(this.options.pollIntervalMs !== undefined
          ? { updateIntervalInMs: this.options.pollIntervalMs }
          : {}),
      });
      result = await poller.pollUntilDone();
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      const transient = typeof status !== 'number' || status === 408 || status === 429 || status >= 500;
      throw new MailError('acs', errorText(error), transient, { cause: error });
    }
    if (result.status !== 'Succeeded') {
      const detail = result.error?.message ?? result.error?.code ?? 'no detail';
      throw new MailError('acs', `send operation ${result.id} ended ${result.status}: ${detail}`, false);
    }
    return { transport: 'acs', messageId: result.id, rejected: [] };
  }
}

// ----------------------------------------------------------------------------------------- SMTP

export interface SmtpMailerOptions {
  host: string;
  port: number;
  /** TLS from the first byte (465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  password?: string;
  sender: string;
  /** Demand STARTTLS (default: when credentials are sent, so a password never crosses in clear). */
  requireTls?: boolean;
  /** Connection, greeting and socket timeout (default 30 s). */
  timeoutMs?: number;
}

export class SmtpMailer implements Mailer {
  readonly transport = 'smtp' as const;
  private readonly transporter: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(private readonly options: SmtpMailerOptions) {
    if (!options.host) throw new TypeError('SMTP_HOST: required');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new TypeError(`SMTP_PORT: expected a port from 1 to 65535, got ${options.port}`);
    }
    if (!EMAIL.test(options.sender))
      throw new TypeError(`ALERT_SENDER: "${options.sender}" is not an e-mail address`);
    const timeout = options.timeoutMs ?? 30_000;
    const auth = options.user ? { user: options.user, pass: options.password ?? '' } : undefined;
    const transportOptions: SMTPTransport.Options = {
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTls ?? (auth !== undefined && !options.secure),
      ...(auth ? { auth } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      logger: false,
    };
    this.transporter = nodemailer().createTransport(transportOptions);
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    checkMessage(message);
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await this.transporter.sendMail({
        from: this.options.sender,
        to: [...message.to],
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
    } catch (error) {
      const responseCode = (error as { responseCode?: unknown }).responseCode;
      // 5xx replies are permanent (bad recipient, auth refused); everything else may pass later.
      const transient = typeof responseCode !== 'number' || responseCode < 500;
      throw new MailError('smtp', errorText(error), transient, { cause: error });
    }
    const address = (a: string | { address: string }) => (typeof a === 'string' ? a : a.address);
    const accepted = info.accepted.map(address);
    const rejected = info.rejected.map(address);
    if (accepted.length === 0) {
      throw new MailError(
        'smtp',
        `the relay accepted none of the recipients (${rejected.join(', ')})`,
        false,
      );
    }
    return { transport: 'smtp', messageId: info.messageId, rejected };
  }

  close(): void {
    this.transporter.close();
  }
}

// ----------------------------------------------------------------------------------------- none

export type MailLog = (line: string) => void;

/** No mail service configured: the digest is logged (subject and text) and counts as delivered. */
export class LogMailer implements Mailer {
  readonly transport = 'none' as const;
  constructor(private readonly log: MailLog) {}

  send(message: MailMessage): Promise<MailReceipt> {
    this.log(
      redactSecrets(
        `Alert (ALERT_MAIL_TRANSPORT=none) to ${message.to.join(', ') || '(nobody)'}: ${message.subject}\n${message.text}`,
      ),
    );
    return Promise.resolve({ transport: 'none', rejected: [] });
  }
}

// ------------------------------------------------------------------------------------- factory

export interface MailerDeps {
  /** Replaces DefaultAzureCredential for ACS (tests). */
  credential?: TokenCredential;
  caPem?: string;
  pollIntervalMs?: number;
  /** Where `none` writes; default console.warn (Functions collects it). */
  log?: MailLog;
  /** AZURE_CLIENT_ID: the user-assigned identity to use. */
  clientId?: string;
}

/** The mailer the settings ask for (config.ts has checked that each transport's settings are present). */
export function createMailer(alerts: AppConfig['alerts'], deps: MailerDeps = {}): Mailer {
  switch (alerts.transport) {
    case 'acs': {
      const clientId = deps.clientId ?? process.env.AZURE_CLIENT_ID?.trim();
      return new AcsMailer({
        endpoint: alerts.acsEndpoint ?? '',
        credential:
          deps.credential ??
          new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}),
        sender: alerts.sender ?? '',
        ...(deps.caPem ? { caPem: deps.caPem } : {}),
        ...(deps.pollIntervalMs !== undefined ? { pollIntervalMs: deps.pollIntervalMs } : {}),
      });
    }
    case 'smtp': {
      const smtp = alerts.smtp;
      if (!smtp) throw new TypeError('SMTP_HOST: required when ALERT_MAIL_TRANSPORT is smtp');
      return new SmtpMailer({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.user ? { user: smtp.user } : {}),
        ...(smtp.password ? { password: smtp.password } : {}),
        sender: alerts.sender ?? '',
      });
    }
    case 'none':
      return new LogMailer(deps.log ?? ((line) => console.warn(line)));
  }
}
