/**
 * What a support bundle must never carry: the terminal key, the admin token, the
 * supervisor PIN's hash, the web bridge's session token, passwords in URLs. Pure
 * functions over settings objects and over text (log lines, URLs, error messages).
 *
 * Two nets, both applied: by name (a field or parameter called like a secret is
 * redacted whatever its value) and by value (every secret the bundle's builder knows,
 * and anything shaped like a TillSync key, is redacted wherever it appears, even in a
 * log line or a URL whose name gives nothing away).
 */

/** What a redacted value reads as. */
export const REDACTED = '[REDACTED]';

/** Parts of a name (lower case, without `_`, `-`, `.`) that make its value a secret. */
const SECRET_NAME_PARTS = ['apikey', 'token', 'secret', 'password', 'passwd', 'pinhash', 'authorization', 'cookie', 'credential', 'privatekey', 'accesskey'];

/** Whether a field, variable or parameter of this name holds a secret (`apiKey`, `CENTRAL_API_KEY`, `supervisorPinHash`, `adminToken`, `pin`). */
export function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_.\s]/g, '');
  if (n === '') return false;
  if (n === 'key' || n === 'pin') return true;
  // supervisorPin, pinHash; not hasPin or isPin (whether one is set).
  if ((n.endsWith('pin') || n.endsWith('pincode')) && !/^(has|is)/.test(n)) return true;
  return SECRET_NAME_PARTS.some((p) => n.includes(p));
}

/** Values shaped like TillSync's terminal keys (`tsk_`) and admin tokens (`tsa_`), whoever they belong to. */
const KEY_SHAPES = /\bts[ka]_[A-Za-z0-9_-]{8,}/g;
/** `Bearer <anything>` in a header written out or a message. */
const BEARER = /\b(Bearer\s+)[^\s"',;]+/gi;
/** A password in a URL's user info: `scheme://user:password@host`. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@"']*:)[^@\s/"']+@/gi;
/** A URL's query or fragment parameter, `?name=value` or `&name=value`; the name decides. */
const URL_PARAM = /([?&#;])([A-Za-z0-9_.-]+)=([^&#\s"']*)/g;
/** `name=value` or `name: value` in plain text (not JSON: JSON is redacted as data); the name decides. */
const NAME_VALUE = /\b([A-Za-z][A-Za-z0-9_.-]*)(\s*[=:]\s*)(["']?)([^\s"',;&}]+)\3/g;

/** The known secrets, longest first (so a secret containing another is replaced whole), with their URL-encoded forms. */
export function secretValues(secrets: Iterable<string | null | undefined>): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    // Short values ("1234", "true") would blank out ordinary text; a real key or token is long.
    if (typeof s !== 'string' || s.length < 6) continue;
    out.add(s);
    out.add(encodeURIComponent(s));
  }
  return [...out].sort((a, b) => b.length - a.length);
}

function replaceAll(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
  return out;
}

/**
 * Redacts a piece of text: the known secrets (and their URL-encoded forms), key-shaped
 * values, `Bearer` credentials, passwords in URLs, and the values of secret-named URL
 * parameters. With `plain`, also the values of secret-named `name=value` pairs (used
 * for plain log lines; JSON text keeps its structure and is redacted as data instead).
 */
export function redactText(text: string, secrets: readonly string[], opts: { plain?: boolean } = {}): string {
  let out = replaceAll(text, secrets);
  out = out.replace(KEY_SHAPES, REDACTED);
  out = out.replace(BEARER, `$1${REDACTED}`);
  out = out.replace(URL_PASSWORD, `$1${REDACTED}@`);
  out = out.replace(URL_PARAM, (whole, sep: string, name: string, value: string) => (value !== '' && isSecretName(name) ? `${sep}${name}=${REDACTED}` : whole));
  if (opts.plain) {
    out = out.replace(NAME_VALUE, (whole, name: string, eq: string, quote: string, value: string) =>
      isSecretName(name) && value !== REDACTED && !value.startsWith('[') ? `${name}${eq}${quote}${REDACTED}${quote}` : whole,
    );
  }
  return out;
}

/**
 * Redacts a settings or status object (any JSON-like value): a secret-named field's
 * value becomes REDACTED (absent, null and empty values stay as they are, so the
 * bundle still says whether a key was set), and every string is redacted as text.
 * Returns a new value; the input is not changed.
 */
export function redactValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretName(k) && v !== undefined && v !== null && v !== '' && typeof v !== 'boolean' ? REDACTED : redactValue(v, secrets);
    }
    return out;
  }
  return value;
}

/** One log line: a JSON line (pino's) is redacted as data and written back as JSON; any other line as plain text. */
export function redactLogLine(line: string, secrets: readonly string[]): string {
  const t = line.trim();
  if (t.startsWith('{') && t.endsWith('}')) {
    try {
      return JSON.stringify(redactValue(JSON.parse(t) as unknown, secrets));
    } catch {
      // Not JSON after all: redacted as text below.
    }
  }
  return redactText(line, secrets, { plain: true });
}

/** Every line of a log, redacted. */
export function redactLog(text: string, secrets: readonly string[]): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : redactLogLine(l, secrets)))
    .join('\n');
}

/** The rules above in words, for the bundle's manifest. */
export const REDACTION_RULES: readonly string[] = [
  `fields, variables and URL parameters named like a secret (key, api key, token, secret, password, PIN, PIN hash, authorization, cookie, credential) read ${REDACTED}`,
  'the terminal key, the admin token, the PIN hash and every other secret this process knows are replaced wherever they appear (settings, status, history, logs, URLs, errors), URL-encoded too',
  'values shaped like a TillSync key or admin token (tsk_..., tsa_...), Bearer credentials and passwords in URLs are replaced wherever they appear',
];
