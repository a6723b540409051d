// Settings that are valid but leave something off, said where an operator looks (/api/health and
// /api/status): unlike a problem they do not make the status degraded, because they are a choice.
// Mail off is the template's default (infra/main.bicep): a deployment without recipients starts
// and says so, rather than every function failing its settings check.

export interface ConfigNoticeInput {
  alerts: { transport: string };
}

export const MAIL_OFF_NOTICE =
  'Alert mail is off (ALERT_MAIL_TRANSPORT=none): expiring SAS tokens and failing exports show on /api/status, but nobody is mailed. ' +
  'To turn it on: azd env set ALERT_RECIPIENTS "finops@contoso.com" && azd env set ALERT_MAIL_TRANSPORT acs && azd provision';

export function configNotices(config: ConfigNoticeInput): string[] {
  return config.alerts.transport === 'none' ? [MAIL_OFF_NOTICE] : [];
}
