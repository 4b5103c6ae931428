import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';

import { PolicyApplier, partial, pseudonym, REDACTED } from '../../src/masking/index.js';
import { HmacSha256 } from '../../src/masking/hmac.js';
import { anyText } from './helpers.js';


describe('HMAC-SHA256 in JavaScript', () => {
  it('equals createHmac on arbitrary strings and keys, every padding length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.oneof(anyText(20), anyText(400), fc.string({ unit: 'binary', maxLength: 300 })), (key, v) => {
        const k = Buffer.from(key);
        expect(new HmacSha256(k).digest(v).toString('hex')).toBe(createHmac('sha256', k).update(v, 'utf8').digest('hex'));
      }),
      { numRuns: 500 },
    );
    const k = randomBytes(32);
    const mac = new HmacSha256(k);
    for (let n = 0; n < 200; n++) {
      const v = 'a'.repeat(n);
      expect(mac.digest(v).equals(createHmac('sha256', k).update(v).digest())).toBe(true);
    }
    const long = 'é'.repeat(5000); // native path
    expect(mac.digest(long).equals(createHmac('sha256', k).update(long).digest())).toBe(true);
  });
});

describe('policies', () => {
  const key = randomBytes(32);
  const p = new PolicyApplier(key);

  it('hash: the applier (cached, JS HMAC) and pseudonym() agree', () => {
    fc.assert(
      fc.property(anyText(300), (v) => {
        expect(p.apply('hash', v)).toBe(pseudonym(key, v));
        expect(p.apply('hash', v)).toBe(pseudonym(key, v)); // second time from the cache
      }),
    );
  });

  it('hash is h: + base32 (RFC 4648, lower case) of the first 80 bits of HMAC-SHA256', () => {
    fc.assert(
      fc.property(anyText(50), (v) => {
        const mac = createHmac('sha256', key).update(v, 'utf8').digest();
        const bits = [...mac.subarray(0, 10)].map((x) => x.toString(2).padStart(8, '0')).join('');
        const b32 = (bits.match(/.{5}/g) ?? []).map((g) => 'abcdefghijklmnopqrstuvwxyz234567'[parseInt(g, 2)]).join('');
        expect(pseudonym(key, v)).toBe(`h:${b32}`);
      }),
    );
  });

  it.each([
    ['4111 1111 1111 1111', '••••1111'],
    ['+49 30 1234567', '••••4567'],
    ['DE89 3704 0044 0532 0130 00', '••••3000'],
    ['123456', '••••'],
    ['', '••••'],
  ])('partial %s → %s', (v, shown) => {
    expect(partial(v)).toBe(shown);
    expect(p.apply('partial', v)).toBe(shown);
  });

  it('redact and none', () => {
    expect(p.apply('redact', 'x')).toBe(REDACTED);
    expect(p.apply('none', 'x')).toBe('x');
  });
});
