/**
 * What makes a column (or a JSON key) sensitive: name rules on its name, value detectors on what flows by.
 * Pure functions; the classifier (classify.ts) makes their verdicts sticky.
 *
 * Name rules match whole words: a name is split into lower-case words at `_`, `-`, spaces, digits and camel
 * case (`emailAddress` → email address, `user_email` → user email), and a rule is a word sequence found in
 * it. So `emailed_at` (word `emailed`) is not an email column. Names whose last word marks a timestamp, flag,
 * count or foreign key (`email_verified_at`, `phone_verified`, `email_count`, `card_id`) are not sensitive
 * either: they hold no PII, and masking them would hide the trail's most useful facts.
 *
 * Value detectors (measured cost is in bench/masking): anywhere in a value, email syntax, card numbers (Luhn,
 * issuer prefixes 2–6, 13–19 digits), JWTs, PEM private keys and secrets with a known prefix (Stripe secret
 * keys, GitHub, Slack, AWS, GitLab, Google); as the whole value, phone numbers (international `+…` or
 * North-American `(555) 123-4567`), US SSNs, IBANs (ISO 13616 mod-97), password hashes (bcrypt, argon2,
 * scrypt, pbkdf2, crypt) and generic high-entropy tokens (≥ 32 characters of a token alphabet, upper, lower
 * and digits mixed, Shannon entropy ≥ 4 bits/char; or ≥ 32 hex characters). UUIDs are not tokens.
 */

/** How a sensitive value is shown. */
export type Policy = 'none' | 'hash' | 'partial' | 'redact';

/** A name rule or value detector that matched. */
export interface Detection {
  /** Rule or detector name: `email`, `card`, `iban`, `jwt`, … */
  rule: string;
  policy: Policy;
}

interface NameRule {
  rule: string;
  policy: Policy;
  /** Word sequences; one found anywhere in the name's words matches (`=…`: only as the whole name). */
  words: string[][];
  /** Also applies to date-typed columns (birth dates); other rules skip temporal and boolean columns. */
  temporal?: boolean;
}

const w = (...alts: string[]): string[][] => alts.map((a) => a.split(' '));

/** First match wins: specific rules (email address, ip address) before generic ones (address). */
export const NAME_RULES: readonly NameRule[] = [
  { rule: 'email', policy: 'hash', words: w('email', 'e mail', 'emailaddress') },
  { rule: 'password', policy: 'redact', words: w('password', 'passwd', 'pwd', 'passphrase', 'pass hash') },
  { rule: 'api_key', policy: 'redact', words: w('api key', 'apikey', 'access key', 'secret key', 'private key', 'signing key') },
  { rule: 'secret', policy: 'redact', words: w('secret', 'credential', 'credentials', 'client secret') },
  { rule: 'token', policy: 'redact', words: w('token', 'otp', 'totp', 'mfa seed', 'recovery code', 'recovery codes') },
  {
    rule: 'card',
    policy: 'partial',
    words: w('card number', 'card num', 'card no', 'credit card', 'creditcard', 'cc number', 'ccnum', 'pan'),
  },
  { rule: 'card_security_code', policy: 'redact', words: w('cvv', 'cvc', 'cvv2', 'card security code') },
  { rule: 'iban', policy: 'partial', words: w('iban', 'account number', 'bank account', 'routing number') },
  {
    rule: 'national_id',
    policy: 'redact',
    words: w('ssn', 'social security', 'national id', 'tax id', 'taxpayer id', 'passport', 'driver license', 'drivers license', 'nino'),
  },
  // `mobile` alone is the value only as the whole name (`mobile_platform`, `mobile_app` are not phones).
  { rule: 'phone', policy: 'partial', words: w('phone', 'telephone', '=mobile', 'mobile number', 'mobile no', 'msisdn', 'fax', 'tel') },
  { rule: 'birth_date', policy: 'redact', words: w('dob', 'birth date', 'date of birth', 'birthdate', 'birthday'), temporal: true },
  { rule: 'ip_address', policy: 'hash', words: w('ip address', 'ip addr', 'ip') },
  { rule: 'address', policy: 'hash', words: w('address', 'street', 'postal code', 'postcode', 'zip code', 'zipcode') },
  {
    rule: 'person_name',
    policy: 'hash',
    words: w('first name', 'last name', 'full name', 'surname', 'given name', 'family name', 'firstname', 'lastname'),
  },
];

const BIRTH = NAME_RULES.find((r) => r.rule === 'birth_date')!;

/** Last words that make a name a timestamp, flag, count or reference rather than the sensitive value. */
const NOT_VALUE_SUFFIX = new Set([
  'at', 'on', 'time', 'ts', 'timestamp', 'date', 'verified', 'confirmed', 'enabled', 'required', 'set', 'changed',
  'updated', 'expires', 'expiry', 'count', 'id', 'ids', 'type', 'kind', 'status', 'length', 'len', 'policy', 'version',
  'attempts', 'sent', 'valid', 'format', 'ref', 'url', 'label',
]);
/** First words that make a name a flag or count. */
const NOT_VALUE_PREFIX = new Set(['is', 'has', 'num', 'n', 'count', 'last4', 'needs', 'allow', 'allows']);

/** Splits a column or JSON key name into lower-case words (`userEmail2FA` → user email fa). */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((x) => x !== '');
}

function containsSeq(words: string[], seq: string[]): boolean {
  if (seq[0][0] === '=') return words.length === seq.length && words.every((x, i) => x === (i ? seq[i] : seq[0].slice(1)));
  outer: for (let i = 0; i + seq.length <= words.length; i++) {
    for (let j = 0; j < seq.length; j++) if (words[i + j] !== seq[j]) continue outer;
    return true;
  }
  return false;
}

/** Column kinds by type, where the type is known: which rules can apply. */
export type ColumnKind = 'text' | 'json' | 'binary' | 'number' | 'temporal' | 'boolean';

/** The kind of a database type name (PostgreSQL or MySQL spelling); `text` where unknown. */
export function columnKind(type: string | undefined): ColumnKind {
  if (!type) return 'text';
  const t = type.toLowerCase();
  if (/^(json|jsonb)$/.test(t)) return 'json';
  if (/^(bytea|(tiny|medium|long)?blob|(var)?binary\b)/.test(t)) return 'binary';
  if (/^(bool|boolean|bit\(1\)|tinyint\(1\))$/.test(t)) return 'boolean';
  if (/^((tiny|medium|big|small)?int(eger)?\b|int[248]|(big)?serial|numeric|decimal|real|double|float)/.test(t)) return 'number';
  if (/^(date|time|timestamp|datetime|interval|year)\b/.test(t)) return 'temporal';
  return 'text';
}

/** Name verdicts by kind and name: JSON keys repeat in every value, and splitting names is the costly part. */
const nameMemo = new Map<string, Detection | null>();

/** The name rule that marks a column (or JSON key) `name` of this kind sensitive, if any. */
export function matchName(name: string, kind: ColumnKind = 'text'): Detection | null {
  if (kind === 'boolean') return null;
  const memoKey = kind + '\0' + name;
  let d = nameMemo.get(memoKey);
  if (d === undefined) {
    if (nameMemo.size >= 10_000) nameMemo.clear();
    nameMemo.set(memoKey, (d = matchNameUncached(name, kind)));
  }
  return d;
}

function matchNameUncached(name: string, kind: ColumnKind): Detection | null {
  const words = nameWords(name);
  if (words.length === 0) return null;
  if (words.length > 1 && (NOT_VALUE_SUFFIX.has(words[words.length - 1]) || NOT_VALUE_PREFIX.has(words[0]))) {
    // `birth_date` / `date_of_birth` end in a "date" word but are the value itself.
    if (!BIRTH.words.some((s) => containsSeq(words, s))) return null;
  }
  for (const r of NAME_RULES) {
    if (kind === 'temporal' && !r.temporal) continue;
    if (r.words.some((s) => containsSeq(words, s))) return { rule: r.rule, policy: r.policy };
  }
  return null;
}

// ---- value detectors ----

/** Luhn checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** ISO 13616 IBAN check: country, check digits, BBAN; mod 97 of the rearranged number is 1. Spaces allowed. */
export function ibanValid(value: string): boolean {
  const s = value.replace(/ /g, '');
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const r = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < r.length; i++) {
    const c = r.charCodeAt(i);
    const n = c >= 65 ? c - 55 : c - 48;
    rem = n > 9 ? (rem * 100 + n) % 97 : (rem * 10 + n) % 97;
  }
  return rem === 1;
}

/** Shannon entropy of a string's characters, bits per character. */
export function entropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const EMAIL = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
// Not part of a decimal number: digits after a '.' or before '.<digit>' are a fraction, not a card (numeric
// 16.333333333333332 passes Luhn by chance one time in ten).
const CARD = /(?<![\d-]|\d\.)[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d-]|\.\d)/g;
const JWT = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;
const PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/;
const PHONE_INTL = /^\+\d[\d ().-]{6,20}\d$/;
const PHONE_NANP = /^(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}$/;
const SSN = /^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$/;
const KNOWN_SECRET = new RegExp(
  '(?<![A-Za-z0-9])(?:' +
    [
      '(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}', // Stripe secret and restricted keys
      'gh[pousr]_[A-Za-z0-9]{30,}', // GitHub tokens
      'github_pat_\\w{30,}',
      'xox[abprs]-[A-Za-z0-9-]{10,}', // Slack
      'A(?:KIA|SIA)[0-9A-Z]{16}', // AWS access key ids
      'glpat-[A-Za-z0-9_-]{20,}', // GitLab
      'AIza[0-9A-Za-z_-]{35}', // Google API keys
    ].join('|') +
    ')(?![A-Za-z0-9])',
);
const PASSWORD_HASH = /^\$(?:2[abxy]?|argon2(?:id|i|d)|scrypt|pbkdf2[\w-]*|[156]|y|7)\$\S{8,}$|^(?:pbkdf2_sha\d+|bcrypt|argon2)\$\S{8,}$/;
const TOKEN_CHARS = /^[A-Za-z0-9+/=_.~-]{32,512}$/;
const HEX = /^[0-9a-fA-F]{32,}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function cardIn(v: string): boolean {
  CARD.lastIndex = 0;
  for (let m = CARD.exec(v); m; m = CARD.exec(v)) {
    const digits = m[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits) && !/^(\d)\1+$/.test(digits)) return true;
  }
  return false;
}

function highEntropyToken(v: string): boolean {
  if (!TOKEN_CHARS.test(v) || UUID.test(v)) return false;
  if (HEX.test(v)) return /[a-fA-F]/.test(v) && /\d/.test(v);
  return /[A-Za-z]/.test(v) && /\d/.test(v) && /[a-z]/.test(v) && /[A-Z]/.test(v) && entropy(v) >= 4;
}

/**
 * Runs the value detectors on one text value; the first that matches, or null. `kind` narrows them: number,
 * temporal and boolean columns cannot hold the patterns that matter except card numbers in number columns.
 */
export function detectValue(v: string, kind: ColumnKind = 'text'): Detection | null {
  if (kind === 'boolean' || kind === 'temporal') return null;
  if (kind === 'number') return v.length >= 13 && v.length <= 19 && /^\d+$/.test(v) && cardIn(v) ? { rule: 'card', policy: 'partial' } : null;
  if (v.length < 6) return null;
  if (v.includes('-----BEGIN') && PEM.test(v)) return { rule: 'private_key', policy: 'redact' };
  if (v.includes('eyJ') && JWT.test(v)) return { rule: 'jwt', policy: 'redact' };
  if (v.includes('@') && EMAIL.test(v)) return { rule: 'email', policy: 'hash' };
  if (KNOWN_SECRET.test(v)) return { rule: 'secret', policy: 'redact' };
  if (v.length <= 600) {
    const c0 = v.charCodeAt(0);
    if (c0 === 36 /* $ */ || v.includes('$')) {
      if (PASSWORD_HASH.test(v)) return { rule: 'password_hash', policy: 'redact' };
    }
    if (c0 >= 65 && c0 <= 90 && ibanValid(v)) return { rule: 'iban', policy: 'partial' };
    if (v.length <= 24 && (c0 === 43 /* + */ || c0 === 40 /* ( */ || (c0 >= 48 && c0 <= 57))) {
      if (PHONE_INTL.test(v) || PHONE_NANP.test(v)) {
        const digits = v.replace(/\D/g, '').length;
        if (digits >= 8 && digits <= 15) return { rule: 'phone', policy: 'partial' };
      }
      if (SSN.test(v)) return { rule: 'national_id', policy: 'redact' };
    }
    if (v.length >= 32 && highEntropyToken(v)) return { rule: 'token', policy: 'redact' };
  }
  if (v.length >= 13 && cardIn(v)) return { rule: 'card', policy: 'partial' };
  return null;
}

// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex
const BINARY = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Values that cannot be classified and so are masked whatever their column (fail closed): ill-formed
 * UTF-16 (lone surrogates, what invalid UTF-8 can become), control characters other than tab, CR, LF (binary
 * data in a text column), the replacement character U+FFFD (what a decoder leaves of invalid UTF-8), and
 * values longer than `maxChars`. Returns the reason or null.
 */
export function unclassifiable(v: string, maxChars: number): string | null {
  if (v.length > maxChars) return 'huge';
  // One scan for the common case (plain text); the precise checks only where a suspect character is seen.
  if (!SUSPECT.test(v)) return null;
  if (BINARY.test(v)) return 'binary';
  if (LONE_SURROGATE.test(v)) return 'invalid-utf8';
  return null;
}
