// What Cost Management accepts as an export's `deliveryInfo.destination.rootFolderPath`, and how to
// make any text (a scope id, a customer name, a user's folder) into a path it accepts.
//
// Since August 2024 the service refuses at PUT (400 BadRequest, "Request properties validation
// failed: Invalid deliveryInfo destination rootFolderPath; …"):
//   - a leading "/" ("value cannot begin with a forward slash"; hashicorp/terraform-provider-azurerm
//     #26219, microsoft/finops-toolkit #896);
//   - "any reserved url characters except forward slashes(/)" (finops-toolkit #1239, #745), which
//     hits MCA/MPA billing account ids such as `…:…_2019-05-31` through their ":".
// "Reserved" is read as RFC 3986's gen-delims and sub-delims. The service is not known to refuse
// "_" (#745 suspects it, #1239's message names only reserved characters), so "_" is kept.
// The paths we produce also avoid what is not reserved but breaks blob names or URLs anyway
// (% \ whitespace and control characters) and empty, "." and ".." segments.

/** A folder as compared and stored: without leading or trailing slashes (`a/b/` and `/a/b` are one
 * folder); '' for none. Blob names are case-sensitive, so case is kept. */
export function normaliseFolder(path: string | undefined): string {
  return (path ?? '').replace(/^\/+|\/+$/g, '');
}

/** RFC 3986 reserved characters other than "/". */
export const RESERVED_URL_CHARACTERS = ":?#[]@!$&'()*+,;=";
/** The longest path we send (blob names allow 1024 characters, and the export adds its own). */
export const MAX_ROOT_FOLDER_PATH_LENGTH = 1024;

const RESERVED = /[:?#[\]@!$&'()*+,;=]/;
// Not reserved, but never safe in a blob name or a URL path without encoding.
const UNSAFE = /[%\\\s\u0000-\u001f\u007f]/;
const REPLACE = /[:?#[\]@!$&'()*+,;=%\\\s\u0000-\u001f\u007f]+/g;

/** Why Cost Management (or a blob name) would refuse `path` as a root folder path, naming the first
 * offending character; undefined when it is accepted. The empty string is accepted (no folder). */
export function rootFolderPathProblem(path: string): string | undefined {
  if (typeof path !== 'string') return `expected a string, got ${typeof path}`;
  if (path === '') return undefined;
  if (path.startsWith('/')) return 'must not begin with "/"';
  if (path.length > MAX_ROOT_FOLDER_PATH_LENGTH) {
    return `must be at most ${MAX_ROOT_FOLDER_PATH_LENGTH} characters, got ${path.length}`;
  }
  const reserved = RESERVED.exec(path);
  if (reserved) {
    return `must not contain reserved URL characters other than "/" (found ${JSON.stringify(reserved[0])})`;
  }
  const unsafe = UNSAFE.exec(path);
  if (unsafe)
    return `must not contain % \\ spaces or control characters (found ${JSON.stringify(unsafe[0])})`;
  const segments = path.replace(/\/$/, '').split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return 'must not have an empty, "." or ".." folder';
  }
  return undefined;
}

/**
 * `text` as a root folder path Cost Management accepts: leading and trailing "/" dropped, each run
 * of reserved or unsafe characters replaced by "-", empty, "." and ".." folders dropped, cut to the
 * length limit at a folder boundary where possible. A path that is already valid comes back
 * unchanged (apart from a trailing "/"), so applying it again changes nothing.
 */
export function toRootFolderPath(text: string): string {
  const segments = String(text)
    .split('/')
    .map((s) => s.replace(REPLACE, '-'))
    .filter((s) => s !== '' && s !== '.' && s !== '..');
  let path = segments.join('/');
  if (path.length > MAX_ROOT_FOLDER_PATH_LENGTH) {
    const cut = path.slice(0, MAX_ROOT_FOLDER_PATH_LENGTH);
    const lastSlash = cut.lastIndexOf('/');
    path = (lastSlash > 0 ? cut.slice(0, lastSlash) : cut).replace(/\/+$/, '');
  }
  return path;
}

/** The folder an export of `scope` lands under by convention: the scope's resource id without its
 * leading "/", made valid (`providers/Microsoft.Billing/billingAccounts/aaaa-bbbb_2019-05-31` for
 * `…/billingAccounts/aaaa:bbbb_2019-05-31`), optionally below `prefix`. */
export function rootFolderPathForScope(scopeId: string, prefix = ''): string {
  return toRootFolderPath(`${prefix}/${scopeId}`);
}
